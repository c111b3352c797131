//! The router driven in memory with real SRTP sessions and packets built and parsed by
//! webrtc-rs's `rtc-rtp` and `rtc-rtcp`, with simulated time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use quietroom_srtp::{MediaCrypto, Profile, Role, SrtpConfig, SrtpSession};
use rtc_rtp::header::Header;
use rtc_rtp::packet::Packet;
use rtc_shared::marshal::{Marshal, Unmarshal};

use super::*;
use crate::codec::Codec;

/// A participant as seen from its own side: its SRTP session toward the router.
struct Client {
    id: ParticipantId,
    session: SrtpSession,
}

fn keys(n: u64) -> Vec<u8> {
    (0..56).map(|i| (i as u64 * 7 + n) as u8).collect()
}

/// Adds participant `n` to the router and returns its client side.
fn join(router: &mut Router<SrtpSession>, n: u64) -> Client {
    let p = Profile::AeadAes128Gcm;
    let config = SrtpConfig::default().with_allow_repeat_tx(true);
    let server =
        SrtpSession::from_keying_material(p, &keys(n), Role::Server, config.clone()).unwrap();
    let client = SrtpSession::from_keying_material(p, &keys(n), Role::Client, config).unwrap();
    router.add_participant(ParticipantId(n), server).unwrap();
    Client {
        id: ParticipantId(n),
        session: client,
    }
}

fn vp8(keyframe: bool, fill: u8) -> Vec<u8> {
    // VP8 payload descriptor: S=1, PID=0; then the VP8 frame tag, P bit 0 for a keyframe.
    let mut payload = vec![0x10, if keyframe { 0x00 } else { 0x01 }, 0x00, 0x00];
    payload.extend(std::iter::repeat_n(fill, 100));
    payload
}

impl Client {
    fn send_rtp(
        &mut self,
        router: &mut Router<SrtpSession>,
        now: Instant,
        header: Header,
        payload: Vec<u8>,
    ) -> Result<(), RouterError> {
        let packet = Packet {
            header,
            payload: Bytes::from(payload),
        };
        let mut buf = packet.marshal().unwrap().to_vec();
        let len = buf.len();
        buf.resize(len + 16, 0);
        let n = self.session.protect_rtp(&mut buf, len).unwrap();
        router.handle_rtp(now, self.id, &mut buf[..n])
    }

    fn send_rtcp(&mut self, router: &mut Router<SrtpSession>, now: Instant, plain: &[u8]) {
        let mut buf = plain.to_vec();
        buf.resize(plain.len() + 20, 0);
        let n = self.session.protect_rtcp(&mut buf, plain.len()).unwrap();
        router.handle_rtcp(now, self.id, &mut buf[..n]).unwrap();
    }

    /// Decrypts what the router sent this client; returns (RTP packets, RTCP packets).
    fn receive(
        &mut self,
        transmits: &[(ParticipantId, bool, Vec<u8>)],
    ) -> (Vec<Packet>, Vec<Vec<u8>>) {
        let mut rtp_out = Vec::new();
        let mut rtcp_out = Vec::new();
        for (to, rtcp, data) in transmits {
            if *to != self.id {
                continue;
            }
            let mut buf = data.clone();
            if *rtcp {
                let n = self.session.unprotect_rtcp(&mut buf).unwrap();
                rtcp_out.push(buf[..n].to_vec());
            } else {
                let n = self.session.unprotect_rtp(&mut buf).unwrap();
                rtp_out.push(Packet::unmarshal(&mut &buf[..n]).unwrap());
            }
        }
        (rtp_out, rtcp_out)
    }
}

fn drain(router: &mut Router<SrtpSession>) -> Vec<(ParticipantId, bool, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(t) = router.poll_transmit() {
        out.push((t.to, t.rtcp, t.data.clone()));
        router.recycle(t.data);
    }
    out
}

fn header(ssrc: u32, seq: u16, ts: u32) -> Header {
    Header {
        version: 2,
        payload_type: 96,
        sequence_number: seq,
        timestamp: ts,
        ssrc,
        ..Default::default()
    }
}

