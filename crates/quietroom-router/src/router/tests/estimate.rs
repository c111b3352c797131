//! Transport-wide CC toward subscribers: the estimate from their feedback, the congestion
//! cap it sets and lifts, and the padding probes above it.

use super::*;

#[test]
fn transport_wide_cc_from_a_subscriber_moves_its_layer_down() {
    let t0 = Instant::now();
    let layers = [0x100u32, 0x200, 0x300];
    let mut track = video_track(&layers);
    track.extensions.transport_cc = Some(3);
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, track);
    router.set_bandwidth_estimate(t0, bob.id, 5_000_000);
    drain(&mut router);
    let mut recorder = crate::rtcp::TwccRecorder::with_interval(Duration::from_millis(100));
    let mut now = t0;
    let mut twcc = 0u16;
    let mut plis_for_layer0 = 0;
    let mut received = 0u32;
    // Loss is read over at least 20 reported packets (one a frame here), so this takes a
    // couple of seconds of frames.
    for frame in 0..80u32 {
        now += Duration::from_millis(33);
        for (i, ssrc) in layers.iter().enumerate() {
            let mut h = header(*ssrc, frame as u16, 3000 * frame);
            h.set_extension(3, Bytes::from(twcc.to_be_bytes().to_vec()))
                .unwrap();
            twcc = twcc.wrapping_add(1);
            alice
                .send_rtp(&mut router, now, h, vp8(frame % 10 == 0, i as u8))
                .unwrap();
        }
        let out = drain(&mut router);
        let (_, rtcp) = alice.receive(&out);
        plis_for_layer0 += rtcp
            .iter()
            .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
            .filter(|f| {
                matches!(
                    f,
                    crate::rtcp::Feedback::Pli {
                        media_ssrc: 0x100,
                        ..
                    }
                )
            })
            .count();
        // Bob's link loses every other packet; his client reports what arrived.
        for p in &bob.receive(&out).0 {
            received += 1;
            if received % 2 == 0 || frame < 10 {
                if let Some(v) = p.header.get_extension(3) {
                    recorder.record(u16::from_be_bytes([v[0], v[1]]), now);
                }
            }
        }
        let mut fb = Vec::new();
        while recorder.poll_feedback(now, 0xB0B0, 0xB0B, &mut fb).unwrap() {}
        if !fb.is_empty() {
            bob.send_rtcp(&mut router, now, &fb);
        }
        router.handle_timeout(now);
    }
    assert!(
        plis_for_layer0 >= 1,
        "the estimate fell and layer 0 was requested"
    );
    let switched: Vec<u8> = std::iter::from_fn(|| router.poll_event())
        .filter_map(|e| match e {
            RouterEvent::LayerSwitched { spatial, .. } => Some(spatial),
            _ => None,
        })
        .collect();
    assert_eq!(
        switched.last(),
        Some(&0),
        "ends on the lowest layer: {switched:?}"
    );
    // What the router makes of Bob's downlink: half lost, capped, no queue.
    let state = router.downlink_state(bob.id).unwrap();
    assert!(state.loss_fraction.is_some_and(|l| l > 0.3), "{state:?}");
    assert!(state.congestion_cap_bps.is_some(), "{state:?}");
    assert_eq!(
        state.estimate_bps, state.congestion_cap_bps,
        "no REMB: {state:?}"
    );
    assert!(
        state.acked_bps.is_some() && state.remb_bps.is_none(),
        "{state:?}"
    );
    assert_eq!(state.delay, crate::rtcp::DelayState::Normal);
    assert_eq!(router.downlink_state(ParticipantId(99)), None);
}

