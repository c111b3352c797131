//! Unit tests, and differential tests against webrtc-rs's `rtc-rtp`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use rtc_rtp::extension::abs_send_time_extension::AbsSendTimeExtension;
use rtc_rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc_rtp::extension::transport_cc_extension::TransportCcExtension;
use rtc_rtp::header::Header;
use rtc_rtp::packet::Packet;
use rtc_shared::marshal::{Marshal, Unmarshal};

use super::*;
use crate::RouterError;

/// An rtc-rtp packet with the given fields, no extensions.
pub(super) fn rtc_packet(padding: bool, csrc: Vec<u32>, payload: &[u8]) -> Packet {
    Packet {
        header: Header {
            version: 2,
            padding,
            marker: true,
            payload_type: 96,
            sequence_number: 0xFFFE,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
            csrc,
            ..Header::default()
        },
        payload: Bytes::copy_from_slice(payload),
    }
}

fn marshal(p: &Packet) -> Vec<u8> {
    p.marshal().unwrap().to_vec()
}

/// Checks every field of our parse of `bytes` against the rtc-rtp packet it was built from.
pub(super) fn assert_agrees(bytes: &[u8], p: &Packet) {
    let h = RtpHeader::parse(bytes).unwrap();
    assert_eq!(h.marker, p.header.marker);
    assert_eq!(h.payload_type, p.header.payload_type);
    assert_eq!(h.sequence, p.header.sequence_number);
    assert_eq!(h.timestamp, p.header.timestamp);
    assert_eq!(h.ssrc, p.header.ssrc);
    assert_eq!(usize::from(h.csrc_count), p.header.csrc.len());
    assert!(h.csrcs(bytes).eq(p.header.csrc.iter().copied()));
    assert_eq!(h.payload(bytes), &p.payload[..]);
    assert_eq!(h.padding_len > 0, p.header.padding);
    assert_eq!(
        h.payload_offset + h.payload_len + h.padding_len,
        bytes.len()
    );
    match h.extensions {
        None => assert!(!p.header.extension),
        Some(block) => {
            assert!(p.header.extension);
            assert_eq!(block.profile, p.header.extension_profile);
            assert_eq!(block.start, 12 + 4 * p.header.csrc.len() + 4);
            assert_eq!(block.start + block.len, h.payload_offset);
        }
    }
    let ours: Vec<(u8, &[u8])> = h.extensions(bytes).collect();
    let theirs: Vec<(u8, &[u8])> = p
        .header
        .extensions
        .iter()
        .map(|e| (e.id, &e.payload[..]))
        .collect();
    assert_eq!(ours, theirs);
    for (id, value) in theirs {
        assert_eq!(h.extension(bytes, id), Some(value));
    }
}

#[test]
fn plain_packet_agrees_with_rtc_rtp() {
    let p = rtc_packet(false, vec![], &[1, 2, 3, 4, 5]);
    let bytes = marshal(&p);
    assert_agrees(&bytes, &p);
    let h = RtpHeader::parse(&bytes).unwrap();
    assert_eq!(h.payload_offset, 12);
    assert_eq!(h.extensions, None);
    assert_eq!(h.extensions(&bytes).count(), 0);
    assert_eq!(h.extension(&bytes, 1), None);
}

#[test]
fn csrcs_and_padding_agree_with_rtc_rtp() {
    for payload_len in 0..9 {
        let payload: Vec<u8> = (0..payload_len).map(|i| i as u8 ^ 0xA5).collect();
        let p = rtc_packet(true, vec![1, 0xFFFF_FFFF, 0x0102_0304], &payload);
        let bytes = marshal(&p);
        assert_agrees(&bytes, &p);
        let h = RtpHeader::parse(&bytes).unwrap();
        assert_eq!(h.payload_offset, 24);
        assert!((1..=4).contains(&h.padding_len));
    }
}

