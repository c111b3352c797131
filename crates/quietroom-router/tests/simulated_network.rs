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
//! REMB with its downlink cap.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use quietroom_router::codec::Codec;
use quietroom_router::rtcp::{Feedback, build, parse_compound};
use quietroom_router::{
    ExtensionIds, Kind, LayerConfig, ParticipantId, Router, RouterConfig, RouterEvent, TrackConfig,
    TrackId,
};
use quietroom_srtp::{MediaCrypto, Profile, Role, SrtpConfig, SrtpSession};
use rtc_rtp::header::Header;
use rtc_rtp::packet::Packet;
use rtc_shared::marshal::{Marshal, Unmarshal};

// ---------------------------------------------------------------------------------------------
// Deterministic randomness.

/// xorshift64* — tiny, seeded, good enough for impairments.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Never zero (xorshift's fixed point); spread small seeds.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Uniform in [lo, hi].
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform in [0, max].
    fn up_to(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.range(0, nanos))
    }
}

// ---------------------------------------------------------------------------------------------
// The network.

/// Impairments of one direction of one participant's path to the router.
#[derive(Clone, Debug)]
struct LinkConfig {
    /// One-way propagation delay.
    latency: Duration,
    /// Extra delay, uniform in [0, jitter]; order is kept (a FIFO path).
    jitter: Duration,
    /// Probability that a packet is lost.
    loss: f64,
    /// Probability that a packet is held back by up to `reorder_delay` extra, overtaken by the
    /// ones behind it.
    reorder: f64,
    reorder_delay: Duration,
    /// Bottleneck rate in bits per second; `None` for unlimited.
    bandwidth_bps: Option<u64>,
    /// Bytes the bottleneck queue holds; a packet that does not fit is dropped (drop-tail).
    queue_bytes: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(20),
            jitter: Duration::ZERO,
            loss: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            bandwidth_bps: None,
            queue_bytes: 64 * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct LinkStats {
    offered: u64,
    lost: u64,
    queue_dropped: u64,
    reordered: u64,
}

struct Link {
    config: LinkConfig,
    rng: Rng,
    /// When the bottleneck finishes sending what is queued.
    busy_until: Option<Instant>,
    /// The latest arrival of an in-order packet: later in-order packets arrive after it.
    last_arrival: Option<Instant>,
    stats: LinkStats,
}

impl Link {
    fn new(config: LinkConfig, seed: u64) -> Self {
        Link {
            config,
            rng: Rng::new(seed),
            busy_until: None,
            last_arrival: None,
            stats: LinkStats::default(),
        }
    }

    /// When a packet of `len` bytes sent at `now` arrives, or `None` if it is dropped.
    fn admit(&mut self, now: Instant, len: usize) -> Option<Instant> {
        self.stats.offered += 1;
        let mut departure = now;
        if let Some(bps) = self.config.bandwidth_bps {
            let busy = self.busy_until.filter(|b| *b > now).unwrap_or(now);
            let backlog = (busy - now).as_nanos() * u128::from(bps) / 8 / 1_000_000_000;
            if backlog as usize + len > self.config.queue_bytes {
                self.stats.queue_dropped += 1;
                return None;
            }
            let tx = Duration::from_nanos(len as u64 * 8 * 1_000_000_000 / bps);
            departure = busy + tx;
            self.busy_until = Some(departure);
        }
        if self.rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return None;
        }
        let mut arrival = departure + self.config.latency + self.rng.up_to(self.config.jitter);
        if self.rng.chance(self.config.reorder) {
            self.stats.reordered += 1;
            arrival += self.rng.up_to(self.config.reorder_delay);
        } else {
            if let Some(last) = self.last_arrival {
                arrival = arrival.max(last);
            }
            self.last_arrival = Some(arrival);
        }
        Some(arrival)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Dir {
    /// Participant → router.
    Up,
    /// Router → participant.
    Down,
}

struct Datagram {
    participant: ParticipantId,
    dir: Dir,
    rtcp: bool,
    data: Vec<u8>,
}

struct Network {
    seed: u64,
    links: HashMap<(ParticipantId, Dir), Link>,
    /// In flight, by (arrival, send order): ties keep the order they were sent in.
    in_flight: BTreeMap<(Instant, u64), Datagram>,
    next_order: u64,
}

impl Network {
    fn new(seed: u64) -> Self {
        Network {
            seed,
            links: HashMap::new(),
            in_flight: BTreeMap::new(),
            next_order: 0,
        }
    }

    fn link(&mut self, participant: ParticipantId, dir: Dir) -> &mut Link {
        let seed = self.seed
            ^ (participant.0 << 1 | u64::from(dir == Dir::Down)).wrapping_mul(0x1000_0001);
        self.links
            .entry((participant, dir))
            .or_insert_with(|| Link::new(LinkConfig::default(), seed))
    }

    fn configure(&mut self, participant: ParticipantId, dir: Dir, config: LinkConfig) {
        self.link(participant, dir).config = config;
    }

    /// Sends `data`; gives it back if the link drops it.
    fn send(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        dir: Dir,
        rtcp: bool,
        data: Vec<u8>,
    ) -> Option<Vec<u8>> {
        let Some(at) = self.link(participant, dir).admit(now, data.len()) else {
            return Some(data);
        };
        self.next_order += 1;
        self.in_flight.insert(
            (at, self.next_order),
            Datagram {
                participant,
                dir,
                rtcp,
                data,
            },
        );
        None
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(at, _)| *at)
    }