fn video_track(ssrcs: &[u32]) -> TrackConfig {
    TrackConfig {
        kind: Kind::Video,
        codec: Codec::Vp8,
        clock_rate: 90_000,
        layers: ssrcs
            .iter()
            .enumerate()
            .map(|(i, s)| LayerConfig {
                ssrc: Some(*s),
                rid: None,
                spatial: i as u8,
                bitrate_bps: [150_000, 500_000, 1_500_000][i],
                rtx_ssrc: None,
            })
            .collect(),
        extensions: ExtensionIds::default(),
        rtx_payload_type: None,
        mid: None,
    }
}

fn audio_track(ssrc: u32) -> TrackConfig {
    TrackConfig {
        kind: Kind::Audio,
        codec: Codec::Opus,
        clock_rate: 48_000,
        layers: vec![LayerConfig {
            ssrc: Some(ssrc),
            rid: None,
            spatial: 0,
            bitrate_bps: 32_000,
            rtx_ssrc: None,
        }],
        extensions: ExtensionIds {
            audio_level: Some(1),
            ..Default::default()
        },
        rtx_payload_type: None,
        mid: None,
    }
}

fn pli_count(rtcp: &[Vec<u8>]) -> usize {
    rtcp.iter()
        .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
        .filter(|f| matches!(f, crate::rtcp::Feedback::Pli { .. }))
        .count()
}

/// A track of `rids` layers, or of one unnamed layer, with no SSRC signaled: found by MID
/// (extension 3) and RID (extension 4).
fn unsignaled_track(kind: Kind, mid: &str, rids: &[&str]) -> TrackConfig {
    let layer = |i: usize, rid: Option<&str>| LayerConfig {
        ssrc: None,
        rid: rid.map(str::to_owned),
        spatial: i as u8,
        bitrate_bps: 100_000,
        rtx_ssrc: None,
    };
    let layers = if rids.is_empty() {
        vec![layer(0, None)]
    } else {
        rids.iter()
            .enumerate()
            .map(|(i, r)| layer(i, Some(r)))
            .collect()
    };
    TrackConfig {
        kind,
        codec: if kind == Kind::Audio {
            Codec::Opus
        } else {
            Codec::Vp8
        },
        clock_rate: if kind == Kind::Audio { 48_000 } else { 90_000 },
        layers,
        extensions: ExtensionIds {
            mid: Some(3),
            rid: Some(4),
            ..Default::default()
        },
        rtx_payload_type: Some(97),
        mid: Some(mid.to_owned()),
    }
}

fn with_items(mut header: Header, mid: Option<&'static str>, rid: Option<&'static str>) -> Header {
    for (id, value) in [(3, mid), (4, rid)] {
        if let Some(v) = value {
            header
                .set_extension(id, Bytes::from_static(v.as_bytes()))
                .unwrap();
        }
    }
    header
}

