//! RTP ingress on arbitrary bytes: what the router does with every packet a publisher sends.
//!
//! Parsing must never panic; neither may extension iteration, any typed extension getter or
//! keyframe detection for any codec on a packet that parsed. Rewriting a VP8/VP9 picture ID
//! and TL0PICIDX changes those fields only and re-parses to the values written. Rewriting
//! sequence number, timestamp and SSRC into a copy re-parses to the rewritten fields with the
//! payload and extensions unchanged, and the RTX packet built from it parses, carrying the
//! original sequence number before the original payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quietroom_router::codec::{Codec, is_keyframe, picture_fields};
use quietroom_router::rtp::{self, RtpHeader};

const CODECS: [Codec; 6] = [
    Codec::Opus,
    Codec::Vp8,
    Codec::Vp9,
    Codec::H264,
    Codec::Av1,
    Codec::Other,
];

fuzz_target!(|data: &[u8]| {
    let Ok(h) = RtpHeader::parse(data) else {
        return;
    };
    assert_eq!(h.payload_offset + h.payload_len + h.padding_len, data.len());
    let payload = h.payload(data);
    assert_eq!(payload.len(), h.payload_len);
    assert_eq!(h.csrcs(data).len(), usize::from(h.csrc_count));

    for (id, value) in h.extensions(data) {
        assert_ne!(id, 0);
        assert!(h.extension(data, id).is_some());
        let _ = rtp::audio_level(value);
        let _ = rtp::transport_sequence(value);
        let _ = rtp::abs_send_time(value);
        let _ = rtp::sdes_item(value);
    }
    for codec in CODECS {
        let _ = is_keyframe(codec, payload);
        // Picture ID and TL0PICIDX rewriting changes those fields and nothing else.
        if let Some(fields) = picture_fields(codec, payload) {
            let mut copy = payload.to_vec();
            let (id, tl0) = (
                fields.picture_id().map_or(0, |id| !id),
                fields.tl0_pic_idx().map_or(0, |idx| !idx),
            );
            fields.write(&mut copy, id, tl0);
            let again = picture_fields(codec, &copy).expect("a rewritten descriptor parses");
            let mask = if fields.wide_picture_id() { 0x7FFF } else { 0x7F };
            assert_eq!(again.picture_id(), fields.picture_id().map(|_| id & mask));
            assert_eq!(again.tl0_pic_idx(), fields.tl0_pic_idx().map(|_| tl0));
            assert_eq!(is_keyframe(codec, &copy), is_keyframe(codec, payload));
            let changed = copy.iter().zip(payload).filter(|(a, b)| a != b).count();
            assert!(changed <= 3, "only the picture fields change");
        }
    }

    // Per-subscriber rewrite into a copy.
    let mut copy = data.to_vec();
    let (seq, ts, ssrc) = (!h.sequence, h.timestamp.wrapping_add(0x0101_0101), !h.ssrc);
    rtp::set_sequence(&mut copy, seq).expect("a parsed packet has a fixed header");
    rtp::set_timestamp(&mut copy, ts).expect("a parsed packet has a fixed header");
    rtp::set_ssrc(&mut copy, ssrc).expect("a parsed packet has a fixed header");
    if let Some((id, value)) = h.extensions(data).next() {
        let flipped: Vec<u8> = value.iter().map(|b| !b).collect();
        rtp::set_extension(&mut copy, &h, id, &flipped).expect("the element exists");
        assert_eq!(h.extension(&copy, id), Some(&flipped[..]));
        rtp::set_extension(&mut copy, &h, id, value).expect("the element exists");
    }
    let again = RtpHeader::parse(&copy).expect("a rewritten packet parses");
    assert_eq!(
        (again.sequence, again.timestamp, again.ssrc),
        (seq, ts, ssrc)
    );
    assert_eq!(
        RtpHeader {
            sequence: h.sequence,
            timestamp: h.timestamp,
            ssrc: h.ssrc,
            ..again
        },
        h
    );
    assert_eq!(again.payload(&copy), payload);
    assert!(again.extensions(&copy).eq(h.extensions(data)));

    // RTX for this packet.
    let mut out = vec![0u8; data.len() + 2];
    let n = rtp::write_rtx(data, &h, !h.ssrc, 97, 1, &mut out).expect("len + 2 always fits");
    let rtx = out.get(..n).expect("write_rtx returns a length within out");
    let r = RtpHeader::parse(rtx).expect("an RTX packet parses");
    assert_eq!((r.ssrc, r.payload_type, r.sequence), (!h.ssrc, 97, 1));
    assert_eq!(r.padding_len, 0);
    let rtx_payload = r.payload(rtx);
    assert_eq!(rtp::rtx_original_sequence(rtx_payload), Some(h.sequence));
    assert_eq!(rtx_payload.get(2..), Some(payload));
    assert!(r.extensions(rtx).eq(h.extensions(data)));
    let _ = rtp::rtx_original_sequence(payload);
});
