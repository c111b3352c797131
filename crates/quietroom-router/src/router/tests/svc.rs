//! VP9 spatial layers within one stream (SVC): a subscriber gets what its spatial layer
//! needs, with the picture ended (RTP marker) on the last layer frame it gets. In full SVC
//! that is the layer frames up to its own, moving down at any picture; in a `KEY` mode (K-SVC)
//! a key picture up to its layer, then only its own layer's frames, moving down at a keyframe.
//! Up is always at a keyframe, which it asks for.

use super::*;

const SSRC: u32 = 0x100;

/// One packet per layer frame of picture `n` (a keyframe when `key`) in temporal layer
/// `tid`, spatial layers 0..3, as libwebrtc sends `L3T1` in flexible mode: I (15-bit picture
/// ID), P (inter-picture predicted) unless key, L, F, B and E (each layer frame in one
/// packet); SID, and D on the upper layers (predicted from the layer below), or only on a key
/// picture's as in `L3T3_KEY` when `key_only`; one P_DIFF of 1 when predicted; then the
/// layer's bytes. The publisher's marker ends the picture, on its top layer.
fn picture_in(n: u16, key: bool, tid: u8, key_only: bool) -> Vec<(Header, Vec<u8>)> {
    (0..3u8)
        .map(|sid| {
            let first = 0xBC | if key { 0 } else { 0x40 };
            let mut p = vec![first, 0x80 | (n >> 8) as u8, n as u8];
            let d = sid > 0 && (key || !key_only);
            p.push((tid << 5) | (sid << 1) | u8::from(d));
            if !key {
                p.push(1 << 1); // P_DIFF 1, N clear
            }
            p.extend([0x80 | sid; 40]);
            let mut h = header(SSRC, 3 * n + u16::from(sid), 3000 * u32::from(n));
            h.marker = sid == 2;
            (h, p)
        })
        .collect()
}

/// Alice publishing [`svc_track`] to Bob, what the setup sent drained.
fn svc_room(t0: Instant) -> (Router<SrtpSession>, Client, Client) {
    let (mut router, alice, bob) = alice_to_bob(t0, svc_track());
    let _ = drain(&mut router);
    (router, alice, bob)
}

/// Every number once, none missing: what was left out is closed up.
fn assert_continuous(seqs: &[u16]) {
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "{seqs:?}");
    }
}

fn svc_track() -> TrackConfig {
    let mut track = video_track(&[SSRC]);
    track.codec = Codec::Vp9;
    track.layers[0].bitrate_bps = 1_000_000;
    track
}

/// Sends pictures `range` (keyframes where `key` says; as `L3T3_KEY` when `key_only`) and
/// returns what Bob got: (spatial layer, marker) per packet, and the sequence numbers.
fn send(
    router: &mut Router<SrtpSession>,
    alice: &mut Client,
    bob: &mut Client,
    t0: Instant,
    range: std::ops::Range<u16>,
    key: impl Fn(u16) -> bool,
    key_only: bool,
) -> (Vec<(u8, bool)>, Vec<u16>) {
    for n in range {
        for (h, p) in picture_in(n, key(n), 0, key_only) {
            let at = t0 + Duration::from_millis(33 * u64::from(n));
            alice.send_rtp(router, at, h, p).unwrap();
        }
    }
    let (got, _) = bob.receive(&drain(router));
    let layers = got
        .iter()
        .map(|p| (p.payload[p.payload.len() - 1] & 0x7F, p.header.marker))
        .collect();
    (
        layers,
        got.iter().map(|p| p.header.sequence_number).collect(),
    )
}

