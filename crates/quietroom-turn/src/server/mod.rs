//! The sans-IO TURN/STUN server core.
//!
//! [`Server`] takes what arrived — a datagram or stream frame from a client
//! ([`handle_client`](Server::handle_client)), a datagram on a relay address
//! ([`handle_peer`](Server::handle_peer)) — with the time, and gives back what to send
//! ([`poll_transmit`](Server::poll_transmit)), when to call back
//! ([`poll_timeout`](Server::poll_timeout) → [`handle_timeout`](Server::handle_timeout)) and what
//! happened ([`poll_event`](Server::poll_event)). It owns no socket and reads no clock; relay
//! addresses come from a [`RelayProvider`], credentials from a
//! [`CredentialStore`], and every peer address passes a
//! [`PeerPolicy`] before anything is relayed to it.
//!
//! ```
//! use std::time::Instant;
//! use quietroom_turn::auth::StaticCredentials;
//! use quietroom_turn::policy::DefaultPeerPolicy;
//! use quietroom_turn::server::{FiveTuple, PortPool, Server, ServerConfig, Transport};
//!
//! let mut users = StaticCredentials::new("example.org");
//! users.add("alice", "secret");
//! let relays = PortPool::new(&["192.0.2.1".parse().unwrap()], 49152..=65535)?;
//! let now = Instant::now(); // the driver's clock; the core never reads one
//! let mut server = Server::new(
//!     ServerConfig::new("example.org"),
//!     Box::new(users),
//!     Box::new(DefaultPeerPolicy::new()),
//!     Box::new(relays),
//!     [42; 32], // random bytes in real use
//!     now,
//!     1_700_000_000,
//! );
//! // A STUN Binding request from a client over UDP…
//! let request = [0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
//! let tuple = FiveTuple {
//!     transport: Transport::Udp,
//!     client: "203.0.113.5:40000".parse().unwrap(),
//!     server: "192.0.2.1:3478".parse().unwrap(),
//! };
//! server.handle_client(now, tuple, &request);
//! // …is answered with its mapped address.
//! let reply = server.poll_transmit().expect("a Binding success");
//! assert_eq!(&reply.data[..2], &[0x01, 0x01]);
//! server.recycle(reply.data);
//! # Ok::<(), quietroom_turn::TurnError>(())
//! ```

mod allocation;
mod config;
mod handlers;
mod icmp;
mod relay;
mod sources;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use config::{Amplification, ServerConfig};
pub use icmp::IcmpError;
pub use relay::{PortPool, PortRequest, RelayProvider};

use crate::auth::{CredentialStore, NonceManager, SecurityFeatures};
use crate::policy::PeerPolicy;
use crate::stun::{self, ChannelData, Class, Message, MessageBuilder, Method, TransactionId};
use allocation::Allocation;
use sources::SourceLimiter;

/// How a client reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP (RFC 8656 §12.5 framing: ChannelData padded to 4 bytes).
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Transport {
    /// Whether this is a stream transport (TCP or TLS).
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// The client side of an allocation: transport, client address and server address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiveTuple {
    /// The transport.
    pub transport: Transport,
    /// The client's address (as the server sees it).
    pub client: SocketAddr,
    /// The server address the client sent to.
    pub server: SocketAddr,
}

/// Where a [`Transmit`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// To a client, over the transport it came in on.
    Client(FiveTuple),
    /// To a peer, from a relay address.
    Peer {
        /// The relay address to send from.
        relay: SocketAddr,
        /// The peer.
        peer: SocketAddr,
        /// The client asked for the DF bit (DONT-FRAGMENT); a driver that cannot set it may
        /// send anyway (RFC 8656 §12.2 allows dropping it for IPv4 best effort).
        dont_fragment: bool,
    },
}

/// A datagram (or stream frame) to send. Give `data` back with
/// [`Server::recycle`] once sent, so buffers are reused rather than allocated per packet.
#[derive(Debug)]
pub struct Transmit {
    /// Where it goes.
    pub destination: Destination,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Why an allocation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The client refreshed it with lifetime 0.
    Deleted,
    /// Its lifetime ran out.
    Expired,
    /// Its TCP or TLS connection closed.
    ConnectionClosed,
    /// The server is shutting down.
    Shutdown,
}

