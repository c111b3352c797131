//! The crate's one error type.

/// What can go wrong in `quietroom-turn`: malformed STUN or ChannelData, failed integrity
/// checks, bad configuration, and relay or driver failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TurnError {
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

    /// The input is not a well-formed STUN message, attribute or ChannelData message.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },

    /// MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 did not verify.
    #[error("STUN message integrity check failed")]
    IntegrityMismatch,

    /// The FINGERPRINT attribute did not match the message.
    #[error("STUN fingerprint mismatch")]
    FingerprintMismatch,

    /// A configuration value that cannot be used.
    #[error("invalid configuration: {what}: {reason}")]
    Config {
        /// The setting.
        what: &'static str,
        /// Why it was refused, and what would be accepted.
        reason: String,
    },

    /// No relay address could be allocated.
    #[error("no relay address available: {reason}")]
    RelayUnavailable {
        /// Why (port range exhausted, bind failed, family not configured…).
        reason: String,
    },

    /// An I/O failure in a driver.
    #[error("I/O error: {0}")]
    Io(String),

    /// A TLS setup failure in the driver (certificate or key unusable).
    #[error("TLS error: {0}")]
    Tls(String),
}

impl From<quietroom_wire::Truncated> for TurnError {
    fn from(t: quietroom_wire::Truncated) -> Self {
        TurnError::Truncated {
            what: t.what,
            need: t.need,
            have: t.have,
        }
    }
}

impl From<std::io::Error> for TurnError {
    fn from(e: std::io::Error) -> Self {
        TurnError::Io(e.to_string())
    }
}