#[test]
fn mid_tells_apart_tracks_with_the_same_rids_and_finds_unnamed_layers() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    // A camera and a screen share, both simulcast with the same RIDs, and a microphone: no
    // SSRC signaled for any of them.
    let camera = unsignaled_track(Kind::Video, "0", &["q", "h"]);
    let screen = unsignaled_track(Kind::Video, "1", &["q", "h"]);
    let mic = unsignaled_track(Kind::Audio, "2", &[]);
    router.publish(alice.id, TrackId(1), camera).unwrap();
    router.publish(alice.id, TrackId(2), screen).unwrap();
    router.publish(alice.id, TrackId(3), mic).unwrap();
    router.subscribe(t0, bob.id, TrackId(2), 0xB0B).unwrap();
    router.subscribe(t0, bob.id, TrackId(3), 0xB0A).unwrap();
    let _ = drain(&mut router);

    let send = |alice: &mut Client, router: &mut Router<SrtpSession>, h: Header, p: Vec<u8>| {
        alice.send_rtp(router, t0, h, p)
    };
    for seq in 0..3u16 {
        let camera = with_items(header(0x10, seq, 0), Some("0"), Some("q"));
        send(&mut alice, &mut router, camera, vp8(seq == 0, 0xC0)).unwrap();
        let screen = with_items(header(0x20, seq, 0), Some("1"), Some("q"));
        send(&mut alice, &mut router, screen, vp8(seq == 0, 0x5C)).unwrap();
        let mut mic = with_items(header(0x30, seq, 960 * u32::from(seq)), Some("2"), None);
        mic.payload_type = 111;
        send(&mut alice, &mut router, mic, vec![0x78; 40]).unwrap();
    }
    // An RTX packet of the screen's "q" layer, by its RTX payload type: it must carry a
    // repaired-RID to be placed (a simulcast track), so it is unknown here.
    let mut rtx = with_items(header(0x21, 0, 0), Some("1"), None);
    rtx.payload_type = 97;
    let err = send(&mut alice, &mut router, rtx, vec![0, 1, 2]).unwrap_err();
    assert!(matches!(err, RouterError::Unknown(_)), "{err:?}");
    // A one-layer video track's media and RTX, both by MID alone (the RTX by its payload
    // type): both are placed.
    let single = unsignaled_track(Kind::Video, "3", &[]);
    router.publish(alice.id, TrackId(4), single).unwrap();
    let media = with_items(header(0x50, 7, 0), Some("3"), None);
    send(&mut alice, &mut router, media, vp8(true, 0x33)).unwrap();
    let mut rtx = with_items(header(0x51, 0, 0), Some("3"), None);
    rtx.payload_type = 97;
    let mut original = 7u16.to_be_bytes().to_vec();
    original.extend(vp8(true, 0x33));
    send(&mut alice, &mut router, rtx, original).unwrap();
    // A MID nobody published.
    let stray = with_items(header(0x40, 0, 0), Some("9"), Some("q"));
    let err = send(&mut alice, &mut router, stray, vp8(true, 0)).unwrap_err();
    assert!(matches!(err, RouterError::Unknown(_)), "{err:?}");

    let out = drain(&mut router);
    let (packets, _) = bob.receive(&out);
    let video: Vec<&Packet> = packets.iter().filter(|p| p.header.ssrc == 0xB0B).collect();
    let audio: Vec<&Packet> = packets.iter().filter(|p| p.header.ssrc == 0xB0A).collect();
    assert_eq!(
        video.len(),
        3,
        "the screen share's layer q, not the camera's"
    );
    assert!(video.iter().all(|p| p.payload[4] == 0x5C));
    assert_eq!(audio.len(), 3, "the microphone, found by MID alone");
    assert_eq!(packets.len(), 6);
}

#[test]
fn audio_is_forwarded_to_every_subscriber_with_its_own_ssrc() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    let mut carol = join(&mut router, 3);
    router
        .publish(alice.id, TrackId(10), audio_track(0xA1))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(10), 0xB0B).unwrap();
    router.subscribe(t0, carol.id, TrackId(10), 0xCA7).unwrap();
    for i in 0..20u16 {
        alice
            .send_rtp(
                &mut router,
                t0 + Duration::from_millis(20 * u64::from(i)),
                header(0xA1, 65_530u16.wrapping_add(i), 960 * u32::from(i)),
                vec![i as u8; 40],
            )
            .unwrap();
    }
    let out = drain(&mut router);
    for (client, ssrc) in [(&mut bob, 0xB0B), (&mut carol, 0xCA7)] {
        let (packets, _) = client.receive(&out);
        assert_eq!(packets.len(), 20);
        for w in packets.windows(2) {
            assert_eq!(
                w[1].header.sequence_number,
                w[0].header.sequence_number.wrapping_add(1)
            );
            assert!(w[1].header.timestamp > w[0].header.timestamp);
        }
        assert!(packets.iter().all(|p| p.header.ssrc == ssrc));
        assert_eq!(&packets[3].payload[..], &[3u8; 40][..]);
    }
    let (own, _) = alice.receive(&out);
    assert!(own.is_empty(), "nothing is echoed to the publisher");
    assert_eq!(router.stats().forwarded, 40);
}

