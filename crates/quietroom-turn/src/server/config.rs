//! Server settings: realm, lifetimes, quotas and the abuse limits.

use std::net::SocketAddr;
use std::time::Duration;

/// Settings of a TURN [`Server`](super::Server). Every table the server keeps is bounded by
/// one of these.
///
/// ```
/// use quietroom_turn::server::ServerConfig;
/// let mut config = ServerConfig::new("example.org");
/// config.max_allocations_per_user = 4;
/// assert_eq!(config.realm, "example.org");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The realm of the long-term credentials (RFC 8489 §9.2).
    pub realm: String,
    /// SOFTWARE sent in authenticated responses; `None` sends none.
    pub software: Option<String>,
    /// The addresses the server listens on. Peers at these addresses are always refused, so
    /// a relay cannot be pointed back at the server itself.
    pub listen_addresses: Vec<SocketAddr>,
    /// Allocation lifetime when the client asks for none (RFC 8656: 600 s).
    pub default_lifetime: Duration,
    /// Longest allocation lifetime granted (RFC 8656: 3600 s).
    pub max_lifetime: Duration,
    /// Permission lifetime (RFC 8656: 300 s).
    pub permission_lifetime: Duration,
    /// Channel binding lifetime (RFC 8656: 600 s).
    pub channel_lifetime: Duration,
    /// How long a nonce stays valid before 438 (Stale Nonce).
    pub nonce_lifetime: Duration,
    /// How long a RESERVATION-TOKEN holds the next port (RFC 8656: about 30 s).
    pub reservation_lifetime: Duration,
    /// Most allocations at once (508 Insufficient Capacity beyond).
    pub max_allocations: usize,
    /// Most allocations one user holds at once (486 Allocation Quota Reached beyond).
    pub max_allocations_per_user: usize,
    /// Most permissions one allocation holds.
    pub max_permissions_per_allocation: usize,
    /// Most channels one allocation binds.
    pub max_channels_per_allocation: usize,
    /// Relay bandwidth per allocation, in bytes per second, each way; `None` is unlimited.
    pub bandwidth_per_allocation: Option<u64>,
    /// Responses per second to one source IP that has not yet proven it receives at its
    /// address (no valid nonce yet): bounds what a spoofed source can reflect.
    pub unauthenticated_rate: u32,
    /// Burst allowed by [`unauthenticated_rate`](Self::unauthenticated_rate).
    pub unauthenticated_burst: u32,
    /// Most source IPs tracked by the unauthenticated rate limiter.
    pub max_tracked_sources: usize,
    /// Advertise and accept PASSWORD-ALGORITHMS / MESSAGE-INTEGRITY-SHA256 (RFC 8489).
    pub password_algorithms: bool,
    /// Accept channel numbers 0x5000–0x7FFF as RFC 5766 did, besides RFC 8656's
    /// 0x4000–0x4FFF. On by default: clients of the older RFC — coturn's own among them —
    /// pick numbers from the whole old range, and a TURN server's listening port carries no
    /// other protocol that the wider range could collide with.
    pub rfc5766_channels: bool,
    /// How responses to UDP sources that have not yet proven they receive at their address
    /// are limited in size (all of them are also rate-limited per source IP).
    pub amplification: Amplification,
    /// Where new allocations go instead (300 Try Alternate with ALTERNATE-SERVER, RFC 8489
    /// §10, RFC 8656 §7.2): at most one address per family; a client is sent to the one of
    /// its own address's family, and served here when there is none. Empty (the default)
    /// redirects nothing. Only authenticated Allocate requests that would create an
    /// allocation are redirected — existing allocations, and every other request, are
    /// served — so setting it on a running server ([`Server::set_alternate_servers`])
    /// drains it.
    ///
    /// [`Server::set_alternate_servers`]: super::Server::set_alternate_servers
    pub alternate_servers: Vec<SocketAddr>,
    /// ALTERNATE-DOMAIN sent with a redirect of a client that came over TLS (RFC 8489
    /// §14.16): the name the client checks the alternate server's certificate against.
    pub alternate_domain: Option<String>,
}

/// Limits on what an unverified UDP source (one that has not yet returned a valid nonce, so
/// its address may be spoofed) can make the server send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Amplification {
    /// No response is ever larger than the request it answers. A 401 challenge carries REALM
    /// and NONCE and does not fit in the small first Allocate that standard clients send
    /// (36–60 bytes), so in this mode such clients cannot authenticate over UDP; use it only
    /// with clients that pad their first request.
    Strict,
    /// Every response is capped at the request's size except the 401 challenge and the
    /// Binding success, which are built minimal (no SOFTWARE, no reason phrase) and are bounded
    /// by the per-source rate limit instead (the mitigation coturn adopted for 401
    /// reflection). The default.
    ChallengeExempt,
}

impl ServerConfig {
    /// Defaults from RFC 8656 and conservative quotas, for `realm`.
    pub fn new(realm: impl Into<String>) -> Self {
        ServerConfig {
            realm: realm.into(),
            software: Some(concat!("quietroom-turn ", env!("CARGO_PKG_VERSION")).to_owned()),
            listen_addresses: Vec::new(),
            default_lifetime: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
            permission_lifetime: Duration::from_secs(300),
            channel_lifetime: Duration::from_secs(600),
            nonce_lifetime: Duration::from_secs(600),
            reservation_lifetime: Duration::from_secs(30),
            max_allocations: 10_000,
            max_allocations_per_user: 64,
            max_permissions_per_allocation: 64,
            max_channels_per_allocation: 64,
            bandwidth_per_allocation: None,
            unauthenticated_rate: 100,
            unauthenticated_burst: 200,
            max_tracked_sources: 65_536,
            password_algorithms: true,
            rfc5766_channels: true,
            amplification: Amplification::ChallengeExempt,
            alternate_servers: Vec::new(),
            alternate_domain: None,
        }
    }
}
