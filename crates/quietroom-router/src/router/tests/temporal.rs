//! Temporal layers: a subscriber gets the VP8 temporal layers it asked for and can afford,
//! with continuous sequence numbers, switching only where the stream allows it.

use super::*;

const SSRC: u32 = 0x100;
/// libwebrtc's three-layer pattern: TID of frame n is PATTERN[n % 4].
const PATTERN: [u8; 4] = [0, 2, 1, 2];
const PACKETS_PER_FRAME: u16 = 2;

/// The publisher's packets of frame `n` (from 0, a keyframe): libwebrtc's VP8 descriptor (X; I with a
/// 15-bit picture ID; L with TL0PICIDX; T with TID and Y, set on the frames that depend on the
/// base layer only), S on the first packet, the marker on the last.
fn frame(n: u16, keyframe: bool) -> Vec<(Header, Vec<u8>)> {
    let tid = PATTERN[usize::from(n % 4)];
    let sync = n % 4 == 1 || n % 4 == 2;
    let tl0 = (n / 4) as u8;
    (0..PACKETS_PER_FRAME)
        .map(|i| {
            let mut h = header(SSRC, n * PACKETS_PER_FRAME + i, u32::from(n) * 3000);
            h.marker = i + 1 == PACKETS_PER_FRAME;
            let [hi, lo] = (0x8000 | n).to_be_bytes();
            let mut p = vec![
                if i == 0 { 0x90 } else { 0x80 },
                0xE0,
                hi,
                lo,
                tl0,
                (tid << 6) | if sync { 0x20 } else { 0 },
            ];
            p.push(if keyframe && i == 0 { 0x00 } else { 0x01 });
            p.extend_from_slice(&n.to_be_bytes());
            p.resize(60, 0xCD);
            (h, p)
        })
        .collect()
}

/// The frame number and TID a forwarded packet carries.
fn frame_of(p: &Packet) -> (u16, u8) {
    (
        u16::from_be_bytes([p.payload[7], p.payload[8]]),
        p.payload[5] >> 6,
    )
}

struct Room {
    router: Router<SrtpSession>,
    alice: Client,
    bob: Client,
    now: Instant,
    next: u16,
    received: Vec<Packet>,
}

impl Room {
    fn new() -> Room {
        let now = Instant::now();
        let mut router = Router::new(RouterConfig::default());
        let alice = join(&mut router, 1);
        let bob = join(&mut router, 2);
        router
            .publish(alice.id, TrackId(1), video_track(&[SSRC]))
            .unwrap();
        router.subscribe(now, bob.id, TrackId(1), 0xB0B).unwrap();
        let mut room = Room {
            router,
            alice,
            bob,
            now,
            next: 0,
            received: Vec::new(),
        };
        room.send(1, true);
        room
    }

    /// Bob asks for temporal layers up to `max` (`u8::MAX`: all).
    fn ask(&mut self, max: u8) {
        self.router
            .set_max_temporal_layer(self.now, self.bob.id, TrackId(1), max);
    }

    /// Sends `frames` frames (the first a keyframe when `keyframe`), collecting what Bob gets.
    fn send(&mut self, frames: u16, keyframe: bool) -> Vec<(u16, u8)> {
        let mut got = Vec::new();
        for k in 0..frames {
            self.now += Duration::from_millis(33);
            for (h, p) in frame(self.next, keyframe && k == 0) {
                self.alice
                    .send_rtp(&mut self.router, self.now, h, p)
                    .unwrap();
            }
            self.next += 1;
            let (rtp_in, _) = self.bob.receive(&drain(&mut self.router));
            got.extend(rtp_in.iter().map(frame_of));
            self.received.extend(rtp_in);
        }
        got.dedup();
        got
    }

    /// Sends the first packet of the next frame only.
    fn send_first_half(&mut self) -> Vec<(u16, u8)> {
        self.now += Duration::from_millis(33);
        let (h, p) = frame(self.next, false).swap_remove(0);
        self.alice
            .send_rtp(&mut self.router, self.now, h, p)
            .unwrap();
        let (rtp_in, _) = self.bob.receive(&drain(&mut self.router));
        let got = rtp_in.iter().map(frame_of).collect();
        self.received.extend(rtp_in);
        got
    }

