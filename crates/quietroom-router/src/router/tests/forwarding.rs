//! The forward path: rewriting per subscriber, simulcast switches, leaving, speakers, bad input.

use super::*;

#[test]
fn audio_is_forwarded_to_every_subscriber_with_its_own_ssrc() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    let mut carol = join(&mut router, 3);
    router
        .publish(alice.id, TrackId(10), audio_track(0xA1))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(10), 0xB0B).unwrap();
    router.subscribe(t0, carol.id, TrackId(10), 0xCA7).unwrap();
    for i in 0..20u16 {
        alice
            .send_rtp(
                &mut router,
                t0 + Duration::from_millis(20 * u64::from(i)),
                header(0xA1, 65_530u16.wrapping_add(i), 960 * u32::from(i)),
                vec![i as u8; 40],
            )
            .unwrap();
    }
    let out = drain(&mut router);
    for (client, ssrc) in [(&mut bob, 0xB0B), (&mut carol, 0xCA7)] {
        let (packets, _) = client.receive(&out);
        assert_eq!(packets.len(), 20);
        for w in packets.windows(2) {
            assert_eq!(
                w[1].header.sequence_number,
                w[0].header.sequence_number.wrapping_add(1)
            );
            assert!(w[1].header.timestamp > w[0].header.timestamp);
        }
        assert!(packets.iter().all(|p| p.header.ssrc == ssrc));
        assert_eq!(&packets[3].payload[..], &[3u8; 40][..]);
    }
    let (own, _) = alice.receive(&out);
    assert!(own.is_empty(), "nothing is echoed to the publisher");
    assert_eq!(router.stats().forwarded, 40);
}

#[test]
fn simulcast_switches_layers_only_on_keyframes_without_gaps() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    let layers = [0x100, 0x200, 0x300];
    router
        .publish(alice.id, TrackId(1), video_track(&layers))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    // Subscribing asked the publisher for a keyframe of the lowest layer.
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(pli_count(&rtcp), 1);

    let mut now = t0;
    let send_all = |router: &mut Router<SrtpSession>,
                    alice: &mut Client,
                    frame: u32,
                    keyframes: [bool; 3],
                    now: Instant| {
        for (i, ssrc) in layers.iter().enumerate() {
            let seq = (1000 * (i as u32 + 1) + frame) as u16;
            alice
                .send_rtp(
                    router,
                    now,
                    header(*ssrc, seq, 3000 * frame + 7 * i as u32),
                    vp8(keyframes[i], i as u8),
                )
                .unwrap();
        }
    };
    send_all(&mut router, &mut alice, 0, [false; 3], now); // no keyframe yet: nothing forwarded
    assert!(bob.receive(&drain(&mut router)).0.is_empty());
    now += Duration::from_millis(33);
    send_all(&mut router, &mut alice, 1, [true, false, false], now);
    for frame in 2..5 {
        now += Duration::from_millis(33);
        send_all(&mut router, &mut alice, frame, [false; 3], now);
    }
    let (first, _) = bob.receive(&drain(&mut router));
    assert_eq!(first.len(), 4, "layer 0 from its keyframe on");
    assert!(first.iter().all(|p| p.payload[4] == 0));

    // Plenty of bandwidth: the target moves to the top layer and a keyframe is requested…
    router.set_bandwidth_estimate(now, bob.id, 5_000_000);
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(pli_count(&rtcp), 1);
    // …but layer 0 keeps flowing until layer 2's keyframe arrives.
    now += Duration::from_millis(33);
    send_all(&mut router, &mut alice, 5, [false; 3], now);
    now += Duration::from_millis(33);
    send_all(&mut router, &mut alice, 6, [false, false, true], now);
    for frame in 7..9 {
        now += Duration::from_millis(33);
        send_all(&mut router, &mut alice, frame, [false; 3], now);
    }
    let (second, _) = bob.receive(&drain(&mut router));
    let layers_seen: Vec<u8> = second.iter().map(|p| p.payload[4]).collect();
    // Frame 6's layer-0 packet arrives before layer 2's keyframe in the same frame.
    assert_eq!(layers_seen, vec![0, 0, 2, 2, 2]);
    assert!(matches!(
        router.poll_event(),
        Some(RouterEvent::LayerSwitched { spatial: 0, .. })
    ));
    assert!(matches!(
        router.poll_event(),
        Some(RouterEvent::LayerSwitched { spatial: 2, .. })
    ));
    let all: Vec<&Packet> = first.iter().chain(second.iter()).collect();
    for w in all.windows(2) {
        assert_eq!(
            w[1].header.sequence_number,
            w[0].header.sequence_number.wrapping_add(1),
            "no gap"
        );
        assert!(
            w[1].header.timestamp >= w[0].header.timestamp,
            "no step back"
        );
    }
}

