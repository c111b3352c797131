//! Keyframe detection and layer switching with a real encoder for each video codec besides
//! VP8 (which `tests/chromium_sfu.rs` covers in depth): headless Chromium publishes its
//! canvas animation as RID simulcast in VP9, H.264 or AV1 (`CODEC` in
//! `tests/peers/chromium_room.js`; VP9 and AV1 with `L1T3` per encoding, so each RID is an
//! encoder of its own), and a second peer connection in the same page subscribes through the
//! router. The subscriber goes up to the best layer Chromium sends, then down to the lowest,
//! and its decoded resolution follows.
//!
//! What the router sent is read back before encryption (`webrtc/observed.rs`): the
//! subscriber's stream starts on a keyframe and moves to another layer only where that
//! layer's keyframe begins, judged by webrtc-rs's depacketizers (`rtc-rtp`) as well as by the
//! router's own detection; every sequence number is sent (resends and padding included) and
//! timestamps never go back. The depacketizer check is the proof: with the router's H.264 detection broken on
//! purpose (any slice start a keyframe), Chromium went on decoding without asking for a
//! keyframe, and only that check failed. Chromium's statistics still must show no PLI or FIR
//! from the subscriber. The link to the subscriber loses every 40th media packet, which
//! Chromium NACKs and the router resends over RTX; the publisher's uplink loses every 50th,
//! which the router NACKs and Chromium resends over RTX. VP9 and AV1 go on to the base
//! temporal layer only (VP9's descriptor names each picture's TID, AV1's OBU extension header
//! each temporal unit's, on its first packet): they keep decoding at a quarter of the frame
//! rate with only TID 0 sent. VP9's picture IDs are checked as the VP8 test checks them.
//!
//! The three tests take turns (one Chromium at a time: two cores cannot encode two 720p
//! simulcasts and keep up). Needs what `tests/chromium_sfu.rs` needs; skipped with a note
//! when missing, unless `QUIETROOM_REQUIRE_PEERS=1`.
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

use bytes::Bytes;
use quietroom::router::RouterEvent;
use rtc_rtp::codec::av1::Av1Depacketizer;
use rtc_rtp::codec::h264::H264Packet;
use rtc_rtp::codec::vp9::Vp9Packet;
use rtc_rtp::packetizer::Depacketizer;

use webrtc::{Page, SentVideo, Sfu, VIDEO};

#[test]
fn vp9_simulcast_switches_layers_on_keyframes() {
    switch_layers("VP9");
}

#[test]
fn h264_simulcast_switches_layers_on_keyframes() {
    switch_layers("H264");
}

#[test]
fn av1_simulcast_switches_layers_on_keyframes() {
    switch_layers("AV1");
}