#[test]
fn simulcast_switches_layers_only_on_keyframes_without_gaps() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    let layers = [0x100, 0x200, 0x300];
    router
        .publish(alice.id, TrackId(1), video_track(&layers))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    // Subscribing asked the publisher for a keyframe of the lowest layer.
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(pli_count(&rtcp), 1);

    let mut now = t0;
    let send_all = |router: &mut Router<SrtpSession>,
                    alice: &mut Client,
                    frame: u32,
                    keyframes: [bool; 3],
                    now: Instant| {
        for (i, ssrc) in layers.iter().enumerate() {
            let seq = (1000 * (i as u32 + 1) + frame) as u16;
            alice
                .send_rtp(
                    router,
                    now,
                    header(*ssrc, seq, 3000 * frame + 7 * i as u32),
                    vp8(keyframes[i], i as u8),
                )
                .unwrap();
        }
    };
    send_all(&mut router, &mut alice, 0, [false; 3], now); // no keyframe yet: nothing forwarded
    assert!(bob.receive(&drain(&mut router)).0.is_empty());
    now += Duration::from_millis(33);
    send_all(&mut router, &mut alice, 1, [true, false, false], now);
    for frame in 2..5 {
        now += Duration::from_millis(33);
        send_all(&mut router, &mut alice, frame, [false; 3], now);
    }
    let (first, _) = bob.receive(&drain(&mut router));
    assert_eq!(first.len(), 4, "layer 0 from its keyframe on");
    assert!(first.iter().all(|p| p.payload[4] == 0));

    // Plenty of bandwidth: the target moves to the top layer and a keyframe is requested…
    router.set_bandwidth_estimate(now, bob.id, 5_000_000);
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(pli_count(&rtcp), 1);
    // …but layer 0 keeps flowing until layer 2's keyframe arrives.
    now += Duration::from_millis(33);
    send_all(&mut router, &mut alice, 5, [false; 3], now);
    now += Duration::from_millis(33);
    send_all(&mut router, &mut alice, 6, [false, false, true], now);
    for frame in 7..9 {
        now += Duration::from_millis(33);
        send_all(&mut router, &mut alice, frame, [false; 3], now);
    }
    let (second, _) = bob.receive(&drain(&mut router));
    let layers_seen: Vec<u8> = second.iter().map(|p| p.payload[4]).collect();
    // Frame 6's layer-0 packet arrives before layer 2's keyframe in the same frame.
    assert_eq!(layers_seen, vec![0, 0, 2, 2, 2]);
    assert!(matches!(
        router.poll_event(),
        Some(RouterEvent::LayerSwitched { spatial: 0, .. })
    ));
    assert!(matches!(
        router.poll_event(),
        Some(RouterEvent::LayerSwitched { spatial: 2, .. })
    ));
    let all: Vec<&Packet> = first.iter().chain(second.iter()).collect();
    for w in all.windows(2) {
        assert_eq!(
            w[1].header.sequence_number,
            w[0].header.sequence_number.wrapping_add(1),
            "no gap"
        );
        assert!(
            w[1].header.timestamp >= w[0].header.timestamp,
            "no step back"
        );
    }
}

#[test]
fn nacks_are_answered_from_the_cache_a_bounded_number_of_times() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), video_track(&[0x100]))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    router.set_rtx(bob.id, TrackId(1), 0xB0C, 97).unwrap();
    drain(&mut router);
    for i in 0..10u16 {
        alice
            .send_rtp(
                &mut router,
                t0,
                header(0x100, 500 + i, 3000 * u32::from(i)),
                vp8(i == 0, i as u8),
            )
            .unwrap();
    }
    let (sent, _) = bob.receive(&drain(&mut router));
    let lost = sent[4].header.sequence_number;
    let mut nack = Vec::new();
    crate::rtcp::build::nack(0xB0B0, 0xB0B, &[lost], &mut nack).unwrap();
    let mut resent = 0;
    for i in 0..6u64 {
        bob.send_rtcp(&mut router, t0 + Duration::from_millis(200 * i), &nack);
        let (again, _) = bob.receive(&drain(&mut router));
        for p in &again {
            // RTX (RFC 4588): its own SSRC, payload type and sequence; the original sequence
            // number leads the payload; the timestamp is the original's.
            assert_eq!((p.header.ssrc, p.header.payload_type), (0xB0C, 97));
            assert_eq!(&p.payload[..2], &lost.to_be_bytes());
            assert_eq!(p.header.timestamp, sent[4].header.timestamp);
            assert_eq!(&p.payload[2..], &sent[4].payload[..]);
        }
        resent += again.len();
    }
    assert_eq!(resent, 3, "max_resends");
}

