//! RTCP both ways: NACKs and keyframe requests, TWCC, sender and receiver reports, uplink repair.

use super::*;

#[test]
fn nacks_are_answered_from_the_cache_a_bounded_number_of_times() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), video_track(&[0x100]))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    router.set_rtx(bob.id, TrackId(1), 0xB0C, 97).unwrap();
    drain(&mut router);
    for i in 0..10u16 {
        alice
            .send_rtp(
                &mut router,
                t0,
                header(0x100, 500 + i, 3000 * u32::from(i)),
                vp8(i == 0, i as u8),
            )
            .unwrap();
    }
    let (sent, _) = bob.receive(&drain(&mut router));
    let lost = sent[4].header.sequence_number;
    let mut nack = Vec::new();
    crate::rtcp::build::nack(0xB0B0, 0xB0B, &[lost], &mut nack).unwrap();
    let mut resent = 0;
    for i in 0..6u64 {
        bob.send_rtcp(&mut router, t0 + Duration::from_millis(200 * i), &nack);
        let (again, _) = bob.receive(&drain(&mut router));
        for p in &again {
            // RTX (RFC 4588): its own SSRC, payload type and sequence; the original sequence
            // number leads the payload; the timestamp is the original's.
            assert_eq!((p.header.ssrc, p.header.payload_type), (0xB0C, 97));
            assert_eq!(&p.payload[..2], &lost.to_be_bytes());
            assert_eq!(p.header.timestamp, sent[4].header.timestamp);
            assert_eq!(&p.payload[2..], &sent[4].payload[..]);
        }
        resent += again.len();
    }
    assert_eq!(resent, 3, "max_resends");
}

#[test]
fn keyframe_requests_are_aggregated_and_throttled() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut subs: Vec<Client> = (2..6).map(|n| join(&mut router, n)).collect();
    router
        .publish(alice.id, TrackId(1), video_track(&[0x100]))
        .unwrap();
    for s in &subs {
        router
            .subscribe(t0, s.id, TrackId(1), 0x1000 + s.id.0 as u32)
            .unwrap();
    }
    alice
        .send_rtp(&mut router, t0, header(0x100, 1, 0), vp8(true, 0))
        .unwrap();
    drain(&mut router);
    let now = t0 + Duration::from_secs(1);
    for s in &mut subs {
        let mut pli = Vec::new();
        crate::rtcp::build::pli(0x9, 0x1000 + s.id.0 as u32, &mut pli).unwrap();
        s.send_rtcp(&mut router, now, &pli);
    }
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(pli_count(&rtcp), 1, "four requests, one PLI");
}

#[test]
fn transport_wide_cc_feedback_goes_back_to_the_publisher() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut track = video_track(&[0x100]);
    track.extensions.transport_cc = Some(3);
    router.publish(alice.id, TrackId(1), track).unwrap();
    drain(&mut router);
    for i in 0..20u16 {
        let mut h = header(0x100, i, 3000 * u32::from(i));
        h.set_extension(3, Bytes::from((100 + i).to_be_bytes().to_vec()))
            .unwrap();
        alice
            .send_rtp(
                &mut router,
                t0 + Duration::from_millis(5 * u64::from(i)),
                h,
                vp8(i == 0, 0),
            )
            .unwrap();
    }
    let due = router.poll_timeout().unwrap();
    router.handle_timeout(due.max(t0 + Duration::from_millis(200)));
    let (_, rtcp) = alice.receive(&drain(&mut router));
    let reported = twcc_received(&rtcp);
    assert_eq!(reported, (100..120).collect::<Vec<u16>>());
}