fn switch_layers(codec: &str) {
    let _turn = webrtc::one_chromium_at_a_time();
    let Some(mut peer) = webrtc::chromium("chromium_room.js", &[("CODEC", codec)]) else {
        return;
    };
    let (publisher, subscriber) = peer.offers(Duration::from_secs(60));
    assert_eq!(publisher.rids, ["q", "h", "f"], "Chromium offers simulcast");
    assert_eq!(
        (publisher.codec.as_str(), subscriber.codec.as_str()),
        (codec, codec),
        "both peer connections offer {codec} first"
    );
    let (mut sfu, answers) = Sfu::answering(&[(&publisher, true), (&subscriber, false)]);
    sfu.lose_every = Some(40);
    sfu.lose_uplink_every = Some(50);
    // Every padding filler is lost the first time: the subscriber asks for it, and a
    // receiver that finds frames by sequence number alone (AV1, H.264 here) waits for it.
    sfu.lose_fillers = true;
    peer.answer(&answers[0], &answers[1]);

    let s = sfu.legs[1].id;
    let mut page = Page::default();
    let mut switches = Vec::new();
    // 0: video flows; 1: the subscriber may have everything and reaches the best layer
    // Chromium sends; 2: it is held to the lowest layer; 3 (VP9): it asks for the base
    // temporal layer only.
    let mut phase = 0;
    let mut phase_start = Instant::now();
    let mut decoded_at_phase = 0;
    // VP9, phase 3: the media packets sent when the subscriber asked for the base temporal
    // layer only, and at the end.
    let (mut temporal_mark, mut temporal_end) = (0, 0);
    loop {
        assert!(
            phase_start.elapsed() < Duration::from_secs(60),
            "{codec}: phase {phase} did not finish: {page:?}, switches {switches:?}, \
             dropped {:?}, router {:?}, subscription {:?}",
            sfu.dropped,
            sfu.router.stats(),
            sfu.router.subscription_state(s, VIDEO),
        );
        sfu.step();
        while let Some(event) = sfu.router.poll_event() {
            if let RouterEvent::LayerSwitched { spatial, .. } = event {
                switches.push((spatial, phase_start.elapsed().as_millis()));
            }
        }
        sfu.wire(&publisher, &subscriber);
        page.update(&peer);
        let now = Instant::now();
        match phase {
            0 if page.decoded >= 30 => {
                eprintln!("{codec}: video flows at {}px wide: {page:?}", page.width);
                sfu.router.set_bandwidth_estimate(now, s, 20_000_000);
                (phase, phase_start, decoded_at_phase) = (1, now, page.decoded);
            }
            1 => {
                let waited = now - phase_start;
                if page.at_upper_layer(decoded_at_phase, waited) {
                    eprintln!(
                        "{codec}: up at {}px wide after {waited:?}: {page:?}",
                        page.width
                    );
                    sfu.router.set_preferences(now, s, VIDEO, 0, false);
                    (phase, phase_start, decoded_at_phase) = (2, now, page.decoded);
                }
            }
            2 => {
                let lowest = page.sent_width("q");
                if lowest > 0 && page.width == lowest && page.decoded >= decoded_at_phase + 30 {
                    eprintln!(
                        "{codec}: down at {lowest}px wide after {:?}: {page:?}",
                        now - phase_start
                    );
                    if codec == "H264" {
                        break;
                    }
                    // VP9's descriptor names each picture's temporal layer (TID), and so
                    // does AV1's OBU extension header on the first packet of each temporal
                    // unit: the router can leave out the upper ones, a quarter of the frame
                    // rate.
                    sfu.router.set_max_temporal_layer(now, s, VIDEO, 0);
                    temporal_mark = sfu.media_in_log();
                    (phase, phase_start, decoded_at_phase) = (3, now, page.decoded);
                }
            }
            3 if page.decoded >= decoded_at_phase + 15
                && now - phase_start > Duration::from_secs(1) =>
            {
                eprintln!(
                    "{codec}: base temporal layer only: {} frames decoded in {:?}: {page:?}",
                    page.decoded - decoded_at_phase,
                    now - phase_start
                );
                temporal_end = sfu.media_in_log();
                break;
            }
            _ => {}
        }
    }
    // The uplink clears; what it lost last is resent within a few round trips.
    sfu.lose_uplink_every = None;
    let drain = Instant::now();
    while drain.elapsed() < Duration::from_millis(300) {
        sfu.step();
    }
    drop(peer.stdin);
    let _ = peer.child.wait();
    let stats = sfu.router.stats();
    eprintln!("{codec}: router {stats:?}, layer switches {switches:?}");
    eprintln!(
        "{codec}: lost on the way {} of {} video packets; Chromium NACKed {}; the uplink lost \
         {} of {}, never resent {:?}",
        sfu.media_lost,
        sfu.media_sent,
        page.nacks,
        sfu.uplink_lost,
        sfu.uplink_received,
        sfu.uplink_unrepaired()
    );
    assert!(sfu.dropped.is_empty(), "{:?}", sfu.dropped);
    // The fillers lost, and those sent again over RTX when Chromium asked for them (it may
    // not ask: a keyframe that follows ends its wait). The PLI check below finds that
    // Chromium took a filler sent again for the padding it stands for.
    let refilled = {
        let sent = sfu.sent.lock().unwrap();
        sfu.fillers_lost
            .iter()
            .filter(|&&seq| sent.iter().any(|p| p.rtx && p.sequence == seq))
            .count()
    };
    eprintln!(
        "{codec}: fillers lost {:?}, sent again over RTX {refilled}",
        sfu.fillers_lost
    );
    assert!(switches.len() >= 3, "first layer, up, down: {switches:?}");
    assert!(
        page.nacks > 0 && stats.retransmitted > 0,
        "{page:?} {stats:?}"
    );
    // The router asked Chromium for what its uplink lost (and `check_switches` finds every
    // sequence number sent, so the resends made it through).
    assert!(
        sfu.uplink_lost > 0 && stats.publisher_nacks > 0,
        "{stats:?}"
    );

    let checked = check_switches(&sfu, codec);
    eprintln!("{codec}: {checked:?}");
    assert!(checked.packets > 60 && checked.streams >= 3, "{checked:?}");
    assert!(checked.keyframes >= 3, "{checked:?}");
    assert_eq!((page.plis, page.firs), (0, 0), "{page:?}");
    assert!(page.keyframes >= 3, "{page:?}");
    if codec == "VP9" {
        // Picture IDs continuous across the switches and the temporal layers left out.
        let numbering = sfu.check_picture_numbering();
        eprintln!("{codec}: picture numbering checked: {numbering:?}");
        assert!(numbering.pictures > 60, "{numbering:?}");
        let references = check_vp9_references(&sfu);
        eprintln!("{codec}: references checked: {references:?}");
        assert!(references.checked > 60, "{references:?}");
    }
    if codec != "H264" {
        // In the frames begun after the subscriber asked, only TID 0 went out (for AV1 only
        // a temporal unit's first packet says its TID: the others continue its OBU). A late
        // packet of a frame begun before goes by its frame.
        let sent = sfu.sent.lock().unwrap().clone();
        let media: Vec<&SentVideo> = sent.iter().filter(|p| !p.rtx).collect();
        let asked = media.get(temporal_mark..temporal_end).unwrap_or_default();
        let after = webrtc::frames_begun_after(&media[..temporal_mark], asked);
        let before_tids: Vec<Option<u8>> = media[..temporal_mark]
            .iter()
            .map(|p| p.temporal_id)
            .collect();
        assert!(
            before_tids.contains(&Some(2)),
            "Chromium sends 3 temporal layers"
        );
        assert!(
            after.len() >= 8,
            "{} packets on the base layer",
            after.len()
        );
        // (Padding-only packets, which fill the numbers of late packets left out, have no
        // descriptor.)
        let media_tids: Vec<Option<u8>> = after
            .iter()
            .filter(|p| !p.payload.0.is_empty())
            .map(|p| p.temporal_id)
            .collect();
        let base = |t: &Option<u8>| *t == Some(0) || (codec == "AV1" && t.is_none());
        assert!(media_tids.iter().all(base), "{media_tids:?}");
        assert!(
            media_tids.iter().filter(|t| **t == Some(0)).count() >= 4,
            "{media_tids:?}"
        );
    }
}

