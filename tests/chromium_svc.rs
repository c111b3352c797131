//! VP9 spatial scalability in one stream (SVC) with a real encoder: headless Chromium
//! publishes its 1280×720 canvas animation as one VP9 encoding in `L3T3_KEY` (three spatial
//! layers, 320, 640 and 1280 wide, and three temporal layers, in one SSRC, at 15 frames per
//! second; `tests/peers/chromium_room.js` with `SVC`), and a second peer connection in the
//! same page subscribes through the router. The subscriber is held to the lowest spatial
//! layer, then let up to all three, then held to two, and its decoded width follows each
//! time: 320, 1280, 640. In this `KEY` mode only key pictures predict one spatial layer from
//! another, so the router sends a key picture up to the subscriber's layer and then each
//! inter picture as the subscriber's own layer frame alone (`router/svc.rs`); a change of
//! layer, down or up, waits for a keyframe, which the router asks the publisher for.
//!
//! What the router sent is read back before encryption (`webrtc/observed.rs`): no layer
//! frame above the subscriber's spatial layer went out once a picture had started without
//! it; no inter picture went out with a layer frame below its highest (but the first, before
//! the router has seen the mode); the RTP marker is never inside a picture (the router sets
//! it on the end of the highest layer frame the subscriber gets; a picture whose encoder
//! dropped that layer ends unmarked, as the router cannot know the layer is not coming);
//! every sequence number from the first to the last was sent.
//!
//! Then the router's layer demand (`RouterEvent::LayerDemand`) says that nobody wants
//! spatial layer 2; the page sets the publisher's scalability mode to `L2T3_KEY` (`L2T3` in
//! full SVC) at half the resolution, as an application would, and the subscriber goes on
//! decoding at 640 wide.
//!
//! A second test does the same with Chromium sending full SVC (`L3T3`), where every layer
//! frame is predicted from the one below it: the subscriber gets the layer frames up to its
//! own in every picture, and moves down at the next picture.
//!
//! Every 40th video packet to the subscriber is lost on the way; Chromium NACKs it and the
//! router resends it over RTX. Chromium's statistics must show no PLI or FIR from the
//! subscriber, unless one of two things happened that make Chromium's receiver wait for a
//! keyframe, with or without a router between the two peers. Its frame buffer decodes a
//! picture once the frame marked as the picture's end is complete and the picture's frames
//! have what they refer to, so:
//! - a picture that later pictures refer to arrived without the marker at its end. Chromium's
//!   own stream has such pictures under load: its encoder drops the upper layer frames after
//!   sending the lower ones unmarked. The picture is never decoded, nor are those after it.
//! - a lost packet of a lower layer frame was resent after its picture's marked end arrived.
//!   The picture is decoded without that layer frame, the frame is dropped when it
//!   completes, and the next frames of its layer have nothing to refer to. (Before the router
//!   sent inter pictures as one layer frame, this stalled in about one run in five.)
//!
//! Either way Chromium logs "No decodable frame in 3000 ms requesting keyframe", with the
//! last picture it decoded the one before (seen with
//! `CHROMIUM_EXTRA_ARGS="--enable-logging=stderr --vmodule=*/third_party/webrtc/*=1"
//! DEBUG=pw:browser`, `tests/peers/common.js`). The test finds both in what the router sent.
//!
//! Needs what `tests/chromium_sfu.rs` needs; skipped with a note when missing, unless
//! `QUIETROOM_REQUIRE_PEERS=1`.
#![cfg(all(feature = "router", feature = "turn"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs
)]

mod webrtc;

use std::time::{Duration, Instant};

use webrtc::{Page, SentVideo, Sfu, VIDEO};

/// Every this-many-th video packet to the subscriber is lost on the way, for Chromium to NACK
/// and the router to resend over RTX.
const LOSE_EVERY: u64 = 40;

/// And every this many of the publisher's packets are lost on its way to the router: Chromium
/// resends them when the router asks, late (after later pictures began), which is where the
/// router must forward a layer frame by the layers in force for its own picture.
const LOSE_UPLINK_EVERY: u64 = 50;