#[test]
fn a_subscriber_gets_the_spatial_layers_it_can_take() {
    let t0 = Instant::now();
    let (mut router, mut alice, mut bob) = svc_room(t0);
    // Everything at first, as the publisher sends it.
    let (got, mut seqs) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        0..1,
        |n| n == 0,
        false,
    );
    assert_eq!(got, [(0, false), (1, false), (2, true)]);
    let state = router.layer_states(t0, TrackId(1));
    assert_eq!(state[0].spatial_layers, 3);
    // Bob wants the two lowest spatial layers (max spatial 1): from the next picture, layer
    // frames 0 and 1, the marker on layer 1, which ends the picture for Bob.
    router.set_preferences(t0, bob.id, TrackId(1), 1, false);
    let (got, more) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        1..3,
        |_| false,
        false,
    );
    seqs.extend(more);
    assert_eq!(got, [(0, false), (1, true)].repeat(2));

    // All three: a keyframe is asked for (past the request throttle since the subscription
    // asked for one), and layer 2 starts there.
    router.set_preferences(t0 + Duration::from_secs(1), bob.id, TrackId(1), 2, false);
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(pli_count(&rtcp), 1);
    let (got, more) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        3..6,
        |n| n == 5,
        false,
    );
    seqs.extend(more);
    let mut want = [(0, false), (1, true)].repeat(2);
    want.extend([(0, false), (1, false), (2, true)]);
    assert_eq!(got, want);

    // Down to the base layer: at the next picture, keyframe or not.
    router.set_preferences(t0, bob.id, TrackId(1), 0, false);
    let (got, more) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        6..8,
        |_| false,
        false,
    );
    seqs.extend(more);
    assert_eq!(got, vec![(0, true), (0, true)]);
    assert_continuous(&seqs);
}

#[test]
fn the_estimate_picks_spatial_layers_from_their_measured_rates() {
    let t0 = Instant::now();
    let (mut router, mut alice, mut bob) = svc_room(t0);
    // Two seconds of pictures measure the layers' rates: about 11, 11 and 11 kbit/s each
    // (one 43-byte layer frame per picture at 30 pictures per second, with the header).
    let (got, _) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        0..61,
        |n| n % 30 == 0,
        false,
    );
    assert!(!got.is_empty());
    let t = t0 + Duration::from_millis(33 * 61);
    // An estimate for two layers' worth (with room for the upgrade headroom, not three).
    router.set_bandwidth_estimate(t, bob.id, 2 * 11_000 * 13 / 10);
    let (got, _) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        61..64,
        |n| n == 61,
        false,
    );
    assert_eq!(got, [(0, false), (1, true)].repeat(3), "two spatial layers");
    router.set_bandwidth_estimate(t, bob.id, 10_000);
    let (got, _) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        64..65,
        |_| false,
        false,
    );
    assert_eq!(got, [(0, true)], "the base layer, whatever the estimate");
}

#[test]
fn a_temporal_layer_change_waits_for_the_next_picture() {
    let t0 = Instant::now();
    let (mut router, mut alice, mut bob) = svc_room(t0);
    let mut send = |router: &mut Router<SrtpSession>, packets: Vec<(Header, Vec<u8>)>| {
        for (h, p) in packets {
            alice.send_rtp(router, t0, h, p).unwrap();
        }
    };
    send(&mut router, picture_in(0, true, 0, false));
    // Picture 1 (TID 1): its first layer frame goes out, then the subscriber asks for the
    // base temporal layer only. The picture's other layer frames still go: a picture is
    // kept or left out whole.
    let mut one = picture_in(1, false, 1, false);
    let rest = one.split_off(1);
    send(&mut router, one);
    router.set_max_temporal_layer(t0, bob.id, TrackId(1), 0);
    send(&mut router, rest);
    // Picture 2 (TID 1) is left out, picture 3 (TID 0) goes.
    send(&mut router, picture_in(2, false, 1, false));
    send(&mut router, picture_in(3, false, 0, false));
    let (got, _) = bob.receive(&drain(&mut router));
    let pictures: Vec<(u16, u8)> = got
        .iter()
        .map(|p| {
            (
                u16::from(p.payload[2]),
                p.payload[p.payload.len() - 1] & 0x7F,
            )
        })
        .collect();
    let whole = |n: u16| (0..3).map(move |sid| (n, sid));
    let want: Vec<(u16, u8)> = whole(0).chain(whole(1)).chain(whole(3)).collect();
    assert_eq!(pictures, want);
}

