//! Keyframe detection from RTP payloads: whether a packet starts a frame a decoder can begin
//! on, which is where the router can switch a subscriber to another simulcast layer or
//! resume a stream after loss.
//!
//! Each codec module reads just enough of its payload format to answer, with checked reads
//! only: truncated or malformed payloads are "not a keyframe", never a panic.
//!
//! ```
//! use quietroom_router::codec::{Codec, is_keyframe};
//!
//! // H.264 single NAL unit packet carrying a sequence parameter set (type 7), which a WebRTC
//! // sender puts just before each IDR picture.
//! assert!(is_keyframe(Codec::H264, &[0x67, 0x42, 0xC0, 0x1F]));
//! // A non-IDR slice (type 1).
//! assert!(!is_keyframe(Codec::H264, &[0x41, 0x9A, 0x02]));
//! assert!(!is_keyframe(Codec::Opus, &[0x78, 0x01]));
//! ```

mod av1;
mod h264;
mod picture;
mod vp8;
mod vp9;

pub(crate) use av1::TemporalUnit;
pub use picture::PictureFields;

/// The media codecs the router distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Opus audio (RFC 7587).
    Opus,
    /// VP8 video (RFC 7741).
    Vp8,
    /// VP9 video (RFC 9628).
    Vp9,
    /// H.264 video (RFC 6184).
    H264,
    /// AV1 video (AOM "RTP Payload Format for AV1").
    Av1,
    /// Any other codec: forwarded, never treated as a keyframe.
    Other,
}

impl Codec {
    /// The codec for an SDP `a=rtpmap` encoding name (case-insensitive: `opus`, `VP8`, `VP9`,
    /// `H264`, `AV1`), [`Codec::Other`] for anything else.
    pub fn from_encoding_name(name: &str) -> Codec {
        [
            ("opus", Codec::Opus),
            ("VP8", Codec::Vp8),
            ("VP9", Codec::Vp9),
            ("H264", Codec::H264),
            ("AV1", Codec::Av1),
        ]
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(Codec::Other, |(_, c)| c)
    }

    /// Whether this is a video codec (one with keyframes).
    pub fn is_video(self) -> bool {
        matches!(self, Codec::Vp8 | Codec::Vp9 | Codec::H264 | Codec::Av1)
    }
}

/// Whether an RTP payload starts a keyframe (or is part of one and carries the frame start) —
/// what an SFU needs to switch a subscriber to this stream. Always `false` for audio and
/// [`Codec::Other`], and for any payload too short or malformed to tell.
pub fn is_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => vp8::is_keyframe(payload),
        Codec::Vp9 => vp9::is_keyframe(payload),
        Codec::H264 => h264::is_keyframe(payload),
        Codec::Av1 => av1::is_keyframe(payload),
        Codec::Opus | Codec::Other => false,
    }
}

/// The picture ID and TL0PICIDX fields of a VP8 or VP9 payload descriptor, when it has
/// either (and its layer indices); for AV1 the temporal layer of the OBU a packet starts,
/// when it has an extension header; `None` for other codecs, for descriptors without them,
/// and for payloads too short to hold the descriptor they announce.
pub fn picture_fields(codec: Codec, payload: &[u8]) -> Option<PictureFields> {
    inspect(codec, payload).1
}

/// [`is_keyframe`] and [`picture_fields`] together, from one read of the payload descriptor
/// (what the router does with every video packet).
pub fn inspect(codec: Codec, payload: &[u8]) -> (bool, Option<PictureFields>) {
    match codec {
        Codec::Vp8 => vp8::inspect(payload),
        Codec::Vp9 => vp9::inspect(payload),
        Codec::Av1 => av1::inspect(payload),
        Codec::H264 | Codec::Opus | Codec::Other => (is_keyframe(codec, payload), None),
    }
}

/// [`inspect`] for a packet of a stream whose temporal units `unit` follows: an AV1 packet
/// goes by its temporal unit's layer ([`TemporalUnit`]: only a unit's first packet says it).
#[inline]
pub(crate) fn inspect_in_unit(
    codec: Codec,
    header: &crate::rtp::RtpHeader,
    payload: &[u8],
    unit: &mut TemporalUnit,
) -> (bool, Option<PictureFields>) {
    let (keyframe, picture) = inspect(codec, payload);
    match codec {
        Codec::Av1 => (keyframe, unit.fields(header.timestamp, picture)),
        _ => (keyframe, picture),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Codec; 6] = [
        Codec::Opus,
        Codec::Vp8,
        Codec::Vp9,
        Codec::H264,
        Codec::Av1,
        Codec::Other,
    ];

    #[test]
    fn encoding_names() {
        assert_eq!(Codec::from_encoding_name("opus"), Codec::Opus);
        assert_eq!(Codec::from_encoding_name("vp8"), Codec::Vp8);
        assert_eq!(Codec::from_encoding_name("VP9"), Codec::Vp9);
        assert_eq!(Codec::from_encoding_name("h264"), Codec::H264);
        assert_eq!(Codec::from_encoding_name("AV1"), Codec::Av1);
        assert_eq!(Codec::from_encoding_name("H265"), Codec::Other);
        assert_eq!(Codec::from_encoding_name(""), Codec::Other);
        assert!(Codec::Vp8.is_video() && !Codec::Opus.is_video() && !Codec::Other.is_video());
    }

    #[test]
    fn empty_and_short_payloads_are_never_keyframes() {
        for codec in ALL {
            assert!(!is_keyframe(codec, &[]), "{codec:?}");
            for b in 0..=u8::MAX {
                // A lone byte is never a whole keyframe start for the descriptor-based codecs,
                // but may be for H.264 (a bare NAL header); it must just not panic.
                let one = is_keyframe(codec, &[b]);
                if matches!(codec, Codec::Vp8 | Codec::Vp9 | Codec::Opus | Codec::Other) {
                    assert!(!one, "{codec:?} {b:#04x}");
                }
                for c in [0x00, 0x10, 0x80, 0xFF] {
                    let _ = is_keyframe(codec, &[b, c]);
                    let _ = is_keyframe(codec, &[b, c, c]);
                }
            }
        }
    }

    #[test]
    fn audio_is_never_a_keyframe() {
        let opus = [0x78, 0x0B, 0xE4, 0xC1, 0x36, 0xEC, 0xC5, 0x80];
        assert!(!is_keyframe(Codec::Opus, &opus));
        assert!(!is_keyframe(Codec::Other, &[0x65, 0x88]));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            for codec in ALL {
                let _ = is_keyframe(codec, &payload);
                let (key, fields) = inspect(codec, &payload);
                proptest::prop_assert_eq!(key, is_keyframe(codec, &payload));
                proptest::prop_assert_eq!(fields, picture_fields(codec, &payload));
                if let Some(fields) = fields {
                    let mut copy = payload.clone();
                    fields.write(&mut copy, 0x7FFF, 0xFF);
                    proptest::prop_assert_eq!(copy.len(), payload.len());
                    let again = picture_fields(codec, &copy).unwrap();
                    proptest::prop_assert_eq!(again.tl0_pic_idx(), fields.tl0_pic_idx().map(|_| 0xFF));
                    let max = if fields.wide_picture_id() { 0x7FFF } else { 0x7F };
                    proptest::prop_assert_eq!(again.picture_id(), fields.picture_id().map(|_| max));
                }
                for end in 0..payload.len() {
                    let _ = is_keyframe(codec, payload.get(..end).unwrap_or_default());
                }
            }
        }
    }
}