#[test]
fn sender_reports_are_translated_and_rtt_is_measured() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), audio_track(0xA1))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    for i in 0..5u16 {
        alice
            .send_rtp(
                &mut router,
                t0,
                header(0xA1, 100 + i, 48_000 + 960 * u32::from(i)),
                vec![0; 20],
            )
            .unwrap();
    }
    let (forwarded, _) = bob.receive(&drain(&mut router));
    // The publisher's SR: NTP ↔ RTP 48 000.
    let ntp = 0x1234_5678_9ABC_0000u64;
    let mut sr = Vec::new();
    crate::rtcp::build::sender_report(0xA1, ntp, 48_000, 5, 100, &[], &mut sr).unwrap();
    alice.send_rtcp(&mut router, t0, &sr);
    let at = t0 + Duration::from_secs(1);
    router.handle_timeout(at);
    let (_, rtcp) = bob.receive(&drain(&mut router));
    let translated = rtcp
        .iter()
        .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
        .find_map(|f| match f {
            crate::rtcp::Feedback::SenderReport {
                ssrc: 0xB0B,
                ntp_time,
                rtp_time,
                ..
            } => Some((ntp_time, rtp_time)),
            _ => None,
        })
        .expect("a sender report for bob's stream");
    // Same NTP instant, expressed in bob's output timestamps.
    let offset = forwarded[0].header.timestamp.wrapping_sub(48_000);
    assert_eq!(translated, (ntp, 48_000u32.wrapping_add(offset)));

    // Bob answers 80 ms later, having held the SR for 30 ms: RTT 50 ms.
    let block = crate::rtcp::ReportBlock {
        ssrc: 0xB0B,
        fraction_lost: 0,
        total_lost: 0,
        highest_sequence: 0,
        jitter: 0,
        last_sr: ((ntp >> 16) & 0xFFFF_FFFF) as u32,
        delay_since_last_sr: 65_536 * 30 / 1000,
    };
    let mut rr = Vec::new();
    crate::rtcp::build::receiver_report(0xB0B0, &[block], &mut rr).unwrap();
    bob.send_rtcp(&mut router, at + Duration::from_millis(80), &rr);
    let rtt = router
        .participants
        .get(&bob.id)
        .expect("present")
        .rtt
        .expect("measured");
    assert!(
        rtt >= Duration::from_millis(49) && rtt <= Duration::from_millis(51),
        "{rtt:?}"
    );
}

