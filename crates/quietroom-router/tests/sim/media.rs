//! Media and signaling constants, packet helpers, and the publisher.

use super::*;

// ---------------------------------------------------------------------------------------------
// Media and signaling constants.

pub(crate) const VIDEO_TRACK: TrackId = TrackId(1);
pub(crate) const AUDIO_TRACK: TrackId = TrackId(2);
pub(crate) const VIDEO_SSRCS: [u32; 3] = [0x1000_0001, 0x1000_0002, 0x1000_0003];
pub(crate) const AUDIO_SSRC: u32 = 0xA000_0001;
pub(crate) const VIDEO_PT: u8 = 96;
pub(crate) const RTX_PT: u8 = 97;
/// The publisher's RTX streams, per layer, and their payload type.
pub(crate) const VIDEO_RTX_SSRCS: [u32; 3] = [0x1100_0001, 0x1100_0002, 0x1100_0003];
pub(crate) const PUBLISHER_RTX_PT: u8 = 107;
/// Packets per layer the publisher keeps to retransmit.
const PUBLISHER_HISTORY: usize = 600;
pub(crate) const AUDIO_PT: u8 = 111;
pub(crate) const AUDIO_LEVEL_ID: u8 = 1;
/// RID simulcast: the header extension ids and the layers' names.
pub(crate) const RID_ID: u8 = 10;
pub(crate) const MID_ID: u8 = 9;
pub(crate) const VIDEO_MID: &str = "1";
pub(crate) const REPAIRED_RID_ID: u8 = 11;
/// The transport-wide sequence number extension (when the room uses transport-wide CC).
pub(crate) const TWCC_ID: u8 = 5;
pub(crate) const RIDS: [&str; 3] = ["q", "h", "f"];
/// What each layer needs, as signaled to the router; close to what is sent (packets per frame
/// × ~1100 bytes × 30 fps, plus keyframes).
pub(crate) const LAYER_BPS: [u64; 3] = [300_000, 600_000, 1_700_000];
pub(crate) const LAYER_PACKETS: [usize; 3] = [1, 2, 6];
/// A keyframe is this many times as large as a delta frame.
pub(crate) const KEYFRAME_FACTOR: usize = 3;
pub(crate) const FRAME_NANOS: u64 = 1_000_000_000 / 30;
/// A periodic keyframe every 2 s per layer.
pub(crate) const KEYFRAME_EVERY: u64 = 60;

pub(crate) const NACK_DELAY: Duration = Duration::from_millis(15);
pub(crate) const NACK_RETRY: Duration = Duration::from_millis(110);
pub(crate) const MAX_NACKS: u32 = 3;
pub(crate) const GIVE_UP: Duration = Duration::from_millis(300);
pub(crate) const REMB_INTERVAL: Duration = Duration::from_millis(500);

pub(crate) fn keys(n: u64) -> Vec<u8> {
    (0..56).map(|i| (i as u64 * 7 + n * 13) as u8).collect()
}

/// Adds participant `n` to the router; returns the client's side of its SRTP session.
pub(crate) fn join(router: &mut Router<SrtpSession>, n: u64) -> SrtpSession {
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

pub(crate) fn video_track(rtx: bool) -> TrackConfig {
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
                rtx_ssrc: rtx.then_some(VIDEO_RTX_SSRCS[i]),
            })
            .collect(),
        extensions: ExtensionIds::default(),
        rtx_payload_type: None,
        mid: None,
    }
}

/// RID simulcast (RFC 8851/8852), as browsers publish it: the layers are named, not their
/// SSRCs, and RTX is negotiated by payload type; the router learns every SSRC from the
/// MID, RID and repaired-RID header extensions.
pub(crate) fn video_track_rid() -> TrackConfig {
    let mut track = video_track(false);
    for (layer, rid) in track.layers.iter_mut().zip(RIDS) {
        layer.ssrc = None;
        layer.rid = Some(rid.to_owned());
    }
    track.extensions = ExtensionIds {
        rid: Some(RID_ID),
        repaired_rid: Some(REPAIRED_RID_ID),
        mid: Some(MID_ID),
        ..Default::default()
    };
    track.rtx_payload_type = Some(PUBLISHER_RTX_PT);
    track.mid = Some(VIDEO_MID.to_owned());
    track
}

pub(crate) fn audio_track() -> TrackConfig {
    TrackConfig {
        kind: Kind::Audio,
        codec: Codec::Opus,
        clock_rate: 48_000,
        layers: vec![LayerConfig {
            ssrc: Some(AUDIO_SSRC),
            rid: None,
            spatial: 0,
            bitrate_bps: 40_000,
            rtx_ssrc: None,
        }],
        extensions: ExtensionIds {
            audio_level: Some(AUDIO_LEVEL_ID),
            ..Default::default()
        },
        rtx_payload_type: None,
        mid: None,
    }
}