    /// Sends the rest of the frame `send_first_half` began.
    fn send_second_half(&mut self) -> Vec<(u16, u8)> {
        let (h, p) = frame(self.next, false).swap_remove(1);
        self.alice
            .send_rtp(&mut self.router, self.now, h, p)
            .unwrap();
        self.next += 1;
        let (rtp_in, _) = self.bob.receive(&drain(&mut self.router));
        let got = rtp_in.iter().map(frame_of).collect();
        self.received.extend(rtp_in);
        got
    }

    /// Everything Bob got has consecutive sequence numbers and picture IDs, and whole frames.
    fn check_continuity(&self) {
        for w in self.received.windows(2) {
            assert_eq!(
                w[1].header.sequence_number,
                w[0].header.sequence_number.wrapping_add(1),
                "a gap between {:?} and {:?}",
                frame_of(&w[0]),
                frame_of(&w[1])
            );
            let id = |p: &Packet| u16::from_be_bytes([p.payload[2] & 0x7F, p.payload[3]]);
            let (tl0_a, tl0_b) = (w[0].payload[4], w[1].payload[4]);
            if frame_of(&w[0]).0 != frame_of(&w[1]).0 {
                assert!(w[0].header.marker, "frame {:?} cut short", frame_of(&w[0]));
                // Pictures left out take no picture ID.
                assert_eq!(
                    id(&w[1]),
                    id(&w[0]) + 1,
                    "picture IDs {:?}",
                    frame_of(&w[1])
                );
                assert!(tl0_b == tl0_a || tl0_b == tl0_a + 1);
            } else {
                assert_eq!((id(&w[1]), tl0_b), (id(&w[0]), tl0_a));
            }
        }
    }
}

#[test]
fn a_subscriber_gets_the_temporal_layers_it_asks_for() {
    let mut room = Room::new();
    // Frames 1 to 8: everything.
    let all = room.send(8, false);
    assert_eq!(all.len(), 8);

    // Base layer only, asked for while frame 9 (TID 2) is half sent: the frame is finished,
    // then only TID 0 frames follow.
    let first = room.send_first_half();
    assert_eq!(first, vec![(9, 2)]);
    room.ask(0);
    assert_eq!(
        room.send_second_half(),
        vec![(9, 2)],
        "frame 9 is completed"
    );
    let base = room.send(12, false);
    assert_eq!(base, vec![(12, 0), (16, 0), (20, 0)]);

    // Up to TID 1, asked for before frame 22 (TID 1): it is a layer-sync frame, so it is
    // taken at once; TID 2 frames stay out.
    room.ask(1);
    let two = room.send(8, false);
    assert_eq!(two, vec![(22, 1), (24, 0), (26, 1), (28, 0)]);

    // Everything again, asked for before frame 30 (TID 1, sync): taken there; frame 31
    // (TID 2) follows.
    room.ask(u8::MAX);
    let all = room.send(4, false);
    assert_eq!(all, vec![(30, 1), (31, 2), (32, 0), (33, 2)]);
    room.check_continuity();
}

#[test]
fn going_up_waits_for_a_frame_that_allows_it() {
    let mut room = Room::new();
    room.ask(0);
    assert_eq!(room.send(4, false), vec![(4, 0)]);
    // Before frame 5 (TID 2, sync): asking for everything switches there.
    room.ask(u8::MAX);
    assert_eq!(room.send(4, false), vec![(5, 2), (6, 1), (7, 2), (8, 0)]);
    // Down to the base layer and up to TID 2 before frame 11 (TID 2, no sync): it waits.
    room.ask(0);
    assert_eq!(room.send(2, false), Vec::<(u16, u8)>::new());
    room.ask(u8::MAX);
    assert_eq!(room.send(2, false), vec![(12, 0)]);
    room.check_continuity();
}