#[test]
fn a_resend_of_the_layer_left_fills_its_number() {
    // Chromium's H.264 simulcast showed it: the publisher's uplink loses a packet of the
    // layer Bob is on, the router switches Bob to another layer's keyframe, and only then
    // does the publisher's resend arrive. Its number was kept for it: it must still go out
    // into that number, or Bob sees a hole no resend can fill.
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    let layers = [0x100, 0x200];
    router
        .publish(alice.id, TrackId(1), video_track(&layers))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    let _ = drain(&mut router);
    let send = |router: &mut Router<SrtpSession>, alice: &mut Client, layer: usize, n: u16| {
        let (ssrc, seq) = (layers[layer], 1000 * (layer as u16 + 1) + n);
        let h = header(ssrc, seq, 3000 * u32::from(n / 2));
        let keyframe = n == 0 || (layer == 1 && n == 8);
        alice
            .send_rtp(router, t0, h, vp8(keyframe, layer as u8))
            .unwrap();
    };
    // Layer 0 from its keyframe: packets 0..=5 (two per frame), 5 lost upstream.
    for n in 0..5 {
        send(&mut router, &mut alice, 0, n);
    }
    send(&mut router, &mut alice, 1, 0);
    router.set_bandwidth_estimate(t0, bob.id, 5_000_000);
    // Layer 0 goes on (6, 7) until layer 1's keyframe (its packet 8) arrives.
    send(&mut router, &mut alice, 0, 6);
    send(&mut router, &mut alice, 0, 7);
    send(&mut router, &mut alice, 1, 8);
    send(&mut router, &mut alice, 1, 9);
    // Layer 0's resend of 5, after the switch; then layer 0's newer packets, which stay out.
    send(&mut router, &mut alice, 0, 5);
    send(&mut router, &mut alice, 0, 8);
    let (packets, _) = bob.receive(&drain(&mut router));
    let got: Vec<(u16, u8)> = packets
        .iter()
        .map(|p| (p.header.sequence_number.wrapping_sub(1000), p.payload[4]))
        .collect();
    // Numbers 0..=7 from layer 0 (5 filled late), then 8 and 9 from layer 1.
    assert_eq!(
        got,
        vec![
            (0, 0),
            (1, 0),
            (2, 0),
            (3, 0),
            (4, 0),
            (6, 0),
            (7, 0),
            (8, 1),
            (9, 1),
            (5, 0)
        ]
    );
    let late = &packets[9];
    assert_eq!(
        late.header.timestamp, packets[4].header.timestamp,
        "its frame's timestamp"
    );
    assert_eq!(router.stats().gap_fillers, 0);
}

#[test]
fn leaving_releases_everything() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), audio_track(0xA1))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    alice
        .send_rtp(&mut router, t0, header(0xA1, 1, 0), vec![1; 10])
        .unwrap();
    router.remove_participant(alice.id);
    assert_eq!(router.track_count(), 0);
    assert!(
        matches!(router.poll_event(), Some(RouterEvent::TrackEnded { subscribers, .. }) if subscribers == vec![bob.id])
    );
    assert_eq!(router.participant_count(), 1);
    // Alice's packets are refused now, and nothing is queued for her.
    assert!(
        alice
            .send_rtp(&mut router, t0, header(0xA1, 2, 960), vec![1; 10])
            .is_err()
    );
    assert!(drain(&mut router).iter().all(|(to, _, _)| *to != alice.id));
    router.remove_participant(bob.id);
    assert_eq!(router.participant_count(), 0);
}