#[test]
fn a_late_layer_frame_goes_by_the_layers_of_its_picture() {
    let t0 = Instant::now();
    let (mut router, mut alice, mut bob) = svc_room(t0);
    router.set_rtx(bob.id, TrackId(1), 0xB0C, 97).unwrap();
    let _ = drain(&mut router);
    let bob_id = bob.id;
    let mut send = |router: &mut Router<SrtpSession>, packets: Vec<(Header, Vec<u8>)>| {
        for (h, p) in packets {
            alice.send_rtp(router, t0, h, p).unwrap();
        }
        bob.receive(&drain(router)).0
    };
    // (picture, spatial layer, marker) of each media packet (not padding).
    let layers = |got: &[Packet]| -> Vec<(u16, u8, bool)> {
        got.iter()
            .filter(|p| !p.payload.is_empty())
            .map(|p| {
                (
                    u16::from(p.payload[2]),
                    p.payload[p.payload.len() - 1] & 0x7F,
                    p.header.marker,
                )
            })
            .collect()
    };
    send(&mut router, picture_in(0, true, 0, false));
    // Picture 1's top layer frame comes late (lost upstream, resent), after picture 2, at
    // whose start Bob went down to layers 0 and 1 (full SVC: at any picture).
    let mut one = picture_in(1, false, 0, false);
    let late = one.pop().unwrap();
    assert_eq!(
        layers(&send(&mut router, one)),
        [(1, 0, false), (1, 1, false)]
    );
    router.set_preferences(t0, bob_id, TrackId(1), 1, false);
    assert_eq!(
        layers(&send(&mut router, picture_in(2, false, 0, false))),
        [(2, 0, false), (2, 1, true)]
    );
    // Picture 1 was being forwarded with all three layers: its top layer frame goes out,
    // and ends it for Bob (the marker).
    let got = send(&mut router, vec![late]);
    assert_eq!(layers(&got), [(1, 2, true)]);
    // A resend Bob asks for of that packet ends the picture too; one of picture 2's layer 1
    // frame ends picture 2.
    let (late_seq, two_seq) = (
        got[0].header.sequence_number,
        got[0].header.sequence_number + 2,
    );
    let mut nack = Vec::new();
    crate::rtcp::build::nack(0xB0B0, 0xB0B, &[late_seq, two_seq], &mut nack).unwrap();
    bob.send_rtcp(&mut router, t0 + Duration::from_millis(100), &nack);
    let (resent, _) = bob.receive(&drain(&mut router));
    let resent: Vec<(u16, bool)> = resent
        .iter()
        .map(|p| {
            (
                u16::from_be_bytes([p.payload[0], p.payload[1]]),
                p.header.marker,
            )
        })
        .collect();
    assert_eq!(resent, [(late_seq, true), (two_seq, true)]);
}

#[test]
fn a_key_mode_stream_sends_inter_pictures_as_the_subscribers_own_layer() {
    let t0 = Instant::now();
    let (mut router, mut alice, mut bob) = svc_room(t0);
    // The key picture whole; the first inter picture whole too (the mode shows in its
    // upper layer frames, which come after its base layer frame, and a picture goes out in
    // one mode); from then on only the top layer's frames.
    let (got, mut seqs) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        0..4,
        |n| n == 0,
        true,
    );
    let mut want = [(0, false), (1, false), (2, true)].repeat(2);
    want.extend([(2, true)].repeat(2));
    assert_eq!(got, want);
    // Down to layer 1: Bob has none of layer 1's chain, so it waits for a keyframe (asked
    // for), and his inter pictures go on as layer 2 until then.
    let t1 = t0 + Duration::from_secs(1);
    router.set_preferences(t1, bob.id, TrackId(1), 1, false);
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(pli_count(&rtcp), 1);
    let (got, more) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        4..8,
        |n| n == 6,
        true,
    );
    seqs.extend(more);
    let mut want = [(2, true)].repeat(2);
    want.extend([(0, false), (1, true), (1, true)]);
    assert_eq!(got, want);
    // Up again: at the next keyframe, layer 2's frames alone after it.
    router.set_preferences(t1 + Duration::from_secs(1), bob.id, TrackId(1), 2, false);
    let (got, more) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        8..11,
        |n| n == 9,
        true,
    );
    seqs.extend(more);
    assert_eq!(
        got,
        [(1, true), (0, false), (1, false), (2, true), (2, true)]
    );
    assert_continuous(&seqs);
}