#[test]
fn vp9_svc_spatial_layers_follow_the_subscriber() {
    svc_follows_the_subscriber("L3T3_KEY");
}

/// The same in full SVC (`L3T3`): every layer frame is predicted from the one below it in its
/// picture, so a subscriber gets the layer frames up to its own in every picture, and moves
/// down at the next picture without a keyframe.
#[test]
fn vp9_full_svc_spatial_layers_follow_the_subscriber() {
    svc_follows_the_subscriber("L3T3");
}

/// Runs the test with Chromium sending scalability mode `mode`.
fn svc_follows_the_subscriber(mode: &str) {
    let key_only = mode.ends_with("_KEY");
    let _turn = webrtc::one_chromium_at_a_time();
    let Some(mut peer) = webrtc::chromium("chromium_room.js", &[("CODEC", "VP9"), ("SVC", mode)])
    else {
        return;
    };
    let (mut publisher, subscriber) = peer.offers(Duration::from_secs(60));
    assert!(publisher.rids.is_empty(), "one encoding, no simulcast");
    assert_eq!(
        (publisher.codec.as_str(), subscriber.codec.as_str()),
        ("VP9", "VP9")
    );
    publisher.svc = true;
    let (mut sfu, answers) = Sfu::answering(&[(&publisher, true), (&subscriber, false)]);
    sfu.lose_every = Some(LOSE_EVERY);
    sfu.lose_uplink_every = Some(LOSE_UPLINK_EVERY);
    peer.answer(&answers[0], &answers[1]);

    let s = sfu.legs[1].id;
    let mut page = Page::default();
    // (max spatial layer asked for, width it decodes at): after the start (phase 0), all
    // three with a high estimate, then 0, 2 and 1.
    let steps = [(2u8, 1280u64), (0, 320), (2, 1280), (1, 640)];
    let mut phase = 0;
    let mut phase_start = Instant::now();
    let mut decoded_at_phase = 0;
    // Where each step began in the log of what was sent, with its spatial layer.
    let mut marks: Vec<(usize, u8)> = Vec::new();
    // The scalability mode with one spatial layer fewer, for the layer demand at the end.
    let fewer = mode.replacen("L3", "L2", 1);
    let mut asked_fewer = false;
    loop {
        assert!(
            phase_start.elapsed() < Duration::from_secs(60),
            "phase {phase} did not finish: {page:?}, dropped {:?}, router {:?}, subscription \
             {:?}, layers {:?}, connected {:?}",
            sfu.dropped,
            sfu.router.stats(),
            sfu.router.subscription_state(s, VIDEO),
            sfu.router.layer_states(Instant::now(), VIDEO),
            sfu.legs
                .iter()
                .map(|l| (l.connected, l.addr))
                .collect::<Vec<_>>(),
        );
        sfu.step();
        while sfu.router.poll_event().is_some() {}
        sfu.wire(&publisher, &subscriber);
        page.update(&peer);
        let now = Instant::now();
        if phase == 0 {
            if page.decoded >= 30 {
                eprintln!("SVC {mode}: video flows at {}px wide: {page:?}", page.width);
                sfu.router.set_bandwidth_estimate(now, s, 20_000_000);
                (phase, phase_start, decoded_at_phase) = (1, now, page.decoded);
                marks.push((sfu.sent.lock().unwrap().len(), 2));
            }
            continue;
        }
        if phase > steps.len() {
            // Layer demand: with the subscriber held to spatial layer 1, the router announces
            // that nobody wants layer 2, the publisher sends one fewer (libwebrtc scales its
            // spatial layers down from the encoding's resolution: two at half of it are the
            // lower two of before), and the subscriber goes on at 640 wide.
            if !asked_fewer && sfu.router.layer_demand(VIDEO) == Some(Some(1)) {
                peer.set_scalability_mode(&fewer, 2.0);
                (asked_fewer, decoded_at_phase) = (true, page.decoded);
            }
            if asked_fewer
                && page.mode.starts_with(&fewer)
                && page.width == 640
                && page.decoded >= decoded_at_phase + 30
            {
                eprintln!(
                    "SVC: {fewer} on the layer demand, after {:?}: {page:?}",
                    now - phase_start
                );
                break;
            }
            continue;
        }
        let (_, width) = steps[phase - 1];
        if page.width == width && page.decoded >= decoded_at_phase + 30 {
            eprintln!(
                "SVC: at {width}px wide after {:?}: {page:?}",
                now - phase_start
            );
            if phase == steps.len() {
                (phase, phase_start) = (phase + 1, now);
                continue;
            }
            let (max_spatial, _) = steps[phase];
            sfu.router
                .set_preferences(now, s, VIDEO, max_spatial, false);
            (phase, phase_start, decoded_at_phase) = (phase + 1, now, page.decoded);
            marks.push((sfu.sent.lock().unwrap().len(), max_spatial));
        }
    }
    drop(peer.stdin);
    let _ = peer.child.wait();
    let stats = sfu.router.stats();
    let layers = sfu.router.layer_states(Instant::now(), VIDEO);
    eprintln!("SVC: router {stats:?}, layers {layers:?}");
    assert!(sfu.dropped.is_empty(), "{:?}", sfu.dropped);
    assert_eq!(layers[0].spatial_layers, 3, "{layers:?}");
    let checked = check_pictures(&sfu, &marks);
    eprintln!("SVC: {checked:?}");
    eprintln!(
        "SVC: {} media packets came after a newer picture's (uplink losses resent) and went by \
         their own pictures' layers; the uplink lost {}",
        checked.late_media,
        sfu.uplink_dropped.len()
    );
    assert!(
        checked.pictures > 100 && checked.left_out > 0,
        "{checked:?}"
    );
    if key_only {
        assert!(checked.lower_in_inter <= 1, "{checked:?}");
    } else {
        assert!(checked.lower_in_inter > 50, "{checked:?}");
    }
    // Losses were repaired over RTX, and a keyframe was only asked for after a stall that
    // what the router sent explains (the module's documentation).
    eprintln!(
        "SVC: lost on the way {} of {} video packets; Chromium NACKed {}, received {} again",
        sfu.media_lost, sfu.media_sent, page.nacks, page.retransmitted
    );
    assert!(sfu.media_lost > 0 && page.nacks > 0, "{page:?}");
    assert!(
        stats.retransmitted > 0,
        "NACKs answered over RTX: {stats:?}"
    );
    assert_eq!(page.firs, 0, "{page:?}");
    for &(last, decoded) in &page.stalls {
        assert!(
            checked.explains(last, decoded),
            "Chromium stalled after the picture at {decoded} (the last it had: {last}), and \
             neither a reference picture after it came unmarked nor a lower layer frame of it \
             was repaired after its end: {checked:?}"
        );
    }
    assert!(
        page.plis <= page.stalls.len() as u64,
        "a PLI not from a stall Chromium logged: {page:?}"
    );
    if page.plis > 0 {
        eprintln!("SVC: {} PLI, each from a stall explained above", page.plis);
    }
}

