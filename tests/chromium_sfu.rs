//! WebRTC interop through the router with a browser: headless Chromium publishes a canvas
//! animation as VP8 simulcast (RIDs `q`, `h`, `f`: 320×180, 640×360 and 1280×720, no SSRC
//! signaled, RTX with repaired-RID, transport-wide CC) to an SFU built from quietroom's
//! crates on one UDP socket on 127.0.0.1 (`webrtc/mod.rs`). A second peer connection in the
//! same page subscribes and decodes. The router learns every SSRC from MID/RID, feeds
//! Chromium's congestion control with transport-wide CC feedback, and the test moves the
//! subscriber up to the best layer Chromium sends, then down to the lowest, checking the
//! decoded resolution each time. The link to the subscriber loses every 40th video packet,
//! which Chromium NACKs and the router resends over RTX. Last the subscriber asks for the
//! base temporal layer only, and keeps decoding at a quarter of the frame rate. What the
//! router sent is read back before encryption (`webrtc/observed.rs`): the subscriber's VP8
//! picture IDs and TL0PICIDX run on without a jump across the layer switches and with
//! temporal layers left out.
//!
//! Needs Debian's `chromium`, Node and `playwright-core` in `.peers/node` (`scripts/peers.sh`).
//! Skipped with a note when missing, unless `QUIETROOM_REQUIRE_PEERS=1`.
#![cfg(all(feature = "router", feature = "turn"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs
)]

mod webrtc;

use std::io::Write;
use std::time::{Duration, Instant};

use quietroom::router::RouterEvent;

use webrtc::{Page, Sfu, VIDEO};

