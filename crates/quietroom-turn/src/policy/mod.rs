//! Peer-address policy: relays must not become a way into the operator's network.
//!
//! A TURN relay sends wherever its clients ask. Without a policy, any client with
//! credentials can reach the relay host's loopback services, the operator's private
//! networks, and cloud metadata endpoints. [`DefaultPeerPolicy`] refuses all of these,
//! including when an IPv4 address is hidden inside an IPv6 one, and lets operators add
//! explicit [`Cidr`] allows and denies.

mod cidr;
mod default;

use std::net::IpAddr;

pub use cidr::Cidr;
pub use default::DefaultPeerPolicy;

/// Decides whether the relay may send to a peer (CreatePermission, ChannelBind, Send).
///
/// Implementations must not panic for any address.
pub trait PeerPolicy: Send {
    /// Whether the relay may send to (and accept data from) `peer`.
    fn permits(&self, peer: IpAddr) -> bool;
}

/// A boxed policy (e.g. `Box<dyn PeerPolicy>`) is a policy.
impl<T: PeerPolicy + ?Sized> PeerPolicy for Box<T> {
    fn permits(&self, peer: IpAddr) -> bool {
        (**self).permits(peer)
    }
}
