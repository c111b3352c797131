//! Typed values of the header extensions the router reads.

/// The extension URIs (as in SDP `a=extmap`) of the values this module decodes.
pub mod uri {
    /// RFC 6464 client-to-mixer audio level, decoded by [`audio_level`](super::audio_level).
    pub const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
    /// Transport-wide sequence number, decoded by
    /// [`transport_sequence`](super::transport_sequence).
    pub const TRANSPORT_WIDE_CC: &str =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    /// Absolute send time, decoded by [`abs_send_time`](super::abs_send_time).
    pub const ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
    /// RFC 8843 media identification (MID), decoded by [`sdes_item`](super::sdes_item).
    pub const MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
    /// RFC 8852 RTP stream identifier (RID), decoded by [`sdes_item`](super::sdes_item).
    pub const RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
    /// RFC 8852 repaired RTP stream identifier, decoded by [`sdes_item`](super::sdes_item).
    pub const REPAIRED_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
}

/// RFC 6464 audio level: (voice activity flag, level in −dBov 0..=127). The value must be
/// exactly one byte.
pub fn audio_level(value: &[u8]) -> Option<(bool, u8)> {
    match *value {
        [b] => Some((b & 0x80 != 0, b & 0x7F)),
        _ => None,
    }
}

/// Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01): a
/// big-endian u16. Also accepts the 4-byte value of the version-2 extension (sequence number
/// followed by a feedback request).
pub fn transport_sequence(value: &[u8]) -> Option<u16> {
    match *value {
        [a, b] | [a, b, _, _] => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// abs-send-time: 24-bit 6.18 fixed-point seconds. The value must be exactly three bytes.
pub fn abs_send_time(value: &[u8]) -> Option<u32> {
    match *value {
        [a, b, c] => Some(u32::from_be_bytes([0, a, b, c])),
        _ => None,
    }
}

/// Whether `b` is an RFC 4566 `token-char` (MID values are tokens; RID's
/// `alpha-numeric / "-" / "_"` is a subset).
fn is_token_char(b: u8) -> bool {
    matches!(b,
        0x21 | 0x23..=0x27 | 0x2A..=0x2B | 0x2D..=0x2E | 0x30..=0x39 | 0x41..=0x5A | 0x5E..=0x7E)
}

/// MID / RID / repaired-RID (RFC 8843, RFC 8852): a 1–255-byte identifier (1–16 in the
/// one-byte form) returned as `&str` if it is made of token characters (which implies valid
/// UTF-8).
pub fn sdes_item(value: &[u8]) -> Option<&str> {
    if value.is_empty() || value.len() > 255 || !value.iter().copied().all(is_token_char) {
        return None;
    }
    core::str::from_utf8(value).ok()
}