#[test]
fn chromium_simulcast_goes_through_the_router_and_switches_layers() {
    let Some(mut peer) = webrtc::chromium("chromium_room.js", &[]) else {
        return;
    };
    let (publisher, subscriber) = peer.offers(Duration::from_secs(60));
    assert_eq!(publisher.rids, ["q", "h", "f"], "Chromium offers simulcast");
    let (mut sfu, answers) = Sfu::answering(&[(&publisher, true), (&subscriber, false)]);
    // The link to the subscriber loses every 40th video packet: Chromium NACKs it and the
    // router resends it over RTX.
    sfu.lose_every = Some(40);
    sfu.lose_uplink_every = Some(50);
    peer.answer(&answers[0], &answers[1]);

    let s = sfu.legs[1].id;
    let mut page = Page::default();
    let mut switches = Vec::new();
    // (phase, announced layer demand)
    let mut demands: Vec<(u32, Option<u8>)> = Vec::new();
    // Phases: 0 video flows; 1 the subscriber may have everything and reaches the best layer
    // Chromium sends; 10 its link loses a third of the media, and the router's estimate,
    // from Chromium's transport-wide CC feedback, moves it down; 11 the link is clear again,
    // and padding probes take it back up; 2 it is held to the lowest layer; 12 the link
    // loses a third again and the router leaves out upper temporal layers; 13 it clears and
    // they come back; 3 the subscriber asks for its base temporal layer only (by then its
    // layer demand of 0 has turned Chromium's upper encodings off); 4 it asks for everything
    // again, the encodings come back on, and it climbs to the best layer.
    let mut phase = 0;
    let mut phase_start = Instant::now();
    let mut decoded_at_phase = 0;
    let mut best = 0;
    let mut best_spatial = None;
    let current_spatial = |sfu: &Sfu| {
        sfu.router
            .subscription_state(s, VIDEO)
            .and_then(|sub| sub.current_spatial)
    };
    let mut probes_at_recovery = 0;
    // Phase 12: when the temporal layers were cut (time, media packets sent by then, the
    // highest TID left); then the media packets sent while cut, and that TID.
    let mut reduced: Option<(Instant, usize, u8)> = None;
    let mut reduced_window = (0, 0, u8::MAX);
    let mut temporal_mark = 0;
    let mut temporal_end = 0;
    let mut lowest_width = 0;
    // Each phase has a minute (a busy machine can hold Chromium's upper layers off for a
    // while; an idle one needs a few seconds per phase).
    // Once a second: the subscription's target and current layers, which layers the router
    // sees arriving and what it makes of the downlink, printed if a phase does not finish
    // (and at the end with QUIETROOM_TRACE set).
    let mut trace: Vec<String> = Vec::new();
    let mut next_trace = Instant::now();
    loop {
        if Instant::now() >= next_trace {
            next_trace += Duration::from_secs(1);
            let sub = sfu.router.subscription_state(s, VIDEO);
            let active: Vec<bool> = sfu
                .router
                .layer_states(Instant::now(), VIDEO)
                .iter()
                .map(|l| l.active)
                .collect();
            let downlink = sfu.router.downlink_state(s);
            trace.push(format!(
                "phase {phase} {}ms target {:?} current {:?} estimate {:?} active {active:?} \
                 cap {:?} acked {:?} loss {:?} {:?} delay {:?}",
                phase_start.elapsed().as_millis(),
                sub.and_then(|s| s.target_spatial),
                sub.and_then(|s| s.current_spatial),
                sub.and_then(|s| s.estimate_bps),
                downlink.and_then(|d| d.congestion_cap_bps),
                downlink.and_then(|d| d.acked_bps),
                downlink.and_then(|d| d.loss_fraction),
                downlink.and_then(|d| d.path_signal),
                downlink.map(|d| d.delay),
            ));
        }
        if phase_start.elapsed() >= Duration::from_secs(60) {
            // What happened to keyframes since the phase began: requests the router sent the
            // publisher, and keyframes that arrived, per SSRC.
            let keyframes = sfu.keyframes.lock().unwrap().clone();
            let since: Vec<_> = keyframes
                .iter()
                .filter(|(at, _)| *at >= phase_start)
                .map(|(at, e)| (at.duration_since(phase_start).as_millis(), *e))
                .collect();
            let now = Instant::now();
            panic!(
                "phase {phase} did not finish: {page:?}, switches {switches:?}, dropped {:?}, \
                 router {:?}, keyframe requests and arrivals since the phase began (ms): {:?}, \
                 subscription {:?}, layers {:?}, once a second: {:#?}",
                sfu.dropped,
                sfu.router.stats(),
                &since[..since.len().min(60)],
                sfu.router.subscription_state(s, VIDEO),
                sfu.router.layer_states(now, VIDEO),
                &trace[trace.len().saturating_sub(90)..],
            );
        }
        sfu.step();
        while let Some(event) = sfu.router.poll_event() {
            match event {
                RouterEvent::LayerSwitched { spatial, .. } => {
                    // (spatial layer, ms since the phase began)
                    switches.push((spatial, phase_start.elapsed().as_millis()));
                }
                // The application's side of layer demand: the publisher's encodings above
                // what any subscriber asked for are turned off (q, h, f are layers 0, 1, 2).
                RouterEvent::LayerDemand {
                    track: VIDEO,
                    max_spatial,
                } => {
                    let active: Vec<bool> = (0..3u8)
                        .map(|i| max_spatial.is_some_and(|m| i <= m))
                        .collect();
                    eprintln!(
                        "phase {phase}: layer demand {max_spatial:?}, encodings on {active:?}"
                    );
                    demands.push((phase, max_spatial));
                    peer.set_active(&active);
                }
                _ => {}
            }
        }
        sfu.wire(&publisher, &subscriber);
        page.update(&peer);
        let now = Instant::now();
        match phase {
            0 if page.decoded >= 30 => {
                eprintln!("video flows at {}px wide: {page:?}", page.width);
                sfu.router.set_bandwidth_estimate(now, s, 20_000_000);
                (phase, phase_start, decoded_at_phase) = (1, now, page.decoded);
            }
            1 => {
                // Up to an upper layer (`Page::at_upper_layer`).
                let waited = now - phase_start;
                if page.at_upper_layer(decoded_at_phase, waited) {
                    best = page.width;
                    best_spatial = current_spatial(&sfu);
                    eprintln!("up at {}px wide after {waited:?}: {page:?}", page.width);
                    // Congestion on the link to the subscriber: a third of its media lost.
                    sfu.lose_every = Some(3);
                    (phase, phase_start, decoded_at_phase) = (10, now, page.decoded);
                }
            }
            10 => {
                // Chromium's transport-wide CC feedback shows the loss: the router's estimate
                // falls and the subscriber is moved down.
                let current = current_spatial(&sfu);
                if current < best_spatial {
                    eprintln!(
                        "congested: moved down to layer {current:?} after {:?}",
                        now - phase_start
                    );
                    sfu.lose_every = Some(40);
                    probes_at_recovery = sfu.router.stats().probe_packets;
                    (phase, phase_start, decoded_at_phase) = (11, now, page.decoded);
                }
            }
            11 => {
                // The path is clear again: padding probes on RTX show the room, and the
                // subscriber climbs back to the layer it had.
                let current = current_spatial(&sfu);
                if current >= best_spatial && page.width == best {
                    let probes = sfu.router.stats().probe_packets - probes_at_recovery;
                    eprintln!(
                        "recovered to layer {current:?} after {:?}, {probes} padding probe \
                         packets: {page:?}",
                        now - phase_start
                    );
                    assert!(probes > 0, "the climb back was probed");
                    sfu.router.set_preferences(now, s, VIDEO, 0, false);
                    (phase, phase_start, decoded_at_phase) = (2, now, page.decoded);
                }
            }
            2 => {
                let lowest = page.sent_width("q");
                if lowest > 0 && page.width == lowest && page.decoded >= decoded_at_phase + 30 {
                    eprintln!(
                        "down at {}px wide after {:?}: {page:?}",
                        page.width,
                        now - phase_start
                    );
                    lowest_width = page.width;
                    // Congestion again, now on the lowest layer: the estimate falls below
                    // what even that layer needs.
                    sfu.lose_every = Some(3);
                    (phase, phase_start, decoded_at_phase) = (12, now, page.decoded);
                }
            }
            12 => {
                // The router leaves out Chromium's upper temporal layers (a lower frame rate)
                // rather than send more than the estimate; after a second of that, the link
                // clears.
                let sub = sfu.router.subscription_state(s, VIDEO);
                let media = sfu.media_in_log();
                match (reduced, sub) {
                    (None, Some(sub))
                        if sub.target_temporal < 2
                            && sub.current_temporal == sub.target_temporal =>
                    {
                        eprintln!(
                            "congested on the lowest layer: temporal layers up to {} after {:?}",
                            sub.target_temporal,
                            now - phase_start
                        );
                        reduced = Some((now, media, sub.target_temporal));
                    }
                    (Some((at, from, tid)), _) if now - at > Duration::from_secs(1) => {
                        reduced_window = (from, media, tid);
                        sfu.lose_every = Some(40);
                        probes_at_recovery = sfu.router.stats().probe_packets;
                        (phase, phase_start, decoded_at_phase) = (13, now, page.decoded);
                    }
                    _ => {}
                }
            }
            13 => {
                // Clear again: back to all of Chromium's temporal layers.
                let sub = sfu.router.subscription_state(s, VIDEO);
                if sub.is_some_and(|sub| {
                    sub.target_temporal == u8::MAX && sub.current_temporal == u8::MAX
                }) {
                    eprintln!(
                        "all temporal layers again after {:?}, {} padding probe packets",
                        now - phase_start,
                        sfu.router.stats().probe_packets - probes_at_recovery
                    );
                    // Base temporal layer only: a quarter of the frame rate with Chromium's
                    // three temporal layers.
                    sfu.router.set_max_temporal_layer(now, s, VIDEO, 0);
                    temporal_mark = sfu.media_in_log();
                    (phase, phase_start, decoded_at_phase) = (3, now, page.decoded);
                }
            }
            3 if page.decoded >= decoded_at_phase + 15
                && now - phase_start > Duration::from_secs(1) =>
            {
                eprintln!(
                    "base temporal layer only: {} frames decoded in {:?}: {page:?}",
                    page.decoded - decoded_at_phase,
                    now - phase_start
                );
                // Held to the lowest layer since phase 2, the subscriber's layer demand fell
                // to 0, and Chromium's upper encodings were turned off.
                assert!(
                    page.inactive.contains(&"h".to_owned())
                        && page.inactive.contains(&"f".to_owned()),
                    "upper encodings off: {page:?}, demands {demands:?}"
                );
                temporal_end = sfu.media_in_log();
                // Everything again: the demand rises at once, Chromium turns its encodings
                // back on, and the subscriber climbs to the best layer (probing its way up).
                sfu.router.set_max_temporal_layer(now, s, VIDEO, u8::MAX);
                sfu.router.set_preferences(now, s, VIDEO, u8::MAX, false);
                (phase, phase_start, decoded_at_phase) = (4, now, page.decoded);
            }
            4 if page.inactive.is_empty()
                && page.width == best
                && page.decoded >= decoded_at_phase + 30 =>
            {
                eprintln!(
                    "back up at {}px wide after {:?} with every encoding on: {page:?}",
                    page.width,
                    now - phase_start
                );
                break;
            }
            _ => {}
        }
    }
    writeln!(peer.stdin, "done").unwrap();
    drop(peer.stdin);
    let _ = peer.child.wait();
    let stats = sfu.router.stats();
    eprintln!("router: {stats:?}, layer switches {switches:?}");
    if std::env::var_os("QUIETROOM_TRACE").is_some() {
        eprintln!("once a second: {trace:#?}");
    }
    eprintln!("dropped by the router: {:?}", sfu.dropped);
    eprintln!(
        "lost on the way {} of {} video packets; Chromium NACKed {}, received {} again",
        sfu.media_lost, sfu.media_sent, page.nacks, page.retransmitted
    );
    assert!(best > lowest_width, "the subscriber went up, then down");
    assert_eq!(page.width, best, "and up again");
    assert!(sfu.media_lost > 0 && page.nacks > 0, "{page:?}");
    assert!(
        stats.retransmitted > 0,
        "NACKs answered over RTX: {stats:?}"
    );
    assert!(switches.len() >= 3, "{switches:?}");
    assert!(stats.forwarded > 0);
    // Each of Chromium's layers numbers its pictures on its own; the subscriber's numbering
    // is continuous across the switches, and resends repeat their original's numbers.
    let numbering = sfu.check_picture_numbering();
    eprintln!("picture numbering checked: {numbering:?}");
    assert!(
        numbering.pictures > 60 && numbering.with_tl0_pic_idx > 60,
        "{numbering:?}"
    );
    assert!(
        numbering.steps_of_one * 10 >= numbering.pictures * 9,
        "picture IDs mostly step by one: {numbering:?}"
    );
    assert!(numbering.resends > 0, "{numbering:?}");
    // Chromium sent three temporal layers; once the subscriber asked for the base layer only
    // (after the frame in flight), only TID 0 went out, and the picture IDs stayed continuous
    // (checked above: leaving out three pictures in four would be steps of 4).
    let sent = sfu.sent.lock().unwrap().clone();
    let tids = |packets: &[&webrtc::SentVideo]| {
        let mut count = [0usize; 4];
        for p in packets {
            count[usize::from(p.temporal_id.unwrap_or(0).min(3))] += 1;
        }
        count
    };
    let media: Vec<&webrtc::SentVideo> = sent.iter().filter(|p| !p.rtx).collect();
    let (before, after) = media.split_at(temporal_mark.min(media.len()));
    let after = &after[..temporal_end.saturating_sub(temporal_mark).min(after.len())];
    // The frames begun when the subscriber asked are finished; from the next one on, only
    // the base layer.
    let after = webrtc::frames_begun_after(before, after);
    let mut frames: Vec<u32> = after.iter().map(|p| p.timestamp).collect();
    frames.dedup();
    eprintln!(
        "TIDs sent: before {:?}, base layer only {:?} in {} frames",
        tids(before),
        tids(&after),
        frames.len()
    );
    assert!(tids(before)[2] > 0, "Chromium sends temporal layers");
    assert!(frames.len() >= 8, "{} base-layer frames", frames.len());
    assert!(
        tids(&after)[1..].iter().all(|&n| n == 0),
        "{:?}",
        tids(&after)
    );
    // While congested on the lowest layer, nothing above the temporal layer the estimate
    // allowed went out (after the frame in flight when it was cut).
    let (from, to, highest) = reduced_window;
    let cut = webrtc::frames_begun_after(
        media.get(..from).unwrap_or_default(),
        media.get(from..to.min(media.len())).unwrap_or_default(),
    );
    eprintln!(
        "TIDs sent while congested on the lowest layer (up to {highest}): {:?}",
        tids(&cut)
    );
    assert!(cut.len() >= 5, "{} packets", cut.len());
    assert!(
        tids(&cut)[usize::from(highest) + 1..]
            .iter()
            .all(|&n| n == 0),
        "{:?}",
        tids(&cut)
    );
}
