//! Dividing a subscriber's estimate among its video subscriptions: floors first, then a
//! layer at a time, by priority and in turns.

use super::*;

#[test]
fn a_thumbnail_leaves_its_share_to_the_speaker_view_and_priority_goes_first() {
    let t0 = Instant::now();
    let (mut router, alice, bob) = alice_to_bob(t0, video_track(&[0x100, 0x200, 0x300]));
    let (speaker, thumbnail) = (TrackId(1), TrackId(2));
    router
        .publish(alice.id, thumbnail, video_track(&[0x400, 0x500, 0x600]))
        .unwrap();
    router.subscribe(t0, bob.id, thumbnail, 0xB02).unwrap();
    let target = |r: &Router<SrtpSession>, track| {
        r.subscription_state(bob.id, track).unwrap().target_spatial
    };

    // The thumbnail wants only the lowest layer (150 kbit/s): on 2 Mbit/s the speaker view
    // gets the top layer (1.5 Mbit/s), where an even split would have held it to the middle.
    router.set_preferences(t0, bob.id, thumbnail, 0, false);
    router.set_bandwidth_estimate(t0, bob.id, 2_000_000);
    assert_eq!(target(&router, speaker), Some(2));
    assert_eq!(target(&router, thumbnail), Some(0));

    // Both want everything: they move up in turns, and neither top layer fits after both
    // middle ones (with the 20 % headroom for moving up).
    router.set_preferences(t0, bob.id, thumbnail, u8::MAX, false);
    assert_eq!(target(&router, speaker), Some(1));
    assert_eq!(target(&router, thumbnail), Some(1));

    // Priority: the favoured one goes to the top first; the other keeps its floor.
    router.set_priority(t0, bob.id, thumbnail, 1);
    assert_eq!(target(&router, thumbnail), Some(2));
    assert_eq!(target(&router, speaker), Some(0));
    assert_eq!(
        router
            .subscription_state(bob.id, thumbnail)
            .unwrap()
            .priority,
        1
    );

    // A paused subscription takes nothing.
    router.set_preferences(t0, bob.id, thumbnail, u8::MAX, true);
    assert_eq!(target(&router, thumbnail), None);
    assert_eq!(target(&router, speaker), Some(2));
}

#[test]
fn floors_that_do_not_fit_cost_temporal_layers_in_proportion() {
    // Two subscriptions on 200 kbit/s, less than their two floors (300 kbit/s): both stay
    // on the lowest layer, with fewer temporal layers, as one alone did on 100 kbit/s.
    let t0 = Instant::now();
    let (mut router, mut alice, bob) = alice_to_bob(t0, video_track(&[0x100, 0x200, 0x300]));
    router
        .publish(alice.id, TrackId(2), video_track(&[0x400, 0x500, 0x600]))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(2), 0xB02).unwrap();
    // Three temporal layers seen on every layer.
    let mut now = t0;
    for frame in 0..6u16 {
        now += Duration::from_millis(33);
        for ssrc in [0x100, 0x200, 0x300, 0x400, 0x500, 0x600] {
            let tid = [0, 2, 1, 2][usize::from(frame % 4)];
            alice
                .send_rtp(
                    &mut router,
                    now,
                    header(ssrc, frame, 3000 * u32::from(frame)),
                    vp8_with_tid(frame, tid),
                )
                .unwrap();
        }
    }
    drain(&mut router);
    router.set_bandwidth_estimate(now, bob.id, 200_000);
    for track in [TrackId(1), TrackId(2)] {
        let state = router.subscription_state(bob.id, track).unwrap();
        assert_eq!(state.target_spatial, Some(0), "{state:?}");
        // 100 kbit/s of a 150 kbit/s layer: its two lowest temporal layers (60 %).
        assert_eq!(state.target_temporal, 1, "{state:?}");
    }
}

/// A one-packet VP8 frame `n` with libwebrtc's payload descriptor (picture ID, TL0PICIDX,
/// TID), a keyframe first.
fn vp8_with_tid(n: u16, tid: u8) -> Vec<u8> {
    let [hi, lo] = (0x8000 | n).to_be_bytes();
    let mut p = vec![0x90, 0xE0, hi, lo, (n / 4) as u8, tid << 6];
    p.push(if n == 0 { 0x00 } else { 0x01 });
    p.resize(60, 0xCD);
    p
}