/// Where each layer's picture IDs start (the publisher numbers each layer's pictures on its
/// own, as libwebrtc does; layer 0 wraps its 15 bits early in every run).
const PICTURE_ID_BASE: [u16; 3] = [0x7F00, 1_000, 20_000];

/// A layer's picture ID for a frame.
fn picture_id(layer: u8, frame: u64) -> u16 {
    (u64::from(PICTURE_ID_BASE[usize::from(layer)]) + frame) as u16 & 0x7FFF
}

/// libwebrtc's three temporal layers: the TID of the n-th frame after a keyframe.
const TEMPORAL_PATTERN: [u8; 4] = [0, 2, 1, 2];

/// A frame's place in its layer's temporal structure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Temporal {
    pub(crate) tid: u8,
    /// Layer sync (Y): the frame depends on the base layer only.
    pub(crate) sync: bool,
    pub(crate) tl0_pic_idx: u8,
}

/// A VP8 packet payload: the payload descriptor as libwebrtc writes it (X, I with a 15-bit
/// picture ID, L with TL0PICIDX, T with TID and Y; S set on a frame's first packet), then on
/// the first packet the frame tag (P bit 0 for a keyframe), then the test's own marker —
/// layer, frame number, packet index and count — then filler up to `len`.
pub(crate) fn vp8_payload(
    layer: u8,
    frame: u64,
    (index, count): (usize, usize),
    keyframe: bool,
    temporal: Temporal,
    len: usize,
) -> Vec<u8> {
    let first = index == 0;
    let mut p = Vec::with_capacity(len);
    p.push(if first { 0x90 } else { 0x80 });
    p.push(0xE0);
    p.extend_from_slice(&(0x8000 | picture_id(layer, frame)).to_be_bytes());
    p.push(temporal.tl0_pic_idx);
    p.push((temporal.tid << 6) | if temporal.sync { 0x20 } else { 0 });
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

/// What a client reads back from a VP8 payload built by [`vp8_payload`] (after the router's
/// rewriting: the picture numbers are the subscriber's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Vp8Marker {
    pub(crate) layer: u8,
    pub(crate) frame: u64,
    pub(crate) index: u8,
    pub(crate) keyframe_start: bool,
    pub(crate) picture_id: u16,
    pub(crate) tl0_pic_idx: u8,
    pub(crate) tid: u8,
}

pub(crate) fn read_vp8(payload: &[u8]) -> Vp8Marker {
    assert!(payload.len() >= 20, "short VP8 payload");
    assert_eq!(payload[0] & 0xEF, 0x80, "descriptor first byte");
    assert_eq!(payload[1], 0xE0, "descriptor extension byte");
    assert!(payload[2] & 0x80 != 0, "15-bit picture ID");
    Vp8Marker {
        layer: payload[9],
        frame: u64::from_be_bytes(payload[10..18].try_into().unwrap()),
        index: payload[18],
        keyframe_start: payload[0] & 0x10 != 0 && payload[6] & 0x01 == 0,
        picture_id: u16::from_be_bytes([payload[2] & 0x7F, payload[3]]),
        tl0_pic_idx: payload[4],
        tid: payload[5] >> 6,
    }
}

pub(crate) fn protect_rtp(session: &mut SrtpSession, packet: &Packet) -> Vec<u8> {
    let mut buf = packet.marshal().unwrap().to_vec();
    let len = buf.len();
    buf.resize(len + session.rtp_overhead(), 0);
    let n = session.protect_rtp(&mut buf, len).unwrap();
    buf.truncate(n);
    buf
}

pub(crate) fn protect_rtcp(session: &mut SrtpSession, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + session.rtcp_overhead(), 0);
    let n = session.protect_rtcp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

/// The NTP epoch the publisher's sender reports count from.
pub(crate) const NTP_EPOCH: u64 = 3_900_000_000;

/// Seconds since the simulation started for an NTP timestamp from the publisher.
pub(crate) fn ntp_seconds(ntp: u64) -> f64 {
    (ntp >> 32).wrapping_sub(NTP_EPOCH) as f64 + (ntp & 0xFFFF_FFFF) as f64 / 4_294_967_296.0
}

/// Extends a 16-bit sequence number to the one nearest `highest`.
pub(crate) fn extend_seq(highest: Option<i64>, seq: u16) -> i64 {
    match highest {
        None => (1 << 32) + i64::from(seq),
        Some(h) => h + i64::from(seq.wrapping_sub(h as u16) as i16),
    }
}