/// What [`check_pictures`] found.
#[derive(Debug, Default)]
struct Pictures {
    /// Pictures the subscriber got.
    pictures: usize,
    /// Pictures that end with the marker.
    marked: usize,
    /// The timestamps of the pictures the subscriber got without the marker at their end
    /// that later pictures refer to (below the top temporal layer).
    unmarked_references: Vec<u32>,
    /// The timestamps of the pictures with a layer frame that later pictures refer to, below
    /// the picture's marked end, whose lost packet was resent after that end went out.
    late_lower_layers: Vec<u32>,
    /// Pictures whose upper layer frames the router left out (the marker set on a lower one).
    left_out: usize,
    /// Inter pictures sent with a layer frame below their highest one (`L3T3_KEY` needs
    /// none: only the first inter picture, before the router knows the mode, has one).
    lower_in_inter: usize,
    /// Media packets (not resends) sent after a newer picture's: what the uplink lost, resent
    /// to the router late, which went by the layers of its own picture.
    late_media: usize,
}

impl Pictures {
    /// Whether what the router sent explains Chromium's receiver stalling after it decoded
    /// the picture at `decoded`, with the picture at `last` the last it had: a reference
    /// picture after `decoded` came without the marker at its end (Chromium's frame buffer
    /// decodes a picture once a frame marked as its end is complete, and the pictures after
    /// it refer to it), or a lower layer frame of the picture at `decoded` was repaired after
    /// the picture's end (Chromium decoded the picture without it and dropped it when it
    /// completed, so the next frames of its layer have nothing to refer to).
    fn explains(&self, last: u32, decoded: u32) -> bool {
        let after = |ts: u32| {
            let (from, to) = (ts.wrapping_sub(decoded), last.wrapping_sub(decoded));
            from > 0 && from <= to && to < 0x8000_0000
        };
        self.late_lower_layers.contains(&decoded)
            || self.unmarked_references.iter().any(|&ts| after(ts))
    }
}

