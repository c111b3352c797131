//! WebRTC interop through the router with peers nobody here wrote: two aiortc peer
//! connections (PyPI `aiortc` 1.16, with libvpx through PyAV) connect to an SFU built from
//! quietroom's crates on one UDP socket on 127.0.0.1. The publisher sends VP8 video; the
//! subscriber must decode frames the router forwarded.
//!
//! The SFU side is what an embedding product assembles: an `a=ice-lite` answer (the STUN
//! codec from `quietroom-turn` answers aiortc's connectivity checks with short-term
//! credentials), the DTLS-SRTP handshake from `quietroom-srtp` (fingerprints pinned both
//! ways, the SFU passive), and `quietroom-router` decrypting once and re-encrypting for the
//! subscriber under the SSRC its answer announced.
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

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use quietroom::router::codec::Codec;
use quietroom::router::{
    ExtensionIds, Kind, LayerConfig, ParticipantId, Router, RouterConfig, TrackConfig, TrackId,
};
use quietroom::srtp::SrtpSession;
use quietroom::srtp::dtls::{
    DtlsCertificate, DtlsConfig, DtlsEngine, DtlsEvent, Fingerprint, RtcDtlsEngine, is_dtls,
};
use quietroom::turn::stun::{Class, Message, MessageBuilder, Method, attr};
use serde_json::{Value, json};

const FRAMES: u32 = 60;
const VIDEO: TrackId = TrackId(1);
const OUT_SSRC: u32 = 0x00DD_BA11;

/// What the SFU needs from an aiortc offer.
struct Offer {
    ufrag: String,
    fingerprint: Fingerprint,
    ssrc: Option<u32>,
    vp8: u8,
    mid: String,
}

fn parse_offer(sdp: &str) -> Offer {
    let attr = |name: &str| {
        sdp.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_else(|| panic!("offer without {name}"))
    };
    let vp8 = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=rtpmap:"))
        .find(|l| l.ends_with(" VP8/90000"))
        .and_then(|l| l.split(' ').next())
        .and_then(|pt| pt.parse().ok())
        .expect("offer without VP8");
    Offer {
        ufrag: attr("a=ice-ufrag:").to_owned(),
        // aiortc lists sha-256, sha-384 and sha-512; the SFU pins the sha-256 one.
        fingerprint: format!("sha-256 {}", attr("a=fingerprint:sha-256"))
            .parse()
            .expect("sha-256 fingerprint"),
        ssrc: sdp
            .lines()
            .find_map(|l| l.strip_prefix("a=ssrc:"))
            .and_then(|l| l.split(' ').next())
            .and_then(|s| s.parse().ok()),
        vp8,
        mid: attr("a=mid:").to_owned(),
    }
}

/// An `a=ice-lite` answer with one VP8 codec, the SFU passive in DTLS.
fn answer(offer: &Offer, leg: &Leg, port: u16, fingerprint: &Fingerprint) -> String {
    let (direction, ssrc) = if leg.publisher {
        ("recvonly", String::new())
    } else {
        (
            "sendonly",
            format!("a=msid:quietroom video\r\na=ssrc:{OUT_SSRC} cname:quietroom\r\n"),
        )
    };
    let pt = offer.vp8;
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE {mid}\r\n\
         a=ice-lite\r\na=msid-semantic:WMS *\r\n\
         m=video {port} UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 127.0.0.1\r\n\
         a=mid:{mid}\r\na={direction}\r\na=rtcp-mux\r\n{ssrc}\
         a=rtpmap:{pt} VP8/90000\r\na=rtcp-fb:{pt} nack\r\na=rtcp-fb:{pt} nack pli\r\n\
         a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=fingerprint:{fingerprint}\r\n\
         a=setup:passive\r\n\
         a=candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host\r\na=end-of-candidates\r\n",
        mid = offer.mid,
        ufrag = leg.ufrag,
        pwd = leg.pwd,
    )
}

/// One aiortc peer connection as the SFU sees it.
struct Leg {
    id: ParticipantId,
    publisher: bool,
    ufrag: String,
    pwd: String,
    remote_ufrag: String,
    addr: Option<SocketAddr>,
    dtls: RtcDtlsEngine,
    connected: bool,
}

/// Answers an ICE connectivity check (RFC 8445 §7.3, as an ice-lite agent): the USERNAME must
/// be `ours:theirs` and MESSAGE-INTEGRITY keyed with our password.
fn ice_response(leg: &Leg, request: &Message<'_>, from: SocketAddr) -> Option<Vec<u8>> {
    if request.class() != Class::Request || request.method() != Method::BINDING {
        return None;
    }
    let expected = format!("{}:{}", leg.ufrag, leg.remote_ufrag);
    if request.username().ok()?? != expected {
        return None;
    }
    request.check_integrity(leg.pwd.as_bytes(), None).ok()?;
    let mut buf = Vec::new();
    let mut m = MessageBuilder::new(
        &mut buf,
        Class::Success,
        Method::BINDING,
        request.transaction_id(),
    );
    m.add_xor_address(attr::XOR_MAPPED_ADDRESS, from)
        .add_message_integrity(leg.pwd.as_bytes())
        .add_fingerprint();
    m.finish();
    Some(buf)
}