// ---------------------------------------------------------------------------------------------
// The publisher.

pub(crate) struct Publisher {
    pub(crate) id: ParticipantId,
    pub(crate) session: SrtpSession,
    pub(crate) rng: Rng,
    pub(crate) t0: Instant,
    /// Media flows until then.
    pub(crate) active_until: Option<Instant>,
    /// Whether each layer sends a keyframe every 2 s on its own (else only on request, as
    /// libwebrtc does).
    pub(crate) periodic_keyframes: bool,
    /// Whether the audio track is published.
    pub(crate) audio: bool,
    /// Layers the publisher has stopped sending, as a browser does with its upper layers
    /// when its bandwidth estimate drops.
    pub(crate) paused: [bool; 3],
    pub(crate) frame: u64,
    pub(crate) audio_packets: u64,
    pub(crate) next_sr: Instant,
    pub(crate) seq: [u16; 3],
    pub(crate) ts_base: [u32; 3],
    pub(crate) audio_seq: u16,
    pub(crate) audio_ts_base: u32,
    pub(crate) packets_sent: [u32; 3],
    pub(crate) octets_sent: [u32; 3],
    pub(crate) force_keyframe: [bool; 3],
    /// Per layer: frames since its last keyframe, and its running TL0PICIDX.
    pub(crate) since_keyframe: [u64; 3],
    pub(crate) tl0: [u8; 3],
    pub(crate) plis: [u32; 3],
    pub(crate) receiver_reports: u32,
    /// Per layer, every packet sent: (frame, packet index, keyframe).
    pub(crate) sent: [Vec<(u64, u8, bool)>; 3],
    /// Whether NACKs are answered over RTX (the layers are published with RTX).
    pub(crate) rtx: bool,
    /// Whether media carries the RID header extension and RTX the repaired-RID one (the
    /// layers are published by RID, their SSRCs unsignaled).
    pub(crate) rid: bool,
    /// Per layer, the last packets sent, to retransmit.
    pub(crate) history: [std::collections::VecDeque<Packet>; 3],
    pub(crate) rtx_seq: [u16; 3],
    /// Sequence numbers NACKed by the router, and retransmissions sent.
    pub(crate) nacked: u64,
    pub(crate) rtx_sent: u64,
    /// Retransmissions to send at the next poll.
    pub(crate) pending: Vec<(bool, Vec<u8>)>,
    /// The next transport-wide sequence number, when video carries it.
    pub(crate) twcc: Option<u16>,
    /// Transport-wide CC feedback received from the router.
    pub(crate) twcc_feedback: u32,
}

