//! Builder tests: every packet round-trips through webrtc-rs's rtc-rtcp.

use super::*;
use crate::rtcp::parse_compound;
use bytes::Bytes;
use proptest::prelude::*;
use rtc_shared::marshal::Unmarshal;

fn block(ssrc: u32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 12,
        total_lost: 0xFF_FFFE,
        highest_sequence: 0x0001_0005,
        jitter: 77,
        last_sr: 0xdead_beef,
        delay_since_last_sr: 65536,
    }
}

fn round_trip(fb: &Feedback) -> Vec<Feedback> {
    let mut out = Vec::new();
    let n = feedback(fb, &mut out).unwrap();
    assert_eq!(n, out.len());
    assert_eq!(out.len() % 4, 0);
    parse_compound(&out).unwrap()
}

#[test]
fn sr_rr_round_trip() {
    let sr = Feedback::SenderReport {
        ssrc: 1,
        ntp_time: 0x0123_4567_89ab_cdef,
        rtp_time: 90_000,
        packet_count: 10,
        octet_count: 12_000,
        reports: vec![block(2), block(3)],
    };
    assert_eq!(round_trip(&sr), vec![sr]);
    let rr = Feedback::ReceiverReport {
        ssrc: 9,
        reports: vec![block(2)],
    };
    assert_eq!(round_trip(&rr), vec![rr]);
    let rr = Feedback::ReceiverReport {
        ssrc: 9,
        reports: vec![],
    };
    assert_eq!(round_trip(&rr), vec![rr]);
}

#[test]
fn report_limits() {
    let mut out = Vec::new();
    assert!(receiver_report(1, &[block(1); 32], &mut out).is_err());
    let mut bad = block(1);
    bad.total_lost = 0x100_0000;
    assert!(receiver_report(1, &[bad], &mut out).is_err());
    assert!(out.is_empty());
    assert!(receiver_report(1, &[block(1); 31], &mut out).is_ok());
}

#[test]
fn sr_wire_matches_rtc_rtcp() {
    let mut out = Vec::new();
    sender_report(1, 2, 3, 4, 5, &[], &mut out).unwrap();
    assert_eq!(
        out,
        [
            0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5
        ]
    );
}

#[test]
fn nack_pairs_pack_across_wrap() {
    let pairs = nack_pairs(&[65534, 65535, 0, 1, 14, 15, 16]);
    assert_eq!(
        pairs,
        vec![
            // 65535, 0, 1 and 14 are 1, 2, 3 and 16 after 65534; 15 is 17 after it.
            NackPair {
                packet_id: 65534,
                lost_packets: 0b1000_0000_0000_0111,
            },
            NackPair {
                packet_id: 15,
                lost_packets: 0b1,
            },
        ]
    );
    assert_eq!(
        nack_pairs(&[5, 5, 4]),
        vec![NackPair::new(5), NackPair::new(4)]
    );
    assert!(nack_pairs(&[]).is_empty());
}

#[test]
fn nack_round_trip_and_split() {
    let lost = vec![65530, 65531, 65535, 0, 3, 100, 117];
    let fb = Feedback::Nack {
        sender_ssrc: 1,
        media_ssrc: 2,
        lost: lost.clone(),
    };
    assert_eq!(round_trip(&fb), vec![fb]);

    // 600 isolated losses: 600 pairs over three packets.
    let lost: Vec<u16> = (0..600u16).map(|i| i.wrapping_mul(20)).collect();
    let mut out = Vec::new();
    nack(1, 2, &lost, &mut out).unwrap();
    let parsed = parse_compound(&out).unwrap();
    assert_eq!(parsed.len(), 3);
    let all: Vec<u16> = parsed
        .iter()
        .flat_map(|f| match f {
            Feedback::Nack { lost, .. } => lost.clone(),
            _ => panic!("not a NACK"),
        })
        .collect();
    assert_eq!(all, lost);
    assert!(nack(1, 2, &[], &mut out).is_err());
}