#[test]
fn audio_comes_off_the_estimate_before_video_is_divided() {
    let t0 = Instant::now();
    let (mut router, alice, bob) = alice_to_bob(t0, video_track(&[0x100, 0x200, 0x300]));
    let target = |r: &Router<SrtpSession>| {
        r.subscription_state(bob.id, TrackId(1))
            .unwrap()
            .target_spatial
    };
    // On the top layer (moving up to it takes 1.8 Mbit/s, with the headroom), 1.52 Mbit/s
    // keeps it (1.5 Mbit/s) alone...
    router.set_bandwidth_estimate(t0, bob.id, 1_820_000);
    assert_eq!(target(&router), Some(2));
    router.set_bandwidth_estimate(t0, bob.id, 1_520_000);
    assert_eq!(target(&router), Some(2));
    // ...but not beside a 32 kbit/s audio track, which is forwarded whatever the estimate.
    router
        .publish(alice.id, TrackId(2), audio_track(0xA00))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(2), 0xA0B).unwrap();
    router.set_bandwidth_estimate(t0, bob.id, 1_520_000);
    assert_eq!(target(&router), Some(1));
}

/// Sends `frames` frames of every layer of Alice's two tracks (one packet each; a keyframe on
/// every layer each 10th frame; the payload says which track and layer it is), and returns
/// what Bob got in the last frame: (out SSRC, 16 × track + layer).
fn run_frames(
    router: &mut Router<SrtpSession>,
    (alice, bob): (&mut Client, &mut Client),
    now: &mut Instant,
    frame: &mut u16,
    frames: u16,
) -> Vec<(u32, u8)> {
    let mut last = Vec::new();
    for _ in 0..frames {
        *now += Duration::from_millis(33);
        for (track, ssrcs) in [(1u8, [0x100, 0x200, 0x300]), (2, [0x400, 0x500, 0x600])] {
            for (layer, ssrc) in ssrcs.into_iter().enumerate() {
                let h = header(ssrc, *frame, 3000 * u32::from(*frame));
                let payload = vp8(*frame % 10 == 0, 16 * track + layer as u8);
                alice.send_rtp(router, *now, h, payload).unwrap();
            }
        }
        *frame += 1;
        router.handle_timeout(*now);
        let out = drain(router);
        last = bob
            .receive(&out)
            .0
            .iter()
            .map(|p| (p.header.ssrc, p.payload[4]))
            .collect();
        last.sort_unstable();
    }
    last
}

#[test]
fn what_is_forwarded_follows_the_allocation_on_keyframes() {
    let t0 = Instant::now();
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, video_track(&[0x100, 0x200, 0x300]));
    router
        .publish(alice.id, TrackId(2), video_track(&[0x400, 0x500, 0x600]))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(2), 0xB02).unwrap();
    let (mut now, mut frame) = (t0, 0u16);
    let bob_id = bob.id;
    let mut run = |router: &mut Router<SrtpSession>, frames| {
        run_frames(router, (&mut alice, &mut bob), &mut now, &mut frame, frames)
    };
    run(&mut router, 3);
    // 2 Mbit/s for two tracks that want everything: the middle layer of each.
    router.set_bandwidth_estimate(t0, bob_id, 2_000_000);
    assert_eq!(run(&mut router, 20), vec![(0xB02, 0x21), (0xB0B, 0x11)]);
    // Track 2 favoured: its top layer, and track 1 down to its lowest.
    router.set_priority(t0, bob_id, TrackId(2), 1);
    assert_eq!(run(&mut router, 20), vec![(0xB02, 0x22), (0xB0B, 0x10)]);
    // Track 2 shrinks to a thumbnail: track 1 takes the rest, its top layer.
    router.set_preferences(t0, bob_id, TrackId(2), 0, false);
    assert_eq!(run(&mut router, 20), vec![(0xB02, 0x20), (0xB0B, 0x12)]);
}
