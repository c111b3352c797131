//! Property tests: parsing never panics, and agrees with webrtc-rs's `rtc-rtp`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use rtc_rtp::header::Header;
use rtc_rtp::packet::Packet;
use rtc_shared::marshal::{Marshal, Unmarshal};

use super::tests::assert_agrees;
use super::*;
use crate::codec::{Codec, is_keyframe};

/// Exercises every read-only entry point on a parsed packet.
fn exercise(bytes: &[u8]) {
    let Ok(h) = RtpHeader::parse(bytes) else {
        return;
    };
    assert!(h.payload_offset + h.payload_len + h.padding_len == bytes.len());
    assert_eq!(h.payload(bytes).len(), h.payload_len);
    for (id, value) in h.extensions(bytes) {
        assert!(h.extension(bytes, id).is_some());
        let _ = (audio_level(value), transport_sequence(value));
        let _ = (abs_send_time(value), sdes_item(value));
    }
    for codec in [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1] {
        let _ = is_keyframe(codec, h.payload(bytes));
    }
    let mut out = vec![0; bytes.len() + 2];
    let n = write_rtx(bytes, &h, 1, 2, 3, &mut out).unwrap();
    let r = RtpHeader::parse(&out[..n]).unwrap();
    assert_eq!(
        rtx_original_sequence(r.payload(&out[..n])),
        Some(h.sequence)
    );
}

fn rtc_header() -> impl Strategy<Value = Header> {
    (
        (any::<bool>(), any::<bool>(), 0u8..128, any::<u16>()),
        (any::<u32>(), any::<u32>(), vec(any::<u32>(), 0..16)),
    )
        .prop_map(
            |((padding, marker, payload_type, seq), (ts, ssrc, csrc))| Header {
                version: 2,
                padding,
                marker,
                payload_type,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
                csrc,
                ..Header::default()
            },
        )
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..96)) {
        exercise(&bytes);
    }

    /// Arbitrary bytes behind a plausible first byte (version 2), so parsing gets past the
    /// version check and into CSRCs, extensions and padding.
    #[test]
    fn parse_never_panics_on_version_2_bytes(
        b0 in 0x80u8..0xC0,
        ext in prop_oneof![Just([0xBEu8, 0xDE]), Just([0x10, 0x00]), Just([0x10, 0x0F]), any::<[u8; 2]>()],
        words in 0u8..6,
        rest in vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = vec![b0, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        bytes.extend_from_slice(&ext);
        bytes.extend_from_slice(&[0, words]);
        bytes.extend_from_slice(&rest);
        exercise(&bytes);
        let cc = usize::from(b0 & 0x0F) * 4;
        if bytes.len() >= 12 + cc {
            let mut no_csrc = bytes.clone();
            no_csrc[0] &= 0xF0;
            exercise(&no_csrc);
        }
    }

    #[test]
    fn agrees_with_rtc_rtp(
        header in rtc_header(),
        two_byte in any::<bool>(),
        extensions in vec((1u8..=14, vec(any::<u8>(), 1..=16)), 0..6),
        payload in vec(any::<u8>(), 0..64),
    ) {
        let mut p = Packet { header, payload: Bytes::from(payload) };
        if two_byte {
            p.header.extension = true;
            p.header.extension_profile = 0x1000;
        }
        for (id, value) in extensions {
            p.header.set_extension(id, Bytes::from(value)).unwrap();
        }
        let bytes = p.marshal().unwrap().to_vec();
        assert_agrees(&bytes, &p);

        // Rewrite with ours, read back with rtc-rtp.
        let h = RtpHeader::parse(&bytes).unwrap();
        let mut rewritten = bytes.clone();
        set_sequence(&mut rewritten, h.sequence.wrapping_add(1)).unwrap();
        set_timestamp(&mut rewritten, h.timestamp ^ 0x5555_5555).unwrap();
        set_ssrc(&mut rewritten, !h.ssrc).unwrap();
        set_marker(&mut rewritten, !h.marker).unwrap();
        set_payload_type(&mut rewritten, 127 - h.payload_type).unwrap();
        let mut expected = Vec::new();
        for (id, value) in h.extensions(&bytes) {
            let flipped: Vec<u8> = value.iter().map(|b| !b).collect();
            set_extension(&mut rewritten, &h, id, &flipped).unwrap();
            expected.push((id, flipped));
        }
        let q = Packet::unmarshal(&mut &rewritten[..]).unwrap();
        prop_assert_eq!(q.header.sequence_number, h.sequence.wrapping_add(1));
        prop_assert_eq!(q.header.timestamp, h.timestamp ^ 0x5555_5555);
        prop_assert_eq!(q.header.ssrc, !h.ssrc);
        prop_assert_eq!(q.header.marker, !h.marker);
        prop_assert_eq!(q.header.payload_type, 127 - h.payload_type);
        prop_assert_eq!(&q.header.csrc, &p.header.csrc);
        prop_assert_eq!(&q.payload, &p.payload);
        let theirs: Vec<(u8, Vec<u8>)> =
            q.header.extensions.iter().map(|e| (e.id, e.payload.to_vec())).collect();
        prop_assert_eq!(theirs, expected);
    }
}