#[test]
fn one_byte_extensions_agree_with_rtc_rtp() {
    let mut p = rtc_packet(true, vec![7], &[0x90, 0x80, 0x01, 0x50, 0x42]);
    let level = AudioLevelExtension {
        level: 42,
        voice: true,
    };
    let twcc = TransportCcExtension {
        transport_sequence: 0xBEEF,
    };
    let abs = AbsSendTimeExtension {
        timestamp: 0x12_3456,
    };
    p.header
        .set_extension(1, level.marshal().unwrap().freeze())
        .unwrap();
    p.header
        .set_extension(3, twcc.marshal().unwrap().freeze())
        .unwrap();
    p.header
        .set_extension(2, abs.marshal().unwrap().freeze())
        .unwrap();
    p.header.set_extension(4, Bytes::from_static(b"0")).unwrap();
    p.header
        .set_extension(10, Bytes::from_static(b"hi-res_layer.16"))
        .unwrap();
    p.header
        .set_extension(14, Bytes::from(vec![0xEE; 16]))
        .unwrap();
    let bytes = marshal(&p);
    assert_agrees(&bytes, &p);

    let h = RtpHeader::parse(&bytes).unwrap();
    assert_eq!(h.extensions.unwrap().profile, 0xBEDE);
    assert_eq!(
        h.extension(&bytes, 1).and_then(audio_level),
        Some((true, 42))
    );
    assert_eq!(
        h.extension(&bytes, 3).and_then(transport_sequence),
        Some(0xBEEF)
    );
    assert_eq!(
        h.extension(&bytes, 2).and_then(abs_send_time),
        Some(0x12_3456)
    );
    assert_eq!(h.extension(&bytes, 4).and_then(sdes_item), Some("0"));
    assert_eq!(
        h.extension(&bytes, 10).and_then(sdes_item),
        Some("hi-res_layer.16")
    );
    assert_eq!(h.extension(&bytes, 14).and_then(sdes_item), None);
    assert_eq!(h.extension(&bytes, 5), None);
    assert_eq!(h.extension(&bytes, 0), None);
}

#[test]
fn two_byte_extensions_agree_with_rtc_rtp() {
    let mut p = rtc_packet(false, vec![], &[0xAB; 33]);
    p.header.extension = true;
    p.header.extension_profile = 0x1000;
    p.header
        .set_extension(1, Bytes::from_static(&[0x9E]))
        .unwrap();
    p.header
        .set_extension(200, Bytes::from(vec![0x61; 255]))
        .unwrap();
    p.header.set_extension(15, Bytes::new()).unwrap();
    p.header
        .set_extension(17, Bytes::from_static(&[0x00, 0x07]))
        .unwrap();
    let bytes = marshal(&p);
    assert_agrees(&bytes, &p);
    let h = RtpHeader::parse(&bytes).unwrap();
    assert_eq!(h.extension(&bytes, 15), Some(&[][..]));
    assert_eq!(
        h.extension(&bytes, 200).and_then(sdes_item).map(str::len),
        Some(255)
    );
    assert_eq!(
        h.extension(&bytes, 17).and_then(transport_sequence),
        Some(7)
    );
    assert_eq!(
        h.extension(&bytes, 1).and_then(audio_level),
        Some((true, 30))
    );
}

#[test]
fn rewrites_are_seen_by_rtc_rtp() {
    let mut p = rtc_packet(true, vec![9, 10], &[5; 11]);
    p.header
        .set_extension(3, Bytes::from_static(&[0x00, 0x01]))
        .unwrap();
    p.header
        .set_extension(1, Bytes::from_static(&[0x7F]))
        .unwrap();
    let mut bytes = marshal(&p);
    let h = RtpHeader::parse(&bytes).unwrap();

    set_sequence(&mut bytes, 0x0102).unwrap();
    set_timestamp(&mut bytes, 0x0A0B_0C0D).unwrap();
    set_ssrc(&mut bytes, 0xCAFE_F00D).unwrap();
    set_payload_type(&mut bytes, 111).unwrap();
    set_marker(&mut bytes, false).unwrap();
    set_extension(&mut bytes, &h, 3, &0xFFFEu16.to_be_bytes()).unwrap();

    let q = Packet::unmarshal(&mut &bytes[..]).unwrap();
    assert_eq!(q.header.sequence_number, 0x0102);
    assert_eq!(q.header.timestamp, 0x0A0B_0C0D);
    assert_eq!(q.header.ssrc, 0xCAFE_F00D);
    assert_eq!(q.header.payload_type, 111);
    assert!(!q.header.marker);
    assert!(q.header.padding);
    assert_eq!(q.header.csrc, vec![9, 10]);
    assert_eq!(
        q.header.get_extension(3).as_deref(),
        Some(&[0xFF, 0xFE][..])
    );
    assert_eq!(q.header.get_extension(1).as_deref(), Some(&[0x7F][..]));
    assert_eq!(q.payload, p.payload);

    set_marker(&mut bytes, true).unwrap();
    set_payload_type(&mut bytes, 0).unwrap();
    let again = RtpHeader::parse(&bytes).unwrap();
    assert!(again.marker);
    assert_eq!(again.payload_type, 0);
}