#[test]
fn keyframe_requests_are_aggregated_and_throttled() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut subs: Vec<Client> = (2..6).map(|n| join(&mut router, n)).collect();
    router
        .publish(alice.id, TrackId(1), video_track(&[0x100]))
        .unwrap();
    for s in &subs {
        router
            .subscribe(t0, s.id, TrackId(1), 0x1000 + s.id.0 as u32)
            .unwrap();
    }
    alice
        .send_rtp(&mut router, t0, header(0x100, 1, 0), vp8(true, 0))
        .unwrap();
    drain(&mut router);
    let now = t0 + Duration::from_secs(1);
    for s in &mut subs {
        let mut pli = Vec::new();
        crate::rtcp::build::pli(0x9, 0x1000 + s.id.0 as u32, &mut pli).unwrap();
        s.send_rtcp(&mut router, now, &pli);
    }
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(pli_count(&rtcp), 1, "four requests, one PLI");
}

#[test]
fn leaving_releases_everything() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), audio_track(0xA1))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    alice
        .send_rtp(&mut router, t0, header(0xA1, 1, 0), vec![1; 10])
        .unwrap();
    router.remove_participant(alice.id);
    assert_eq!(router.track_count(), 0);
    assert!(
        matches!(router.poll_event(), Some(RouterEvent::TrackEnded { subscribers, .. }) if subscribers == vec![bob.id])
    );
    assert_eq!(router.participant_count(), 1);
    // Alice's packets are refused now, and nothing is queued for her.
    assert!(
        alice
            .send_rtp(&mut router, t0, header(0xA1, 2, 960), vec![1; 10])
            .is_err()
    );
    assert!(drain(&mut router).iter().all(|(to, _, _)| *to != alice.id));
    router.remove_participant(bob.id);
    assert_eq!(router.participant_count(), 0);
}

#[test]
fn the_loudest_participant_becomes_active_speaker() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), audio_track(0xA1))
        .unwrap();
    router
        .publish(bob.id, TrackId(2), audio_track(0xB1))
        .unwrap();
    let mut now = t0;
    for i in 0..60u16 {
        for (client, ssrc, level) in [(&mut alice, 0xA1, 90u8), (&mut bob, 0xB1, 25u8)] {
            let mut h = header(ssrc, i, 960 * u32::from(i));
            h.set_extension(1, Bytes::from(vec![0x80 | level])).unwrap();
            client.send_rtp(&mut router, now, h, vec![0; 20]).unwrap();
        }
        now += Duration::from_millis(20);
        router.handle_timeout(now);
    }
    let speakers: Vec<_> = std::iter::from_fn(|| router.poll_event())
        .filter_map(|e| match e {
            RouterEvent::ActiveSpeaker { participant } => Some(participant),
            _ => None,
        })
        .collect();
    assert_eq!(speakers, vec![bob.id]);
}