/// Runs `frames` frames of Alice's three layers to Bob, whose link loses the packets
/// `lost(n)` says (n counts what reached Bob's side), with Bob's transport-wide CC feedback
/// every 100 ms; returns the layer switches made.
#[allow(clippy::too_many_arguments)]
fn run_twcc_phase(
    router: &mut Router<SrtpSession>,
    alice: &mut Client,
    bob: &mut Client,
    recorder: &mut crate::rtcp::TwccRecorder,
    now: &mut Instant,
    (frame, twcc, received): (&mut u32, &mut u16, &mut u32),
    frames: u32,
    lost: &dyn Fn(u32, &Packet) -> bool,
) -> Vec<u8> {
    let layers = [0x100u32, 0x200, 0x300];
    for _ in 0..frames {
        *now += Duration::from_millis(33);
        for (i, ssrc) in layers.iter().enumerate() {
            let mut h = header(*ssrc, *frame as u16, 3000 * *frame);
            h.set_extension(3, Bytes::from(twcc.to_be_bytes().to_vec()))
                .unwrap();
            *twcc = twcc.wrapping_add(1);
            let mut payload = vp8(*frame % 30 == 0, i as u8);
            payload.resize(1000, 0xCC);
            alice.send_rtp(router, *now, h, payload).unwrap();
        }
        *frame += 1;
        // What is due now (padding probes among it) goes out with the frame.
        router.handle_timeout(*now);
        let out = drain(router);
        for p in &bob.receive(&out).0 {
            *received += 1;
            if !lost(*received, p)
                && let Some(v) = p.header.get_extension(3)
            {
                recorder.record(u16::from_be_bytes([v[0], v[1]]), *now);
            }
        }
        let mut fb = Vec::new();
        while recorder
            .poll_feedback(*now, 0xB0B0, 0xB0B, &mut fb)
            .unwrap()
        {}
        if !fb.is_empty() {
            bob.send_rtcp(router, *now, &fb);
        }
    }
    std::iter::from_fn(|| router.poll_event())
        .filter_map(|e| match e {
            RouterEvent::LayerSwitched { spatial, .. } => Some(spatial),
            _ => None,
        })
        .collect()
}

#[test]
fn a_congestion_cap_holds_under_mild_loss_and_rises_while_the_path_is_clear() {
    let t0 = Instant::now();
    let mut track = video_track(&[0x100, 0x200, 0x300]);
    track.extensions.transport_cc = Some(3);
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, track);
    router.set_bandwidth_estimate(t0, bob.id, 5_000_000);
    drain(&mut router);
    let mut state = PhaseState::default();
    let mut now = t0;
    let mut phase = |frames: u32, lost: &dyn Fn(u32, &Packet) -> bool| {
        state.run(&mut router, &mut alice, &mut bob, &mut now, frames, lost)
    };
    // Clean: the top layer.
    assert_eq!(phase(40, &|_, _| false).last(), Some(&2));
    // Half of everything lost: down to the lowest layer.
    assert_eq!(phase(60, &|n, _| n % 2 == 0).last(), Some(&0));
    // One packet in 40 lost (2.5 %, as the Chromium test's link): held there, not lower and
    // not higher.
    assert_eq!(phase(150, &|n, _| n % 40 == 0), Vec::<u8>::new());
    // Clear: the cap rises 8 % a second and the subscriber climbs back, a layer at a time.
    let climb = phase(1200, &|_, _| false);
    assert_eq!(climb, vec![1, 2], "back up: {climb:?}");
}

/// Alice publishes three layers with the transport-wide sequence number extension; Bob
/// subscribes with RTX (SSRC 0xB0C), starts on the top layer, and is moved down to the
/// lowest by heavy loss, which sets his congestion cap.
fn bob_capped_on_the_lowest_layer() -> (Router<SrtpSession>, Client, Client, Instant, PhaseState) {
    let t0 = Instant::now();
    let mut track = video_track(&[0x100, 0x200, 0x300]);
    track.extensions.transport_cc = Some(3);
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, track);
    router.set_rtx(bob.id, TrackId(1), 0xB0C, 97).unwrap();
    router.set_bandwidth_estimate(t0, bob.id, 5_000_000);
    drain(&mut router);
    let mut state = PhaseState::default();
    let mut now = t0;
    assert_eq!(
        state
            .run(&mut router, &mut alice, &mut bob, &mut now, 40, &|_, _| {
                false
            })
            .last(),
        Some(&2)
    );
    assert_eq!(
        state
            .run(&mut router, &mut alice, &mut bob, &mut now, 60, &|n, _| n
                % 2
                == 0)
            .last(),
        Some(&0)
    );
    (router, alice, bob, now, state)
}

/// The feedback recorder and the counters [`run_twcc_phase`] carries from one phase to the
/// next.
struct PhaseState {
    recorder: crate::rtcp::TwccRecorder,
    frame: u32,
    twcc: u16,
    received: u32,
}

impl Default for PhaseState {
    fn default() -> Self {
        PhaseState {
            recorder: crate::rtcp::TwccRecorder::with_interval(Duration::from_millis(100)),
            frame: 0,
            twcc: 0,
            received: 0,
        }
    }
}