/// The sequence numbers NACKed in `rtcp`, for `media_ssrc`.
fn nacked(rtcp: &[Vec<u8>], media_ssrc: u32) -> Vec<u16> {
    rtcp.iter()
        .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
        .filter_map(|f| match f {
            crate::rtcp::Feedback::Nack {
                media_ssrc: m,
                lost,
                ..
            } if m == media_ssrc => Some(lost),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A packet the publisher's uplink lost is NACKed at once and then once per round trip; its
/// RTX retransmission is unwrapped and reaches the subscriber under the number the munger
/// reserved for it; a loss larger than the NACK list asks for a keyframe instead.
#[test]
fn uplink_loss_is_nacked_and_repaired_over_rtx() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut track = video_track(&[0x100]);
    track.layers[0].rtx_ssrc = Some(0x101);
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, track);
    drain(&mut router);
    // 10 (a keyframe), 11, 12 lost, 13.
    for seq in [10u16, 11, 13] {
        let h = header(0x100, seq, 3000 * u32::from(seq));
        let payload = vp8(seq == 10, seq as u8);
        alice.send_rtp(&mut router, t0, h, payload).unwrap();
    }
    let out = drain(&mut router);
    let (forwarded, _) = bob.receive(&out);
    let out_seq: Vec<u16> = forwarded.iter().map(|p| p.header.sequence_number).collect();
    assert_eq!(out_seq.len(), 3);
    assert_eq!(out_seq[2], out_seq[1].wrapping_add(2), "a gap where 12 is");
    let (_, rtcp) = alice.receive(&out);
    assert_eq!(nacked(&rtcp, 0x100), [12], "NACKed at once");
    assert_eq!(router.stats().publisher_nacks, 1);

    // Again after a round trip (100 ms until one is measured), not before.
    router.handle_timeout(ms(50));
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert!(nacked(&rtcp, 0x100).is_empty());
    assert!(router.poll_timeout().is_some_and(|t| t <= ms(100)));
    router.handle_timeout(ms(100));
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(nacked(&rtcp, 0x100), [12], "NACKed again");

    // The publisher answers over RTX (RFC 4588): its own SSRC, payload type and sequence,
    // the original sequence number first.
    let mut payload = 12u16.to_be_bytes().to_vec();
    payload.extend(vp8(false, 12));
    let rtx = Header {
        payload_type: 97,
        ..header(0x101, 500, 3000 * 12)
    };
    alice.send_rtp(&mut router, ms(120), rtx, payload).unwrap();
    let (repaired, _) = bob.receive(&drain(&mut router));
    assert_eq!(repaired.len(), 1);
    let p = &repaired[0];
    assert_eq!(p.header.ssrc, 0xB0B);
    assert_eq!(p.header.payload_type, 96);
    assert_eq!(p.header.sequence_number, out_seq[1].wrapping_add(1));
    assert_eq!(
        p.header.timestamp,
        forwarded[1].header.timestamp.wrapping_add(3000)
    );
    assert_eq!(&p.payload[..], &vp8(false, 12)[..]);

    // Nothing more is asked for; RTX padding (a probe) is ignored.
    router.handle_timeout(ms(1_000));
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert!(nacked(&rtcp, 0x100).is_empty());
    let probe = Header {
        payload_type: 97,
        ..header(0x101, 501, 0)
    };
    alice
        .send_rtp(&mut router, ms(1_000), probe, Vec::new())
        .unwrap();
    assert!(drain(&mut router).is_empty());

    // A gap larger than the NACK list: a keyframe request instead.
    let far = 13 + 2 * RouterConfig::default().nack_cache_packets as u16;
    alice
        .send_rtp(&mut router, ms(1_500), header(0x100, far, 0), vp8(false, 0))
        .unwrap();
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert!(nacked(&rtcp, 0x100).is_empty());
    assert_eq!(pli_count(&rtcp), 1);
}

#[test]
fn a_keyframe_whose_start_came_late_is_completed_at_once() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut track = video_track(&[0x100]);
    track.layers[0].rtx_ssrc = Some(0x101);
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, track);
    router.set_rtx(bob.id, TrackId(1), 0xB0C, 97).unwrap();
    drain(&mut router);
    // The keyframe's first packet (10) and third (12) are lost upstream; its second (11)
    // and fourth (13), no frame start, arrive before Bob can begin, and are not forwarded.
    let rest = |n: u8| vec![0x00, 0x00, 0x00, 0x00, n, n];
    for n in [11u8, 13] {
        let h = header(0x100, u16::from(n), 3000);
        alice.send_rtp(&mut router, ms(0), h, rest(n)).unwrap();
    }
    let (none, _) = bob.receive(&drain(&mut router));
    assert!(none.is_empty());
    // The resend of 10 starts the keyframe: Bob begins there, and gets 11 and 13 from the
    // cache at once, past the number kept for 12.
    let resend = |alice: &mut Client, router: &mut Router<SrtpSession>, n: u16, rtx_seq, p| {
        let mut payload = n.to_be_bytes().to_vec();
        payload.extend(p);
        let h = Header {
            payload_type: 97,
            ..header(0x101, rtx_seq, 3000)
        };
        alice.send_rtp(router, ms(20), h, payload).unwrap();
    };
    resend(&mut alice, &mut router, 10, 500, vp8(true, 10));
    let (first, _) = bob.receive(&drain(&mut router));
    let seqs: Vec<u16> = first.iter().map(|p| p.header.sequence_number).collect();
    let start = seqs[0];
    assert_eq!(seqs, vec![start, start + 1, start + 3]);
    assert_eq!(router.stats().caught_up, 2);
    assert_eq!((first[1].payload[4], first[2].payload[4]), (11, 13));
    // The resend of 12 goes into its number.
    resend(&mut alice, &mut router, 12, 501, rest(12));
    let (late, _) = bob.receive(&drain(&mut router));
    assert_eq!(late.len(), 1);
    assert_eq!(
        (late[0].header.sequence_number, late[0].payload[4]),
        (start + 2, 12)
    );
    assert!(
        first
            .iter()
            .chain(&late)
            .all(|p| p.header.timestamp == first[0].header.timestamp)
    );
    // Bob asks for 11 again: it goes out over RTX, as it was.
    let mut nack = Vec::new();
    crate::rtcp::build::nack(0xB0B0, 0xB0B, &[start + 1], &mut nack).unwrap();
    bob.send_rtcp(&mut router, ms(40), &nack);
    let (resent, _) = bob.receive(&drain(&mut router));
    let [p] = resent.as_slice() else {
        panic!("one resend, got {resent:?}");
    };
    assert_eq!((p.header.ssrc, p.header.payload_type), (0xB0C, 97));
    assert_eq!(&p.payload[..2], &(start + 1).to_be_bytes());
    assert_eq!(&p.payload[2..], &rest(11)[..]);
    assert_eq!(p.header.timestamp, first[0].header.timestamp);
}