    fn pop_due(&mut self, now: Instant) -> Option<Datagram> {
        let (at, _) = *self.in_flight.keys().next()?;
        if at > now {
            return None;
        }
        self.in_flight.pop_first().map(|(_, d)| d)
    }

    fn stats(&self, participant: ParticipantId, dir: Dir) -> LinkStats {
        self.links
            .get(&(participant, dir))
            .map(|l| l.stats)
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Media and signaling constants.

const VIDEO_TRACK: TrackId = TrackId(1);
const AUDIO_TRACK: TrackId = TrackId(2);
const VIDEO_SSRCS: [u32; 3] = [0x1000_0001, 0x1000_0002, 0x1000_0003];
const AUDIO_SSRC: u32 = 0xA000_0001;
const VIDEO_PT: u8 = 96;
const RTX_PT: u8 = 97;
const AUDIO_PT: u8 = 111;
const AUDIO_LEVEL_ID: u8 = 1;
/// What each layer needs, as signaled to the router; close to what is sent (packets per frame
/// × ~1100 bytes × 30 fps, plus keyframes).
const LAYER_BPS: [u64; 3] = [300_000, 600_000, 1_700_000];
const LAYER_PACKETS: [usize; 3] = [1, 2, 6];
/// A keyframe is this many times as large as a delta frame.
const KEYFRAME_FACTOR: usize = 3;
const FRAME_NANOS: u64 = 1_000_000_000 / 30;
/// A periodic keyframe every 2 s per layer.
const KEYFRAME_EVERY: u64 = 60;

const NACK_DELAY: Duration = Duration::from_millis(15);
const NACK_RETRY: Duration = Duration::from_millis(110);
const MAX_NACKS: u32 = 3;
const GIVE_UP: Duration = Duration::from_millis(300);
const REMB_INTERVAL: Duration = Duration::from_millis(500);

fn keys(n: u64) -> Vec<u8> {
    (0..56).map(|i| (i as u64 * 7 + n * 13) as u8).collect()
}

/// Adds participant `n` to the router; returns the client's side of its SRTP session.
fn join(router: &mut Router<SrtpSession>, n: u64) -> SrtpSession {
    let p = Profile::AeadAes128Gcm;
    let server_config = SrtpConfig::default().with_allow_repeat_tx(true);
    let server =
        SrtpSession::from_keying_material(p, &keys(n), Role::Server, server_config).unwrap();
    let client =
        SrtpSession::from_keying_material(p, &keys(n), Role::Client, SrtpConfig::default())
            .unwrap();
    router.add_participant(ParticipantId(n), server).unwrap();
    client
}

fn video_track() -> TrackConfig {
    TrackConfig {
        kind: Kind::Video,
        codec: Codec::Vp8,
        clock_rate: 90_000,
        layers: (0..3)
            .map(|i| LayerConfig {
                ssrc: Some(VIDEO_SSRCS[i]),
                rid: None,
                spatial: i as u8,
                bitrate_bps: LAYER_BPS[i],
            })
            .collect(),
        extensions: ExtensionIds::default(),
    }
}

fn audio_track() -> TrackConfig {
    TrackConfig {
        kind: Kind::Audio,
        codec: Codec::Opus,
        clock_rate: 48_000,
        layers: vec![LayerConfig {
            ssrc: Some(AUDIO_SSRC),
            rid: None,
            spatial: 0,
            bitrate_bps: 40_000,
        }],
        extensions: ExtensionIds {
            audio_level: Some(AUDIO_LEVEL_ID),
            ..Default::default()
        },
    }
}

/// A VP8 packet payload: the payload descriptor (S set on a frame's first packet), then on the
/// first packet the frame tag (P bit 0 for a keyframe), then the test's own marker — layer,
/// frame number, packet index and count — then filler up to `len`.
fn vp8_payload(
    layer: u8,
    frame: u64,
    index: usize,
    count: usize,
    keyframe: bool,
    len: usize,
) -> Vec<u8> {
    let first = index == 0;
    let mut p = Vec::with_capacity(len);
    p.push(if first { 0x10 } else { 0x00 });
    p.push(match (first, keyframe) {
        (true, true) => 0x50,
        (true, false) => 0x31,
        (false, _) => 0xEE,
    });
    p.extend_from_slice(&[0x00, 0x00]);
    p.push(layer);
    p.extend_from_slice(&frame.to_be_bytes());
    p.push(index as u8);
    p.push(count as u8);
    p.resize(len.max(p.len()), 0xAB ^ layer);
    p
}

/// What a client reads back from a VP8 payload built by [`vp8_payload`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Vp8Marker {
    layer: u8,
    frame: u64,
    index: u8,
    keyframe_start: bool,
}

fn read_vp8(payload: &[u8]) -> Vp8Marker {
    assert!(payload.len() >= 15, "short VP8 payload");
    Vp8Marker {
        layer: payload[4],
        frame: u64::from_be_bytes(payload[5..13].try_into().unwrap()),
        index: payload[13],
        keyframe_start: payload[0] & 0x10 != 0 && payload[1] & 0x01 == 0,
    }
}

fn protect_rtp(session: &mut SrtpSession, packet: &Packet) -> Vec<u8> {
    let mut buf = packet.marshal().unwrap().to_vec();
    let len = buf.len();
    buf.resize(len + session.rtp_overhead(), 0);
    let n = session.protect_rtp(&mut buf, len).unwrap();
    buf.truncate(n);
    buf
}

fn protect_rtcp(session: &mut SrtpSession, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + session.rtcp_overhead(), 0);
    let n = session.protect_rtcp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

/// The NTP epoch the publisher's sender reports count from.
const NTP_EPOCH: u64 = 3_900_000_000;

/// Seconds since the simulation started for an NTP timestamp from the publisher.
fn ntp_seconds(ntp: u64) -> f64 {
    (ntp >> 32).wrapping_sub(NTP_EPOCH) as f64 + (ntp & 0xFFFF_FFFF) as f64 / 4_294_967_296.0
}

/// Extends a 16-bit sequence number to the one nearest `highest`.
fn extend_seq(highest: Option<i64>, seq: u16) -> i64 {
    match highest {
        None => (1 << 32) + i64::from(seq),
        Some(h) => h + i64::from(seq.wrapping_sub(h as u16) as i16),
    }
}

// ---------------------------------------------------------------------------------------------
// The publisher.

struct Publisher {
    id: ParticipantId,
    session: SrtpSession,
    rng: Rng,
    t0: Instant,
    /// Media flows until then.
    active_until: Option<Instant>,
    /// Whether each layer sends a keyframe every 2 s on its own (else only on request, as
    /// libwebrtc does).
    periodic_keyframes: bool,
    /// Whether the audio track is published.
    audio: bool,
    frame: u64,
    audio_packets: u64,
    next_sr: Instant,
    seq: [u16; 3],
    ts_base: [u32; 3],
    audio_seq: u16,
    audio_ts_base: u32,
    packets_sent: [u32; 3],
    octets_sent: [u32; 3],
    force_keyframe: [bool; 3],
    plis: [u32; 3],
    receiver_reports: u32,
    /// Per layer, every packet sent: (frame, packet index, keyframe).
    sent: [Vec<(u64, u8, bool)>; 3],
}

impl Publisher {
    fn new(id: ParticipantId, session: SrtpSession, t0: Instant, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let seq = [0, 1, 2].map(|_| rng.next_u64() as u16);
        let ts_base = [0, 1, 2].map(|_| rng.next_u64() as u32);
        Publisher {
            id,
            session,
            t0,
            active_until: None,
            periodic_keyframes: true,
            audio: true,
            frame: 0,
            audio_packets: 0,
            next_sr: t0 + Duration::from_millis(500),
            seq,
            ts_base,
            audio_seq: rng.next_u64() as u16,
            audio_ts_base: rng.next_u64() as u32,
            packets_sent: [0; 3],
            octets_sent: [0; 3],
            force_keyframe: [false; 3],
            plis: [0; 3],
            receiver_reports: 0,
            sent: [Vec::new(), Vec::new(), Vec::new()],
            rng,
        }
    }

