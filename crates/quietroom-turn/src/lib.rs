//! A TURN relay (RFC 8656) and STUN server (RFC 8489) for privacy-first meetings.
//!
//! Small rooms are peer-to-peer and end-to-end encrypted; when a peer cannot reach the other
//! directly, this relay carries the already-encrypted DTLS-SRTP packets without being able to
//! read them.
#![forbid(unsafe_code)]

mod error;

pub mod auth;
#[cfg(feature = "tokio")]
pub mod driver;
pub mod policy;
pub mod server;
pub mod stun;

pub use error::TurnError;
