//! Request handling: authentication and the TURN methods (RFC 8656 §7–§11, RFC 8489 §9.2).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::allocation::{Allocation, ByteBucket};
use super::{Amplification, Destination, EndReason, Server, Transmit, TurnEvent};
use crate::auth::{Lookup, NonceCheck, PASSWORD_ALGORITHM_MD5, PASSWORD_ALGORITHM_SHA256};
use crate::stun::attr;
use crate::stun::{
    AddressFamily, Class, IntegrityKind, Message, MessageBuilder, Method, TransactionId,
};

/// Comprehension-required attributes this server understands (or safely ignores: ICE's
/// PRIORITY and USE-CANDIDATE). Any other in 0x0000–0x7FFF gets 420.
const KNOWN: &[u16] = &[
    attr::MAPPED_ADDRESS,
    attr::USERNAME,
    attr::MESSAGE_INTEGRITY,
    attr::ERROR_CODE,
    attr::UNKNOWN_ATTRIBUTES,
    attr::CHANNEL_NUMBER,
    attr::LIFETIME,
    attr::XOR_PEER_ADDRESS,
    attr::DATA,
    attr::REALM,
    attr::NONCE,
    attr::XOR_RELAYED_ADDRESS,
    attr::REQUESTED_ADDRESS_FAMILY,
    attr::EVEN_PORT,
    attr::REQUESTED_TRANSPORT,
    attr::DONT_FRAGMENT,
    attr::MESSAGE_INTEGRITY_SHA256,
    attr::PASSWORD_ALGORITHM,
    attr::USERHASH,
    attr::XOR_MAPPED_ADDRESS,
    attr::RESERVATION_TOKEN,
    0x0024, // PRIORITY (ICE)
    0x0025, // USE-CANDIDATE (ICE)
];

/// UDP, the only relay transport (RFC 8656 §7.2; TCP relaying is RFC 6062).
const PROTOCOL_UDP: u8 = 17;

/// What a request authenticated as.
struct Authed {
    username: String,
    key: Zeroizing<Vec<u8>>,
    kind: IntegrityKind,
}

/// The request being answered.
struct Ctx {
    now: Instant,
    tuple: super::FiveTuple,
    tid: TransactionId,
    method: Method,
    request_len: usize,
    fingerprint: bool,
}

/// Which size rule a response falls under when its source is unverified.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReplyKind {
    Challenge,
    Binding,
    Other,
}

fn reason(code: u16) -> &'static str {
    match code {
        300 => "Try Alternate",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        420 => "Unknown Attribute",
        437 => "Allocation Mismatch",
        438 => "Stale Nonce",
        440 => "Address Family not Supported",
        441 => "Wrong Credentials",
        442 => "Unsupported Transport Protocol",
        443 => "Peer Address Family Mismatch",
        486 => "Allocation Quota Reached",
        508 => "Insufficient Capacity",
        _ => "Error",
    }
}

