//! WebRTC interop through the router with peers nobody here wrote: two aiortc peer
//! connections (PyPI `aiortc` 1.16, with libvpx through PyAV) connect to an SFU built from
//! quietroom's crates on one UDP socket on 127.0.0.1 (`webrtc/mod.rs`). The publisher sends
//! VP8 video; the subscriber must decode frames the router forwarded, over a link that loses
//! every 25th video packet, which aiortc NACKs and the router resends over RTX.
//!
//! Needs `.peers/venv` with aiortc (`scripts/peers.sh`, or `QUIETROOM_PYTHON`). Skipped with a
//! note when missing, unless `QUIETROOM_REQUIRE_PEERS=1`.
#![cfg(all(feature = "router", feature = "turn"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    missing_docs
)]

mod webrtc;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use webrtc::{PeerProcess, Sfu};

const FRAMES: u32 = 60;

#[test]
fn aiortc_video_goes_through_the_router() {
    let python = std::env::var_os("QUIETROOM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| webrtc::root().join(".peers/venv/bin/python"));
    let Some(python) = webrtc::peer("aiortc", python, &["-c", "import aiortc"]) else {
        return;
    };
    let mut command = Command::new(python);
    command
        .arg(webrtc::root().join("tests/peers/aiortc_room.py"))
        .arg(FRAMES.to_string());
    let mut peer = PeerProcess::spawn(command);
    let (publisher, subscriber) = peer.offers(Duration::from_secs(30));
    let (mut sfu, answers) = Sfu::answering(&[(&publisher, true), (&subscriber, false)]);
    // The link to the subscriber loses every 25th video packet: aiortc NACKs it and the
    // router resends it over RTX.
    sfu.lose_every = Some(25);
    peer.answer(&answers[0], &answers[1]);

    let deadline = Instant::now() + Duration::from_secs(60);
    let result = loop {
        assert!(Instant::now() < deadline, "no result from aiortc in 60 s");
        if let Ok(line) = peer.lines.try_recv() {
            break line;
        }
        sfu.step();
        // Wire the room as soon as each side's handshake is done.
        sfu.wire(&publisher, &subscriber);
    };
    let _ = peer.child.wait();
    let stats = sfu.router.stats();
    eprintln!("aiortc: {result}");
    eprintln!(
        "router: {stats:?}, lost on the way {} of {}, dropped: {:?}",
        sfu.media_lost, sfu.media_sent, sfu.dropped
    );
    let result: Value = serde_json::from_str(&result).unwrap();
    let frames = result["frames"].as_u64().unwrap_or(0);
    assert!(
        frames >= u64::from(FRAMES),
        "the subscriber decoded {frames} frames: {result}"
    );
    assert_eq!(result["sizes"], json!([[640, 480]]), "{result}");
    assert_eq!(result["publisher"], "connected");
    assert_eq!(result["subscriber"], "connected");
    assert!(stats.forwarded > 0 && stats.received >= stats.forwarded);
    assert!(sfu.media_lost > 0, "the link lost nothing");
    assert!(
        stats.retransmitted > 0,
        "aiortc's NACKs were answered over RTX: {stats:?}"
    );
    let numbering = sfu.check_picture_numbering();
    eprintln!("picture numbering checked: {numbering:?}");
    assert!(
        numbering.pictures > 30 && numbering.resends > 0,
        "{numbering:?}"
    );
}