/// What happened, for the driver's logs and metrics. Carries no keys and no payloads.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TurnEvent {
    /// An allocation was created.
    AllocationCreated {
        /// Its client side.
        tuple: FiveTuple,
        /// Its relay addresses (the driver must receive on each).
        relays: Vec<SocketAddr>,
        /// The user it belongs to.
        username: String,
    },
    /// An allocation ended; its relay addresses were released.
    AllocationEnded {
        /// Its client side.
        tuple: FiveTuple,
        /// Its relay addresses (the driver may close them).
        relays: Vec<SocketAddr>,
        /// Why.
        reason: EndReason,
    },
    /// A client asked to reach a peer that the policy refuses; it got 403 and nothing was
    /// sent.
    PeerRefused {
        /// The client.
        tuple: FiveTuple,
        /// The refused peer.
        peer: SocketAddr,
    },
}

/// Counters since the server started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Datagrams relayed from clients to peers.
    pub relayed_to_peers: u64,
    /// Datagrams relayed from peers to clients.
    pub relayed_to_clients: u64,
    /// Relayed datagrams dropped: no permission, no channel, no allocation, or bandwidth.
    pub relay_dropped: u64,
    /// Responses not sent because the source was over its unauthenticated rate.
    pub rate_limited: u64,
    /// Responses not sent because they were larger than their request to an unverified source.
    pub amplification_dropped: u64,
    /// Inputs that were neither STUN nor ChannelData, or failed to parse.
    pub malformed: u64,
    /// Allocate requests sent to an alternate server (300 Try Alternate).
    pub redirected: u64,
    /// ICMP errors passed on to clients in Data indications.
    pub icmp_relayed: u64,
    /// ICMP errors dropped: a type RFC 8656 does not pass on, no allocation, or no
    /// permission for the peer.
    pub icmp_dropped: u64,
}

/// The TURN/STUN server core. See the [module documentation](self).
pub struct Server {
    config: ServerConfig,
    credentials: Box<dyn CredentialStore>,
    policy: Box<dyn PeerPolicy>,
    relays: Box<dyn RelayProvider>,
    nonces: NonceManager,
    origin: Instant,
    unix_origin: u64,
    listen: HashSet<SocketAddr>,
    allocations: HashMap<FiveTuple, Allocation>,
    by_relay: HashMap<SocketAddr, FiveTuple>,
    per_user: HashMap<String, usize>,
    reservations: HashMap<[u8; 8], (SocketAddr, Instant)>,
    expiries: BinaryHeap<Reverse<(Instant, FiveTuple)>>,
    next_sweep: Instant,
    sources: SourceLimiter,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TurnEvent>,
    pool: Vec<Vec<u8>>,
    next_tid: u64,
    stats: ServerStats,
}

const SWEEP_INTERVAL: Duration = Duration::from_secs(30);
/// Buffers kept for reuse.
const POOL_LIMIT: usize = 4096;