impl Server {
    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        tuple: super::FiveTuple,
        msg: &Message<'_>,
        request_len: usize,
    ) {
        let ctx = Ctx {
            now,
            tuple,
            tid: msg.transaction_id(),
            method: msg.method(),
            request_len,
            fingerprint: msg.get(attr::FINGERPRINT).is_some(),
        };
        let unknown = msg.unknown_comprehension_required(KNOWN);
        if !unknown.is_empty() {
            self.reply(&ctx, None, false, Class::Error, ReplyKind::Other, |b| {
                b.add_error_code(420, reason(420))
                    .add_unknown_attributes(&unknown);
            });
            return;
        }
        if ctx.method == Method::BINDING {
            self.reply(&ctx, None, false, Class::Success, ReplyKind::Binding, |b| {
                b.add_xor_address(attr::XOR_MAPPED_ADDRESS, tuple.client);
            });
            return;
        }
        let Some(auth) = self.authenticate(&ctx, msg) else {
            return;
        };
        match ctx.method {
            Method::ALLOCATE => self.allocate(&ctx, msg, auth),
            Method::REFRESH => self.refresh(&ctx, msg, auth),
            Method::CREATE_PERMISSION => self.create_permission(&ctx, msg, auth),
            Method::CHANNEL_BIND => self.channel_bind(&ctx, msg, auth),
            _ => self.fail(&ctx, &auth, 400),
        }
    }

    /// Builds a response into a pooled buffer and queues it, subject to the rules for
    /// unverified UDP sources.
    fn reply(
        &mut self,
        ctx: &Ctx,
        auth: Option<&Authed>,
        verified: bool,
        class: Class,
        kind: ReplyKind,
        build: impl FnOnce(&mut MessageBuilder<'_>),
    ) {
        let mut buf = self.buffer();
        {
            let mut b = MessageBuilder::new(&mut buf, class, ctx.method, ctx.tid);
            build(&mut b);
            if let Some(auth) = auth {
                if let Some(software) = &self.config.software {
                    b.add_str(attr::SOFTWARE, software);
                }
                match auth.kind {
                    IntegrityKind::Sha256 => b.add_message_integrity_sha256(&auth.key),
                    IntegrityKind::Sha1 => b.add_message_integrity(&auth.key),
                };
            }
            if ctx.fingerprint {
                b.add_fingerprint();
            }
            b.finish();
        }
        let verified = verified || auth.is_some();
        if !ctx.tuple.transport.is_stream() && !verified {
            if !self.sources.allow(ctx.now, ctx.tuple.client.ip()) {
                self.stats.rate_limited += 1;
                self.recycle(buf);
                return;
            }
            let capped = match self.config.amplification {
                Amplification::Strict => true,
                Amplification::ChallengeExempt => kind == ReplyKind::Other,
            };
            if capped && buf.len() > ctx.request_len {
                self.stats.amplification_dropped += 1;
                self.recycle(buf);
                return;
            }
        }
        self.transmits.push_back(Transmit {
            destination: Destination::Client(ctx.tuple),
            data: buf,
        });
    }

    /// A success response after authentication (integrity-protected).
    fn succeed(&mut self, ctx: &Ctx, auth: &Authed, build: impl FnOnce(&mut MessageBuilder<'_>)) {
        self.reply(
            ctx,
            Some(auth),
            true,
            Class::Success,
            ReplyKind::Other,
            build,
        );
    }

    /// An error response after successful authentication (integrity-protected).
    fn fail(&mut self, ctx: &Ctx, auth: &Authed, code: u16) {
        self.reply(ctx, Some(auth), true, Class::Error, ReplyKind::Other, |b| {
            b.add_error_code(code, reason(code));
        });
    }

    /// An error response to a request that did not authenticate (no integrity).
    fn fail_unauthenticated(&mut self, ctx: &Ctx, verified: bool, code: u16) {
        self.reply(ctx, None, verified, Class::Error, ReplyKind::Other, |b| {
            b.add_error_code(code, reason(code));
        });
    }

    /// 401 (or 438) with REALM and a fresh NONCE. Minimal for unverified sources: no reason
    /// phrase, no SOFTWARE.
    fn challenge(&mut self, ctx: &Ctx, verified: bool, code: u16) {
        let nonce = self
            .nonces
            .issue(self.since_origin(ctx.now), ctx.tuple.client);
        let realm = self.config.realm.clone();
        let algorithms = self.config.password_algorithms;
        let kind = if code == 401 {
            ReplyKind::Challenge
        } else {
            ReplyKind::Other
        };
        self.reply(ctx, None, verified, Class::Error, kind, |b| {
            b.add_error_code(code, if verified { reason(code) } else { "" })
                .add_str(attr::REALM, &realm)
                .add_str(attr::NONCE, &nonce);
            if algorithms {
                b.add_password_algorithms(&[
                    (PASSWORD_ALGORITHM_MD5, &[]),
                    (PASSWORD_ALGORITHM_SHA256, &[]),
                ]);
            }
        });
    }

    /// RFC 8489 §9.2.4: long-term credential checks. Answers the request itself and returns
    /// `None` when they fail.
    fn authenticate(&mut self, ctx: &Ctx, msg: &Message<'_>) -> Option<Authed> {
        if !msg.has_integrity() {
            self.challenge(ctx, false, 401);
            return None;
        }
        let (Ok(Some(nonce)), Ok(Some(realm))) = (msg.nonce(), msg.realm()) else {
            self.fail_unauthenticated(ctx, false, 400);
            return None;
        };
        match self
            .nonces
            .check(nonce, self.since_origin(ctx.now), ctx.tuple.client)
        {
            NonceCheck::Valid => {}
            NonceCheck::Stale => {
                self.challenge(ctx, true, 438);
                return None;
            }
            NonceCheck::Invalid => {
                self.challenge(ctx, false, 401);
                return None;
            }
        }
        // The client returned a nonce issued to its address: it receives there.
        let username = match (msg.username(), msg.userhash()) {
            (Ok(Some(name)), _) => Some(name.to_owned()),
            (_, Ok(Some(hash))) => self
                .credentials
                .username_for_hash(&hash, &self.config.realm),
            _ => {
                self.fail_unauthenticated(ctx, true, 400);
                return None;
            }
        };
        let Some(username) = username.filter(|_| realm == self.config.realm) else {
            self.challenge(ctx, true, 401);
            return None;
        };
        let sha256 = match msg.password_algorithm() {
            Ok(None) if msg.get(attr::PASSWORD_ALGORITHMS).is_none() => false,
            Ok(Some((algorithm, _))) if self.config.password_algorithms => {
                let ours = [
                    (PASSWORD_ALGORITHM_MD5, &[][..]),
                    (PASSWORD_ALGORITHM_SHA256, &[][..]),
                ];
                let echoed = matches!(msg.password_algorithms(), Ok(Some(list)) if list == ours);
                match algorithm {
                    PASSWORD_ALGORITHM_MD5 if echoed => false,
                    PASSWORD_ALGORITHM_SHA256 if echoed => true,
                    _ => {
                        self.fail_unauthenticated(ctx, true, 400);
                        return None;
                    }
                }
            }
            _ => {
                self.fail_unauthenticated(ctx, true, 400);
                return None;
            }
        };
        let unix_now = self.unix_now(ctx.now);
        let key = match self
            .credentials
            .lookup(&username, &self.config.realm, unix_now)
        {
            Lookup::Key(k) if sha256 => Zeroizing::new(k.sha256.to_vec()),
            Lookup::Key(k) => Zeroizing::new(k.md5.to_vec()),
            _ => {
                self.challenge(ctx, true, 401);
                return None;
            }
        };
        match msg.check_integrity(&key, Some(&key)) {
            Ok(kind) => Some(Authed {
                username,
                key,
                kind,
            }),
            Err(_) => {
                self.challenge(ctx, true, 401);
                None
            }
        }
    }

    fn lifetime(&self, requested: Option<u32>) -> Duration {
        match requested {
            None | Some(0) => self.config.default_lifetime,
            Some(secs) => Duration::from_secs(u64::from(secs)).min(self.config.max_lifetime),
        }
    }

    fn allocate(&mut self, ctx: &Ctx, msg: &Message<'_>, auth: Authed) {
        if let Some(existing) = self.allocations.get(&ctx.tuple) {
            if existing.allocate_tid == ctx.tid.0 {
                // A retransmission: the same answer again.
                let mut buf = self.pool.pop().unwrap_or_default();
                buf.extend_from_slice(&existing.allocate_response);
                self.transmits.push_back(Transmit {
                    destination: Destination::Client(ctx.tuple),
                    data: buf,
                });
            } else {
                self.fail(ctx, &auth, 437);
            }
            return;
        }
        if let Some(&alternate) = self
            .config
            .alternate_servers
            .iter()
            .find(|a| a.is_ipv4() == ctx.tuple.client.is_ipv4())
        {
            // RFC 8489 §10: only to an authenticated request, with integrity, so an on-path
            // attacker cannot forge the redirect.
            self.stats.redirected += 1;
            let domain = self
                .config
                .alternate_domain
                .clone()
                .filter(|_| ctx.tuple.transport == super::Transport::Tls);
            self.reply(
                ctx,
                Some(&auth),
                true,
                Class::Error,
                ReplyKind::Other,
                |b| {
                    b.add_error_code(300, reason(300))
                        .add_address(attr::ALTERNATE_SERVER, alternate);
                    if let Some(domain) = &domain {
                        b.add_str(attr::ALTERNATE_DOMAIN, domain);
                    }
                },
            );
            return;
        }
        let parsed = (
            msg.requested_transport(),
            msg.requested_address_family(),
            msg.additional_address_family(),
            msg.even_port(),
            msg.reservation_token(),
            msg.lifetime(),
        );
        let (Ok(transport), Ok(requested), Ok(additional), Ok(even), Ok(token), Ok(lifetime)) =
            parsed
        else {
            return self.fail(ctx, &auth, 400);
        };
        let Some(transport) = transport else {
            return self.fail(ctx, &auth, 400);
        };
        if transport != PROTOCOL_UDP {
            return self.fail(ctx, &auth, 442);
        }
        let conflicting = (token.is_some() && (even.is_some() || requested.is_some()))
            || (requested.is_some() && additional.is_some())
            || additional == Some(AddressFamily::V4);
        if conflicting {
            return self.fail(ctx, &auth, 400);
        }
        if self.allocations.len() >= self.config.max_allocations {
            return self.fail(ctx, &auth, 508);
        }
        if self.per_user.get(&auth.username).copied().unwrap_or(0)
            >= self.config.max_allocations_per_user
        {
            return self.fail(ctx, &auth, 486);
        }

        let primary = match token {
            Some(token) => match self.reservations.remove(&token) {
                Some((addr, until)) if ctx.now < until => {
                    let family = family_of(addr);
                    self.relays
                        .allocate(family, super::PortRequest::Reserved(addr))
                }
                Some((addr, _)) => {
                    self.relays.release(addr);
                    return self.fail(ctx, &auth, 508);
                }
                None => return self.fail(ctx, &auth, 508),
            },
            None => {
                let request = match even {
                    Some(reserve_next) => super::PortRequest::Even { reserve_next },
                    None => super::PortRequest::Any,
                };
                self.relays
                    .allocate(requested.unwrap_or(AddressFamily::V4), request)
            }
        };
        let primary = match primary {
            Ok(addr) => addr,
            Err(_) if requested.is_some() => return self.fail(ctx, &auth, 440),
            Err(_) => return self.fail(ctx, &auth, 508),
        };
        let mut relays = vec![primary];
        let mut v6_failed = false;
        if additional == Some(AddressFamily::V6) {
            match self
                .relays
                .allocate(AddressFamily::V6, super::PortRequest::Any)
            {
                Ok(addr) => relays.push(addr),
                Err(_) => v6_failed = true,
            }
        }
        let mut reservation = None;
        if even == Some(true)
            && let Some(next) = primary.port().checked_add(1)
        {
            let held = SocketAddr::new(primary.ip(), next);
            let mut token = [0u8; 8];
            if SystemRandom::new().fill(&mut token).is_ok() {
                let until = ctx.now + self.config.reservation_lifetime;
                self.reservations.insert(token, (held, until));
                reservation = Some(token);
            } else {
                self.relays.release(held);
            }
        }
        let lifetime = self.lifetime(lifetime);
        let client = ctx.tuple.client;
        let answer_relays = relays.clone();
        self.succeed(ctx, &auth, |b| {
            for relay in &answer_relays {
                b.add_xor_address(attr::XOR_RELAYED_ADDRESS, *relay);
            }
            if v6_failed {
                b.add_address_error_code(AddressFamily::V6, 440, reason(440));
            }
            b.add_u32(attr::LIFETIME, lifetime.as_secs() as u32);
            if let Some(token) = reservation {
                b.add_reservation_token(token);
            }
            b.add_xor_address(attr::XOR_MAPPED_ADDRESS, client);
        });
        let response = self
            .transmits
            .back()
            .map(|t| t.data.clone())
            .unwrap_or_default();
        let rate = self.config.bandwidth_per_allocation;
        for relay in &relays {
            self.by_relay.insert(*relay, ctx.tuple);
        }
        *self.per_user.entry(auth.username.clone()).or_insert(0) += 1;
        let expires = ctx.now + lifetime;
        self.expiries.push(std::cmp::Reverse((expires, ctx.tuple)));
        self.events.push_back(TurnEvent::AllocationCreated {
            tuple: ctx.tuple,
            relays: relays.clone(),
            username: auth.username.clone(),
        });
        self.allocations.insert(
            ctx.tuple,
            Allocation {
                relays,
                username: auth.username,
                expires,
                permissions: Default::default(),
                channels: Default::default(),
                channel_of: Default::default(),
                to_peer: rate.map(|r| ByteBucket::new(ctx.now, r)),
                to_client: rate.map(|r| ByteBucket::new(ctx.now, r)),
                allocate_tid: ctx.tid.0,
                allocate_response: response,
            },
        );
    }

    /// The allocation of `ctx.tuple`, if it belongs to the authenticated user; otherwise
    /// answers 437 or 441 and returns `None`.
    fn owned_allocation(&mut self, ctx: &Ctx, auth: &Authed) -> Option<()> {
        match self.allocations.get(&ctx.tuple) {
            None => {
                self.fail(ctx, auth, 437);
                None
            }
            Some(a) if a.username != auth.username => {
                self.fail(ctx, auth, 441);
                None
            }
            Some(_) => Some(()),
        }
    }

    fn refresh(&mut self, ctx: &Ctx, msg: &Message<'_>, auth: Authed) {
        if self.owned_allocation(ctx, &auth).is_none() {
            return;
        }
        let Ok(requested) = msg.lifetime() else {
            return self.fail(ctx, &auth, 400);
        };
        if requested == Some(0) {
            self.succeed(ctx, &auth, |b| {
                b.add_u32(attr::LIFETIME, 0);
            });
            self.end_allocation(ctx.tuple, EndReason::Deleted);
            return;
        }
        let lifetime = self.lifetime(requested);
        let expires = ctx.now + lifetime;
        if let Some(a) = self.allocations.get_mut(&ctx.tuple) {
            a.expires = expires;
        }
        self.expiries.push(std::cmp::Reverse((expires, ctx.tuple)));
        self.succeed(ctx, &auth, |b| {
            b.add_u32(attr::LIFETIME, lifetime.as_secs() as u32);
        });
    }

    /// Checks a peer the client wants to reach: its family must match a relay address (443)
    /// and the policy must permit it (403, with an event).
    fn check_peer(&mut self, ctx: &Ctx, auth: &Authed, peer: SocketAddr) -> bool {
        let family_ok = self
            .allocations
            .get(&ctx.tuple)
            .is_some_and(|a| a.relay_for(peer).is_some());
        if !family_ok {
            self.fail(ctx, auth, 443);
            return false;
        }
        if !self.peer_allowed(peer) {
            self.events.push_back(TurnEvent::PeerRefused {
                tuple: ctx.tuple,
                peer,
            });
            self.fail(ctx, auth, 403);
            return false;
        }
        true
    }

    fn create_permission(&mut self, ctx: &Ctx, msg: &Message<'_>, auth: Authed) {
        if self.owned_allocation(ctx, &auth).is_none() {
            return;
        }
        let peers: Result<Vec<SocketAddr>, _> = msg.xor_addresses(attr::XOR_PEER_ADDRESS).collect();
        let peers = match peers {
            Ok(peers) if !peers.is_empty() => peers,
            _ => return self.fail(ctx, &auth, 400),
        };
        for &peer in &peers {
            if !self.check_peer(ctx, &auth, peer) {
                return;
            }
        }
        let lifetime = self.config.permission_lifetime;
        let max = self.config.max_permissions_per_allocation;
        let fits = self.allocations.get_mut(&ctx.tuple).is_some_and(|a| {
            a.sweep(ctx.now);
            let new = peers
                .iter()
                .filter(|p| !a.permissions.contains_key(&p.ip()))
                .count();
            a.permissions.len() + new <= max
        });
        if !fits {
            return self.fail(ctx, &auth, 508);
        }
        if let Some(a) = self.allocations.get_mut(&ctx.tuple) {
            for peer in &peers {
                a.permit(ctx.now, peer.ip(), lifetime);
            }
        }
        self.succeed(ctx, &auth, |_| {});
    }

    fn channel_bind(&mut self, ctx: &Ctx, msg: &Message<'_>, auth: Authed) {
        if self.owned_allocation(ctx, &auth).is_none() {
            return;
        }
        let (Ok(Some(channel)), Ok(Some(peer))) = (
            msg.channel_number(),
            msg.xor_address(attr::XOR_PEER_ADDRESS),
        ) else {
            return self.fail(ctx, &auth, 400);
        };
        let last = if self.config.rfc5766_channels {
            0x7FFF
        } else {
            0x4FFF
        };
        if !(0x4000..=last).contains(&channel) {
            return self.fail(ctx, &auth, 400);
        }
        if !self.check_peer(ctx, &auth, peer) {
            return;
        }
        let (now, max) = (ctx.now, self.config.max_channels_per_allocation);
        let (channel_lifetime, permission_lifetime) = (
            self.config.channel_lifetime,
            self.config.permission_lifetime,
        );
        let outcome = self.allocations.get_mut(&ctx.tuple).map(|a| {
            a.sweep(now);
            let bound_elsewhere = a.channels.get(&channel).is_some_and(|(p, _)| *p != peer)
                || a.channel_of.get(&peer).is_some_and(|c| *c != channel);
            if bound_elsewhere {
                return Err(400);
            }
            if !a.channels.contains_key(&channel) && a.channels.len() >= max {
                return Err(508);
            }
            a.channels.insert(channel, (peer, now + channel_lifetime));
            a.channel_of.insert(peer, channel);
            a.permit(now, peer.ip(), permission_lifetime);
            Ok(())
        });
        match outcome {
            Some(Ok(())) => {
                self.succeed(ctx, &auth, |_| {});
            }
            Some(Err(code)) => self.fail(ctx, &auth, code),
            None => self.fail(ctx, &auth, 437),
        }
    }
}

fn family_of(addr: SocketAddr) -> AddressFamily {
    if addr.is_ipv4() {
        AddressFamily::V4
    } else {
        AddressFamily::V6
    }
}
