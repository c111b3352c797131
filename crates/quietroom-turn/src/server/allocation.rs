//! One allocation: its relay addresses, permissions, channels and bandwidth budget.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// A byte-rate limiter (token bucket with `Duration`-exact credit, in bytes).
#[derive(Clone, Debug)]
pub(crate) struct ByteBucket {
    rate: u64,
    tokens: u64,
    updated: Instant,
}

impl ByteBucket {
    pub(crate) fn new(now: Instant, rate: u64) -> Self {
        ByteBucket {
            rate,
            tokens: rate,
            updated: now,
        }
    }

    /// Whether `bytes` may pass at `now` (one second of burst).
    pub(crate) fn take(&mut self, now: Instant, bytes: usize) -> bool {
        let elapsed = now.saturating_duration_since(self.updated);
        if !elapsed.is_zero() {
            let earned = (u128::from(self.rate) * elapsed.as_nanos() / 1_000_000_000) as u64;
            self.tokens = self.tokens.saturating_add(earned).min(self.rate);
            self.updated = now;
        }
        let bytes = bytes as u64;
        if self.tokens >= bytes {
            self.tokens -= bytes;
            true
        } else {
            false
        }
    }
}

/// A TURN allocation (RFC 8656 §2.2).
pub(crate) struct Allocation {
    /// One relay address, or two for a dual-stack allocation.
    pub(crate) relays: Vec<SocketAddr>,
    /// The user it belongs to; later requests must authenticate as the same user (441).
    pub(crate) username: String,
    pub(crate) expires: Instant,
    /// Permissions by peer IP, with their expiry.
    pub(crate) permissions: HashMap<IpAddr, Instant>,
    /// Channels: number → (peer, expiry), and the reverse map.
    pub(crate) channels: HashMap<u16, (SocketAddr, Instant)>,
    pub(crate) channel_of: HashMap<SocketAddr, u16>,
    pub(crate) to_peer: Option<ByteBucket>,
    pub(crate) to_client: Option<ByteBucket>,
    /// The last Allocate success, resent for a retransmitted request.
    pub(crate) allocate_tid: [u8; 12],
    pub(crate) allocate_response: Vec<u8>,
}

impl Allocation {
    pub(crate) fn has_permission(&self, now: Instant, peer: IpAddr) -> bool {
        self.permissions.get(&peer).is_some_and(|&t| now < t)
    }

    pub(crate) fn channel_peer(&self, now: Instant, channel: u16) -> Option<SocketAddr> {
        self.channels
            .get(&channel)
            .filter(|(_, t)| now < *t)
            .map(|(peer, _)| *peer)
    }

    pub(crate) fn channel_for(&self, now: Instant, peer: SocketAddr) -> Option<u16> {
        let channel = *self.channel_of.get(&peer)?;
        self.channel_peer(now, channel).map(|_| channel)
    }

    /// Drops expired permissions and channels.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.permissions.retain(|_, t| now < *t);
        let expired: Vec<u16> = self
            .channels
            .iter()
            .filter(|(_, (_, t))| now >= *t)
            .map(|(c, _)| *c)
            .collect();
        for c in expired {
            if let Some((peer, _)) = self.channels.remove(&c) {
                self.channel_of.remove(&peer);
            }
        }
    }

    /// Installs or refreshes a permission for `peer` until `now + lifetime`.
    pub(crate) fn permit(&mut self, now: Instant, peer: IpAddr, lifetime: Duration) {
        self.permissions.insert(peer, now + lifetime);
    }

    /// The relay address of the peer's family.
    pub(crate) fn relay_for(&self, peer: SocketAddr) -> Option<SocketAddr> {
        self.relays
            .iter()
            .copied()
            .find(|r| r.is_ipv4() == peer.is_ipv4())
    }
}