/// What [`check_vp9_references`] found.
#[derive(Debug, Default)]
struct References {
    /// Inter-predicted pictures whose references were checked.
    checked: usize,
    /// Of their references, those to pictures the subscriber was sent before.
    found: usize,
}

/// Checks the picture references of the VP9 stream the subscriber was sent: Chromium's VP9
/// is in flexible mode, where a predicted picture names each picture it references by its
/// picture ID difference (P_DIFF). Each such reference, read in the subscriber's numbering,
/// must lead to the picture the publisher referenced (by the publisher's numbering), or to
/// no picture the subscriber was sent at all; never to another picture.
fn check_vp9_references(sfu: &Sfu) -> References {
    let sent = sfu.sent.lock().unwrap().clone();
    let inputs = sfu.inputs_resolved();
    // Output picture ID -> (publisher SSRC, input picture ID), for the pictures sent.
    let mut pictures = std::collections::HashMap::new();
    let mut found = References::default();
    for p in sent.iter().filter(|p| !p.rtx) {
        let (Some(out), Some(input)) = (p.picture_id, p.input.and_then(|i| inputs.get(i))) else {
            continue;
        };
        let Some(input_id) = input.picture_id else {
            continue;
        };
        let mut vp9 = Vp9Packet::default();
        if vp9
            .depacketize(&Bytes::copy_from_slice(&p.payload.0))
            .is_err()
        {
            continue;
        }
        if vp9.b && vp9.p && vp9.f {
            found.checked += 1;
            for &diff in &vp9.pdiff {
                let diff = u16::from(diff);
                let referenced = out.wrapping_sub(diff) & 0x7FFF;
                if let Some(&(ssrc, id)) = pictures.get(&referenced) {
                    assert_eq!(
                        (ssrc, id),
                        (input.ssrc, input_id.wrapping_sub(diff) & 0x7FFF),
                        "picture {out} (the publisher's {input_id}) references {referenced} \
                         with P_DIFF {diff}, which is another picture: {p:?}"
                    );
                    found.found += 1;
                }
            }
        }
        pictures.insert(out, (input.ssrc, input_id));
    }
    found
}

/// What [`check_switches`] found in the subscriber's stream.
#[derive(Debug, Default)]
struct Switches {
    /// Media packets sent, each sequence number once.
    packets: usize,
    /// Runs of packets from one publisher stream (the first stream, then one per switch),
    /// each checked to begin with a keyframe.
    streams: usize,
    /// Packets that start a keyframe, by the router's detection.
    keyframes: usize,
    /// Padding-only packets among the sequence numbers.
    fillers: usize,
}