#[test]
fn garbage_is_refused_without_panicking_or_forwarding() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), video_track(&[0x100]))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    drain(&mut router);
    for len in [0usize, 1, 11, 12, 40, 200] {
        let mut junk: Vec<u8> = (0..len).map(|i| (i * 31) as u8).collect();
        assert!(router.handle_rtp(t0, alice.id, &mut junk).is_err());
        let mut junk: Vec<u8> = (0..len).map(|i| (i * 17) as u8).collect();
        assert!(router.handle_rtcp(t0, alice.id, &mut junk).is_err());
    }
    // An authentic packet of an unknown stream is refused too.
    assert!(
        alice
            .send_rtp(&mut router, t0, header(0xDEAD, 1, 0), vp8(true, 0))
            .is_err()
    );
    assert!(drain(&mut router).is_empty());
    assert_eq!(router.stats().forwarded, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// For any schedule of keyframes and layer targets, what one subscriber receives has
    /// consecutive sequence numbers (mod 2^16) and timestamps that never go backwards.
    #[test]
    fn output_is_continuous_under_any_layer_switching(
        start in any::<u16>(),
        frames in proptest::collection::vec((any::<[bool; 3]>(), proptest::option::of(0u64..3)), 1..60),
    ) {
        let t0 = Instant::now();
        let mut router = Router::new(RouterConfig::default());
        let mut alice = join(&mut router, 1);
        let mut bob = join(&mut router, 2);
        let layers = [0x100u32, 0x200, 0x300];
        router.publish(alice.id, TrackId(1), video_track(&layers)).unwrap();
        router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
        let mut now = t0;
        let mut received = Vec::new();
        for (frame, (keyframes, target)) in frames.iter().enumerate() {
            now += Duration::from_millis(33);
            if let Some(target) = target {
                let bps = [200_000, 700_000, 5_000_000][*target as usize];
                router.set_bandwidth_estimate(now, bob.id, bps);
            }
            for (i, ssrc) in layers.iter().enumerate() {
                let seq = start.wrapping_add((i * 20_000) as u16).wrapping_add(frame as u16);
                let ts = 90_000 * i as u32 + 3000 * frame as u32;
                alice.send_rtp(&mut router, now, header(*ssrc, seq, ts), vp8(keyframes[i], i as u8)).unwrap();
            }
            received.extend(bob.receive(&drain(&mut router)).0);
        }
        for w in received.windows(2) {
            prop_assert_eq!(w[1].header.sequence_number, w[0].header.sequence_number.wrapping_add(1));
            prop_assert!(w[1].header.timestamp.wrapping_sub(w[0].header.timestamp) < u32::MAX / 2);
        }
    }
}

#[test]
fn transport_wide_cc_feedback_goes_back_to_the_publisher() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut track = video_track(&[0x100]);
    track.extensions.transport_cc = Some(3);
    router.publish(alice.id, TrackId(1), track).unwrap();
    drain(&mut router);
    for i in 0..20u16 {
        let mut h = header(0x100, i, 3000 * u32::from(i));
        h.set_extension(3, Bytes::from((100 + i).to_be_bytes().to_vec()))
            .unwrap();
        alice
            .send_rtp(
                &mut router,
                t0 + Duration::from_millis(5 * u64::from(i)),
                h,
                vp8(i == 0, 0),
            )
            .unwrap();
    }
    let due = router.poll_timeout().unwrap();
    router.handle_timeout(due.max(t0 + Duration::from_millis(200)));
    let (_, rtcp) = alice.receive(&drain(&mut router));
    let reported: Vec<u16> = rtcp
        .iter()
        .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
        .filter_map(|f| match f {
            crate::rtcp::Feedback::TransportCc { packets, .. } => Some(packets),
            _ => None,
        })
        .flatten()
        .filter(|(_, arrival)| arrival.is_some())
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(reported, (100..120).collect::<Vec<u16>>());
}