    fn next_frame_at(&self) -> Instant {
        self.t0 + Duration::from_nanos(self.frame * FRAME_NANOS)
    }

    fn next_audio_at(&self) -> Instant {
        self.t0 + Duration::from_millis(20 * self.audio_packets)
    }

    fn next_timeout(&self) -> Option<Instant> {
        let mut next = self.next_frame_at().min(self.next_sr);
        if self.audio {
            next = next.min(self.next_audio_at());
        }
        match self.active_until {
            Some(end) if next >= end => None,
            _ => Some(next),
        }
    }

    /// Produces what is due at `now`: (rtcp, protected packet).
    fn poll(&mut self, now: Instant, out: &mut Vec<(bool, Vec<u8>)>) {
        if self.active_until.is_some_and(|end| now >= end) {
            return;
        }
        while self.next_frame_at() <= now {
            self.send_frame(out);
        }
        while self.audio && self.next_audio_at() <= now {
            self.send_audio(out);
        }
        if self.next_sr <= now {
            self.next_sr = now + Duration::from_secs(1);
            let elapsed = now - self.t0;
            // NTP: seconds since 1900 in the upper half; start at an arbitrary epoch.
            let ntp = ((NTP_EPOCH + elapsed.as_secs()) << 32)
                | ((u64::from(elapsed.subsec_nanos()) << 32) / 1_000_000_000);
            let rtp_now = (elapsed.as_nanos() * 90_000 / 1_000_000_000) as u32;
            let mut plain = Vec::new();
            for (layer, ssrc) in VIDEO_SSRCS.iter().enumerate() {
                build::sender_report(
                    *ssrc,
                    ntp,
                    self.ts_base[layer].wrapping_add(rtp_now),
                    self.packets_sent[layer],
                    self.octets_sent[layer],
                    &[],
                    &mut plain,
                )
                .unwrap();
            }
            if self.audio {
                let audio_now = (elapsed.as_nanos() * 48_000 / 1_000_000_000) as u32;
                build::sender_report(
                    AUDIO_SSRC,
                    ntp,
                    self.audio_ts_base.wrapping_add(audio_now),
                    self.audio_packets as u32,
                    self.audio_packets as u32 * 100,
                    &[],
                    &mut plain,
                )
                .unwrap();
            }
            out.push((true, protect_rtcp(&mut self.session, &plain)));
        }
    }

