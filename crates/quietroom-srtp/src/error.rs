//! The crate's one error type.

use crate::Profile;

/// Everything that can go wrong in `quietroom-srtp`.
///
/// Packet errors (`AuthenticationFailed`, `Replayed`, `TooOld`, `Truncated`, `Malformed`) mean
/// "drop this packet": the caller's buffer may have been partly processed and must not be used,
/// but the context's state is unchanged, so the next good packet is accepted as usual.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authentication tag did not verify: the packet was forged, corrupted in transit, or
    /// protected with a different key.
    #[error(
        "SRTP authentication failed: the packet was forged, corrupted or protected with another key"
    )]
    AuthenticationFailed,

    /// A packet with this index was already accepted (or, on the sending side, already
    /// protected) for this SSRC.
    #[error("replayed packet: SSRC {ssrc:#010x} index {index} was already seen")]
    Replayed {
        /// The packet's SSRC.
        ssrc: u32,
        /// The packet's SRTP (48-bit) or SRTCP (31-bit) index.
        index: u64,
    },

    /// The packet's index is older than the replay window can remember, so it cannot be proven
    /// fresh.
    #[error("packet too old: SSRC {ssrc:#010x} index {index} is behind the replay window")]
    TooOld {
        /// The packet's SSRC.
        ssrc: u32,
        /// The packet's SRTP (48-bit) or SRTCP (31-bit) index.
        index: u64,
    },

    /// The packet is shorter than its own headers say it must be.
    #[error("truncated {what}: need at least {need} bytes, have {have}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },

    /// The packet is not a well-formed RTP/RTCP packet.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },

    /// The buffer has no room for the bytes protection appends.
    #[error(
        "buffer too small: protecting needs {need} bytes, the buffer has {have}; \
         leave Profile::rtp_overhead()/rtcp_overhead() spare bytes after the packet"
    )]
    BufferTooSmall {
        /// Bytes needed.
        need: usize,
        /// Bytes the buffer has.
        have: usize,
    },

    /// A `use_srtp` profile identifier that quietroom does not implement.
    #[error("unsupported SRTP protection profile {0:#06x}")]
    UnsupportedProfile(u16),

    /// A master key, master salt or keying material of the wrong length for the profile.
    #[error("{what} for {profile} must be {expected} bytes, got {got}")]
    KeyLength {
        /// Which input: "master key", "master salt" or "keying material".
        what: &'static str,
        /// The profile in use.
        profile: Profile,
        /// Length the profile requires.
        expected: usize,
        /// Length given.
        got: usize,
    },

    /// The context already tracks as many SSRCs as it was configured to.
    #[error(
        "too many streams: the context already tracks {max} SSRCs (raise SrtpConfig::max_streams)"
    )]
    TooManyStreams {
        /// The configured limit.
        max: usize,
    },

    /// The SRTP (2^48) or SRTCP (2^31) index space for this SSRC is used up; the session must be
    /// re-keyed before sending more.
    #[error("index space exhausted for SSRC {ssrc:#010x}; re-key the session")]
    IndexExhausted {
        /// The SSRC whose index ran out.
        ssrc: u32,
    },

    /// The peer's certificate does not match the fingerprint received over signaling.
    #[error("DTLS peer certificate does not match the fingerprint received over signaling")]
    FingerprintMismatch,

    /// A fingerprint string (`sha-256 AB:CD:…`) that could not be parsed.
    #[error("invalid certificate fingerprint: {reason}")]
    InvalidFingerprint {
        /// Why it was refused.
        reason: &'static str,
    },

    /// The DTLS handshake finished without agreeing on an SRTP profile both ends support.
    #[error("DTLS handshake negotiated no SRTP protection profile that both ends support")]
    NoSrtpProfile,

    /// The DTLS handshake did not complete before its retransmissions ran out.
    #[error("DTLS handshake timed out after its retransmissions ran out")]
    HandshakeTimeout,

    /// The DTLS engine refused the handshake or a record (alert, decode or crypto failure).
    #[error("DTLS handshake failed: {reason}")]
    Handshake {
        /// The engine's description of the failure (never contains key material).
        reason: String,
    },

    /// Generating or loading a certificate failed.
    #[error("certificate error: {reason}")]
    Certificate {
        /// What went wrong.
        reason: String,
    },

    /// The operation needs a completed DTLS handshake.
    #[error("the DTLS handshake has not completed yet")]
    HandshakeIncomplete,

    /// The DTLS association is closed.
    #[error("the DTLS association is closed")]
    Closed,
}