impl Server {
    /// A server created at `now`, when the wall clock read `unix_now` seconds since the Unix
    /// epoch (shared-secret credentials expire by wall-clock time; the core derives it from
    /// `now` from then on and never reads a clock). `nonce_secret` keys the nonces; give it
    /// 32 random bytes.
    pub fn new(
        config: ServerConfig,
        credentials: Box<dyn CredentialStore>,
        policy: Box<dyn PeerPolicy>,
        relays: Box<dyn RelayProvider>,
        nonce_secret: [u8; 32],
        now: Instant,
        unix_now: u64,
    ) -> Self {
        let features = SecurityFeatures {
            password_algorithms: config.password_algorithms,
            username_anonymity: true,
        };
        let nonces = NonceManager::new(nonce_secret, config.nonce_lifetime, features);
        let sources = SourceLimiter::new(
            config.unauthenticated_rate,
            config.unauthenticated_burst,
            config.max_tracked_sources,
        );
        Server {
            listen: config.listen_addresses.iter().copied().collect(),
            config,
            credentials,
            policy,
            relays,
            nonces,
            origin: now,
            unix_origin: unix_now,
            allocations: HashMap::new(),
            by_relay: HashMap::new(),
            per_user: HashMap::new(),
            reservations: HashMap::new(),
            expiries: BinaryHeap::new(),
            next_sweep: now + SWEEP_INTERVAL,
            sources,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            pool: Vec::new(),
            next_tid: 0,
            stats: ServerStats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Sends new allocations to `alternates` from now on (see
    /// [`ServerConfig::alternate_servers`]); an empty list serves them here again. Existing
    /// allocations stay, so a server being taken out of service drains as they end.
    pub fn set_alternate_servers(&mut self, alternates: Vec<SocketAddr>) {
        self.config.alternate_servers = alternates;
    }

    /// Counters since start.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// Allocations alive now.
    pub fn allocation_count(&self) -> usize {
        self.allocations.len()
    }

    /// Handles one datagram (UDP) or one frame (TCP/TLS, as delimited by
    /// [`stun::stream_frame_len`]) from a client.
    pub fn handle_client(&mut self, now: Instant, tuple: FiveTuple, data: &[u8]) {
        if stun::is_channel_data(data) {
            self.relay_channel_data(now, tuple, data);
            return;
        }
        let Ok(message) = Message::parse(data) else {
            self.stats.malformed += 1;
            return;
        };
        if message.check_fingerprint().is_err() {
            self.stats.malformed += 1;
            return;
        }
        match message.class() {
            Class::Request => self.handle_request(now, tuple, &message, data.len()),
            Class::Indication if message.method() == Method::SEND => {
                self.relay_send_indication(now, tuple, &message);
            }
            _ => {}
        }
    }

    /// Handles a datagram from `peer` received on relay address `relay`.
    pub fn handle_peer(&mut self, now: Instant, relay: SocketAddr, peer: SocketAddr, data: &[u8]) {
        let Some(tuple) = self.by_relay.get(&relay).copied() else {
            self.stats.relay_dropped += 1;
            return;
        };
        let mut buf = self.buffer();
        let Some(allocation) = self.allocations.get_mut(&tuple) else {
            self.recycle(buf);
            self.stats.relay_dropped += 1;
            return;
        };
        let allowed = allocation.has_permission(now, peer.ip())
            && allocation
                .to_client
                .as_mut()
                .is_none_or(|b| b.take(now, data.len()));
        if !allowed {
            self.recycle(buf);
            self.stats.relay_dropped += 1;
            return;
        }
        if let Some(channel) = allocation.channel_for(now, peer) {
            ChannelData::encode(channel, data, tuple.transport.is_stream(), &mut buf);
        } else {
            self.next_tid += 1;
            let tid = indication_tid(self.next_tid);
            let mut b = MessageBuilder::new(&mut buf, Class::Indication, Method::DATA, tid);
            b.add_xor_address(stun::attr::XOR_PEER_ADDRESS, peer)
                .add_raw(stun::attr::DATA, data);
            b.finish();
        }
        self.stats.relayed_to_clients += 1;
        self.transmits.push_back(Transmit {
            destination: Destination::Client(tuple),
            data: buf,
        });
    }

    /// The TCP or TLS connection of `tuple` closed: its allocation ends (RFC 8656 §12.5).
    pub fn connection_closed(&mut self, tuple: FiveTuple) {
        self.end_allocation(tuple, EndReason::ConnectionClosed);
    }

    /// Ends every allocation and releases every relay address and reservation, for a
    /// graceful shutdown.
    pub fn shutdown(&mut self) {
        let tuples: Vec<FiveTuple> = self.allocations.keys().copied().collect();
        for tuple in tuples {
            self.end_allocation(tuple, EndReason::Shutdown);
        }
        for (_, (addr, _)) in self.reservations.drain() {
            self.relays.release(addr);
        }
    }

    /// Expires allocations, permissions, channels and reservations due at `now`. Calling it
    /// early or often is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, tuple))) = self.expiries.peek().copied() {
            if at > now {
                break;
            }
            self.expiries.pop();
            if self
                .allocations
                .get(&tuple)
                .is_some_and(|a| a.expires <= now)
            {
                self.end_allocation(tuple, EndReason::Expired);
            }
        }
        if now >= self.next_sweep {
            self.next_sweep = now + SWEEP_INTERVAL;
            for allocation in self.allocations.values_mut() {
                allocation.sweep(now);
            }
            let expired: Vec<[u8; 8]> = self
                .reservations
                .iter()
                .filter(|(_, (_, t))| now >= *t)
                .map(|(token, _)| *token)
                .collect();
            for token in expired {
                if let Some((addr, _)) = self.reservations.remove(&token) {
                    self.relays.release(addr);
                }
            }
            self.sources.sweep(now);
            if self.expiries.len() > 2 * self.allocations.len() + 1024 {
                let live = &self.allocations;
                self.expiries
                    .retain(|Reverse((at, t))| live.get(t).is_some_and(|a| a.expires == *at));
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    #[must_use = "allocations expire only when handle_timeout is called"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let next_expiry = self.expiries.peek().map(|Reverse((at, _))| *at);
        Some(next_expiry.map_or(self.next_sweep, |at| at.min(self.next_sweep)))
    }

    /// The next datagram or frame to send.
    #[must_use = "transmits must be sent"]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use = "events report allocations the driver must receive on"]
    pub fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop_front()
    }

    /// Gives a sent transmit's buffer back for reuse.
    pub fn recycle(&mut self, mut data: Vec<u8>) {
        if self.pool.len() < POOL_LIMIT {
            data.clear();
            self.pool.push(data);
        }
    }

    fn buffer(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_else(|| Vec::with_capacity(1500))
    }

    fn since_origin(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.origin)
    }

    fn unix_now(&self, now: Instant) -> u64 {
        self.unix_origin
            .saturating_add(self.since_origin(now).as_secs())
    }

    /// Whether the server may relay to `peer`: never to its own listening or relay
    /// addresses, and only where the policy permits.
    fn peer_allowed(&self, peer: SocketAddr) -> bool {
        !self.listen.contains(&peer)
            && !self.by_relay.contains_key(&peer)
            && self.policy.permits(peer.ip())
    }

    fn relay_channel_data(&mut self, now: Instant, tuple: FiveTuple, data: &[u8]) {
        let Ok((message, _)) = ChannelData::parse(data, tuple.transport.is_stream()) else {
            self.stats.malformed += 1;
            return;
        };
        let target = self.allocations.get_mut(&tuple).and_then(|a| {
            let peer = a.channel_peer(now, message.channel)?;
            let ok = a.has_permission(now, peer.ip())
                && a.to_peer
                    .as_mut()
                    .is_none_or(|b| b.take(now, message.data.len()));
            let relay = a.relay_for(peer)?;
            ok.then_some((relay, peer))
        });
        match target {
            Some((relay, peer))
                if !self.listen.contains(&peer) && !self.by_relay.contains_key(&peer) =>
            {
                self.send_to_peer(relay, peer, message.data, false);
            }
            _ => self.stats.relay_dropped += 1,
        }
    }

    fn relay_send_indication(&mut self, now: Instant, tuple: FiveTuple, message: &Message<'_>) {
        let (Ok(Some(peer)), Some(data)) = (
            message.xor_address(stun::attr::XOR_PEER_ADDRESS),
            message.data(),
        ) else {
            self.stats.relay_dropped += 1;
            return;
        };
        let dont_fragment = message.dont_fragment();
        let target = self.allocations.get_mut(&tuple).and_then(|a| {
            let ok = a.has_permission(now, peer.ip())
                && a.to_peer.as_mut().is_none_or(|b| b.take(now, data.len()));
            let relay = a.relay_for(peer)?;
            ok.then_some(relay)
        });
        match target {
            Some(relay) if !self.listen.contains(&peer) && !self.by_relay.contains_key(&peer) => {
                self.send_to_peer(relay, peer, data, dont_fragment);
            }
            _ => self.stats.relay_dropped += 1,
        }
    }

    fn send_to_peer(
        &mut self,
        relay: SocketAddr,
        peer: SocketAddr,
        data: &[u8],
        dont_fragment: bool,
    ) {
        let mut buf = self.buffer();
        buf.extend_from_slice(data);
        self.stats.relayed_to_peers += 1;
        self.transmits.push_back(Transmit {
            destination: Destination::Peer {
                relay,
                peer,
                dont_fragment,
            },
            data: buf,
        });
    }

    fn end_allocation(&mut self, tuple: FiveTuple, reason: EndReason) {
        let Some(allocation) = self.allocations.remove(&tuple) else {
            return;
        };
        for relay in &allocation.relays {
            self.by_relay.remove(relay);
            self.relays.release(*relay);
        }
        if let Some(count) = self.per_user.get_mut(&allocation.username) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_user.remove(&allocation.username);
            }
        }
        self.events.push_back(TurnEvent::AllocationEnded {
            tuple,
            relays: allocation.relays.clone(),
            reason,
        });
    }
}

/// Transaction ids of Data indications: unique per server, no randomness needed (they carry
/// no security).
fn indication_tid(n: u64) -> TransactionId {
    let mut tid = [0u8; 12];
    tid[..4].copy_from_slice(b"qrDI");
    tid[4..].copy_from_slice(&n.to_be_bytes());
    TransactionId(tid)
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("realm", &self.config.realm)
            .field("allocations", &self.allocations.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