impl PhaseState {
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        router: &mut Router<SrtpSession>,
        alice: &mut Client,
        bob: &mut Client,
        now: &mut Instant,
        frames: u32,
        lost: &dyn Fn(u32, &Packet) -> bool,
    ) -> Vec<u8> {
        run_twcc_phase(
            router,
            alice,
            bob,
            &mut self.recorder,
            now,
            (&mut self.frame, &mut self.twcc, &mut self.received),
            frames,
            lost,
        )
    }
}

/// Whether `p` is a padding-only packet on Bob's RTX stream, and checks its shape.
fn probe_padding(p: &Packet) -> bool {
    if p.header.ssrc != 0xB0C || !p.payload.is_empty() {
        return false;
    }
    assert!(p.header.padding, "padding only: {:?}", p.header);
    assert_eq!(p.header.payload_type, 97);
    assert!(
        p.header.get_extension(3).is_some(),
        "counted in the feedback"
    );
    true
}

#[test]
fn padding_probes_bring_a_capped_subscriber_back_up() {
    let (mut router, mut alice, mut bob, mut now, mut state) = bob_capped_on_the_lowest_layer();
    let probes_before = router.stats().probe_packets;
    // The path is clear again. Without probes the cap would take about 40 s to rise to the
    // top layer (`a_congestion_cap_holds_under_mild_loss_and_rises_while_the_path_is_clear`);
    // a probe per step takes Bob up within a few seconds.
    let padding = std::cell::Cell::new(0u32);
    let climb = state.run(&mut router, &mut alice, &mut bob, &mut now, 200, &|_, p| {
        padding.set(padding.get() + u32::from(probe_padding(p)));
        false
    });
    assert_eq!(climb, vec![1, 2], "back up: {climb:?}");
    assert!(padding.get() > 0);
    assert_eq!(
        u64::from(padding.get()),
        router.stats().probe_packets - probes_before,
        "every probe packet arrived as RTX padding"
    );
    // On the top layer Bob has all he wants: no more probes.
    let before = router.stats().probe_packets;
    state.run(&mut router, &mut alice, &mut bob, &mut now, 150, &|_, _| {
        false
    });
    assert_eq!(router.stats().probe_packets, before);
}

#[test]
fn probes_that_meet_congestion_stop_and_back_off() {
    let (mut router, mut alice, mut bob, mut now, mut state) = bob_capped_on_the_lowest_layer();
    // Every padding packet is lost, so each probe reads as congestion and stops, and the
    // next waits twice as long (2, 4, 8, 16 s). (The media still arrives, so the cap keeps
    // rising slowly between probes as before.)
    let start = router.stats().probe_packets;
    let mut bursts = Vec::new();
    let mut last = start;
    for second in 0..40u32 {
        state.run(&mut router, &mut alice, &mut bob, &mut now, 30, &|_, p| {
            probe_padding(p)
        });
        let sent = router.stats().probe_packets;
        if sent > last {
            bursts.push(second);
        }
        last = sent;
    }
    assert!(
        (3..=6).contains(&bursts.len()),
        "probes at seconds {bursts:?}"
    );
    let gaps: Vec<u32> = bursts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] >= g[0]),
        "the waits grow: {bursts:?}"
    );
}

#[test]
fn no_probes_without_rtx_or_when_turned_off() {
    let t0 = Instant::now();
    let mut track = video_track(&[0x100, 0x200, 0x300]);
    track.extensions.transport_cc = Some(3);
    for rtx in [false, true] {
        let mut router = Router::new(RouterConfig {
            bandwidth_probing: !rtx,
            ..RouterConfig::default()
        });
        let mut alice = join(&mut router, 1);
        let mut bob = join(&mut router, 2);
        router.publish(alice.id, TrackId(1), track.clone()).unwrap();
        router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
        if rtx {
            router.set_rtx(bob.id, TrackId(1), 0xB0C, 97).unwrap();
        }
        router.set_bandwidth_estimate(t0, bob.id, 5_000_000);
        drain(&mut router);
        let mut state = PhaseState::default();
        let mut now = t0;
        state.run(&mut router, &mut alice, &mut bob, &mut now, 40, &|_, _| {
            false
        });
        state.run(&mut router, &mut alice, &mut bob, &mut now, 60, &|n, _| {
            n % 2 == 0
        });
        state.run(&mut router, &mut alice, &mut bob, &mut now, 150, &|_, _| {
            false
        });
        assert_eq!(router.stats().probe_packets, 0, "rtx {rtx}");
    }
}