impl Publisher {
    pub(crate) fn new(id: ParticipantId, session: SrtpSession, t0: Instant, seed: u64) -> Self {
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
            paused: [false; 3],
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
            since_keyframe: [0; 3],
            tl0: [0, 85, 170],
            plis: [0; 3],
            receiver_reports: 0,
            sent: [Vec::new(), Vec::new(), Vec::new()],
            rtx: false,
            rid: false,
            history: Default::default(),
            rtx_seq: [7, 7000, 17000],
            nacked: 0,
            rtx_sent: 0,
            pending: Vec::new(),
            twcc: None,
            twcc_feedback: 0,
            rng,
        }
    }

    pub(crate) fn next_frame_at(&self) -> Instant {
        self.t0 + Duration::from_nanos(self.frame * FRAME_NANOS)
    }

    pub(crate) fn next_audio_at(&self) -> Instant {
        self.t0 + Duration::from_millis(20 * self.audio_packets)
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        if !self.pending.is_empty() {
            return Some(self.t0);
        }
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
    pub(crate) fn poll(&mut self, now: Instant, out: &mut Vec<(bool, Vec<u8>)>) {
        out.append(&mut self.pending);
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

    pub(crate) fn send_frame(&mut self, out: &mut Vec<(bool, Vec<u8>)>) {
        let frame = self.frame;
        self.frame += 1;
        let paused = self.paused;
        for layer in (0..3).filter(|l| !paused[*l]) {
            // Stagger the periodic keyframes of the layers.
            let periodic = self.periodic_keyframes && frame % KEYFRAME_EVERY == (layer as u64) * 20;
            let keyframe = periodic || std::mem::take(&mut self.force_keyframe[layer]);
            let count = LAYER_PACKETS[layer] * if keyframe { KEYFRAME_FACTOR } else { 1 };
            if keyframe {
                self.since_keyframe[layer] = 0;
            }
            let position = self.since_keyframe[layer] % 4;
            self.since_keyframe[layer] += 1;
            let tid = TEMPORAL_PATTERN[position as usize];
            if tid == 0 {
                self.tl0[layer] = self.tl0[layer].wrapping_add(1);
            }
            let temporal = Temporal {
                tid,
                sync: position == 1 || position == 2,
                tl0_pic_idx: self.tl0[layer],
            };
            for index in 0..count {
                let len = self.rng.range(1000, 1200) as usize - 12;
                let payload =
                    vp8_payload(layer as u8, frame, (index, count), keyframe, temporal, len);
                let mut header = Header {
                    version: 2,
                    marker: index + 1 == count,
                    payload_type: VIDEO_PT,
                    sequence_number: self.seq[layer],
                    timestamp: self.ts_base[layer].wrapping_add((frame * 3000) as u32),
                    ssrc: VIDEO_SSRCS[layer],
                    ..Default::default()
                };
                if self.rid {
                    header
                        .set_extension(MID_ID, Bytes::from_static(VIDEO_MID.as_bytes()))
                        .unwrap();
                    header
                        .set_extension(RID_ID, Bytes::from_static(RIDS[layer].as_bytes()))
                        .unwrap();
                }
                self.number(&mut header);
                self.seq[layer] = self.seq[layer].wrapping_add(1);
                self.packets_sent[layer] += 1;
                self.octets_sent[layer] += payload.len() as u32;
                self.sent[layer].push((frame, index as u8, keyframe));
                let packet = Packet {
                    header,
                    payload: Bytes::from(payload),
                };
                out.push((false, protect_rtp(&mut self.session, &packet)));
                let history = &mut self.history[layer];
                if history.len() == PUBLISHER_HISTORY {
                    history.pop_front();
                }
                history.push_back(packet);
            }
        }
    }

    /// Answers a NACK over RTX (RFC 4588), as libwebrtc does: same timestamp and marker,
    /// the RTX stream's SSRC, payload type and sequence, the original sequence number first.
    fn retransmit(&mut self, media_ssrc: u32, lost: &[u16]) {
        assert!(self.rtx, "NACK to a publisher without RTX");
        let layer = VIDEO_SSRCS
            .iter()
            .position(|s| *s == media_ssrc)
            .expect("NACK for a video layer");
        for seq in lost {
            self.nacked += 1;
            let Some(original) = self.history[layer]
                .iter()
                .find(|p| p.header.sequence_number == *seq)
                .cloned()
            else {
                continue;
            };
            let mut payload = seq.to_be_bytes().to_vec();
            payload.extend_from_slice(&original.payload);
            let mut header = Header {
                payload_type: PUBLISHER_RTX_PT,
                sequence_number: self.rtx_seq[layer],
                ssrc: VIDEO_RTX_SSRCS[layer],
                ..original.header
            };
            if self.rid {
                // The RTX stream names the layer it repairs instead.
                header.del_extension(RID_ID).unwrap();
                header
                    .set_extension(REPAIRED_RID_ID, Bytes::from_static(RIDS[layer].as_bytes()))
                    .unwrap();
            }
            self.number(&mut header);
            self.rtx_seq[layer] = self.rtx_seq[layer].wrapping_add(1);
            let packet = Packet {
                header,
                payload: Bytes::from(payload),
            };
            self.pending
                .push((false, protect_rtp(&mut self.session, &packet)));
            self.rtx_sent += 1;
        }
    }

    pub(crate) fn send_audio(&mut self, out: &mut Vec<(bool, Vec<u8>)>) {
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

    pub(crate) fn receive(&mut self, rtcp: bool, data: &mut [u8]) {
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
                Feedback::TransportCc { .. } => self.twcc_feedback += 1,
                Feedback::Nack {
                    media_ssrc, lost, ..
                } => self.retransmit(media_ssrc, &lost),
                other => panic!("unexpected RTCP to the publisher: {other:?}"),
            }
        }
    }

    /// Gives a video packet the next transport-wide sequence number, if the room uses them
    /// (a retransmission gets its own, as libwebrtc's do).
    fn number(&mut self, header: &mut Header) {
        if let Some(seq) = self.twcc {
            header
                .set_extension(TWCC_ID, Bytes::from(seq.to_be_bytes().to_vec()))
                .unwrap();
            self.twcc = Some(seq.wrapping_add(1));
        }
    }

    pub(crate) fn keyframe_request(&mut self, ssrc: u32) {
        let layer = VIDEO_SSRCS
            .iter()
            .position(|s| *s == ssrc)
            .expect("keyframe request for a video layer");
        self.force_keyframe[layer] = true;
        self.plis[layer] += 1;
    }
}
