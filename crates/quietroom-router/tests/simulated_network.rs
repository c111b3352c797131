//! The router in a simulated network, the way quinn-proto and str0m test themselves: real SRTP
//! sessions on both ends, packets built and parsed with webrtc-rs's `rtc-rtp`/`rtc-rtcp`,
//! per-link impairments (loss, reordering, jitter, a bandwidth cap with a bounded drop-tail
//! queue), a seeded PRNG and simulated time. Nothing sleeps: the loop jumps from one due
//! moment (a delivery, a router timer, a frame, a client timer) to the next.
//!
//! One publisher sends simulcast VP8 (three layers, 30 fps, keyframes every 2 s per layer and on
//! PLI) and Opus with the audio-level extension. Each subscriber's client decrypts what it gets,
//! tracks sequence numbers on its video SSRC and its RTX SSRC, NACKs gaps (after a short delay,
//! a bounded number of times), sends a PLI for a gap it could not fill within 300 ms, and sends
//! REMB with its downlink cap, or, in the transport-wide CC room, transport-wide CC feedback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

mod sim;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use quietroom_router::{ParticipantId, RouterEvent, TrackId};

use sim::*;

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn xorshift_is_deterministic_and_roughly_uniform() {
    let mut a = Rng::new(7);
    let mut b = Rng::new(7);
    let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
    let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
    assert_eq!(xs, ys);
    let hits = (0..100_000).filter(|_| a.chance(0.05)).count();
    assert!((4_500..5_500).contains(&hits), "{hits}");
}

#[test]
fn bandwidth_cap_queues_and_drops_tail() {
    let t0 = Instant::now();
    let mut link = Link::new(
        LinkConfig {
            bandwidth_bps: Some(800_000),
            queue_bytes: 10_000,
            ..Default::default()
        },
        1,
    );
    // 1000-byte packets take 10 ms each at 800 kbps; the queue holds 10 of them.
    let arrivals: Vec<Option<Instant>> = (0..15).map(|_| link.admit(t0, 1000)).collect();
    assert_eq!(arrivals.iter().filter(|a| a.is_some()).count(), 10);
    assert_eq!(link.stats.queue_dropped, 5);
    assert_eq!(arrivals[0], Some(t0 + Duration::from_millis(30)));
    assert_eq!(arrivals[9], Some(t0 + Duration::from_millis(120)));
    // Once drained it takes packets again.
    assert!(link.admit(t0 + Duration::from_millis(100), 1000).is_some());
}

#[test]
fn lossy_links_recover_with_nack_rtx() {
    let started = std::time::Instant::now();
    let mut sim = Sim::new(0x5EED_0001, 3);
    let lossy = sim.subs[0].id;
    let clean = sim.subs[1].id;
    let layer0 = sim.subs[2].id;
    sim.net.configure(
        lossy,
        Dir::Down,
        LinkConfig {
            latency: Duration::from_millis(25),
            jitter: Duration::from_millis(5),
            loss: 0.05,
            reorder: 0.03,
            reorder_delay: Duration::from_millis(30),
            ..Default::default()
        },
    );
    sim.report_cap(lossy, 5_000_000);
    sim.report_cap(clean, 1_000_000);
    // Media for 12 s, then 2 s for the last recoveries.
    sim.publisher.active_until = Some(sim.at(12.0));
    sim.run_until(sim.at(14.0));

    sim.check_clean();
    let link = sim.net.stats(lossy, Dir::Down);
    assert!(
        link.lost > 50 && link.reordered > 20,
        "the link was impaired: {link:?}"
    );

    let s = sim.sub(lossy);
    assert_eq!(sim.layer_switches(lossy).last().map(|(_, l)| *l), Some(2));
    // No output sequence number is used twice by the router on the media SSRC.
    let mut forwarded = s.forwarded_video.clone();
    let n = forwarded.len();
    forwarded.sort_unstable();
    forwarded.dedup();
    assert_eq!(
        forwarded.len(),
        n,
        "the router reused an output sequence number"
    );
    let have: HashSet<u16> = s.video.packets.keys().map(|s| *s as u16).collect();
    let recovered = forwarded.iter().filter(|s| have.contains(s)).count();
    let ratio = recovered as f64 / n as f64;
    let stats = sim.router.stats();
    println!(
        "lossy: forwarded {n}, have {recovered} ({:.3}%), lost on link {}, rtx {} (router retransmitted {}), nacks {}, plis {}, unrecovered gaps {}, real time {:?}",
        ratio * 100.0,
        link.lost,
        s.video.rtx_packets,
        stats.retransmitted,
        s.nacks_sent,
        s.plis_sent,
        s.video.unrecovered,
        started.elapsed()
    );
    assert!(n > 1500, "layer 2 flowed: {n}");
    assert!(ratio >= 0.99, "recovered {recovered} of {n}");
    assert!(s.video.rtx_packets > 0 && stats.retransmitted > 0);
    // Everything the client has came from the router.
    assert!(have.iter().all(|seq| forwarded.binary_search(seq).is_ok()));

    // The clean subscribers needed nothing resent.
    for id in [clean, layer0] {
        let c = sim.sub(id);
        assert_eq!(c.nacks_sent, 0);
        assert_eq!(c.video.packets.len(), c.forwarded_video.len());
        assert_eq!(c.audio_seqs.len() as u64, c.forwarded_audio);
    }
    assert_eq!(sim.layer_switches(clean).last().map(|(_, l)| *l), Some(1));
    assert_eq!(sim.layer_switches(layer0).last().map(|(_, l)| *l), Some(0));
}

