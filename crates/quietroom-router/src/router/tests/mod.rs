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

/// Alice (1) publishes `track` as track 1 and Bob (2) subscribes to it as 0xB0B.
fn alice_to_bob(t0: Instant, track: TrackConfig) -> (Router<SrtpSession>, Client, Client) {
    let mut router = Router::new(RouterConfig::default());
    let alice = join(&mut router, 1);
    let bob = join(&mut router, 2);
    router.publish(alice.id, TrackId(1), track).unwrap();
    router.subscribe(t0, bob.id, TrackId(1), 0xB0B).unwrap();
    (router, alice, bob)
}

fn pli_count(rtcp: &[Vec<u8>]) -> usize {
    rtcp.iter()
        .flat_map(|p| crate::rtcp::parse_compound(p).unwrap())
        .filter(|f| matches!(f, crate::rtcp::Feedback::Pli { .. }))
        .count()
}

mod allocation;
mod demand;
mod estimate;
mod feedback;
mod forwarding;
mod streams;
mod svc;
mod temporal;