#[test]
fn bandwidth_probes_count_for_congestion_control_and_are_not_forwarded() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut track = video_track(&[0x100]);
    track.layers[0].rtx_ssrc = Some(0x101);
    track.extensions.transport_cc = Some(3);
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, track);
    drain(&mut router);
    let twcc = |h: &mut Header, n: u16| {
        h.set_extension(3, Bytes::from(n.to_be_bytes().to_vec()))
            .unwrap();
    };
    // A packet of padding only: the header (P set), then `n` bytes, the last one `n`.
    let padding_only = |alice: &mut Client, router: &mut Router<SrtpSession>, h, n: u8, at| {
        let mut buf = Packet {
            header: h,
            payload: Bytes::new(),
        }
        .marshal()
        .unwrap()
        .to_vec();
        buf[0] |= 0x20;
        buf.extend(std::iter::repeat_n(0, usize::from(n) - 1));
        buf.push(n);
        let len = buf.len();
        buf.resize(len + 16, 0);
        let m = alice.session.protect_rtp(&mut buf, len).unwrap();
        router.handle_rtp(at, alice.id, &mut buf[..m]).unwrap();
    };
    // Media 10 (a keyframe), then probes as libwebrtc sends them: RTX padding (no original
    // sequence number, only padding), and padding on the media SSRC itself (11); media 12.
    let mut h = header(0x100, 10, 0);
    twcc(&mut h, 200);
    alice.send_rtp(&mut router, ms(0), h, vp8(true, 1)).unwrap();
    for (i, n) in (201..204).enumerate() {
        let mut h = Header {
            payload_type: 97,
            ..header(0x101, 50 + i as u16, 0)
        };
        twcc(&mut h, n);
        padding_only(&mut alice, &mut router, h, 255, ms(1));
    }
    let mut h = header(0x100, 11, 0);
    twcc(&mut h, 204);
    padding_only(&mut alice, &mut router, h, 100, ms(2));
    let mut h = header(0x100, 12, 3000);
    twcc(&mut h, 205);
    alice
        .send_rtp(&mut router, ms(3), h, vp8(false, 2))
        .unwrap();

    // Bob gets the two media packets, with consecutive sequence numbers.
    let out = drain(&mut router);
    let (forwarded, _) = bob.receive(&out);
    let seqs: Vec<u16> = forwarded.iter().map(|p| p.header.sequence_number).collect();
    assert_eq!(seqs.len(), 2, "probes are not forwarded");
    assert_eq!(
        seqs[1],
        seqs[0].wrapping_add(1),
        "no gap where the probe was"
    );
    // Alice's congestion control hears of every packet, probes included.
    router.handle_timeout(ms(200));
    let (_, rtcp) = alice.receive(&drain(&mut router));
    let reported = twcc_received(&rtcp);
    assert_eq!(reported, (200..206).collect::<Vec<u16>>());
}

/// The transport-wide sequence numbers that RTCP feedback reports as received.
fn twcc_received(rtcp: &[Vec<u8>]) -> Vec<u16> {
    rtcp.iter()
        .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
        .filter_map(|f| match f {
            crate::rtcp::Feedback::TransportCc { packets, .. } => Some(packets),
            _ => None,
        })
        .flatten()
        .filter(|(_, arrival)| arrival.is_some())
        .map(|(seq, _)| seq)
        .collect()
}