#[test]
fn many_subscribers_fan_out() {
    let started = std::time::Instant::now();
    let mut sim = Sim::new(0x5EED_0003, 20);
    // A third stay on layer 0 (no REMB), a third can afford layer 1, a third layer 2.
    let caps = [None, Some(800_000), Some(5_000_000)];
    for i in 0..sim.subs.len() {
        if let Some(bps) = caps[i % 3] {
            let t0 = sim.t0;
            sim.subs[i].set_cap(t0, bps);
        }
    }
    sim.publisher.active_until = Some(sim.at(10.0));
    sim.run_until(sim.at(11.0));

    assert!(
        sim.router_errors.is_empty(),
        "{:?}",
        &sim.router_errors[..sim.router_errors.len().min(5)]
    );
    let mut ssrcs = HashSet::new();
    for (i, s) in sim.subs.iter().enumerate() {
        s.check_stream_invariants();
        assert!(ssrcs.insert(s.video_ssrc) && ssrcs.insert(s.audio_ssrc));
        assert_eq!((s.nacks_sent, s.plis_sent, s.video.rtx_packets), (0, 0, 0));
        let layer = i % 3;
        assert_eq!(
            sim.layer_switches(s.id)
                .last()
                .map(|(_, l)| usize::from(*l)),
            Some(layer)
        );
        let packets = s.video_in_order();
        // Continuous sequence numbers: nothing lost, nothing skipped.
        assert_eq!(packets.len(), s.forwarded_video.len());
        for w in packets.windows(2) {
            assert_eq!(w[1].0, w[0].0 + 1, "{:?}: gap", s.id);
        }
        // From the keyframe it switched on, every packet the publisher sent on its layer.
        let start = packets
            .iter()
            .rposition(|(_, p)| usize::from(p.vp8.layer) != layer)
            .map_or(0, |i| i + 1);
        let got: Vec<(u64, u8)> = packets[start..]
            .iter()
            .map(|(_, p)| (p.vp8.frame, p.vp8.index))
            .collect();
        let sent = &sim.publisher.sent[layer];
        let from = sent
            .iter()
            .position(|(f, idx, _)| (*f, *idx) == got[0])
            .unwrap();
        assert!(sent[from].2, "the switch was on a keyframe");
        let expected: Vec<(u64, u8)> = sent[from..].iter().map(|(f, idx, _)| (*f, *idx)).collect();
        assert_eq!(got, expected, "{:?} on layer {layer}", s.id);
        // Audio: every packet since subscribing, in order.
        assert_eq!(s.audio_seqs.len() as u64, sim.publisher.audio_packets);
        for w in s.audio_seqs.windows(2) {
            assert_eq!(w[1], w[0].wrapping_add(1));
        }
    }
    assert_eq!(sim.router.stats().retransmitted, 0);
    // Receiver reports reached the publisher, translated sender reports every subscriber.
    assert!(sim.publisher.receiver_reports >= 9 * 3);
    assert!(sim.subs.iter().all(|s| s.sender_reports >= 9 * 2));
    println!(
        "fan-out: {:?}, forwarded {}, real time {:?}",
        sim.router.stats(),
        sim.router.stats().forwarded,
        started.elapsed()
    );
}