    fn send_frame(&mut self, out: &mut Vec<(bool, Vec<u8>)>) {
        let frame = self.frame;
        self.frame += 1;
        for layer in 0..3 {
            // Stagger the periodic keyframes of the layers.
            let periodic = self.periodic_keyframes && frame % KEYFRAME_EVERY == (layer as u64) * 20;
            let keyframe = periodic || std::mem::take(&mut self.force_keyframe[layer]);
            let count = LAYER_PACKETS[layer] * if keyframe { KEYFRAME_FACTOR } else { 1 };
            for index in 0..count {
                let len = self.rng.range(1000, 1200) as usize - 12;
                let payload = vp8_payload(layer as u8, frame, index, count, keyframe, len);
                let header = Header {
                    version: 2,
                    marker: index + 1 == count,
                    payload_type: VIDEO_PT,
                    sequence_number: self.seq[layer],
                    timestamp: self.ts_base[layer].wrapping_add((frame * 3000) as u32),
                    ssrc: VIDEO_SSRCS[layer],
                    ..Default::default()
                };
                self.seq[layer] = self.seq[layer].wrapping_add(1);
                self.packets_sent[layer] += 1;
                self.octets_sent[layer] += payload.len() as u32;
                self.sent[layer].push((frame, index as u8, keyframe));
                let packet = Packet {
                    header,
                    payload: Bytes::from(payload),
                };
                out.push((false, protect_rtp(&mut self.session, &packet)));
            }
        }
    }

    fn send_audio(&mut self, out: &mut Vec<(bool, Vec<u8>)>) {
        let n = self.audio_packets;
        self.audio_packets += 1;
        let mut header = Header {
            version: 2,
            payload_type: AUDIO_PT,
            sequence_number: self.audio_seq,
            timestamp: self.audio_ts_base.wrapping_add((n * 960) as u32),
            ssrc: AUDIO_SSRC,
            ..Default::default()
        };
        // RFC 6464: voice activity, -30 dBov.
        header
            .set_extension(AUDIO_LEVEL_ID, Bytes::from_static(&[0x80 | 30]))
            .unwrap();
        self.audio_seq = self.audio_seq.wrapping_add(1);
        let len = self.rng.range(80, 120) as usize;
        let mut payload = vec![0x78; len];
        payload[1..9].copy_from_slice(&n.to_be_bytes());
        let packet = Packet {
            header,
            payload: Bytes::from(payload),
        };
        out.push((false, protect_rtp(&mut self.session, &packet)));
    }

    fn receive(&mut self, rtcp: bool, data: &mut [u8]) {
        assert!(rtcp, "the router sent RTP to the publisher");
        let n = self.session.unprotect_rtcp(data).unwrap();
        for item in parse_compound(&data[..n]).unwrap() {
            match item {
                Feedback::Pli { media_ssrc, .. } => self.keyframe_request(media_ssrc),
                Feedback::Fir { entries, .. } => {
                    for (ssrc, _) in entries {
                        self.keyframe_request(ssrc);
                    }
                }
                Feedback::ReceiverReport { .. } => self.receiver_reports += 1,
                other => panic!("unexpected RTCP to the publisher: {other:?}"),
            }
        }
    }