#[test]
fn a_key_mode_subscriber_follows_the_top_layer_stopping() {
    let t0 = Instant::now();
    let (mut router, mut alice, mut bob) = svc_room(t0);
    let at = |n: u16| t0 + Duration::from_millis(33 * u64::from(n));
    let (got, _) = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        0..4,
        |n| n == 0,
        true,
    );
    assert_eq!(got.last(), Some(&(2, true)));
    let bob_id = bob.id;
    // The encoder lacks the bitrate for layer 2 and stops it: its pictures end on layer 1.
    let mut two_layers = |router: &mut Router<SrtpSession>, alice: &mut Client, n, key| {
        two_layers(router, alice, &mut bob, at(n), n, key)
    };
    // Nothing of Bob's layer comes; once layer 2 has been quiet for a second, layer 1 is
    // chosen, and since Bob has none of its chain, a keyframe is asked for.
    let mut asked = None;
    let requests = router.stats().keyframe_requests;
    for n in 4..45 {
        let (layers, _) = two_layers(&mut router, &mut alice, n, false);
        assert!(layers.is_empty(), "picture {n}: {layers:?}");
        if router.stats().keyframe_requests > requests && asked.is_none() {
            asked = Some(n);
        }
    }
    let asked = asked.expect("a keyframe asked for");
    assert!(
        (4 + 30..4 + 36).contains(&asked),
        "asked at picture {asked}"
    );
    // At the keyframe, layers 0 and 1, the picture ended on 1; then layer 1 alone.
    assert_eq!(
        two_layers(&mut router, &mut alice, 45, true),
        (vec![0, 1], Some(true))
    );
    assert_eq!(
        two_layers(&mut router, &mut alice, 46, false),
        (vec![1], Some(true))
    );
    let state = router.subscription_state(bob_id, TrackId(1)).unwrap();
    assert_eq!(state.current_svc, 1);
}

/// Sends picture `n` of an `L3T3_KEY` stream whose encoder stopped layer 2 (its pictures end
/// on layer 1) at `at`, and returns what Bob got: the spatial layers, and the last marker.
fn two_layers(
    router: &mut Router<SrtpSession>,
    alice: &mut Client,
    bob: &mut Client,
    at: Instant,
    n: u16,
    key: bool,
) -> (Vec<u8>, Option<bool>) {
    let mut packets = picture_in(n, key, 0, true);
    packets.truncate(2);
    packets[1].0.marker = true;
    for (h, p) in packets {
        alice.send_rtp(router, at, h, p).unwrap();
    }
    let (got, _) = bob.receive(&drain(router));
    let layers = got
        .iter()
        .map(|p| p.payload[p.payload.len() - 1] & 0x7F)
        .collect();
    (layers, got.last().map(|p| p.header.marker))
}

