//! Per-context settings.

/// Settings for an SRTP context or session.
///
/// ```
/// use quietroom_srtp::SrtpConfig;
/// let config = SrtpConfig::default().with_replay_window(256).with_allow_repeat_tx(true);
/// assert_eq!(config.replay_window(), 256);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrtpConfig {
    replay_window: usize,
    max_streams: usize,
    allow_repeat_tx: bool,
}

impl SrtpConfig {
    /// The default replay window, in packets (RFC 3711 §3.3.2 asks for at least 64).
    pub const DEFAULT_REPLAY_WINDOW: usize = 128;
    /// The largest replay window a context accepts; larger requests are clamped.
    pub const MAX_REPLAY_WINDOW: usize = 32_768;
    /// The default limit on SSRCs tracked per direction.
    pub const DEFAULT_MAX_STREAMS: usize = 1024;

    /// How many packets behind the newest one are still accepted (once each).
    pub fn replay_window(&self) -> usize {
        self.replay_window
    }

    /// How many SSRCs one context tracks at most.
    pub fn max_streams(&self) -> usize {
        self.max_streams
    }

    /// Whether the sending side may protect the same index twice.
    pub fn allow_repeat_tx(&self) -> bool {
        self.allow_repeat_tx
    }

    /// Sets the replay window; clamped to `64..=MAX_REPLAY_WINDOW` and rounded up to a
    /// multiple of 64.
    #[must_use]
    pub fn with_replay_window(mut self, packets: usize) -> Self {
        let clamped = packets.clamp(64, Self::MAX_REPLAY_WINDOW);
        self.replay_window = clamped.div_ceil(64) * 64;
        self
    }

    /// Sets how many SSRCs one context may track (at least 1). New SSRCs past the limit are
    /// refused with [`Error::TooManyStreams`](crate::Error::TooManyStreams).
    #[must_use]
    pub fn with_max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams.max(1);
        self
    }

    /// Lets the sender protect the same (SSRC, index) again — needed to retransmit a packet in
    /// answer to a NACK without RTX. Only ever re-protect the *identical* packet: with GCM, two
    /// different plaintexts under one index reveal both and allow forgeries (RFC 7714 §8.2).
    /// Off by default, as in libsrtp.
    #[must_use]
    pub fn with_allow_repeat_tx(mut self, allow: bool) -> Self {
        self.allow_repeat_tx = allow;
        self
    }
}

impl Default for SrtpConfig {
    fn default() -> Self {
        SrtpConfig {
            replay_window: Self::DEFAULT_REPLAY_WINDOW,
            max_streams: Self::DEFAULT_MAX_STREAMS,
            allow_repeat_tx: false,
        }
    }
}