/// Checks the media the router sent the subscriber, in sequence-number order, counting
/// resends over RTX (which fill what the publisher's uplink lost, when it came back after
/// the packets behind it) and padding-only packets (which fill the number of a late packet
/// left out):
/// - every sequence number from the first to the last was sent;
/// - timestamps of media packets never go back (modulo 2^32);
/// - the first frame, and the first frame after each change of publisher stream, is a
///   keyframe by webrtc-rs's depacketizers (`rtc-rtp`, not the router's code): VP9's
///   payload descriptor starts a frame that is not inter-predicted; AV1's aggregation header
///   starts a new coded video sequence; H.264's frame, reassembled, holds an SPS and an IDR
///   slice and no other slice;
/// - and its first packet is one the router's own detection calls a keyframe start.
fn check_switches(sfu: &Sfu, codec: &str) -> Switches {
    let sent = sfu.sent.lock().unwrap().clone();
    let inputs = sfu.inputs_resolved();
    let ssrc = |p: &SentVideo| {
        p.input
            .and_then(|i| inputs.get(i))
            .map(|i| i.ssrc)
            .expect("each copy comes from a publisher's packet")
    };
    // Each sequence number once (a resend repeats its original), in sequence-number order.
    let mut all = webrtc::in_sequence_order(sent.iter());
    all.dedup_by_key(|(ext, _)| *ext);
    let mut found = Switches::default();
    for (i, w) in all.windows(2).enumerate() {
        let ((a, p), (b, q)) = (w[0], w[1]);
        assert_eq!(
            b,
            a + 1,
            "sequence number {} never sent ({} before the end): after {p:?}, {q:?}; the uplink \
             lost {:?} and never resent {:?}",
            a + 1,
            all.len() - i,
            sfu.uplink_dropped,
            sfu.uplink_unrepaired()
        );
    }
    // The media, padding aside.
    let media: Vec<&SentVideo> = all
        .iter()
        .map(|(_, p)| *p)
        .filter(|p| !p.payload.0.is_empty())
        .collect();
    found.packets = media.len();
    // The publisher stream of the last packet sent as media (a resend's source is not known:
    // it answers a NACK, whatever the router had just decrypted).
    let mut stream: Option<u32> = None;
    for (i, p) in media.iter().enumerate() {
        found.keyframes += usize::from(p.keyframe);
        if let Some(last) = i.checked_sub(1).map(|j| media[j]) {
            assert!(
                p.timestamp.wrapping_sub(last.timestamp) < 1 << 31,
                "timestamp goes back from {}: {p:?}",
                last.timestamp
            );
        }
        if p.rtx || stream == Some(ssrc(p)) {
            continue;
        }
        stream = Some(ssrc(p));
        // A new stream begins: its first frame is every packet up to the next timestamp.
        let frame: Vec<&[u8]> = media[i..]
            .iter()
            .take_while(|q| q.timestamp == p.timestamp)
            .map(|q| q.payload.0.as_slice())
            .collect();
        assert!(
            p.keyframe,
            "stream {} begins on a packet the router does not call a keyframe start: {p:?}",
            ssrc(p)
        );
        assert!(
            is_keyframe(codec, &frame),
            "stream {} begins on a frame that is not a keyframe ({} packets): {p:?}",
            ssrc(p),
            frame.len()
        );
        found.streams += 1;
    }
    found.fillers = all.len() - media.len();
    found
}

/// Whether the packets of one frame (their RTP payloads, in order) are a keyframe, by
/// webrtc-rs's depacketizers.
fn is_keyframe(codec: &str, frame: &[&[u8]]) -> bool {
    let Some(first) = frame.first().map(|p| Bytes::copy_from_slice(p)) else {
        return false;
    };
    match codec {
        "VP9" => {
            let mut vp9 = Vp9Packet::default();
            vp9.depacketize(&first).is_ok() && vp9.b && !vp9.p
        }
        "AV1" => {
            let mut av1 = Av1Depacketizer::new();
            av1.depacketize(&first).is_ok() && av1.n
        }
        "H264" => {
            // Reassembled as Annex B: NAL units after 00 00 00 01 start codes.
            let mut h264 = H264Packet::default();
            let mut annex_b = Vec::new();
            for payload in frame {
                match h264.depacketize(&Bytes::copy_from_slice(payload)) {
                    Ok(nals) => annex_b.extend_from_slice(&nals),
                    Err(_) => return false,
                }
            }
            let types: Vec<u8> = annex_b
                .windows(5)
                .filter(|w| w[..4] == [0, 0, 0, 1])
                .map(|w| w[4] & 0x1F)
                .collect();
            types.contains(&7) && types.contains(&5) && !types.contains(&1)
        }
        other => panic!("no depacketizer for {other}"),
    }
}