#[test]
fn the_layer_demand_of_an_svc_stream_is_its_highest_spatial_layer_wanted() {
    let t0 = Instant::now();
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, svc_track());
    let track = TrackId(1);
    let _ = drain(&mut router);
    // Before any spatial layer is seen, the stream is one layer.
    router.handle_timeout(t0);
    assert_eq!(router.layer_demand(track), Some(Some(0)));
    let _ = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        0..2,
        |n| n == 0,
        true,
    );
    router.handle_timeout(t0);
    assert_eq!(router.layer_demand(track), Some(Some(2)));
    // Bob wants at most spatial layer 1: announced once it has held.
    router.set_preferences(t0, bob.id, track, 1, false);
    router.handle_timeout(t0 + Duration::from_millis(100));
    router.handle_timeout(t0 + Duration::from_millis(5_200));
    assert_eq!(router.layer_demand(track), Some(Some(1)));
    // Paused: nothing.
    router.set_preferences(t0, bob.id, track, 1, true);
    router.handle_timeout(t0 + Duration::from_millis(5_300));
    router.handle_timeout(t0 + Duration::from_millis(10_400));
    assert_eq!(router.layer_demand(track), Some(None));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// For any schedule of key pictures, upper layer frames the encoder dropped, changes
    /// of the subscriber's spatial layer and pictures whose last layer frame comes after the
    /// next picture's first, in full SVC or a `KEY` mode, what it gets, in sequence number
    /// order, has consecutive sequence numbers (padding filling those of late packets left
    /// out), timestamps that never go backwards, its layer frames in order within a picture,
    /// the marker on each picture's last packet and nowhere else; and in a `KEY` mode, once
    /// an inter picture has shown the mode, one layer frame per inter picture.
    #[test]
    fn svc_output_is_consistent_under_any_schedule(
        key_only in proptest::prelude::any::<bool>(),
        schedule in proptest::collection::vec(
            (
                proptest::prelude::any::<bool>(),
                1usize..=3,
                proptest::option::of(0u8..3),
                (0u16..4, 0usize..3),
            ),
            1..60,
        ),
    ) {
        let t0 = Instant::now();
        let (mut router, mut alice, mut bob) = svc_room(t0);
        // (picture, packet) in the publisher's order, numbered as sent: the layer frames
        // not encoded take no numbers. The first picture is a key picture; key pictures
        // carry all three layers.
        let mut sent = Vec::new();
        let mut sequence = 0u16;
        for (n, &(key, encoded, _, _)) in schedule.iter().enumerate() {
            let n = n as u16;
            let key = key || n == 0;
            let mut packets = picture_in(n, key, 0, key_only);
            packets.truncate(if key { 3 } else { encoded });
            if let Some(last) = packets.last_mut() {
                last.0.marker = true;
            }
            for (mut h, p) in packets {
                h.sequence_number = sequence;
                sequence = sequence.wrapping_add(1);
                sent.push((n, h, p));
            }
        }
        // A late picture's packet `which` (of its own) after the first of picture n + late
        // (or at the end): a resend of what the uplink lost.
        for (n, &(_, _, _, (late, which))) in schedule.iter().enumerate() {
            let n = n as u16;
            let Some(at) = sent.iter().enumerate().filter(|(_, (m, _, _))| *m == n).map(|(i, _)| i).nth(which).or_else(|| sent.iter().rposition(|(m, _, _)| *m == n)) else {
                continue;
            };
            if late == 0 {
                continue;
            }
            let packet = sent.remove(at);
            let to = sent.iter().position(|(m, _, _)| *m == n + late).map_or(sent.len(), |i| i + 1);
            sent.insert(to, packet);
        }
        let mut received = Vec::new();
        let mut asked = vec![false; schedule.len()];
        // (picture, spatial layer) in the order they arrive.
        let arrived: Vec<(u16, u8)> = sent.iter().map(|(n, _, p)| (*n, p[p.len() - 1] & 0x7F)).collect();
        for (n, h, p) in sent {
            let at = t0 + Duration::from_millis(33 * u64::from(n));
            if let (Some(p), false) = (schedule[usize::from(n)].2, asked[usize::from(n)]) {
                let max = if p == 2 { u8::MAX } else { p };
                router.set_preferences(at, bob.id, TrackId(1), max, false);
            }
            asked[usize::from(n)] = true;
            alice.send_rtp(&mut router, at, h, p).unwrap();
            received.extend(bob.receive(&drain(&mut router)).0);
        }
        let Some(first) = received.first().map(|p| p.header.sequence_number) else {
            return Ok(());
        };
        received.sort_by_key(|p| p.header.sequence_number.wrapping_sub(first) as i16);
        for w in received.windows(2) {
            proptest::prop_assert_eq!(w[1].header.sequence_number, w[0].header.sequence_number.wrapping_add(1));
        }
        received.retain(|p| !p.payload.is_empty());
        let sid = |p: &Packet| p.payload[p.payload.len() - 1] & 0x7F;
        let inter = |p: &Packet| p.payload[0] & 0x40 != 0;
        for w in received.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let same = a.header.timestamp == b.header.timestamp;
            proptest::prop_assert!(same || b.header.timestamp.wrapping_sub(a.header.timestamp) < u32::MAX / 2);
            proptest::prop_assert_eq!(a.header.marker, !same, "the marker ends a picture: {:?} then {:?}", a.header, b.header);
            proptest::prop_assert!(!same || sid(a) < sid(b));
        }
        if let Some(last) = received.last() {
            proptest::prop_assert!(last.header.marker);
        }
        if key_only {
            // The mode shows in the first inter picture's upper layer frame to arrive, and
            // applies from the next picture newer than all before it to arrive after that (a
            // picture older than that one goes by the mode it began in, full SVC).
            let shown = arrived.iter().position(|&(n, sid)| {
                let (key, encoded, _, _) = schedule[usize::from(n)];
                n > 0 && !key && encoded > 1 && sid > 0
            });
            // (And "the subscriber's own layer" is the top one only once that has been seen.)
            let top_seen = arrived.iter().position(|&(_, sid)| sid == 2);
            let known = shown.zip(top_seen).and_then(|(shown, top)| {
                let at = shown.max(top);
                let newest = arrived[..=at].iter().map(|&(n, _)| n).max().unwrap_or(0);
                arrived[at + 1..].iter().map(|&(n, _)| n).find(|&n| n > newest)
            });
            if let Some(from) = known {
                let mut layers: std::collections::HashMap<u32, usize> = Default::default();
                for p in received.iter().filter(|p| inter(p)) {
                    *layers.entry(p.header.timestamp).or_default() += 1;
                }
                for (ts, count) in layers {
                    let picture = ts / 3000;
                    proptest::prop_assert!(picture < u32::from(from) || count == 1, "picture {} sent {} layer frames", picture, count);
                }
            }
        }
    }
}

#[test]
fn a_keyframe_a_spatial_layer_change_waits_for_is_asked_for_again() {
    let t0 = Instant::now();
    let (mut router, mut alice, mut bob) = svc_room(t0);
    let _ = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        0..3,
        |n| n == 0,
        true,
    );
    // Down to layer 1 in a `KEY` mode: a keyframe is asked for, and asked for again while
    // none comes.
    let t1 = t0 + Duration::from_secs(1);
    router.set_preferences(t1, bob.id, TrackId(1), 1, false);
    let asked = router.stats().keyframe_requests;
    for ms in (0..=2_500).step_by(100) {
        router.handle_timeout(t1 + Duration::from_millis(ms));
    }
    assert!(
        router.stats().keyframe_requests >= asked + 2,
        "{:?}",
        router.stats()
    );
    // Once the keyframe came and the change is done, no more.
    let _ = send(
        &mut router,
        &mut alice,
        &mut bob,
        t0,
        3..5,
        |n| n == 3,
        true,
    );
    let asked = router.stats().keyframe_requests;
    for ms in (2_600..=6_000).step_by(100) {
        router.handle_timeout(t1 + Duration::from_millis(ms));
    }
    assert_eq!(router.stats().keyframe_requests, asked);
}