#[test]
fn transport_wide_cc_from_a_subscriber_moves_its_layer_down() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    let layers = [0x100u32, 0x200, 0x300];
    let mut track = video_track(&layers);
    track.extensions.transport_cc = Some(3);
    router.publish(alice.id, TrackId(1), track).unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    router.set_bandwidth_estimate(t0, bob.id, 5_000_000);
    drain(&mut router);
    let mut recorder = crate::rtcp::TwccRecorder::with_interval(Duration::from_millis(100));
    let mut now = t0;
    let mut twcc = 0u16;
    let mut plis_for_layer0 = 0;
    let mut received = 0u32;
    for frame in 0..40u32 {
        now += Duration::from_millis(33);
        for (i, ssrc) in layers.iter().enumerate() {
            let mut h = header(*ssrc, frame as u16, 3000 * frame);
            h.set_extension(3, Bytes::from(twcc.to_be_bytes().to_vec()))
                .unwrap();
            twcc = twcc.wrapping_add(1);
            alice
                .send_rtp(&mut router, now, h, vp8(frame % 10 == 0, i as u8))
                .unwrap();
        }
        let out = drain(&mut router);
        let (_, rtcp) = alice.receive(&out);
        plis_for_layer0 += rtcp
            .iter()
            .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
            .filter(|f| {
                matches!(
                    f,
                    crate::rtcp::Feedback::Pli {
                        media_ssrc: 0x100,
                        ..
                    }
                )
            })
            .count();
        // Bob's link loses every other packet; his client reports what arrived.
        for p in &bob.receive(&out).0 {
            received += 1;
            if received % 2 == 0 || frame < 10 {
                if let Some(v) = p.header.get_extension(3) {
                    recorder.record(u16::from_be_bytes([v[0], v[1]]), now);
                }
            }
        }
        let mut fb = Vec::new();
        while recorder.poll_feedback(now, 0xB0B0, 0xB0B, &mut fb).unwrap() {}
        if !fb.is_empty() {
            bob.send_rtcp(&mut router, now, &fb);
        }
        router.handle_timeout(now);
    }
    assert!(
        plis_for_layer0 >= 1,
        "the estimate fell and layer 0 was requested"
    );
    let switched: Vec<u8> = std::iter::from_fn(|| router.poll_event())
        .filter_map(|e| match e {
            RouterEvent::LayerSwitched { spatial, .. } => Some(spatial),
            _ => None,
        })
        .collect();
    assert_eq!(
        switched.last(),
        Some(&0),
        "ends on the lowest layer: {switched:?}"
    );
}

#[test]
fn sender_reports_are_translated_and_rtt_is_measured() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    router
        .publish(alice.id, TrackId(1), audio_track(0xA1))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    for i in 0..5u16 {
        alice
            .send_rtp(
                &mut router,
                t0,
                header(0xA1, 100 + i, 48_000 + 960 * u32::from(i)),
                vec![0; 20],
            )
            .unwrap();
    }
    let (forwarded, _) = bob.receive(&drain(&mut router));
    // The publisher's SR: NTP ↔ RTP 48 000.
    let ntp = 0x1234_5678_9ABC_0000u64;
    let mut sr = Vec::new();
    crate::rtcp::build::sender_report(0xA1, ntp, 48_000, 5, 100, &[], &mut sr).unwrap();
    alice.send_rtcp(&mut router, t0, &sr);
    let at = t0 + Duration::from_secs(1);
    router.handle_timeout(at);
    let (_, rtcp) = bob.receive(&drain(&mut router));
    let translated = rtcp
        .iter()
        .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
        .find_map(|f| match f {
            crate::rtcp::Feedback::SenderReport {
                ssrc: 0xB0B,
                ntp_time,
                rtp_time,
                ..
            } => Some((ntp_time, rtp_time)),
            _ => None,
        })
        .expect("a sender report for bob's stream");
    // Same NTP instant, expressed in bob's output timestamps.
    let offset = forwarded[0].header.timestamp.wrapping_sub(48_000);
    assert_eq!(translated, (ntp, 48_000u32.wrapping_add(offset)));

    // Bob answers 80 ms later, having held the SR for 30 ms: RTT 50 ms.
    let block = crate::rtcp::ReportBlock {
        ssrc: 0xB0B,
        fraction_lost: 0,
        total_lost: 0,
        highest_sequence: 0,
        jitter: 0,
        last_sr: ((ntp >> 16) & 0xFFFF_FFFF) as u32,
        delay_since_last_sr: 65_536 * 30 / 1000,
    };
    let mut rr = Vec::new();
    crate::rtcp::build::receiver_report(0xB0B0, &[block], &mut rr).unwrap();
    bob.send_rtcp(&mut router, at + Duration::from_millis(80), &rr);
    let rtt = router
        .participants
        .get(&bob.id)
        .expect("present")
        .rtt
        .expect("measured");
    assert!(
        rtt >= Duration::from_millis(49) && rtt <= Duration::from_millis(51),
        "{rtt:?}"
    );
}