/// Checks the media the router sent the subscriber, in sequence-number order (resends
/// counted once): every number from the first to the last was sent (but those kept for what
/// the uplink lost and the publisher had not resent yet); no picture (one
/// timestamp) has the marker before its end, and one without it at its end is a picture
/// the publisher did not mark either, or one the publisher sent without the layer above the
/// subscriber's last (so the router could not tell it was the end); and from the first
/// picture that starts after a
/// step to a lower spatial layer (`marks`: the log's length when each step was asked for, and
/// its highest spatial layer), no layer frame above it (but for a late one of a picture begun
/// before, which goes by its picture).
fn check_pictures(sfu: &Sfu, marks: &[(usize, u8)]) -> Pictures {
    let sent = sfu.sent.lock().unwrap().clone();
    // The highest spatial layer allowed for each packet sent as media, by its place in the
    // log (and where that began): from the first picture that started after the step.
    let mut allowed = vec![(u8::MAX, 0); sent.len()];
    // The highest spatial layer sent of each picture.
    let mut top: std::collections::HashMap<u32, u8> = Default::default();
    for p in sent.iter().filter(|p| !p.rtx) {
        let e = top.entry(p.timestamp).or_default();
        *e = (*e).max(p.spatial_id.unwrap_or(0));
    }
    for &(at, max) in marks {
        // The first picture begun after the step (not a late packet of an earlier one) and
        // sent within it: where the router made the step. (In a `KEY` mode that waits for a
        // keyframe, and a keyframe whose first packet came late, lost upstream, goes out
        // whole in the layers it began in: the step waits for the next one.)
        let newest = webrtc::newest(
            sent[..at.min(sent.len())]
                .iter()
                .filter(|p| !p.rtx)
                .map(|p| p.timestamp),
        );
        let Some(start) = (at..sent.len()).find(|&i| {
            !sent[i].rtx
                && sent[i].spatial_id == Some(0)
                && starts(&sent[i])
                && newest.is_none_or(|n| webrtc::after(sent[i].timestamp, n))
                && top.get(&sent[i].timestamp).is_some_and(|&t| t <= max)
        }) else {
            continue;
        };
        for a in &mut allowed[start..] {
            *a = (max, start);
        }
    }
    for (i, p) in sent.iter().enumerate().filter(|(_, p)| !p.rtx) {
        let (max, from) = allowed[i];
        // A late packet of a picture begun before the step goes by the layers of its picture.
        let begun_before = webrtc::after(sent[from].timestamp, p.timestamp);
        if let Some(sid) = p.spatial_id.filter(|_| !begun_before) {
            assert!(
                sid <= max,
                "spatial layer {sid} sent (log {i}) where {max} was the highest from log \
                 {from} on: {p:?}; marks {marks:?}"
            );
        }
    }
    let mut in_order = webrtc::in_sequence_order(sent.iter());
    in_order.dedup_by_key(|(ext, _)| *ext);
    // Every number sent, but one kept for each packet the uplink lost and the publisher had
    // not resent when the test ended.
    let unrepaired = sfu.uplink_unrepaired();
    let mut holes = 0;
    for w in in_order.windows(2) {
        let ((a, p), (b, _)) = (w[0], w[1]);
        holes += usize::try_from(b - a - 1).unwrap_or(usize::MAX);
        assert!(
            holes <= unrepaired.len(),
            "sequence number {} never sent: after {p:?}; the uplink never resent {unrepaired:?}\n{}",
            a + 1,
            webrtc::around(&sfu.inputs_resolved(), &in_order, p, p)
        );
    }
    let (mut newest, mut found_late): (Option<u32>, usize) = (None, 0);
    for p in sent.iter().filter(|p| !p.rtx && !p.payload.0.is_empty()) {
        match newest {
            Some(n) if webrtc::after(n, p.timestamp) => found_late += 1,
            _ => newest = Some(p.timestamp),
        }
    }
    // The media, padding aside.
    let media: Vec<&SentVideo> = in_order
        .iter()
        .map(|(_, p)| *p)
        .filter(|p| !p.payload.0.is_empty())
        .collect();
    // The publisher's pictures, by its timestamp: whether it marked one, and its layers.
    let inputs = sfu.inputs.lock().unwrap().clone();
    let mut published: std::collections::HashMap<u32, (bool, u8)> = Default::default();
    for i in inputs.iter().filter(|i| !i.rtx) {
        let e = published.entry(i.timestamp).or_default();
        e.0 |= i.marker;
        e.1 |= i.spatial_id.map_or(0, |sid| 1 << sid);
    }
    let mut found = Pictures {
        late_media: found_late,
        ..Pictures::default()
    };
    // Per inter picture (P set), the spatial layers sent.
    let mut inter: Vec<(u32, Vec<u8>)> = Vec::new();
    for p in media
        .iter()
        .filter(|p| p.payload.0.first().is_some_and(|b| b & 0x40 != 0))
    {
        let sid = p.spatial_id.unwrap_or(0);
        match inter.last_mut() {
            Some((ts, sids)) if *ts == p.timestamp => sids.push(sid),
            _ => inter.push((p.timestamp, vec![sid])),
        }
    }
    found.lower_in_inter = inter
        .iter()
        .filter(|(_, sids)| sids.iter().any(|s| Some(s) < sids.iter().max()))
        .count();
    let top_temporal = media.iter().filter_map(|p| p.temporal_id).max();
    let reference = |p: &SentVideo| {
        p.temporal_id
            .is_none_or(|t| top_temporal.is_some_and(|top| t < top))
    };
    // In the order sent: the spatial layer that ended each picture (by timestamp), once its
    // marked packet went out (and was not lost), and the lower layer frames sent after it:
    // resends, and late packets (what the uplink lost, resent to the router).
    let mut ended: std::collections::HashMap<u32, u8> = Default::default();
    for p in &sent {
        let sid = p.spatial_id.unwrap_or(0);
        if ended.get(&p.timestamp).is_some_and(|&end| sid < end) && reference(p) {
            found.late_lower_layers.push(p.timestamp);
        }
        if !p.rtx && p.marker && !sfu.lost_sequences.contains(&p.sequence) {
            ended.insert(p.timestamp, sid);
        }
    }
    for w in media.windows(2) {
        let (p, q) = (w[0], w[1]);
        let ends = p.timestamp != q.timestamp;
        assert!(
            ends || !p.marker,
            "a marker inside a picture: {p:?} then {q:?}"
        );
        if ends {
            found.pictures += 1;
            found.marked += usize::from(p.marker);
            if !p.marker {
                let source = p.input.and_then(|i| inputs.get(i)).map(|i| i.timestamp);
                let (marked, layers) = source
                    .and_then(|ts| published.get(&ts))
                    .copied()
                    .unwrap_or_default();
                let above = p.spatial_id.map_or(0, |sid| sid + 1);
                assert!(
                    !marked || layers & (1 << above) == 0,
                    "a picture left unmarked though the publisher marked it and sent layer \
                     {above}: {p:?}"
                );
                if reference(p) {
                    found.unmarked_references.push(p.timestamp);
                }
            }
            if p.marker && p.spatial_id.is_some_and(|sid| sid < 2) {
                found.left_out += 1;
            }
        }
    }
    found
}

/// Whether a packet starts a layer frame (VP9's B bit: the first payload byte's 0x08).
fn starts(p: &SentVideo) -> bool {
    p.payload.0.first().is_some_and(|b| b & 0x08 != 0)
}
