//! quietroom: privacy-first building blocks for an embedded video service.
//!
//! Media is always DTLS-SRTP, never stored, and decrypted only in memory where routing needs
//! it. This facade re-exports the workspace's crates behind features:
//!
//! | feature | module | crate |
//! |---|---|---|
//! | `srtp` (default) | [`srtp`] | `quietroom-srtp`: SRTP/SRTCP in place and the DTLS-SRTP handshake |
//! | `chat` (default) | [`chat`] | `quietroom-chat`: ephemeral, bounded meeting chat |
//! | `router` (default) | [`router`] | `quietroom-router`: the sans-IO SFU core |
//! | `turn` (default) | [`turn`] | `quietroom-turn`: TURN relay and STUN server, sans-IO core and tokio driver |
#![forbid(unsafe_code)]

#[cfg(feature = "srtp")]
#[doc(inline)]
pub use quietroom_srtp as srtp;

#[cfg(feature = "chat")]
#[doc(inline)]
pub use quietroom_chat as chat;

#[cfg(feature = "router")]
#[doc(inline)]
pub use quietroom_router as router;

#[cfg(feature = "turn")]
#[doc(inline)]
pub use quietroom_turn as turn;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
