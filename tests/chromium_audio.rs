//! Audio through the router with a browser: headless Chromium publishes two Opus tracks, a
//! and b (WebAudio tones, `tests/peers/chromium_audio.js`), each on a peer connection of its
//! own, with the RFC 6464 audio level header extension, and two more peer connections in the
//! same page subscribe, one to each track, and play it.
//!
//! First a is loud and b silent, then the other way round. The router's active-speaker
//! detection, fed only by the audio levels Chromium writes into its packets, names a, then
//! b (`RouterEvent::ActiveSpeaker`). What each subscriber plays follows its own publisher:
//! Chromium's decoder, not this workspace, measures the level (`inbound-rtp` `audioLevel`),
//! so the Opus packets arrived whole, decrypted once and encrypted again per subscriber.
//!
//! Needs Debian's `chromium`, Node and `playwright-core` in `.peers/node`
//! (`scripts/peers.sh`). Skipped with a note when missing, unless
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

use std::io::Write;
use std::time::{Duration, Instant};

use quietroom::router::{Kind, ParticipantId, RouterEvent};
use serde_json::Value;
use webrtc::Sfu;

/// A subscriber's `inbound-rtp` audio statistics (see `chromium_audio.js`).
#[derive(Clone, Copy, Debug, Default)]
struct Heard {
    packets: u64,
    /// The level of the last 10 ms played, 0 to 1.
    level: f64,
    /// Samples received, and of those concealed (made up for lost or late packets).
    samples: u64,
    concealed: u64,
}

impl Heard {
    fn from(v: &Value) -> Heard {
        Heard {
            packets: v["packets"].as_u64().unwrap_or(0),
            level: v["level"].as_f64().unwrap_or(0.0),
            samples: v["samples"].as_u64().unwrap_or(0),
            concealed: v["concealed"].as_u64().unwrap_or(0),
        }
    }

    fn loud(&self) -> bool {
        self.level > 0.1
    }

    fn silent(&self) -> bool {
        self.level < 0.01
    }
}

#[test]
fn chromium_opus_through_the_router_with_active_speaker() {
    let Some(mut peer) = webrtc::chromium("chromium_audio.js", &[]) else {
        return;
    };
    let names = ["a", "b", "sa", "sb"];
    let offers = peer.named_offers(&names, Duration::from_secs(60));
    for offer in &offers {
        assert_eq!((offer.kind, offer.codec.as_str()), (Kind::Audio, "opus"));
    }
    assert!(
        offers[0].track().extensions.audio_level.is_some(),
        "Chromium offers the audio level extension"
    );
    let (mut sfu, answers) = Sfu::answering(&[
        (&offers[0], true),
        (&offers[1], true),
        (&offers[2], false),
        (&offers[3], false),
    ]);
    let named: Vec<(&str, &str)> = names
        .iter()
        .zip(&answers)
        .map(|(n, a)| (*n, a.as_str()))
        .collect();
    peer.named_answers(&named);
    let (a, b) = (sfu.legs[0].id, sfu.legs[1].id);
    let offers: Vec<&webrtc::Offer> = offers.iter().collect();
    // sa takes a's track, sb takes b's.
    let subscriptions = [(2, 0), (3, 1)];

    writeln!(peer.stdin, r#"{{"gains": [0.5, 0]}}"#).unwrap();
    let (mut sa, mut sb) = (Heard::default(), Heard::default());
    let mut speakers: Vec<(ParticipantId, u128)> = Vec::new();
    // 0: a speaks; 1: b speaks.
    let mut phase = 0;
    let mut phase_start = Instant::now();
    let speaking =
        |speakers: &[(ParticipantId, u128)], who| speakers.last().is_some_and(|(p, _)| *p == who);
    loop {
        assert!(
            phase_start.elapsed() < Duration::from_secs(60),
            "phase {phase} did not finish: sa {sa:?}, sb {sb:?}, speakers {speakers:?}, \
             dropped {:?}, router {:?}",
            sfu.dropped,
            sfu.router.stats()
        );
        sfu.step();
        while let Some(event) = sfu.router.poll_event() {
            if let RouterEvent::ActiveSpeaker { participant } = event {
                speakers.push((participant, phase_start.elapsed().as_millis()));
            }
        }
        sfu.wire_room(&offers, &subscriptions);
        while let Ok(line) = peer.lines.try_recv() {
            let v: Value = serde_json::from_str(&line).unwrap();
            (sa, sb) = (Heard::from(&v["sa"]), Heard::from(&v["sb"]));
        }
        match phase {
            0 if speaking(&speakers, a) && sa.packets > 100 && sa.loud() && sb.silent() => {
                eprintln!(
                    "a speaks: after {:?}, sa {sa:?}, sb {sb:?}",
                    phase_start.elapsed()
                );
                writeln!(peer.stdin, r#"{{"gains": [0, 0.5]}}"#).unwrap();
                (phase, phase_start) = (1, Instant::now());
            }
            1 if speaking(&speakers, b) && sa.silent() && sb.loud() => {
                eprintln!(
                    "b speaks: after {:?}, sa {sa:?}, sb {sb:?}",
                    phase_start.elapsed()
                );
                break;
            }
            _ => {}
        }
    }
    drop(peer.stdin);
    let _ = peer.child.wait();
    let stats = sfu.router.stats();
    eprintln!("router {stats:?}, active speakers (participant, ms into the phase) {speakers:?}");
    assert!(sfu.dropped.is_empty(), "{:?}", sfu.dropped);
    assert_eq!(stats.dropped, 0, "{stats:?}");
    // a, then b; nothing in between.
    let order: Vec<ParticipantId> = speakers.iter().map(|(p, _)| *p).collect();
    assert_eq!(order, [a, b], "{speakers:?}");
    // Little was made up for lost or late packets on loopback.
    for (name, heard) in [("sa", sa), ("sb", sb)] {
        assert!(
            heard.concealed * 20 < heard.samples,
            "{name}: {} of {} samples concealed",
            heard.concealed,
            heard.samples
        );
    }
}