fn python() -> Option<PathBuf> {
    let python = std::env::var_os("QUIETROOM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".peers/venv/bin/python")
        });
    let usable = Command::new(&python)
        .args(["-c", "import aiortc"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if usable {
        return Some(python);
    }
    let msg = format!(
        "aiortc interop needs aiortc at {}: run scripts/peers.sh",
        python.display()
    );
    assert!(
        std::env::var("QUIETROOM_REQUIRE_PEERS").as_deref() != Ok("1"),
        "{msg}"
    );
    eprintln!("SKIPPED: {msg}");
    None
}

#[test]
fn aiortc_video_goes_through_the_router() {
    let Some(python) = python() else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/aiortc_room.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(FRAMES.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let offers: Value = serde_json::from_str(
        &lines
            .recv_timeout(Duration::from_secs(30))
            .expect("offers from aiortc"),
    )
    .unwrap();
    let offer = |name: &str| parse_offer(offers[name].as_str().expect("an SDP offer"));
    let (publisher, subscriber) = (offer("publisher"), offer("subscriber"));

    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(2)))
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    let certificate = DtlsCertificate::generate().unwrap();
    let now = Instant::now();
    let mut legs: Vec<Leg> = [(&publisher, true), (&subscriber, false)]
        .into_iter()
        .enumerate()
        .map(|(i, (offer, publisher))| {
            let config = DtlsConfig::new(certificate.clone(), offer.fingerprint);
            Leg {
                id: ParticipantId(i as u64 + 1),
                publisher,
                ufrag: format!("qr{i}"),
                pwd: format!("quietroom-ice-password-{i}"),
                remote_ufrag: offer.ufrag.clone(),
                addr: None,
                dtls: RtcDtlsEngine::server(config, now).unwrap(),
                connected: false,
            }
        })
        .collect();
    let answers = [&publisher, &subscriber]
        .iter()
        .zip(&legs)
        .map(|(offer, leg)| answer(offer, leg, port, &certificate.fingerprint()))
        .collect::<Vec<_>>();
    let answers = json!({"publisher": answers[0], "subscriber": answers[1]});
    writeln!(stdin, "{answers}").unwrap();

    let mut router: Router<SrtpSession> = Router::new(RouterConfig::default());
    let mut published = false;
    let mut subscribed = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    let result = loop {
        assert!(Instant::now() < deadline, "no result from aiortc in 60 s");
        if let Ok(line) = lines.try_recv() {
            break line;
        }
        let mut buf = [0u8; 2048];
        let now = Instant::now();
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let datagram = &mut buf[..n];
                match datagram.first() {
                    Some(0..=3) => {
                        let Ok(request) = Message::parse(datagram) else {
                            continue;
                        };
                        for leg in &mut legs {
                            if let Some(response) = ice_response(leg, &request, from) {
                                leg.addr = Some(from);
                                socket.send_to(&response, from).unwrap();
                            }
                        }
                    }
                    _ if is_dtls(datagram) => {
                        let leg = legs.iter_mut().find(|l| l.addr == Some(from));
                        if let Some(leg) = leg {
                            leg.dtls.handle_input(now, datagram).unwrap();
                            while let Some(event) = leg.dtls.poll_event() {
                                if let DtlsEvent::Connected { session, .. } = event {
                                    router.add_participant(leg.id, *session).unwrap();
                                    leg.connected = true;
                                }
                            }
                        }
                    }
                    Some(128..=191) => {
                        let Some(leg) = legs.iter().find(|l| l.addr == Some(from)) else {
                            continue;
                        };
                        let rtcp = matches!(datagram.get(1), Some(192..=223));
                        let outcome = if rtcp {
                            router.handle_rtcp(now, leg.id, datagram)
                        } else {
                            router.handle_rtp(now, leg.id, datagram)
                        };
                        if let Err(e) = outcome {
                            eprintln!("router dropped a packet from {:?}: {e}", leg.id);
                        }
                    }
                    _ => {}
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("{e}"),
        }
        // Wire the room as soon as each side's handshake is done.
        if !published && legs[0].connected {
            let video = TrackConfig {
                kind: Kind::Video,
                codec: Codec::Vp8,
                clock_rate: 90_000,
                layers: vec![LayerConfig {
                    ssrc: publisher.ssrc,
                    rid: None,
                    spatial: 0,
                    bitrate_bps: 500_000,
                    rtx_ssrc: None,
                }],
                extensions: ExtensionIds::default(),
                rtx_payload_type: None,
                mid: None,
            };
            router.publish(legs[0].id, VIDEO, video).unwrap();
            published = true;
        }
        if published && !subscribed && legs[1].connected {
            router.subscribe(now, legs[1].id, VIDEO, OUT_SSRC).unwrap();
            subscribed = true;
        }
        for leg in &mut legs {
            if leg.dtls.poll_timeout().is_some_and(|at| at <= now) {
                let _ = leg.dtls.handle_timeout(now);
            }
            while let Some(datagram) = leg.dtls.poll_transmit() {
                if let Some(addr) = leg.addr {
                    socket.send_to(&datagram, addr).unwrap();
                }
            }
        }
        if router.poll_timeout().is_some_and(|at| at <= now) {
            router.handle_timeout(now);
        }
        while let Some(t) = router.poll_transmit() {
            if let Some(addr) = legs.iter().find(|l| l.id == t.to).and_then(|l| l.addr) {
                socket.send_to(&t.data, addr).unwrap();
            }
            router.recycle(t.data);
        }
    };
    let _ = child.wait();
    let stats = router.stats();
    eprintln!("aiortc: {result}");
    eprintln!("router: {stats:?}");
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
}
