//! A TURN relay (RFC 8656) and STUN server (RFC 8489) for privacy-first meetings.
//!
//! Small rooms are peer-to-peer and end-to-end encrypted; when a peer cannot reach the other
//! directly, this relay carries the already-encrypted DTLS-SRTP packets without being able to
//! read them.
//!
//! - [`stun`]: a zero-copy STUN codec (RFC 8489) — [`stun::Message`] parses over borrowed
//!   bytes with typed errors, [`stun::MessageBuilder`] writes into a reused buffer, with
//!   MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT; ChannelData framing.
//! - [`server`]: the sans-IO TURN/STUN core (`handle_*(now, …)` in, transmits, timers and
//!   events out) with its seams: [`auth::CredentialStore`] (long-term and shared-secret
//!   credentials), [`policy::PeerPolicy`] (refuses the operator's own networks by default) and
//!   [`server::RelayProvider`].
//! - `driver` (feature `tokio`): UDP, TCP and TLS listeners, relay sockets and graceful
//!   shutdown around the core; `examples/turn_server.rs` is a server built on it.
//! - ICMP errors for relayed datagrams (a closed peer port, an unreachable peer, a datagram
//!   too big) reach the client as Data indications with the ICMP attribute
//!   ([`server::Server::handle_icmp`]); the driver reads them from the relay sockets on Linux.
//! - Draining: with alternate servers set ([`server::ServerConfig::alternate_servers`], or at
//!   run time), new allocations are sent elsewhere with 300 Try Alternate while existing
//!   ones are served until they end.
//!
//! The codec on its own — a Binding success response, built and read back:
//!
//! ```
//! use quietroom_turn::stun::{attr, Class, Message, MessageBuilder, Method, TransactionId};
//!
//! let client = "203.0.113.5:40000".parse()?;
//! let mut buf = Vec::new();
//! let mut m = MessageBuilder::new(&mut buf, Class::Success, Method::BINDING, TransactionId([7; 12]));
//! m.add_xor_address(attr::XOR_MAPPED_ADDRESS, client).add_fingerprint();
//! m.finish();
//!
//! let parsed = Message::parse(&buf)?;
//! assert_eq!(parsed.class(), Class::Success);
//! assert!(parsed.check_fingerprint()?);
//! assert_eq!(parsed.xor_address(attr::XOR_MAPPED_ADDRESS)?, Some(client));
//! // A truncated copy is a typed error, never a panic.
//! assert!(Message::parse(&buf[..buf.len() - 3]).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod error;

pub mod auth;
#[cfg(feature = "tokio")]
pub mod driver;
pub mod policy;
pub mod server;
pub mod stun;

pub use error::TurnError;