    fn keyframe_request(&mut self, ssrc: u32) {
        let layer = VIDEO_SSRCS
            .iter()
            .position(|s| *s == ssrc)
            .expect("keyframe request for a video layer");
        self.force_keyframe[layer] = true;
        self.plis[layer] += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// A subscriber's client.

#[derive(Clone, Copy, Debug)]
struct RxPacket {
    timestamp: u32,
    vp8: Vp8Marker,
    arrival: Instant,
    primary: u32,
    rtx: u32,
}

#[derive(Clone, Copy, Debug)]
struct Missing {
    since: Instant,
    next_nack: Instant,
    nacks: u32,
}

#[derive(Default)]
struct VideoRx {
    highest: Option<i64>,
    packets: BTreeMap<i64, RxPacket>,
    missing: BTreeMap<i64, Missing>,
    /// Gaps given up on (then a PLI was sent).
    unrecovered: u64,
    last_pli: Option<Instant>,
    rtx_packets: u64,
    rtx_timestamp_mismatch: u64,
}

struct Subscriber {
    id: ParticipantId,
    session: SrtpSession,
    video_ssrc: u32,
    rtx_ssrc: u32,
    audio_ssrc: u32,
    /// The downlink cap this client reports with REMB, if it does.
    remb_bps: Option<u64>,
    next_remb: Option<Instant>,
    ended: bool,
    video: VideoRx,
    audio_seqs: Vec<u16>,
    foreign_ssrc: u64,
    decrypt_errors: u64,
    sender_reports: u64,
    /// The newest (capture time, timestamp) received on the video and audio SSRCs, to check
    /// that translated sender reports map capture time to the timestamps actually received.
    last_video: Option<(Duration, u32)>,
    last_audio: Option<(Duration, u32)>,
    /// The largest disagreement seen between a sender report and the media, in seconds.
    sr_max_error: f64,
    nacks_sent: u64,
    plis_sent: u64,
    rembs_sent: u64,
    /// What the router sent (read from the clear SRTP header before the downlink).
    forwarded_video: Vec<u16>,
    forwarded_rtx: u64,
    forwarded_audio: u64,
}

impl Subscriber {
    fn new(id: ParticipantId, session: SrtpSession) -> Self {
        let base = 0x5000_0000 + (id.0 as u32) * 16;
        Subscriber {
            id,
            session,
            video_ssrc: base,
            rtx_ssrc: base + 1,
            audio_ssrc: base + 2,
            remb_bps: None,
            next_remb: None,
            ended: false,
            video: VideoRx::default(),
            audio_seqs: Vec::new(),
            foreign_ssrc: 0,
            decrypt_errors: 0,
            sender_reports: 0,
            last_video: None,
            last_audio: None,
            sr_max_error: 0.0,
            nacks_sent: 0,
            plis_sent: 0,
            rembs_sent: 0,
            forwarded_video: Vec::new(),
            forwarded_rtx: 0,
            forwarded_audio: 0,
        }
    }

    fn set_cap(&mut self, now: Instant, bps: u64) {
        self.remb_bps = Some(bps);
        self.next_remb = Some(now);
    }

    fn receive(&mut self, now: Instant, rtcp: bool, data: &mut [u8]) {
        if rtcp {
            let Ok(n) = self.session.unprotect_rtcp(data) else {
                self.decrypt_errors += 1;
                return;
            };
            for item in parse_compound(&data[..n]).unwrap() {
                match item {
                    Feedback::SenderReport {
                        ssrc,
                        ntp_time,
                        rtp_time,
                        ..
                    } => {
                        let (last, clock_rate) = if ssrc == self.video_ssrc {
                            (self.last_video, 90_000.0)
                        } else if ssrc == self.audio_ssrc {
                            (self.last_audio, 48_000.0)
                        } else {
                            panic!("sender report for a foreign SSRC {ssrc:#x}");
                        };
                        self.sender_reports += 1;
                        if let Some((captured, ts)) = last {
                            let sr_at = ntp_seconds(ntp_time);
                            let predicted =
                                f64::from(rtp_time) + (captured.as_secs_f64() - sr_at) * clock_rate;
                            let error =
                                f64::from(ts.wrapping_sub(predicted.round() as i64 as u32) as i32)
                                    / clock_rate;
                            self.sr_max_error = self.sr_max_error.max(error.abs());
                        }
                    }
                    other => panic!("unexpected RTCP to a subscriber: {other:?}"),
                }
            }
            return;
        }
        let Ok(n) = self.session.unprotect_rtp(data) else {
            self.decrypt_errors += 1;
            return;
        };
        let packet = Packet::unmarshal(&mut &data[..n]).unwrap();
        let h = &packet.header;
        if h.ssrc == self.video_ssrc {
            assert_eq!(h.payload_type, VIDEO_PT);
            let frame = read_vp8(&packet.payload).frame;
            self.last_video = Some((Duration::from_nanos(frame * FRAME_NANOS), h.timestamp));
            self.on_video(now, h.sequence_number, h.timestamp, &packet.payload, false);
        } else if h.ssrc == self.rtx_ssrc {
            assert_eq!(h.payload_type, RTX_PT);
            let osn = u16::from_be_bytes([packet.payload[0], packet.payload[1]]);
            self.video.rtx_packets += 1;
            self.on_video(now, osn, h.timestamp, &packet.payload[2..], true);
        } else if h.ssrc == self.audio_ssrc {
            assert_eq!(h.payload_type, AUDIO_PT);
            let n = u64::from_be_bytes(packet.payload[1..9].try_into().unwrap());
            self.last_audio = Some((Duration::from_millis(20 * n), h.timestamp));
            self.audio_seqs.push(h.sequence_number);
        } else {
            self.foreign_ssrc += 1;
        }
    }

    fn on_video(&mut self, now: Instant, seq: u16, timestamp: u32, payload: &[u8], rtx: bool) {
        let v = &mut self.video;
        let ext = extend_seq(v.highest, seq);
        let vp8 = read_vp8(payload);
        let entry = v.packets.entry(ext).or_insert(RxPacket {
            timestamp,
            vp8,
            arrival: now,
            primary: 0,
            rtx: 0,
        });
        if rtx {
            entry.rtx += 1;
        } else {
            entry.primary += 1;
        }
        if entry.timestamp != timestamp || entry.vp8 != vp8 {
            v.rtx_timestamp_mismatch += 1;
        }
        v.missing.remove(&ext);
        match v.highest {
            None => v.highest = Some(ext),
            Some(h) if ext > h => {
                // A gap: expect the missing ones (a huge jump is not worth NACKing).
                if ext - h < 512 {
                    for m in h + 1..ext {
                        if !v.packets.contains_key(&m) {
                            v.missing.insert(
                                m,
                                Missing {
                                    since: now,
                                    next_nack: now + NACK_DELAY,
                                    nacks: 0,
                                },
                            );
                        }
                    }
                }
                v.highest = Some(ext);
            }
            Some(_) => {}
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        let missing = self
            .video
            .missing
            .values()
            .map(|m| {
                if m.nacks < MAX_NACKS {
                    m.next_nack.min(m.since + GIVE_UP)
                } else {
                    m.since + GIVE_UP
                }
            })
            .min();
        [missing, self.next_remb].into_iter().flatten().min()
    }

    /// Runs the client's timers; returns plain RTCP packets to send.
    fn poll(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        let v = &mut self.video;
        let mut lost = Vec::new();
        let mut gave_up = false;
        v.missing.retain(|seq, m| {
            if m.since + GIVE_UP <= now {
                gave_up = true;
                return false;
            }
            if m.nacks < MAX_NACKS && m.next_nack <= now {
                m.nacks += 1;
                m.next_nack = now + NACK_RETRY;
                lost.push(*seq as u16);
            }
            true
        });
        if !lost.is_empty() {
            let mut plain = Vec::new();
            build::nack(self.video_ssrc ^ 0xFFFF, self.video_ssrc, &lost, &mut plain).unwrap();
            self.nacks_sent += 1;
            out.push(plain);
        }
        if gave_up {
            v.unrecovered += 1;
            if v.last_pli.is_none_or(|at| now >= at + GIVE_UP) {
                v.last_pli = Some(now);
                let mut plain = Vec::new();
                build::pli(self.video_ssrc ^ 0xFFFF, self.video_ssrc, &mut plain).unwrap();
                self.plis_sent += 1;
                out.push(plain);
            }
        }
        if let (Some(at), Some(bps)) = (self.next_remb, self.remb_bps)
            && at <= now
        {
            self.next_remb = Some(now + REMB_INTERVAL);
            let mut plain = Vec::new();
            build::remb(
                self.video_ssrc ^ 0xFFFF,
                bps,
                &[self.video_ssrc],
                &mut plain,
            )
            .unwrap();
            self.rembs_sent += 1;
            out.push(plain);
        }
        out
    }

    /// Everything received on the video SSRC or recovered over RTX, in sequence order.
    fn video_in_order(&self) -> Vec<(i64, RxPacket)> {
        self.video.packets.iter().map(|(s, p)| (*s, *p)).collect()
    }

    /// Invariants of what the client received, whatever the network did.
    fn check_stream_invariants(&self) {
        let who = self.id;
        assert_eq!(self.decrypt_errors, 0, "{who:?}: decryption failures");
        assert_eq!(
            self.foreign_ssrc, 0,
            "{who:?}: packets on SSRCs not signaled"
        );
        assert!(
            self.sr_max_error < 0.005,
            "{who:?}: sender reports off by {} s",
            self.sr_max_error
        );
        assert_eq!(
            self.video.rtx_timestamp_mismatch, 0,
            "{who:?}: a resend differs from the original"
        );
        let packets = self.video_in_order();
        for (seq, p) in &packets {
            assert!(
                p.primary <= 1,
                "{who:?}: output sequence {seq} sent twice on the media SSRC"
            );
        }
        // Timestamps never go backwards in sequence order.
        for w in packets.windows(2) {
            let step = w[1].1.timestamp.wrapping_sub(w[0].1.timestamp);
            assert!(
                step < u32::MAX / 2,
                "{who:?}: timestamp goes back from seq {} to {}",
                w[0].0,
                w[1].0
            );
        }
        // The layer changes only on a keyframe (where both sides of a change are present).
        for w in packets.windows(2) {
            let ((s0, a), (s1, b)) = (w[0], w[1]);
            if s1 == s0 + 1 && a.vp8.layer != b.vp8.layer {
                assert!(
                    b.vp8.keyframe_start,
                    "{who:?}: layer {} -> {} at seq {s1} on a delta frame",
                    a.vp8.layer, b.vp8.layer
                );
            }
        }
        // Frames of one layer never go backwards.
        for w in packets.windows(2) {
            let (a, b) = (w[0].1.vp8, w[1].1.vp8);
            if a.layer == b.layer {
                assert!(
                    (b.frame, b.index) > (a.frame, a.index),
                    "{who:?}: {a:?} then {b:?}"
                );
            }
        }
        let mut audio = self.audio_seqs.clone();
        let n = audio.len();
        audio.sort_unstable();
        audio.dedup();
        assert_eq!(audio.len(), n, "{who:?}: duplicate audio sequence numbers");
    }
}

// ---------------------------------------------------------------------------------------------
// The simulation.

struct TransmitLog {
    at: Instant,
    to: ParticipantId,
    rtcp: bool,
    /// The SSRC in the clear header (RTP), or the sender SSRC (RTCP).
    ssrc: u32,
}

struct Sim {
    t0: Instant,
    now: Instant,
    router: Router<SrtpSession>,
    net: Network,
    publisher: Publisher,
    subs: Vec<Subscriber>,
    events: Vec<(Instant, RouterEvent)>,
    router_errors: Vec<(Instant, String)>,
    log: Vec<TransmitLog>,
    publisher_left: bool,
    handle_timeouts: u64,
}

impl Sim {
    /// A room with a publisher (participant 1) of simulcast video and audio, and
    /// `subscribers` subscribers (participants 2..) subscribed to both, with RTX.
    fn new(seed: u64, subscribers: usize) -> Self {
        Sim::with_publisher(seed, subscribers, true, true)
    }

    /// Like [`Sim::new`], choosing whether audio is published and whether the publisher sends
    /// periodic keyframes.
    fn with_publisher(
        seed: u64,
        subscribers: usize,
        audio: bool,
        periodic_keyframes: bool,
    ) -> Self {
        let t0 = Instant::now();
        let mut router = Router::new(RouterConfig::default());
        let pub_session = join(&mut router, 1);
        let mut publisher = Publisher::new(ParticipantId(1), pub_session, t0, seed ^ 0xBEEF);
        publisher.audio = audio;
        publisher.periodic_keyframes = periodic_keyframes;
        router
            .publish(publisher.id, VIDEO_TRACK, video_track())
            .unwrap();
        if audio {
            router
                .publish(publisher.id, AUDIO_TRACK, audio_track())
                .unwrap();
        }
        let mut sim = Sim {
            t0,
            now: t0,
            router,
            net: Network::new(seed),
            publisher,
            subs: Vec::new(),
            events: Vec::new(),
            router_errors: Vec::new(),
            log: Vec::new(),
            publisher_left: false,
            handle_timeouts: 0,
        };
        for i in 0..subscribers {
            sim.add_subscriber(2 + i as u64);
        }
        sim
    }

    /// Participant `n` joins now and subscribes to what is published, with RTX for video.
    fn add_subscriber(&mut self, n: u64) -> ParticipantId {
        let now = self.now;
        let session = join(&mut self.router, n);
        let s = Subscriber::new(ParticipantId(n), session);
        self.router
            .subscribe(now, s.id, VIDEO_TRACK, s.video_ssrc)
            .unwrap();
        self.router
            .set_rtx(s.id, VIDEO_TRACK, s.rtx_ssrc, RTX_PT)
            .unwrap();
        if self.publisher.audio {
            self.router
                .subscribe(now, s.id, AUDIO_TRACK, s.audio_ssrc)
                .unwrap();
        }
        let id = s.id;
        self.subs.push(s);
        self.drain_router();
        id
    }

    fn sub(&self, id: ParticipantId) -> &Subscriber {
        self.subs.iter().find(|s| s.id == id).unwrap()
    }

    fn sub_mut(&mut self, id: ParticipantId) -> &mut Subscriber {
        self.subs.iter_mut().find(|s| s.id == id).unwrap()
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    /// Sets the bottleneck of a subscriber's downlink (what its client reports is separate:
    /// [`Sim::report_cap`]).
    fn set_link_cap(&mut self, id: ParticipantId, bps: u64, queue_bytes: usize) {
        let link = self.net.link(id, Dir::Down);
        link.config.bandwidth_bps = Some(bps);
        link.config.queue_bytes = queue_bytes;
    }

    /// A subscriber reports `bps` with REMB from now on (its link is unchanged).
    fn report_cap(&mut self, id: ParticipantId, bps: u64) {
        let now = self.now;
        self.sub_mut(id).set_cap(now, bps);
    }

    fn drain_router(&mut self) {
        while let Some(t) = self.router.poll_transmit() {
            let ssrc = if t.rtcp {
                u32::from_be_bytes(t.data[4..8].try_into().unwrap())
            } else {
                u32::from_be_bytes(t.data[8..12].try_into().unwrap())
            };
            self.log.push(TransmitLog {
                at: self.now,
                to: t.to,
                rtcp: t.rtcp,
                ssrc,
            });
            if let Some(s) = self.subs.iter_mut().find(|s| s.id == t.to)
                && !t.rtcp
            {
                if ssrc == s.video_ssrc {
                    s.forwarded_video
                        .push(u16::from_be_bytes([t.data[2], t.data[3]]));
                } else if ssrc == s.rtx_ssrc {
                    s.forwarded_rtx += 1;
                } else if ssrc == s.audio_ssrc {
                    s.forwarded_audio += 1;
                }
            }
            if let Some(back) = self.net.send(self.now, t.to, Dir::Down, t.rtcp, t.data) {
                self.router.recycle(back);
            }
        }
        while let Some(e) = self.router.poll_event() {
            if let RouterEvent::TrackEnded { subscribers, .. } = &e {
                for id in subscribers {
                    if let Some(s) = self.subs.iter_mut().find(|s| s.id == *id) {
                        s.ended = true;
                    }
                }
            }
            self.events.push((self.now, e));
        }
    }

    fn next_due(&self) -> Option<Instant> {
        let publisher = (!self.publisher_left)
            .then(|| self.publisher.next_timeout())
            .flatten();
        [
            publisher,
            self.net.next_arrival(),
            self.router.poll_timeout(),
        ]
        .into_iter()
        .chain(self.subs.iter().map(Subscriber::next_timeout))
        .flatten()
        .min()
    }

    /// Runs until `end` (simulated).
    fn run_until(&mut self, end: Instant) {
        while let Some(next) = self.next_due().filter(|t| *t <= end) {
            self.now = self.now.max(next);
            self.step();
        }
        self.now = self.now.max(end);
    }

    fn step(&mut self) {
        let now = self.now;
        while let Some(mut d) = self.net.pop_due(now) {
            match d.dir {
                Dir::Up => {
                    let result = if d.rtcp {
                        self.router.handle_rtcp(now, d.participant, &mut d.data)
                    } else {
                        self.router.handle_rtp(now, d.participant, &mut d.data)
                    };
                    if let Err(e) = result {
                        self.router_errors.push((now, e.to_string()));
                    }
                    self.drain_router();
                }
                Dir::Down => {
                    if d.participant == self.publisher.id {
                        if !self.publisher_left {
                            self.publisher.receive(d.rtcp, &mut d.data);
                        }
                    } else if let Some(s) = self.subs.iter_mut().find(|s| s.id == d.participant) {
                        s.receive(now, d.rtcp, &mut d.data);
                    }
                    self.router.recycle(d.data);
                }
            }
        }
        if self.router.poll_timeout().is_some_and(|t| t <= now) {
            self.router.handle_timeout(now);
            self.handle_timeouts += 1;
            self.drain_router();
        }
        if !self.publisher_left {
            let mut out = Vec::new();
            self.publisher.poll(now, &mut out);
            for (rtcp, data) in out {
                self.net.send(now, self.publisher.id, Dir::Up, rtcp, data);
            }
        }
        for i in 0..self.subs.len() {
            let id = self.subs[i].id;
            for plain in self.subs[i].poll(now) {
                let data = protect_rtcp(&mut self.subs[i].session, &plain);
                self.net.send(now, id, Dir::Up, true, data);
            }
        }
    }

    fn layer_switches(&self, id: ParticipantId) -> Vec<(Instant, u8)> {
        self.events
            .iter()
            .filter_map(|(at, e)| match e {
                RouterEvent::LayerSwitched {
                    subscriber,
                    track,
                    spatial,
                } if *subscriber == id && *track == VIDEO_TRACK => Some((*at, *spatial)),
                _ => None,
            })
            .collect()
    }

    fn secs(&self, at: Instant) -> f64 {
        (at - self.t0).as_secs_f64()
    }
}

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

    assert!(
        sim.router_errors.is_empty(),
        "{:?}",
        &sim.router_errors[..sim.router_errors.len().min(5)]
    );
    for s in &sim.subs {
        s.check_stream_invariants();
    }
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
fn bandwidth_cap_moves_layers_down_and_up() {
    let mut sim = Sim::new(0x5EED_0002, 2);
    let capped = sim.subs[0].id;
    let other = sim.subs[1].id;
    // A 20 kB drop-tail queue: 400 ms at 400 kbps.
    sim.set_link_cap(capped, 5_000_000, 20_000);
    sim.report_cap(capped, 5_000_000);
    sim.report_cap(other, 5_000_000);

    sim.run_until(sim.at(4.0));
    let up = sim.layer_switches(capped);
    assert_eq!(
        up.last().map(|(_, l)| *l),
        Some(2),
        "on the top layer first: {up:?}"
    );

    // The downlink drops to 400 kbps; the client's estimator notices 300 ms later.
    let drop_at = sim.now;
    sim.set_link_cap(capped, 400_000, 20_000);
    sim.run_until(sim.at(4.3));
    sim.report_cap(capped, 400_000);
    sim.run_until(sim.at(10.0));
    let switches = sim.layer_switches(capped);
    let after_drop: Vec<(f64, u8)> = switches
        .iter()
        .filter(|(at, _)| *at >= drop_at)
        .map(|(at, l)| (sim.secs(*at), *l))
        .collect();
    assert_eq!(
        after_drop.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
        vec![0],
        "{after_drop:?}"
    );
    assert!(after_drop[0].0 < 5.0, "down quickly: {after_drop:?}");

    // Back up to 5 Mbps.
    let rise_at = sim.now;
    sim.set_link_cap(capped, 5_000_000, 20_000);
    sim.run_until(sim.at(10.3));
    sim.report_cap(capped, 5_000_000);
    sim.publisher.active_until = Some(sim.at(15.0));
    sim.run_until(sim.at(16.0));
    let after_rise: Vec<(f64, u8)> = sim
        .layer_switches(capped)
        .iter()
        .filter(|(at, _)| *at >= rise_at)
        .map(|(at, l)| (sim.secs(*at), *l))
        .collect();
    assert_eq!(
        after_rise.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
        vec![2],
        "{after_rise:?}"
    );
    assert!(after_rise[0].0 < 11.5, "up quickly: {after_rise:?}");

    assert!(
        sim.router_errors.is_empty(),
        "{:?}",
        &sim.router_errors[..sim.router_errors.len().min(5)]
    );
    for s in &sim.subs {
        s.check_stream_invariants();
    }
    // What the client decoded: layer 0 while capped (once the queue drained), layer 2 at the end.
    let s = sim.sub(capped);
    let packets = s.video_in_order();
    let capped_window = packets
        .iter()
        .filter(|(_, p)| p.arrival >= sim.at(6.0) && p.arrival < sim.at(10.0));
    assert!(capped_window.clone().count() > 100);
    assert!(capped_window.clone().all(|(_, p)| p.vp8.layer == 0));
    let last = packets.last().unwrap().1;
    assert_eq!(last.vp8.layer, 2);
    let link = sim.net.stats(capped, Dir::Down);
    println!(
        "capped: switches {:?}, queue drops {}, nacks {}, plis {}, rtx {}, unrecovered {}",
        sim.layer_switches(capped)
            .iter()
            .map(|(at, l)| (sim.secs(*at), *l))
            .collect::<Vec<_>>(),
        link.queue_dropped,
        s.nacks_sent,
        s.plis_sent,
        s.video.rtx_packets,
        s.video.unrecovered
    );
    // The other subscriber stayed on the top layer throughout.
    assert_eq!(
        sim.layer_switches(other)
            .iter()
            .map(|(_, l)| *l)
            .collect::<Vec<_>>(),
        vec![0, 2]
    );
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
    // The router does not NACK upstream: what the publisher's uplink loses reaches the
    // subscribers as a gap they cannot fill, and a PLI brings a keyframe.
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