#[test]
fn the_loudest_participant_becomes_active_speaker() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), audio_track(0xA1))
        .unwrap();
    router
        .publish(bob.id, TrackId(2), audio_track(0xB1))
        .unwrap();
    let mut now = t0;
    for i in 0..60u16 {
        for (client, ssrc, level) in [(&mut alice, 0xA1, 90u8), (&mut bob, 0xB1, 25u8)] {
            let mut h = header(ssrc, i, 960 * u32::from(i));
            h.set_extension(1, Bytes::from(vec![0x80 | level])).unwrap();
            client.send_rtp(&mut router, now, h, vec![0; 20]).unwrap();
        }
        now += Duration::from_millis(20);
        router.handle_timeout(now);
    }
    let speakers: Vec<_> = std::iter::from_fn(|| router.poll_event())
        .filter_map(|e| match e {
            RouterEvent::ActiveSpeaker { participant } => Some(participant),
            _ => None,
        })
        .collect();
    assert_eq!(speakers, vec![bob.id]);
}

#[test]
fn garbage_is_refused_without_panicking_or_forwarding() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), video_track(&[0x100]))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    drain(&mut router);
    for len in [0usize, 1, 11, 12, 40, 200] {
        let mut junk: Vec<u8> = (0..len).map(|i| (i * 31) as u8).collect();
        assert!(router.handle_rtp(t0, alice.id, &mut junk).is_err());
        let mut junk: Vec<u8> = (0..len).map(|i| (i * 17) as u8).collect();
        assert!(router.handle_rtcp(t0, alice.id, &mut junk).is_err());
    }
    // An authentic packet of an unknown stream is refused too.
    assert!(
        alice
            .send_rtp(&mut router, t0, header(0xDEAD, 1, 0), vp8(true, 0))
            .is_err()
    );
    assert!(drain(&mut router).is_empty());
    assert_eq!(router.stats().forwarded, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// For any schedule of keyframes and layer targets, what one subscriber receives has
    /// consecutive sequence numbers (mod 2^16) and timestamps that never go backwards.
    #[test]
    fn output_is_continuous_under_any_layer_switching(
        start in any::<u16>(),
        frames in proptest::collection::vec((any::<[bool; 3]>(), proptest::option::of(0u64..3)), 1..60),
    ) {
        let t0 = Instant::now();
        let mut router = Router::new(RouterConfig::default());
        let mut alice = join(&mut router, 1);
        let mut bob = join(&mut router, 2);
        let layers = [0x100u32, 0x200, 0x300];
        router.publish(alice.id, TrackId(1), video_track(&layers)).unwrap();
        router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
        let mut now = t0;
        let mut received = Vec::new();
        for (frame, (keyframes, target)) in frames.iter().enumerate() {
            now += Duration::from_millis(33);
            if let Some(target) = target {
                let bps = [200_000, 700_000, 5_000_000][*target as usize];
                router.set_bandwidth_estimate(now, bob.id, bps);
            }
            for (i, ssrc) in layers.iter().enumerate() {
                let seq = start.wrapping_add((i * 20_000) as u16).wrapping_add(frame as u16);
                let ts = 90_000 * i as u32 + 3000 * frame as u32;
                alice.send_rtp(&mut router, now, header(*ssrc, seq, ts), vp8(keyframes[i], i as u8)).unwrap();
            }
            received.extend(bob.receive(&drain(&mut router)).0);
        }
        for w in received.windows(2) {
            prop_assert_eq!(w[1].header.sequence_number, w[0].header.sequence_number.wrapping_add(1));
            prop_assert!(w[1].header.timestamp.wrapping_sub(w[0].header.timestamp) < u32::MAX / 2);
        }
    }
}
