//! The crate's one error type.

/// Why the router refused a packet or an operation. A refused packet is dropped and changes
/// no state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// The input ended before a field it announces.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },

    /// The input is not a well-formed RTP/RTCP packet or payload.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },

    /// An RTCP packet that webrtc-rs's `rtc-rtcp` could not parse.
    #[error("malformed RTCP: {0}")]
    Rtcp(String),

    /// SRTP/SRTCP protection or unprotection failed.
    #[error("media crypto: {0}")]
    Crypto(#[from] quietroom_srtp::Error),

    /// The participant, track or room is not known to the router.
    #[error("unknown {0}")]
    Unknown(&'static str),

    /// A configured bound was reached (participants, tracks, subscriptions).
    #[error("limit reached: {0}")]
    Limit(&'static str),
}

impl From<quietroom_wire::Truncated> for RouterError {
    fn from(t: quietroom_wire::Truncated) -> Self {
        RouterError::Truncated {
            what: t.what,
            need: t.need,
            have: t.have,
        }
    }
}