#[test]
fn rewrite_errors() {
    let short = &mut [0x80u8; 11][..];
    let truncated = RouterError::Truncated {
        what: "RTP header",
        need: 12,
        have: 11,
    };
    assert_eq!(set_sequence(short, 1), Err(truncated.clone()));
    assert_eq!(set_timestamp(short, 1), Err(truncated.clone()));
    assert_eq!(set_ssrc(short, 1), Err(truncated.clone()));
    assert_eq!(set_marker(short, true), Err(truncated.clone()));
    assert_eq!(set_payload_type(short, 1), Err(truncated));
    assert!(matches!(
        set_payload_type(&mut [0x80; 12], 128),
        Err(RouterError::Malformed { .. })
    ));
    assert_eq!(
        set_sequence(&mut [], 1).unwrap_err(),
        RouterError::Truncated {
            what: "RTP header",
            need: 12,
            have: 0
        }
    );

    let mut p = rtc_packet(false, vec![], &[1, 2]);
    p.header
        .set_extension(3, Bytes::from_static(&[0x00, 0x01]))
        .unwrap();
    let mut bytes = marshal(&p);
    let h = RtpHeader::parse(&bytes).unwrap();
    // Wrong length, unknown id, padding id.
    for (id, value) in [
        (3, &[1u8][..]),
        (3, &[1, 2, 3][..]),
        (4, &[1, 2][..]),
        (0, &[1][..]),
    ] {
        assert!(matches!(
            set_extension(&mut bytes, &h, id, value),
            Err(RouterError::Malformed { .. })
        ));
    }
    // A buffer shorter than the header says.
    assert!(matches!(
        set_extension(&mut bytes[..16], &h, 3, &[0, 2]),
        Err(RouterError::Truncated { .. })
    ));
    // No extensions at all.
    let plain = RtpHeader::parse(&marshal(&rtc_packet(false, vec![], &[1]))).unwrap();
    assert!(set_extension(&mut bytes, &plain, 3, &[0, 2]).is_err());
    // Nothing changed by the failures.
    assert_eq!(bytes, marshal(&p));
}

#[test]
fn parse_errors() {
    let good = marshal(&rtc_packet(true, vec![1, 2], &[1, 2, 3]));
    for end in 0..20 {
        assert!(
            matches!(
                RtpHeader::parse(&good[..end]),
                Err(RouterError::Truncated { .. })
            ),
            "{end}"
        );
    }
    let mut b = good.clone();
    b[0] &= 0x3F;
    assert_eq!(
        RtpHeader::parse(&b),
        Err(RouterError::Malformed {
            what: "RTP header",
            reason: "version is not 2"
        })
    );
    let mut b = good.clone();
    *b.last_mut().unwrap() = 0;
    assert!(matches!(
        RtpHeader::parse(&b),
        Err(RouterError::Malformed { .. })
    ));
    let mut b = good.clone();
    *b.last_mut().unwrap() = (b.len() - 20 + 1) as u8;
    assert!(matches!(
        RtpHeader::parse(&b),
        Err(RouterError::Malformed { .. })
    ));
    // Padding that covers the whole payload is fine.
    *b.last_mut().unwrap() = (b.len() - 20) as u8;
    let h = RtpHeader::parse(&b).unwrap();
    assert_eq!((h.payload_len, h.payload(&b)), (0, &[][..]));
    // P set with nothing after the header.
    assert!(matches!(
        RtpHeader::parse(&good[..20]),
        Err(RouterError::Malformed { .. })
    ));
    // Extension length running past the end.
    let mut b = vec![
        0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0x00, 0x02, 0x10, 0x01,
    ];
    assert!(matches!(
        RtpHeader::parse(&b),
        Err(RouterError::Truncated { .. })
    ));
    b.extend_from_slice(&[0; 6]);
    assert!(RtpHeader::parse(&b).is_ok());
}

