//! The seam between the transport and a DTLS implementation.

use std::time::Instant;

use super::Fingerprint;
use crate::{Error, Profile, Role, SrtpSession};

/// Where a DTLS engine is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DtlsState {
    /// The handshake is running.
    Handshaking,
    /// The handshake completed, the peer was verified and the SRTP session was handed out.
    Connected,
    /// The handshake failed (the error was returned by the call that failed it).
    Failed,
    /// The association was closed, by us or by the peer.
    Closed,
}

/// Something the engine reports; drain with [`DtlsEngine::poll_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum DtlsEvent {
    /// The handshake completed: the peer's certificate matched the expected fingerprint, an
    /// SRTP profile was agreed and the keys were exported. This is emitted exactly once.
    Connected {
        /// The negotiated SRTP protection profile.
        profile: Profile,
        /// The SRTP session for both directions, keyed for this side's role.
        session: Box<SrtpSession>,
        /// The fingerprint of the certificate the peer presented (equal to the expected one).
        peer_fingerprint: Fingerprint,
    },
    /// The peer closed the association with `close_notify`. SRTP keys already handed out stay
    /// valid; whether to keep using them is the application's decision.
    PeerClosed,
}

/// A sans-IO DTLS-SRTP handshake with one peer.
///
/// The engine never reads a clock and never touches a socket: the caller feeds it received
/// datagrams and the current time, sends what [`poll_transmit`](Self::poll_transmit) returns
/// to the peer, calls [`handle_timeout`](Self::handle_timeout) when
/// [`poll_timeout`](Self::poll_timeout) says so, and collects the result from
/// [`poll_event`](Self::poll_event). After every `handle_*` call, drain `poll_transmit` and
/// `poll_event` until they return `None`, then re-read `poll_timeout`.
///
/// Errors returned by `handle_*` are fatal: the engine moves to [`DtlsState::Failed`] and
/// refuses further input with [`Error::Closed`]. Datagrams that are not well-formed DTLS
/// records are dropped silently (RFC 6347 §4.1.2.7) and do not produce errors.
///
/// [`RtcDtlsEngine`](super::RtcDtlsEngine) is the default implementation (DTLS 1.2 on
/// webrtc-rs's rtc-dtls); another implementation (a DTLS 1.3 one, say) can slot in here.
pub trait DtlsEngine: Send {
    /// Which side of the handshake this engine takes.
    fn role(&self) -> Role;

    /// Where the engine is in its life.
    fn state(&self) -> DtlsState;

    /// The fingerprint of our certificate (to send over signaling).
    fn local_fingerprint(&self) -> Fingerprint;

    /// Processes one datagram received from the peer at time `now`.
    ///
    /// # Errors
    ///
    /// Fatal handshake failures: [`Error::FingerprintMismatch`] when the peer's certificate
    /// does not match, [`Error::NoSrtpProfile`] when no profile is shared,
    /// [`Error::Handshake`] when the peer sent a fatal alert or a record failed, and
    /// [`Error::Closed`] once the engine has failed or been closed.
    fn handle_input(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error>;

    /// Processes timer expiry at `now`: retransmits the current flight or gives up.
    ///
    /// Calling it early, or more than once, is harmless.
    ///
    /// # Errors
    ///
    /// [`Error::HandshakeTimeout`] when retransmissions ran out or the handshake deadline
    /// passed.
    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error>;

    /// The next datagram to send to the peer.
    #[must_use = "datagrams the engine queued must be sent to the peer"]
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if at all.
    #[must_use = "the engine relies on handle_timeout being called at this instant"]
    fn poll_timeout(&self) -> Option<Instant>;

    /// The next event.
    #[must_use = "the Connected event carries the SRTP session and must be taken"]
    fn poll_event(&mut self) -> Option<DtlsEvent>;

    /// Closes the association, queueing a `close_notify` for the peer.
    fn close(&mut self, now: Instant);
}