#[test]
fn a_narrow_link_gets_fewer_temporal_layers() {
    let mut room = Room::new();
    room.send(4, false); // TIDs 0..=2 seen: three temporal layers.
    // The layer is 150 kbit/s; the base layer takes 40% of it (60 kbit/s), two layers 60%.
    room.router
        .set_bandwidth_estimate(room.now, room.bob.id, 70_000);
    assert_eq!(room.send(8, false), vec![(8, 0), (12, 0)]);
    // 100 kbit/s: two layers (90 kbit/s) fit only with the 20% headroom for moving up
    // (108 kbit/s): not yet.
    room.router
        .set_bandwidth_estimate(room.now, room.bob.id, 100_000);
    assert_eq!(room.send(4, false), vec![(16, 0)]);
    room.router
        .set_bandwidth_estimate(room.now, room.bob.id, 110_000);
    assert_eq!(room.send(4, false), vec![(18, 1), (20, 0)]);
    // Enough for the whole layer: everything, from the next base or sync frame.
    room.router
        .set_bandwidth_estimate(room.now, room.bob.id, 1_000_000);
    assert_eq!(
        room.send(4, false),
        vec![(21, 2), (22, 1), (23, 2), (24, 0)]
    );
    room.check_continuity();
}

#[test]
fn a_late_packet_left_out_is_filled_with_padding() {
    let mut room = Room::new();
    room.ask(0);
    assert_eq!(room.send(4, false), vec![(4, 0)]);
    // Frame 5 (TID 2): its second packet is lost upstream. Frames 6 and 7 (TIDs 1 and 2) are
    // left out; frame 8 (TID 0) is forwarded, past the number kept for the lost packet, which
    // the router could not know it would leave out.
    let (lost_header, lost_payload) = frame(5, false).swap_remove(1);
    assert_eq!(room.send_first_half(), vec![]);
    room.next += 1;
    assert_eq!(room.send(3, false), vec![(8, 0)]);
    // The lost packet arrives late (a resend): still left out, and its number is filled with
    // a padding-only packet on the media SSRC.
    room.alice
        .send_rtp(&mut room.router, room.now, lost_header, lost_payload)
        .unwrap();
    let (late, _) = room.bob.receive(&drain(&mut room.router));
    assert_eq!(room.router.stats().gap_fillers, 1);
    let [filler] = late.as_slice() else {
        panic!("one filler, got {late:?}");
    };
    assert!(
        filler.header.padding && filler.payload.is_empty(),
        "{filler:?}"
    );
    assert_eq!(filler.header.ssrc, 0xB0B);
    // With it, Bob's sequence numbers have no hole.
    let mut sequences: Vec<u16> = room
        .received
        .iter()
        .chain([filler])
        .map(|p| p.header.sequence_number)
        .collect();
    sequences.sort_unstable();
    for w in sequences.windows(2) {
        assert_eq!(w[1], w[0] + 1, "{sequences:?}");
    }
    // The filler lost on the way: Bob asks for its number and gets the filler again, over
    // RTX (a receiver that finds frames by sequence number alone waits for it until a
    // keyframe; on the media SSRC its SRTP index would be a replay).
    room.router
        .set_rtx(room.bob.id, TrackId(1), 0xB0C, 97)
        .unwrap();
    let mut nack = Vec::new();
    crate::rtcp::build::nack(0xB0B0, 0xB0B, &[filler.header.sequence_number], &mut nack).unwrap();
    room.bob.send_rtcp(
        &mut room.router,
        room.now + Duration::from_millis(50),
        &nack,
    );
    let (again, _) = room.bob.receive(&drain(&mut room.router));
    let [again] = again.as_slice() else {
        panic!("the filler again, got {again:?}");
    };
    assert_eq!((again.header.ssrc, again.header.payload_type), (0xB0C, 97));
    assert_eq!(
        &again.payload[..],
        &filler.header.sequence_number.to_be_bytes()[..],
        "the original sequence number, and nothing after it"
    );
    assert_eq!(room.router.stats().gap_fillers, 2);
}

impl Room {
    /// Sends packet `i` of frame `n` alone, as it comes (late, or ahead of its frame), and
    /// collects what Bob gets.
    fn send_packet(&mut self, n: u16, i: u16) -> Vec<Packet> {
        let (h, p) = frame(n, false).swap_remove(usize::from(i));
        self.alice
            .send_rtp(&mut self.router, self.now, h, p)
            .unwrap();
        let (rtp_in, _) = self.bob.receive(&drain(&mut self.router));
        self.received.extend(rtp_in.iter().cloned());
        rtp_in
    }
}