#[test]
fn pli_fir_remb_bye_round_trip() {
    for fb in [
        Feedback::Pli {
            sender_ssrc: 1,
            media_ssrc: 2,
        },
        Feedback::Fir {
            sender_ssrc: 1,
            entries: vec![(2, 7), (3, 255)],
        },
        Feedback::Remb {
            sender_ssrc: 1,
            bitrate_bps: 1_500_000,
            ssrcs: vec![2, 3],
        },
        Feedback::Remb {
            sender_ssrc: 1,
            bitrate_bps: 0,
            ssrcs: vec![],
        },
        Feedback::Bye {
            ssrcs: vec![1, 2, 3],
        },
        Feedback::Bye { ssrcs: vec![] },
    ] {
        assert_eq!(round_trip(&fb), vec![fb]);
    }
    let mut out = Vec::new();
    fir(1, 2, 3, &mut out).unwrap();
    assert_eq!(
        parse_compound(&out).unwrap(),
        vec![Feedback::Fir {
            sender_ssrc: 1,
            entries: vec![(2, 3)]
        }]
    );
}

#[test]
fn remb_rounds_to_18_bit_mantissa() {
    let mut out = Vec::new();
    remb(1, 123_456_789, &[], &mut out).unwrap();
    let Feedback::Remb { bitrate_bps, .. } = parse_compound(&out).unwrap()[0].clone() else {
        panic!("not REMB");
    };
    assert_eq!(bitrate_bps, remb_round(123_456_789));
    assert!(bitrate_bps <= 123_456_789);
    assert!(bitrate_bps > 123_456_789 - (123_456_789 >> 17));
    // Would round up through f32 if not rounded down first.
    out.clear();
    remb(1, 0x3FF_FFFF, &[], &mut out).unwrap();
    let Feedback::Remb { bitrate_bps, .. } = parse_compound(&out).unwrap()[0].clone() else {
        panic!("not REMB");
    };
    assert_eq!(bitrate_bps, 0x3FF_FF00);
    // Saturated values round-trip.
    out.clear();
    remb(1, u64::MAX, &[], &mut out).unwrap();
    assert_eq!(&out[16..20], &[0, 0xff, 0xff, 0xff]);
    assert!(matches!(
        parse_compound(&out).unwrap()[0],
        Feedback::Remb {
            bitrate_bps: u64::MAX,
            ..
        }
    ));
}

fn twcc(base: u16, packets: Vec<Option<i64>>) -> TwccFeedback {
    TwccFeedback {
        sender_ssrc: 1,
        media_ssrc: 2,
        base_sequence: base,
        reference_time: 0x12_3456,
        fb_count: 9,
        packets: packets
            .into_iter()
            .enumerate()
            .map(|(i, a)| (base.wrapping_add(i as u16), a))
            .collect(),
    }
}

fn twcc_round_trip(feedback: &TwccFeedback) {
    let mut out = Vec::new();
    transport_cc(feedback, &mut out).unwrap();
    // rtc-rtcp decodes it on its own...
    let tcc = TransportLayerCc::unmarshal(&mut Bytes::from(out.clone())).unwrap();
    assert_eq!(usize::from(tcc.packet_status_count), feedback.packets.len());
    // ...and the router's view matches.
    let parsed = parse_compound(&out).unwrap();
    assert_eq!(parsed.len(), 1);
    assert_eq!(
        TwccFeedback::from_feedback(&parsed[0]).as_ref(),
        Some(feedback)
    );
}

#[test]
fn transport_cc_round_trips() {
    // Small deltas in a run.
    twcc_round_trip(&twcc(10, (0..20).map(|i| Some(i * 1000)).collect()));
    // Mixed: losses, large and negative deltas, 1- and 2-bit vectors, across the wrap.
    twcc_round_trip(&twcc(
        65530,
        vec![
            Some(250),
            None,
            Some(500),
            Some(100_000),
            Some(50_000),
            None,
            None,
            Some(50_250),
            Some(50_250),
            Some(8_000_000),
        ],
    ));
    // All lost, with an even and an odd number of chunks.
    twcc_round_trip(&twcc(0, vec![None; 5]));
    twcc_round_trip(&twcc(0, vec![None, Some(0), None]));
    let alternating: Vec<Option<i64>> = (0..28).map(|i| (i % 2 == 0).then_some(0)).collect();
    twcc_round_trip(&twcc(0, alternating));
    // Two full run-length chunks and nothing else: needs the filler chunk.
    twcc_round_trip(&twcc(0, vec![None; 2 * MAX_RUN]));
    twcc_round_trip(&twcc(0, vec![None; 3 * MAX_RUN + 1]));
    // Long runs.
    twcc_round_trip(&twcc(100, vec![Some(0); 9000]));
    let mut sparse = vec![None; 20_000];
    sparse[0] = Some(0);
    sparse[19_999] = Some(1000);
    twcc_round_trip(&twcc(100, sparse));
    // Zero statuses.
    twcc_round_trip(&twcc(100, vec![]));
}