#[test]
fn extension_iteration_edge_cases() {
    let header = |ext: &[u8], profile: u16| {
        let mut b = vec![0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
        b.extend_from_slice(&profile.to_be_bytes());
        b.extend_from_slice(&((ext.len() / 4) as u16).to_be_bytes());
        b.extend_from_slice(ext);
        b
    };
    let ids = |b: &[u8]| -> Vec<(u8, Vec<u8>)> {
        let h = RtpHeader::parse(b).unwrap();
        h.extensions(b).map(|(i, v)| (i, v.to_vec())).collect()
    };
    // Padding between elements, then id 15 stops everything.
    let b = header(
        &[
            0x00, 0x10, 0xAA, 0x00, 0x21, 0x01, 0x02, 0xF0, 0x30, 0x55, 0, 0,
        ],
        0xBEDE,
    );
    assert_eq!(ids(&b), vec![(1, vec![0xAA]), (2, vec![0x01, 0x02])]);
    // An element running past the block ends the iteration after the good ones.
    let b = header(&[0x10, 0xAA, 0x33, 0x00], 0xBEDE);
    assert_eq!(ids(&b), vec![(1, vec![0xAA])]);
    // Two-byte form with appbits, a zero-length element and a truncated length.
    let b = header(&[0x05, 0x00, 0x00, 0x06, 0x01, 0x77, 0x00, 0x09], 0x100F);
    assert_eq!(ids(&b), vec![(5, vec![]), (6, vec![0x77])]);
    let b = header(&[0x00, 0x00, 0x00, 0x07], 0x1000);
    assert_eq!(ids(&b), vec![]);
    // RFC 3550 profile-specific blocks have no RFC 8285 elements.
    let b = header(&[0x10, 0xAA, 0x00, 0x00], 0xABAC);
    assert_eq!(ids(&b), vec![]);
    let h = RtpHeader::parse(&b).unwrap();
    assert_eq!(h.extensions.unwrap().len, 4);
    // A header paired with a shorter buffer yields nothing rather than panicking.
    let b = header(&[0x10, 0xAA, 0x00, 0x00], 0xBEDE);
    let h = RtpHeader::parse(&b).unwrap();
    assert_eq!(h.extensions(&b[..14]).count(), 0);
    assert_eq!(h.payload(&b[..3]), &[][..]);
    assert_eq!(h.csrcs(&b[..3]).count(), 0);
}

#[test]
fn typed_values() {
    assert_eq!(audio_level(&[0x00]), Some((false, 0)));
    assert_eq!(audio_level(&[0xFF]), Some((true, 127)));
    assert_eq!(audio_level(&[]), None);
    assert_eq!(audio_level(&[1, 2]), None);
    assert_eq!(transport_sequence(&[0x12, 0x34]), Some(0x1234));
    assert_eq!(transport_sequence(&[0x12, 0x34, 0x80, 0x01]), Some(0x1234));
    assert_eq!(transport_sequence(&[0x12]), None);
    assert_eq!(transport_sequence(&[0x12, 0x34, 0x56]), None);
    assert_eq!(abs_send_time(&[0xFF, 0x00, 0x01]), Some(0xFF_0001));
    assert_eq!(abs_send_time(&[0xFF, 0x00]), None);
    assert_eq!(sdes_item(b"audio"), Some("audio"));
    assert_eq!(sdes_item(b"q"), Some("q"));
    assert_eq!(sdes_item(b"f~1!'*+-.^_`|"), Some("f~1!'*+-.^_`|"));
    assert_eq!(sdes_item(b""), None);
    assert_eq!(sdes_item(b"a b"), None);
    assert_eq!(sdes_item(b"a\0"), None);
    assert_eq!(sdes_item("é".as_bytes()), None);
    assert_eq!(sdes_item(&[0xFF]), None);
    assert_eq!(sdes_item(&[b'a'; 255]).map(str::len), Some(255));
    assert_eq!(sdes_item(&[b'a'; 256]), None);
}

#[test]
fn rtx_round_trip() {
    let mut p = rtc_packet(true, vec![3], &[0xC0, 0xFF, 0xEE, 0x01, 0x02]);
    p.header
        .set_extension(5, Bytes::from_static(b"mid0"))
        .unwrap();
    let original = marshal(&p);
    let h = RtpHeader::parse(&original).unwrap();
    let mut out = vec![0u8; original.len() + 2];
    let n = write_rtx(&original, &h, 0x5555_AAAA, 97, 77, &mut out).unwrap();
    assert_eq!(n, h.payload_offset + 2 + h.payload_len);
    let rtx = &out[..n];

    let r = RtpHeader::parse(rtx).unwrap();
    assert_eq!((r.ssrc, r.payload_type, r.sequence), (0x5555_AAAA, 97, 77));
    assert_eq!((r.marker, r.timestamp), (h.marker, h.timestamp));
    assert_eq!(r.padding_len, 0);
    assert_eq!(r.extension(rtx, 5), Some(&b"mid0"[..]));
    assert!(r.csrcs(rtx).eq([3]));
    let payload = r.payload(rtx);
    assert_eq!(rtx_original_sequence(payload), Some(h.sequence));
    assert_eq!(&payload[2..], h.payload(&original));

    let q = Packet::unmarshal(&mut &rtx[..]).unwrap();
    assert!(!q.header.padding);
    assert_eq!(q.header.ssrc, 0x5555_AAAA);
    assert_eq!(&q.payload[..2], &h.sequence.to_be_bytes());

    // Errors: output too short, RTX payload type too large, header not matching the packet.
    assert!(matches!(
        write_rtx(&original, &h, 1, 97, 1, &mut out[..n - 1]),
        Err(RouterError::Truncated { .. })
    ));
    assert!(matches!(
        write_rtx(&original, &h, 1, 200, 1, &mut out),
        Err(RouterError::Malformed { .. })
    ));
    assert!(matches!(
        write_rtx(&original[..20], &h, 1, 97, 1, &mut out),
        Err(RouterError::Truncated { .. })
    ));
    assert_eq!(rtx_original_sequence(&[0x01]), None);
    assert_eq!(rtx_original_sequence(&[0x01, 0x02, 0x03]), Some(0x0102));
}

#[test]
fn padding_packets_are_read_by_rtc_rtp() {
    let padding = Padding {
        ssrc: 0xAB,
        payload_type: 97,
        sequence: 0xFFFF,
        timestamp: 0x0102_0304,
        transport_cc: Some((3, 0x0A0B)),
        padding: 255,
    };
    let mut buf = vec![1, 2, 3];
    let len = padding.write(&mut buf).unwrap();
    assert_eq!((len, buf.len()), (12 + 8 + 255, 12 + 8 + 255));
    let mut bytes = &buf[..];
    let p = Packet::unmarshal(&mut bytes).unwrap();
    assert!(p.header.padding && p.header.extension);
    assert_eq!(
        (
            p.header.ssrc,
            p.header.payload_type,
            p.header.sequence_number,
            p.header.timestamp
        ),
        (0xAB, 97, 0xFFFF, 0x0102_0304)
    );
    assert!(p.payload.is_empty(), "padding only: {:?}", p.payload.len());
    let mut ext = p.header.get_extension(3).unwrap();
    let twcc = TransportCcExtension::unmarshal(&mut ext).unwrap();
    assert_eq!(twcc.transport_sequence, 0x0A0B);
    let h = RtpHeader::parse(&buf).unwrap();
    assert_eq!((h.payload_len, h.padding_len), (0, 255));

    // Without the extension: the header and the padding.
    let plain = Padding {
        transport_cc: None,
        padding: 1,
        ..padding
    };
    assert_eq!(plain.write(&mut buf).unwrap(), 13);
    assert_eq!(RtpHeader::parse(&buf).unwrap().padding_len, 1);

    for bad in [
        Padding {
            padding: 0,
            ..padding
        },
        Padding {
            payload_type: 128,
            ..padding
        },
        Padding {
            transport_cc: Some((15, 1)),
            ..padding
        },
    ] {
        assert!(matches!(
            bad.write(&mut buf),
            Err(RouterError::Malformed { .. })
        ));
        assert!(buf.is_empty());
    }
}