#[test]
fn a_keyframe_request_is_repeated_while_a_subscriber_waits_to_switch() {
    let t0 = Instant::now();
    let s = |n: u64| t0 + Duration::from_millis(n);
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), video_track(&[0x100, 0x200]))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    let key = |router: &mut Router<SrtpSession>, alice: &mut Client, ssrc, seq, at| {
        alice
            .send_rtp(router, at, header(ssrc, seq, 0), vp8(true, 0))
            .unwrap();
    };
    key(&mut router, &mut alice, 0x100, 1, s(0));
    key(&mut router, &mut alice, 0x200, 1, s(0));
    drain(&mut router);
    let plis_for_layer1 = |router: &mut Router<SrtpSession>, alice: &mut Client| {
        let (_, rtcp) = alice.receive(&drain(router));
        rtcp.iter()
            .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
            .filter(|f| {
                matches!(
                    f,
                    crate::rtcp::Feedback::Pli {
                        media_ssrc: 0x200,
                        ..
                    }
                )
            })
            .count()
    };
    // Bob may have layer 1 now: one request for its keyframe...
    router.set_bandwidth_estimate(s(10), bob.id, 10_000_000);
    assert_eq!(plis_for_layer1(&mut router, &mut alice), 1);
    // ...which the publisher lets pass: asked again once a second, not before, and the
    // router says when.
    router.handle_timeout(s(600));
    assert_eq!(plis_for_layer1(&mut router, &mut alice), 0);
    assert!(router.poll_timeout().is_some_and(|at| at <= s(1_010)));
    router.handle_timeout(s(1_010));
    assert_eq!(plis_for_layer1(&mut router, &mut alice), 1, "asked again");
    router.handle_timeout(s(2_020));
    assert_eq!(plis_for_layer1(&mut router, &mut alice), 1, "and again");
    // The keyframe comes: Bob switches, and the requests stop.
    key(&mut router, &mut alice, 0x200, 2, s(2_100));
    drain(&mut router);
    router.handle_timeout(s(4_000));
    assert_eq!(plis_for_layer1(&mut router, &mut alice), 0);
}

#[test]
fn resends_carry_the_subscribers_own_transport_wide_sequence_number() {
    let t0 = Instant::now();
    let mut track = video_track(&[0x100]);
    track.extensions.transport_cc = Some(3);
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, track);
    router.set_rtx(bob.id, TrackId(1), 0xB0C, 97).unwrap();
    drain(&mut router);
    // The publisher numbers its packets 40 000 on; Bob gets his own numbers from 0.
    for i in 0..10u16 {
        let mut h = header(0x100, 500 + i, 3000 * u32::from(i));
        h.set_extension(3, Bytes::from((40_000 + i).to_be_bytes().to_vec()))
            .unwrap();
        alice
            .send_rtp(&mut router, t0, h, vp8(i == 0, i as u8))
            .unwrap();
    }
    let twcc_of = |p: &Packet| {
        let v = p.header.get_extension(3).unwrap();
        u16::from_be_bytes([v[0], v[1]])
    };
    let (sent, _) = bob.receive(&drain(&mut router));
    assert_eq!(
        sent.iter().map(twcc_of).collect::<Vec<_>>(),
        (0..10).collect::<Vec<u16>>()
    );
    let mut nack = Vec::new();
    crate::rtcp::build::nack(0xB0B0, 0xB0B, &[sent[4].header.sequence_number], &mut nack).unwrap();
    bob.send_rtcp(&mut router, t0 + Duration::from_millis(50), &nack);
    let (again, _) = bob.receive(&drain(&mut router));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].header.ssrc, 0xB0C);
    assert_eq!(
        twcc_of(&again[0]),
        10,
        "the next of Bob's numbers, not the publisher's"
    );
    // Bob's feedback on it is counted: the estimator knows number 10.
    let mut recorder = crate::rtcp::TwccRecorder::with_interval(Duration::from_millis(100));
    for n in 0..=10u16 {
        recorder.record(n, t0 + Duration::from_millis(60 + u64::from(n)));
    }
    let mut fb = Vec::new();
    while recorder
        .poll_feedback(t0 + Duration::from_millis(200), 0xB0B0, 0xB0B, &mut fb)
        .unwrap()
    {}
    bob.send_rtcp(&mut router, t0 + Duration::from_millis(200), &fb);
    let p = router.participants.get(&bob.id).unwrap();
    assert_eq!(
        p.bandwidth.loss_fraction(),
        None,
        "11 packets: no loss window yet"
    );
    assert!(p.twcc_sent.iter().flatten().any(|&(seq, _, _)| seq == 10));
    assert_eq!(p.twcc_out_seq, 11);
}