#[test]
fn a_late_packet_of_a_frame_forwarded_before_a_switch_down_completes_it() {
    let mut room = Room::new();
    room.send(4, false);
    // Frame 5 (TID 2) starts while Bob gets everything; its second packet comes after frame
    // 6 began, and Bob asked for the base layer in between.
    assert_eq!(room.send_first_half(), vec![(5, 2)]);
    room.ask(0);
    room.next += 1;
    assert_eq!(
        room.send_first_half(),
        vec![],
        "frame 6 (TID 1): the switch down"
    );
    let late = room.send_packet(5, 1);
    assert_eq!(
        late.iter().map(frame_of).collect::<Vec<_>>(),
        vec![(5, 2)],
        "frame 5 was forwarded: its late packet goes out too"
    );
    assert!(late[0].header.marker);
    assert_eq!(room.send_second_half(), vec![]);
    assert_eq!(room.send(2, false), vec![(8, 0)]);
    room.check_continuity();
}

#[test]
fn a_late_packet_of_a_frame_left_out_stays_out_after_a_switch_up() {
    let mut room = Room::new();
    room.ask(0);
    assert_eq!(room.send(4, false), vec![(4, 0)]);
    // Frame 5 (TID 2) is left out; its second packet comes after frame 6 (TID 1, sync), at
    // whose start Bob moved up to everything.
    assert_eq!(room.send_first_half(), vec![]);
    room.ask(u8::MAX);
    room.next += 1;
    assert_eq!(room.send(1, false), vec![(6, 1)]);
    let late = room.send_packet(5, 1);
    assert!(
        late.iter().all(|p| p.payload.is_empty()),
        "frame 5 was left out: its late packet is left out too (padding at most): {:?}",
        late.iter()
            .map(|p| p.header.sequence_number)
            .collect::<Vec<_>>()
    );
    assert_eq!(room.send(2, false), vec![(7, 2), (8, 0)]);
    // Frame 5's first packet gave its number up; its second, not seen when frame 6 came,
    // had its number kept (it could have been lost upstream), now filled with padding.
    let mut sequences: Vec<u16> = room
        .received
        .iter()
        .map(|p| p.header.sequence_number)
        .collect();
    sequences.sort_unstable();
    for w in sequences.windows(2) {
        assert_eq!(w[1], w[0] + 1, "{sequences:?}");
    }
    room.received.retain(|p| !p.payload.is_empty());
    let seq_of = |frame: u16| {
        room.received
            .iter()
            .filter(|p| frame_of(p).0 == frame)
            .map(|p| p.header.sequence_number)
            .collect::<Vec<_>>()
    };
    assert_eq!(seq_of(6)[0], seq_of(4)[1] + 2);
    room.received.retain(|p| frame_of(p).0 >= 6);
    room.check_continuity();
}

#[test]
fn a_late_packet_goes_by_its_frame_across_two_changes() {
    let mut room = Room::new();
    room.send(4, false);
    // Frame 5 (TID 2) starts while Bob gets everything. Bob goes down to the base layer at
    // frame 6 (TID 1, left out), and back up at frame 9 (TID 2, sync). The second packets of
    // frames 5 and 6 come after that: each goes by the layer in force when its frame began.
    assert_eq!(room.send_first_half(), vec![(5, 2)]);
    room.ask(0);
    room.next += 1;
    assert_eq!(room.send_first_half(), vec![]);
    room.next += 1;
    assert_eq!(room.send(2, false), vec![(8, 0)]);
    room.ask(u8::MAX);
    assert_eq!(room.send(1, false), vec![(9, 2)]);
    let late = room.send_packet(5, 1);
    assert_eq!(late.iter().map(frame_of).collect::<Vec<_>>(), vec![(5, 2)]);
    let late = room.send_packet(6, 1);
    assert!(late.iter().all(|p| p.payload.is_empty()), "{late:?}");
    assert_eq!(room.send(2, false), vec![(10, 1), (11, 2)]);
}

