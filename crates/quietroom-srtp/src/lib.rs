//! SRTP/SRTCP and the DTLS-SRTP handshake: the primitive under every media path of quietroom.
//!
//! - [`SrtpContext`] protects or unprotects one direction **in place** on the caller's buffer
//!   (RFC 3711 AES-CM + HMAC-SHA1, RFC 7714 AES-GCM), with per-SSRC rollover tracking and a
//!   replay window; [`SrtpSession`] pairs an outbound and an inbound context.
//! - [`MediaCrypto`] is the small trait the router programs against; `SrtpSession` is its
//!   default implementation.
//! - [`dtls`] runs the DTLS 1.2 handshake sans-IO, checks the peer's certificate against the
//!   fingerprint received over signaling, and hands back a ready `SrtpSession`.
//!
//! Key material is wiped on drop and never printed by `Debug`.
//!
//! ```
//! use quietroom_srtp::{MediaCrypto, Profile, Role, SrtpConfig, SrtpSession};
//!
//! let material = [42u8; 60]; // exported from DTLS in real use
//! let p = Profile::Aes128CmHmacSha1_80;
//! let mut tx = SrtpSession::from_keying_material(p, &material, Role::Server, SrtpConfig::default())?;
//! let mut rx = SrtpSession::from_keying_material(p, &material, Role::Client, SrtpConfig::default())?;
//!
//! let mut buf = [0u8; 1500];
//! let rtp = [0x80, 0x60, 0x12, 0x34, 0, 0, 0x10, 0, 0, 0, 0, 7, b'h', b'i'];
//! buf[..rtp.len()].copy_from_slice(&rtp);
//! let n = tx.protect_rtp(&mut buf, rtp.len())?;
//! assert_eq!(n, rtp.len() + p.rtp_overhead());
//! let m = rx.unprotect_rtp(&mut buf[..n])?;
//! assert_eq!(&buf[..m], &rtp);
//! # Ok::<(), quietroom_srtp::Error>(())
//! ```
#![forbid(unsafe_code)]

mod cipher;
mod config;
mod context;
pub mod dtls;
mod error;
mod index;
mod kdf;
mod keys;
mod media_crypto;
mod profile;
mod reader;
mod replay;
mod rtcp;
mod rtp;
mod session;
mod streams;

pub use config::SrtpConfig;
pub use context::SrtpContext;
pub use error::Error;
pub use keys::{MasterKey, Role, split_keying_material};
pub use media_crypto::MediaCrypto;
pub use profile::Profile;
pub use session::SrtpSession;