#[test]
fn publisher_leaving_ends_tracks() {
    let mut sim = Sim::new(0x5EED_0004, 4);
    for i in 0..sim.subs.len() {
        let t0 = sim.t0;
        sim.subs[i].set_cap(t0, 5_000_000);
    }
    sim.net.configure(
        sim.subs[3].id,
        Dir::Down,
        LinkConfig {
            loss: 0.03,
            ..Default::default()
        },
    );
    sim.run_until(sim.at(5.0));
    for s in &sim.subs {
        assert!(
            s.video.packets.len() > 300 && s.audio_seqs.len() > 200,
            "media flowed to {:?}",
            s.id
        );
    }
    assert_eq!(sim.router.track_count(), 2);

    // The publisher leaves while its packets are still in flight.
    let left_at = sim.now;
    let (log_mark, error_mark) = (sim.log.len(), sim.router_errors.len());
    assert_eq!(error_mark, 0, "{:?}", sim.router_errors);
    sim.router.remove_participant(sim.publisher.id);
    sim.publisher_left = true;
    sim.drain_router();
    sim.run_until(sim.at(8.0));

    assert_eq!(sim.router.track_count(), 0);
    assert_eq!(sim.router.participant_count(), sim.subs.len());
    let ids: HashSet<ParticipantId> = sim.subs.iter().map(|s| s.id).collect();
    let ended: HashMap<TrackId, HashSet<ParticipantId>> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            RouterEvent::TrackEnded { track, subscribers } => {
                Some((*track, subscribers.iter().copied().collect()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), 2);
    assert_eq!(ended[&VIDEO_TRACK], ids);
    assert_eq!(ended[&AUDIO_TRACK], ids);
    assert!(sim.subs.iter().all(|s| s.ended));
    // No more transmits at all: nothing for the tracks, nothing for the publisher.
    let after: Vec<&TransmitLog> = sim.log[log_mark..].iter().collect();
    assert!(
        after.is_empty(),
        "transmits after the publisher left: {:?}",
        after
            .iter()
            .map(|t| (sim.secs(t.at), t.to, t.rtcp, t.ssrc))
            .take(10)
            .collect::<Vec<_>>()
    );
    // Its in-flight packets were refused, and nothing else was.
    assert!(!sim.router_errors.is_empty());
    assert!(
        sim.router_errors
            .iter()
            .all(|(_, e)| e.contains("unknown") || e.contains("Unknown")),
        "{:?}",
        sim.router_errors
    );
    let received_late = sim
        .subs
        .iter()
        .flat_map(|s| s.video.packets.values())
        .filter(|p| p.arrival > left_at + Duration::from_millis(100))
        .count();
    assert_eq!(received_late, 0);
    for s in &sim.subs {
        s.check_stream_invariants();
    }
    // The router keeps running with nobody publishing.
    sim.router.handle_timeout(sim.now + Duration::from_secs(5));
    assert!(sim.router.poll_transmit().is_none());
}

#[test]
fn publisher_uplink_loss_is_repaired_with_keyframes() {
    // Without RTX from the publisher the router does not NACK upstream (a retransmission on
    // the media SSRC would repeat an SRTP index): what the publisher's uplink loses reaches
    // the subscribers as a gap they cannot fill, and a PLI brings a keyframe.
    let mut sim = Sim::new(0x5EED_0005, 3);
    sim.net.configure(
        sim.publisher.id,
        Dir::Up,
        LinkConfig {
            loss: 0.01,
            jitter: Duration::from_millis(3),
            ..Default::default()
        },
    );
    let ids: Vec<ParticipantId> = sim.subs.iter().map(|s| s.id).collect();
    sim.report_cap(ids[1], 1_000_000);
    sim.report_cap(ids[2], 5_000_000);
    sim.publisher.active_until = Some(sim.at(10.0));
    sim.run_until(sim.at(11.0));

    assert!(sim.router_errors.is_empty(), "{:?}", sim.router_errors);
    assert!(sim.net.stats(sim.publisher.id, Dir::Up).lost > 20);
    for (i, s) in sim.subs.iter().enumerate() {
        s.check_stream_invariants();
        assert_eq!(
            sim.layer_switches(s.id)
                .last()
                .map(|(_, l)| usize::from(*l)),
            Some(i)
        );
        // The downlink is clean: everything forwarded arrived, and the gaps were the
        // publisher's, so nothing could be resent.
        assert_eq!(s.video.packets.len(), s.forwarded_video.len());
        assert_eq!(s.video.rtx_packets, 0);
        assert!(
            s.plis_sent > 0 && s.video.unrecovered > 0,
            "{:?} saw gaps",
            s.id
        );
        // The stream kept going to the end.
        let last = s.video.packets.values().last().unwrap();
        assert!(
            last.vp8.frame >= 295,
            "{:?} stalled at {:?}",
            s.id,
            last.vp8
        );
    }
    assert!(sim.router.stats().keyframe_requests > 3);
}

#[test]
fn publisher_uplink_loss_is_repaired_with_nack_rtx() {
    // With RTX negotiated for the publisher's layers, the router NACKs what the uplink loses;
    // the retransmissions reach each subscriber under the numbers reserved for them, before
    // the subscribers give up on the gap.
    let mut sim = Sim::with_publisher_rtx(0x5EED_0008, 3);
    run_lossy_uplink(&mut sim);

    assert!(sim.router_errors.is_empty(), "{:?}", sim.router_errors);
    let uplink = sim.net.stats(sim.publisher.id, Dir::Up);
    let stats = sim.router.stats();
    println!(
        "uplink lost {}, router NACKs {}, publisher NACKed {} and resent {}",
        uplink.lost, stats.publisher_nacks, sim.publisher.nacked, sim.publisher.rtx_sent
    );
    assert!(uplink.lost > 40, "the uplink was impaired: {uplink:?}");
    assert!(stats.publisher_nacks > 20 && sim.publisher.rtx_sent > 40);
    assert_uplink_repaired(&sim);
    for s in &sim.subs {
        assert_eq!(s.video.packets.len(), s.forwarded_video.len());
    }
}

/// Runs 10 s of media over a publisher uplink with 2% loss, with subscriber `i` capped for
/// layer `i` (the first uncapped, so on the lowest layer; the others by REMB).
fn run_lossy_uplink(sim: &mut Sim) {
    sim.net.configure(
        sim.publisher.id,
        Dir::Up,
        LinkConfig {
            latency: Duration::from_millis(20),
            loss: 0.02,
            jitter: Duration::from_millis(3),
            ..Default::default()
        },
    );
    let ids: Vec<ParticipantId> = sim.subs.iter().map(|s| s.id).collect();
    sim.report_cap(ids[1], 1_000_000);
    sim.report_cap(ids[2], 5_000_000);
    sim.publisher.active_until = Some(sim.at(10.0));
    sim.run_until(sim.at(11.0));
}

/// After [`run_lossy_uplink`]: subscriber `i` ended on layer `i`, and every gap the uplink
/// made was filled (nothing given up, no keyframe needed) up to the end.
fn assert_uplink_repaired(sim: &Sim) {
    for (i, s) in sim.subs.iter().enumerate() {
        s.check_stream_invariants();
        assert_eq!(
            sim.layer_switches(s.id)
                .last()
                .map(|(_, l)| usize::from(*l)),
            Some(i)
        );
        assert_eq!(s.video.unrecovered, 0, "{:?} gave up on a gap", s.id);
        assert_eq!(s.plis_sent, 0);
        let last = s.video.packets.values().last().unwrap();
        assert!(
            last.vp8.frame >= 295,
            "{:?} stalled at {:?}",
            s.id,
            last.vp8
        );
    }
}

#[test]
fn layer_switches_under_uplink_loss_leave_no_holes() {
    // Chromium's H.264 simulcast test found it: a packet of the layer a subscriber was on,
    // lost upstream just before a switch and resent just after, left a hole in the
    // subscriber's numbers that nothing filled. Here the publisher's uplink loses 3% while
    // the subscriber's reported cap moves it between the three layers every 600 ms; every
    // gap must still be filled (by the resend, or by padding), with no keyframe asked for.
    for seed in 0..3 {
        let mut sim = Sim::with_publisher_rtx(0x5EED_0200 + seed, 1);
        sim.net.configure(
            sim.publisher.id,
            Dir::Up,
            LinkConfig {
                latency: Duration::from_millis(20),
                loss: 0.03,
                jitter: Duration::from_millis(3),
                ..Default::default()
            },
        );
        let id = sim.subs[0].id;
        sim.publisher.active_until = Some(sim.at(10.0));
        let caps = [5_000_000, 400_000, 1_000_000, 5_000_000, 1_000_000, 400_000];
        for (i, cap) in caps.iter().cycle().take(16).enumerate() {
            sim.report_cap(id, *cap);
            sim.run_until(sim.at(0.6 * (i + 1) as f64));
        }
        sim.run_until(sim.at(11.0));
        sim.check_clean();
        let switches = sim.switch_times(id);
        let uplink = sim.net.stats(sim.publisher.id, Dir::Up);
        let s = sim.sub(id);
        println!(
            "seed {seed}: {} switches, uplink lost {}, router {:?}",
            switches.len(),
            uplink.lost,
            sim.router.stats()
        );
        assert!(switches.len() >= 10, "{switches:?}");
        assert!(uplink.lost > 40, "the uplink was impaired: {uplink:?}");
        assert_eq!(s.video.unrecovered, 0, "seed {seed}: gave up on a gap");
        assert_eq!(s.plis_sent, 0, "seed {seed}");
        // The downlink is clean: each number arrived on the media SSRC, the resends of what
        // the uplink lost included, none only as an answer to the subscriber's NACK (which
        // a browser stops sending for numbers before a keyframe it has decoded).
        let only_resent: Vec<i64> = s
            .video_in_order()
            .iter()
            .filter(|(_, p)| p.primary == 0)
            .map(|(seq, _)| *seq)
            .collect();
        assert!(only_resent.is_empty(), "seed {seed}: {only_resent:?}");
    }
}

#[test]
fn rid_simulcast_is_learned_switched_and_repaired_over_repaired_rid_rtx() {
    // A browser-like publisher: layers named by RID with no SSRC signaled, RTX negotiated by
    // payload type and named by repaired-RID, and keyframes only when asked for. The router
    // learns every SSRC from the header extensions, holds the subscribers' keyframe requests
    // until a layer is seen, NACKs the lossy uplink before any RTX stream is known, and
    // switches each subscriber to the layer its downlink allows.
    let mut sim = Sim::with_rid_simulcast(0x5EED_0009, 3);
    run_lossy_uplink(&mut sim);

    assert!(sim.router_errors.is_empty(), "{:?}", sim.router_errors);
    let stats = sim.router.stats();
    println!(
        "router NACKs {}, publisher resent {}, keyframe requests per layer {:?}",
        stats.publisher_nacks, sim.publisher.rtx_sent, sim.publisher.plis
    );
    assert!(stats.publisher_nacks > 20 && sim.publisher.rtx_sent > 40);
    // Every layer a subscriber needed was asked for a keyframe, a bounded number of times
    // (the publisher sends none on its own).
    for layer in 0..3 {
        let plis = sim.publisher.plis[layer];
        assert!(
            (1..=6).contains(&plis),
            "layer {layer}: {plis} keyframe requests"
        );
    }
    assert_uplink_repaired(&sim);
    for (i, s) in sim.subs.iter().enumerate() {
        // Video starts with a keyframe, within a round trip of the first packet: the
        // request held for the unseen layer goes out the moment its SSRC is learned.
        let first = s.video.packets.values().next().unwrap();
        assert!(first.vp8.keyframe_start, "{:?} began mid-GOP", s.id);
        if i == 0 {
            let start = first.arrival - sim.t0;
            assert!(
                start < Duration::from_millis(120),
                "video began after {start:?}"
            );
        }
    }
}

#[test]
fn a_layer_the_publisher_stops_is_left_and_taken_again_when_it_resumes() {
    // A browser stops sending its top layer when its own estimate drops. A subscriber with
    // room for the top layer moves to the best layer still sent instead of freezing on the
    // stopped one, and goes back up when the layer resumes.
    let mut sim = Sim::new(0x5EED_000A, 1);
    let id = sim.subs[0].id;
    sim.report_cap(id, 5_000_000);
    sim.run_until(sim.at(3.0));
    assert_eq!(sim.layer_switches(id).last().map(|(_, l)| *l), Some(2));

    sim.publisher.paused[2] = true;
    let stopped = sim.now;
    sim.run_until(sim.at(7.0));
    let down = sim.layer_switches(id);
    let (at, layer) = *down.last().unwrap();
    assert_eq!(layer, 1, "{down:?}");
    assert!(
        at - stopped < Duration::from_secs(4),
        "moved down after {:?}",
        at - stopped
    );

    sim.publisher.paused[2] = false;
    let resumed = sim.now;
    sim.run_until(sim.at(10.0));
    let up = sim.layer_switches(id);
    let (at, layer) = *up.last().unwrap();
    assert_eq!(layer, 2, "{up:?}");
    assert!(
        at - resumed < Duration::from_secs(1),
        "moved up after {:?}",
        at - resumed
    );

    let s = sim.sub(id);
    s.check_stream_invariants();
    // Video never stopped for longer than the layer took to be noticed as stopped.
    let arrivals: Vec<Instant> = s.video.packets.values().map(|p| p.arrival).collect();
    let longest = arrivals
        .windows(2)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .max()
        .unwrap();
    assert!(
        longest < Duration::from_secs(4),
        "video stalled for {longest:?}"
    );
}

#[test]
fn temporal_layers_are_left_out_with_continuous_numbering() {
    let mut sim = Sim::new(0x5EED_7E3F, 3);
    let base = sim.subs[0].id;
    let two = sim.subs[1].id;
    let narrow = sim.subs[2].id;
    // The base-layer-only subscriber's link loses and reorders: resends of pictures whose
    // numbers were closed up must repeat those numbers.
    sim.net.configure(
        base,
        Dir::Down,
        LinkConfig {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(4),
            loss: 0.04,
            reorder: 0.02,
            reorder_delay: Duration::from_millis(25),
            ..Default::default()
        },
    );
    sim.report_cap(base, 5_000_000);
    sim.report_cap(two, 5_000_000);
    let now = sim.now;
    sim.router.set_max_temporal_layer(now, base, VIDEO_TRACK, 0);
    sim.router.set_max_temporal_layer(now, two, VIDEO_TRACK, 1);
    sim.sub_mut(base).max_temporal = 0;
    sim.sub_mut(two).max_temporal = 1;
    // Below the lowest layer's 300 kbit/s, and below its two lower temporal layers' 60%:
    // the bandwidth estimate leaves it the base layer (40%, 120 kbit/s).
    sim.report_cap(narrow, 150_000);
    sim.publisher.active_until = Some(sim.at(8.0));
    sim.run_until(sim.at(10.0));

    assert!(sim.router_errors.is_empty(), "{:?}", sim.router_errors);
    for s in &sim.subs {
        s.check_stream_invariants();
    }
    // Frames each got, by TID, after its first REMB has had time to arrive (until then the
    // narrow link's subscriber has no estimate, and gets everything).
    let settled = sim.at(1.0);
    let frames = |id: ParticipantId| {
        let s = sim.sub(id);
        let mut seen: HashMap<(u8, u64), u8> = HashMap::new();
        for (_, p) in s.video_in_order() {
            if p.arrival > settled {
                seen.insert((p.vp8.layer, p.vp8.frame), p.vp8.tid);
            }
        }
        let mut by_tid = [0usize; 3];
        for tid in seen.values() {
            by_tid[usize::from(*tid)] += 1;
        }
        by_tid
    };
    let (b, t, n) = (frames(base), frames(two), frames(narrow));
    println!("frames by TID: base-only {b:?}, up to TID 1 {t:?}, narrow link {n:?}");
    assert!(b[0] > 40 && b[1] == 0 && b[2] == 0, "{b:?}");
    assert!(t[0] > 40 && t[1] > 40 && t[2] == 0, "{t:?}");
    assert!(n[0] > 40 && n[1] == 0 && n[2] == 0, "{n:?}");
    let lossy = sim.sub(base);
    assert!(lossy.video.rtx_packets > 0, "losses were repaired over RTX");
    assert_eq!(sim.layer_switches(base).last().map(|(_, l)| *l), Some(2));
    assert_eq!(sim.layer_switches(narrow).last().map(|(_, l)| *l), Some(0));
}

#[test]
fn video_only_room_sends_reports() {
    // Driven strictly by poll_timeout, as a sans-IO driver is.
    let mut sim = Sim::with_publisher(0x5EED_0006, 2, false, true);
    sim.run_until(sim.at(5.0));
    assert!(
        sim.subs.iter().all(|s| !s.video.packets.is_empty()),
        "video flowed"
    );
    assert!(
        sim.publisher.receiver_reports > 0,
        "no receiver report reached the publisher in 5 s (handle_timeout ran {} times)",
        sim.handle_timeouts
    );
    assert!(sim.subs.iter().all(|s| s.sender_reports > 0));
}

#[test]
fn late_joiner_gets_video_from_a_publisher_without_periodic_keyframes() {
    // libwebrtc sends keyframes only when asked.
    let mut sim = Sim::with_publisher(0x5EED_0007, 1, true, false);
    sim.run_until(sim.at(0.3));
    assert!(
        !sim.subs[0].video.packets.is_empty(),
        "the first subscriber gets video"
    );
    let late = sim.add_subscriber(10);
    sim.run_until(sim.at(3.0));
    let s = sim.sub(late);
    assert!(!s.audio_seqs.is_empty(), "audio flows to the late joiner");
    assert!(
        !s.video.packets.is_empty(),
        "no video for the late joiner 2.7 s after it subscribed; keyframe requests sent: {}",
        sim.router.stats().keyframe_requests
    );
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = |seed: u64| {
        let mut sim = Sim::new(seed, 3);
        for (i, id) in [sim.subs[0].id, sim.subs[1].id].into_iter().enumerate() {
            sim.net.configure(
                id,
                Dir::Down,
                LinkConfig {
                    jitter: Duration::from_millis(4),
                    loss: 0.05,
                    reorder: 0.05,
                    reorder_delay: Duration::from_millis(25),
                    bandwidth_bps: Some([1_000_000, 3_000_000][i]),
                    queue_bytes: 16_000,
                    ..Default::default()
                },
            );
        }
        sim.report_cap(sim.subs[0].id, 5_000_000);
        sim.report_cap(sim.subs[1].id, 5_000_000);
        sim.run_until(sim.at(4.0));
        let fingerprint: Vec<Vec<(i64, Duration, u32, u32)>> = sim
            .subs
            .iter()
            .map(|s| {
                s.video
                    .packets
                    .iter()
                    .map(|(seq, p)| (*seq, p.arrival - sim.t0, p.primary, p.rtx))
                    .collect()
            })
            .collect();
        (fingerprint, sim.router.stats(), sim.log.len())
    };
    let a = run(42);
    assert_eq!(a, run(42));
    assert_ne!(a.0, run(43).0);
}