/// The sequence numbers NACKed in `rtcp`, for `media_ssrc`.
fn nacked(rtcp: &[Vec<u8>], media_ssrc: u32) -> Vec<u16> {
    rtcp.iter()
        .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
        .filter_map(|f| match f {
            crate::rtcp::Feedback::Nack {
                media_ssrc: m,
                lost,
                ..
            } if m == media_ssrc => Some(lost),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A packet the publisher's uplink lost is NACKed at once and then once per round trip; its
/// RTX retransmission is unwrapped and reaches the subscriber under the number the munger
/// reserved for it; a loss larger than the NACK list asks for a keyframe instead.
#[test]
fn uplink_loss_is_nacked_and_repaired_over_rtx() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    let mut track = video_track(&[0x100]);
    track.layers[0].rtx_ssrc = Some(0x101);
    router.publish(alice.id, TrackId(1), track).unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    drain(&mut router);
    // 10 (a keyframe), 11, 12 lost, 13.
    for seq in [10u16, 11, 13] {
        let h = header(0x100, seq, 3000 * u32::from(seq));
        let payload = vp8(seq == 10, seq as u8);
        alice.send_rtp(&mut router, t0, h, payload).unwrap();
    }
    let out = drain(&mut router);
    let (forwarded, _) = bob.receive(&out);
    let out_seq: Vec<u16> = forwarded.iter().map(|p| p.header.sequence_number).collect();
    assert_eq!(out_seq.len(), 3);
    assert_eq!(out_seq[2], out_seq[1].wrapping_add(2), "a gap where 12 is");
    let (_, rtcp) = alice.receive(&out);
    assert_eq!(nacked(&rtcp, 0x100), [12], "NACKed at once");
    assert_eq!(router.stats().publisher_nacks, 1);

    // Again after a round trip (100 ms until one is measured), not before.
    router.handle_timeout(ms(50));
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert!(nacked(&rtcp, 0x100).is_empty());
    assert!(router.poll_timeout().is_some_and(|t| t <= ms(100)));
    router.handle_timeout(ms(100));
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert_eq!(nacked(&rtcp, 0x100), [12], "NACKed again");

    // The publisher answers over RTX (RFC 4588): its own SSRC, payload type and sequence,
    // the original sequence number first.
    let mut payload = 12u16.to_be_bytes().to_vec();
    payload.extend(vp8(false, 12));
    let rtx = Header {
        payload_type: 97,
        ..header(0x101, 500, 3000 * 12)
    };
    alice.send_rtp(&mut router, ms(120), rtx, payload).unwrap();
    let (repaired, _) = bob.receive(&drain(&mut router));
    assert_eq!(repaired.len(), 1);
    let p = &repaired[0];
    assert_eq!(p.header.ssrc, 0xB0B);
    assert_eq!(p.header.payload_type, 96);
    assert_eq!(p.header.sequence_number, out_seq[1].wrapping_add(1));
    assert_eq!(
        p.header.timestamp,
        forwarded[1].header.timestamp.wrapping_add(3000)
    );
    assert_eq!(&p.payload[..], &vp8(false, 12)[..]);

    // Nothing more is asked for; RTX padding (a probe) is ignored.
    router.handle_timeout(ms(1_000));
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert!(nacked(&rtcp, 0x100).is_empty());
    let probe = Header {
        payload_type: 97,
        ..header(0x101, 501, 0)
    };
    alice
        .send_rtp(&mut router, ms(1_000), probe, Vec::new())
        .unwrap();
    assert!(drain(&mut router).is_empty());

    // A gap larger than the NACK list: a keyframe request instead.
    let far = 13 + 2 * RouterConfig::default().nack_cache_packets as u16;
    alice
        .send_rtp(&mut router, ms(1_500), header(0x100, far, 0), vp8(false, 0))
        .unwrap();
    let (_, rtcp) = alice.receive(&drain(&mut router));
    assert!(nacked(&rtcp, 0x100).is_empty());
    assert_eq!(pli_count(&rtcp), 1);
}