#[test]
fn transport_cc_rejects_bad_input() {
    let mut out = Vec::new();
    let mut bad = twcc(0, vec![Some(0), Some(9_000_000)]);
    assert!(transport_cc(&bad, &mut out).is_err());
    bad = twcc(0, vec![Some(0)]);
    bad.reference_time = 1 << 24;
    assert!(transport_cc(&bad, &mut out).is_err());
    bad = twcc(0, vec![Some(0), Some(0)]);
    bad.packets[1].0 = 7;
    assert!(transport_cc(&bad, &mut out).is_err());
    assert!(out.is_empty());
}

prop_compose! {
    fn arb_block()(ssrc in any::<u32>(), fraction_lost in any::<u8>(), total_lost in 0u32..=0xFF_FFFF,
                   highest_sequence in any::<u32>(), jitter in any::<u32>(), last_sr in any::<u32>(),
                   delay_since_last_sr in any::<u32>()) -> ReportBlock {
        ReportBlock { ssrc, fraction_lost, total_lost, highest_sequence, jitter, last_sr, delay_since_last_sr }
    }
}

fn arb_feedback() -> impl Strategy<Value = Feedback> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u64>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(arb_block(), 0..=31)
        )
            .prop_map(
                |(ssrc, ntp_time, rtp_time, packet_count, octet_count, reports)| {
                    Feedback::SenderReport {
                        ssrc,
                        ntp_time,
                        rtp_time,
                        packet_count,
                        octet_count,
                        reports,
                    }
                }
            ),
        (any::<u32>(), proptest::collection::vec(arb_block(), 0..=31))
            .prop_map(|(ssrc, reports)| Feedback::ReceiverReport { ssrc, reports }),
        (any::<u32>(), any::<u32>()).prop_map(|(sender_ssrc, media_ssrc)| Feedback::Pli {
            sender_ssrc,
            media_ssrc
        }),
        (
            any::<u32>(),
            proptest::collection::vec((any::<u32>(), any::<u8>()), 1..8)
        )
            .prop_map(|(sender_ssrc, entries)| Feedback::Fir {
                sender_ssrc,
                entries
            }),
        (
            any::<u32>(),
            0u64..(1 << 18),
            0u32..40,
            proptest::collection::vec(any::<u32>(), 0..8)
        )
            .prop_map(|(sender_ssrc, m, e, ssrcs)| Feedback::Remb {
                sender_ssrc,
                bitrate_bps: m << e,
                ssrcs
            }),
        proptest::collection::vec(any::<u32>(), 0..=31).prop_map(|ssrcs| Feedback::Bye { ssrcs }),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            0u32..=0xFF_FFFF,
            any::<u8>(),
            proptest::collection::vec(proptest::option::of(-400i64..4000), 0..200)
        )
            .prop_map(
                |(sender_ssrc, media_ssrc, base_sequence, reference_time, fb_count, steps)| {
                    let mut t = 0i64;
                    let packets = steps
                        .into_iter()
                        .enumerate()
                        .map(|(i, step)| {
                            (
                                base_sequence.wrapping_add(i as u16),
                                step.map(|s| {
                                    t += s * 250;
                                    t
                                }),
                            )
                        })
                        .collect();
                    Feedback::TransportCc {
                        sender_ssrc,
                        media_ssrc,
                        base_sequence,
                        reference_time,
                        fb_count,
                        packets,
                    }
                }
            ),
    ]
}

proptest! {
    #[test]
    fn generated_compounds_round_trip(fbs in proptest::collection::vec(arb_feedback(), 1..6)) {
        let mut out = Vec::new();
        for fb in &fbs {
            feedback(fb, &mut out).unwrap();
        }
        prop_assert_eq!(parse_compound(&out).unwrap(), fbs);
    }

    #[test]
    fn generated_nacks_round_trip_as_sets(
        media in any::<u32>(),
        lost in proptest::collection::vec(any::<u16>(), 1..300),
    ) {
        let mut out = Vec::new();
        nack(1, media, &lost, &mut out).unwrap();
        let mut got: Vec<u16> = parse_compound(&out).unwrap().into_iter().flat_map(|f| match f {
            Feedback::Nack { lost, media_ssrc, .. } if media_ssrc == media => lost,
            _ => vec![],
        }).collect();
        let mut want = lost.clone();
        got.sort_unstable();
        got.dedup();
        want.sort_unstable();
        want.dedup();
        prop_assert_eq!(got, want);
    }
}
