//! The DTLS-SRTP handshake (RFC 5763/5764), sans-IO.
//!
//! Each peer generates a [`DtlsCertificate`] and sends its [`Fingerprint`] to the other over
//! signaling (`a=fingerprint:sha-256 …` in SDP). Each then runs a [`DtlsEngine`] configured
//! with its certificate and the *peer's* fingerprint: the handshake fails with
//! [`Error::FingerprintMismatch`](crate::Error::FingerprintMismatch) unless the certificate the
//! peer presents hashes to exactly that fingerprint — in both directions, since the server
//! always requires a client certificate. That check is what makes a call end-to-end: a relay
//! that forwards the packets cannot complete the handshake with either side.
//!
//! On success the engine emits [`DtlsEvent::Connected`] carrying a ready
//! [`SrtpSession`](crate::SrtpSession) for the negotiated profile, keyed from
//! `EXTRACTOR-dtls_srtp` for this side's [`Role`](crate::Role).
//!
//! The engines are sans-IO: they never read the clock and never touch a socket. The caller
//! passes `now` in, moves datagrams, and wakes the engine at
//! [`poll_timeout`](DtlsEngine::poll_timeout). Route only DTLS datagrams to the engine —
//! [`is_dtls`] implements the RFC 7983 first-byte test for a socket shared with STUN and SRTP.
//!
//! Two engines handshaking in memory, with simulated time:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use quietroom_srtp::dtls::{DtlsCertificate, DtlsConfig, DtlsEngine, DtlsEvent, RtcDtlsEngine};
//!
//! let (alice_cert, bob_cert) = (DtlsCertificate::generate()?, DtlsCertificate::generate()?);
//! // Fingerprints travel over signaling.
//! let (alice_fp, bob_fp) = (alice_cert.fingerprint(), bob_cert.fingerprint());
//!
//! let mut now = Instant::now(); // the only clock read; the engines take `now` as input
//! let mut alice = RtcDtlsEngine::client(DtlsConfig::new(alice_cert, bob_fp), now)?;
//! let mut bob = RtcDtlsEngine::server(DtlsConfig::new(bob_cert, alice_fp), now)?;
//!
//! let mut sessions = Vec::new();
//! for _ in 0..50 {
//!     let mut moved = false;
//!     while let Some(datagram) = alice.poll_transmit() {
//!         bob.handle_input(now, &datagram)?;
//!         moved = true;
//!     }
//!     while let Some(datagram) = bob.poll_transmit() {
//!         alice.handle_input(now, &datagram)?;
//!         moved = true;
//!     }
//!     for engine in [&mut alice as &mut dyn DtlsEngine, &mut bob] {
//!         while let Some(event) = engine.poll_event() {
//!             if let DtlsEvent::Connected { profile, session, .. } = event {
//!                 sessions.push((profile, session));
//!             }
//!         }
//!     }
//!     if sessions.len() == 2 {
//!         break;
//!     }
//!     if !moved {
//!         // Nothing in flight: jump to the earliest timer.
//!         now = [alice.poll_timeout(), bob.poll_timeout()].into_iter().flatten().min().unwrap_or(now);
//!         alice.handle_timeout(now)?;
//!         bob.handle_timeout(now)?;
//!     }
//!     now += Duration::from_millis(1);
//! }
//! assert_eq!(sessions.len(), 2);
//! assert_eq!(sessions[0].0, sessions[1].0); // both sides agree on the profile
//! # Ok::<(), quietroom_srtp::Error>(())
//! ```

mod certificate;
mod config;
mod engine;
mod fingerprint;
mod rtc;
#[cfg(test)]
mod tests;

pub use certificate::DtlsCertificate;
pub use config::DtlsConfig;
pub use engine::{DtlsEngine, DtlsEvent, DtlsState};
pub use fingerprint::Fingerprint;
pub use rtc::RtcDtlsEngine;

/// Whether a datagram received on a socket shared with STUN, (S)RTP and others is DTLS,
/// by the RFC 7983 §7 first-byte rule (20–63).
///
/// ```
/// assert!(quietroom_srtp::dtls::is_dtls(&[22, 0xFE, 0xFD]));
/// assert!(!quietroom_srtp::dtls::is_dtls(&[0x80, 96])); // RTP
/// assert!(!quietroom_srtp::dtls::is_dtls(&[]));
/// ```
pub fn is_dtls(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(20..=63))
}