/// Packet `i` (of 3) of AV1 temporal unit `n`, as libwebrtc sends `L1T3`: the first starts a
/// frame OBU with an extension header (its TID, in [`PATTERN`]; unit 0 is a keyframe and
/// starts with a sequence header, N set), the others continue it (Z), so only the first
/// says the layer. The payload ends with `n`.
fn av1_packet(n: u16, i: u16) -> (Header, Vec<u8>) {
    let tid = PATTERN[usize::from(n % 4)];
    let mut h = header(SSRC, n * 3 + i, u32::from(n) * 3000);
    h.marker = i == 2;
    let mut p = match i {
        0 if n == 0 => vec![0x58, 0x08],
        0 => vec![0x50, 0x34, tid << 5],
        1 => vec![0xD0],
        _ => vec![0x90],
    };
    p.extend([n as u8; 30]);
    (h, p)
}

#[test]
fn av1_temporal_units_are_kept_or_left_out_whole() {
    let t0 = Instant::now();
    let mut track = video_track(&[SSRC]);
    track.codec = Codec::Av1;
    let (mut router, mut alice, mut bob) = alice_to_bob(t0, track);
    let _ = drain(&mut router);
    let bob_id = bob.id;
    let unit = |n: u16| -> Vec<(Header, Vec<u8>)> { (0..3).map(|i| av1_packet(n, i)).collect() };
    let mut send = |router: &mut Router<SrtpSession>, range: std::ops::Range<u16>| {
        for n in range {
            for (h, p) in unit(n) {
                let at = t0 + Duration::from_millis(33 * u64::from(n));
                alice.send_rtp(router, at, h, p).unwrap();
            }
        }
        bob.receive(&drain(router)).0
    };
    let all = send(&mut router, 0..4);
    assert_eq!(all.len(), 12);
    router.set_max_temporal_layer(t0, bob_id, TrackId(1), 0);
    let base = send(&mut router, 4..13);
    let units: Vec<u8> = base
        .iter()
        .map(|p| p.payload[p.payload.len() - 1])
        .collect();
    assert_eq!(
        units,
        [4, 4, 4, 8, 8, 8, 12, 12, 12],
        "base-layer units, each whole"
    );
    let seqs: Vec<u16> = all
        .iter()
        .chain(&base)
        .map(|p| p.header.sequence_number)
        .collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0].wrapping_add(1), "{seqs:?}");
    }
    let state = router.layer_states(t0, TrackId(1));
    assert_eq!(state[0].temporal_layers, 3);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// For any order of an AV1 temporal unit's packets (the unit's first packet, which alone
    /// says its layer, anywhere in it), any unit's last packet coming after the next unit's
    /// first, and any changes of the subscriber's temporal layer, each unit is forwarded
    /// whole or left out whole: a late packet goes by the layer in force for its unit.
    #[test]
    fn av1_units_are_kept_or_left_out_whole_in_any_order(
        units in proptest::collection::vec(
            (0usize..6, proptest::prelude::any::<bool>(), proptest::option::of(0u8..3)),
            2..40,
        ),
    ) {
        let t0 = Instant::now();
        let mut track = video_track(&[SSRC]);
        track.codec = Codec::Av1;
        let (mut router, mut alice, mut bob) = alice_to_bob(t0, track);
        let _ = drain(&mut router);
        const ORDERS: [[u16; 3]; 6] = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        // (unit, packet) in the order sent: each unit's packets permuted (unit 0, the
        // keyframe, in order), and a unit's last packet after the next unit's first when
        // asked.
        let mut order: Vec<(u16, u16)> = Vec::new();
        for (n, &(perm, _, _)) in units.iter().enumerate() {
            let perm = if n == 0 { 0 } else { perm };
            order.extend(ORDERS[perm].iter().map(|&i| (n as u16, i)));
        }
        for (n, &(_, late, _)) in units.iter().enumerate().take(units.len() - 1) {
            if late {
                let last = 3 * n + 2;
                order.swap(last, last + 1);
            }
        }
        for (n, i) in order {
            if i == 0 && let Some(target) = units[usize::from(n)].2 {
                let target = if target == 2 { u8::MAX } else { target };
                router.set_max_temporal_layer(t0, bob.id, TrackId(1), target);
            }
            let (h, p) = av1_packet(n, i);
            let at = t0 + Duration::from_millis(33 * u64::from(n));
            alice.send_rtp(&mut router, at, h, p).unwrap();
        }
        let (got, _) = bob.receive(&drain(&mut router));
        let mut count: std::collections::HashMap<u8, usize> = Default::default();
        for p in got.iter().filter(|p| !p.payload.is_empty()) {
            *count.entry(p.payload[p.payload.len() - 1]).or_default() += 1;
        }
        for (unit, c) in count {
            proptest::prop_assert_eq!(c, 3, "unit {} went out in part", unit);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// For any changes of the subscriber's temporal layer (asked before any frame), any
    /// frame's second packet coming up to three frames late and any frame's first packet
    /// coming after the next frame's first, each VP8 frame is forwarded whole or left out
    /// whole, the frames forwarded have consecutive picture IDs in the order of the
    /// publisher's (but for the number of a frame left out that began only after the next
    /// one), and the output sequence numbers (with the padding that fills numbers kept for
    /// packets left out) have no hole and no duplicate.
    #[test]
    fn vp8_frames_are_kept_or_left_out_whole_across_temporal_changes(
        frames in proptest::collection::vec(
            (0u16..4, proptest::option::of(0u8..3), proptest::prelude::any::<bool>()),
            2..40,
        ),
    ) {
        let mut room = Room::new();
        let last = frames.len() as u16;
        // (frame, packet) in the order sent, by a slot each: frame n's first packet in slot
        // 3n, or just after frame n + 1's first when late; its second packet after frame
        // n + delay's first (its own when 0).
        let mut order: Vec<(u16, (u16, u16))> = Vec::new();
        for (m, &(delay, _, first_late)) in frames.iter().enumerate() {
            let n = m as u16 + 1;
            let first = if first_late && n < last { 3 * (n + 1) + 1 } else { 3 * n };
            order.push((first, (n, 0)));
            order.push((3 * (n + delay.min(last - n)) + 2, (n, 1)));
        }
        order.sort_by_key(|&(slot, _)| slot);
        let order: Vec<(u16, u16)> = order.into_iter().map(|(_, packet)| packet).collect();
        let mut got = Vec::new();
        for (n, i) in order {
            if i == 0 {
                room.now += Duration::from_millis(33);
                if let (_, Some(target), _) = frames[usize::from(n - 1)] {
                    let target = if target == 2 { u8::MAX } else { target };
                    room.ask(target);
                }
            }
            got.extend(room.send_packet(n, i));
        }
        let mut sequences: Vec<u16> = got.iter().map(|p| p.header.sequence_number).collect();
        sequences.sort_unstable();
        for w in sequences.windows(2) {
            proptest::prop_assert_eq!(w[1], w[0] + 1, "{:?}", sequences);
        }
        let mut media: Vec<&Packet> = got.iter().filter(|p| !p.payload.is_empty()).collect();
        // By frame, its first packet (S set) first.
        media.sort_by_key(|p| (frame_of(p), p.payload[0] & 0x10 == 0));
        let id = |p: &Packet| u16::from_be_bytes([p.payload[2] & 0x7F, p.payload[3]]);
        for pair in media.chunk_by(|a, b| frame_of(a).0 == frame_of(b).0) {
            proptest::prop_assert_eq!(pair.len(), 2, "frame {:?} went out in part", frame_of(pair[0]));
            proptest::prop_assert_eq!(id(pair[0]), id(pair[1]));
            proptest::prop_assert_eq!(pair[1].header.sequence_number, pair[0].header.sequence_number + 1);
        }
        // Consecutive picture IDs, except where a frame left out between two forwarded ones
        // began only after the second: its number had gone by then.
        for w in media.chunks(2).collect::<Vec<_>>().windows(2) {
            let (a, b) = (frame_of(w[0][0]).0, frame_of(w[1][0]).0);
            let step = id(w[1][0]).wrapping_sub(id(w[0][0]));
            let late_between = (a + 1..b).any(|n| frames[usize::from(n - 1)].2);
            proptest::prop_assert!(
                step == 1 || (late_between && (1..=b - a).contains(&step)),
                "frames {} and {}: picture IDs step by {}", a, b, step
            );
        }
    }
}
