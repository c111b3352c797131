//! An SFU assembled from quietroom's crates, for the WebRTC interop tests: one UDP socket on
//! 127.0.0.1 answering browsers' and aiortc's offers with `a=ice-lite`.
//!
//! - ICE: connectivity checks are answered with the STUN codec of `quietroom-turn`, the
//!   USERNAME and MESSAGE-INTEGRITY checked with the short-term credentials of the answer
//!   (RFC 8445 §7.3).
//! - DTLS-SRTP: `quietroom-srtp`'s engine, passive, the peer's fingerprint pinned.
//! - Media: `quietroom-router`, fed what arrives on the socket (RFC 7983 demultiplexing),
//!   each session wrapped in [`Observed`] so the test can read what the router sent.
#![allow(dead_code)]

mod observed;
mod page;
mod peer;

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quietroom::router::codec::Codec;
use quietroom::router::{
    ExtensionIds, Kind, LayerConfig, ParticipantId, Router, RouterConfig, TrackConfig, TrackId,
};
use quietroom::srtp::dtls::{
    DtlsCertificate, DtlsConfig, DtlsEngine, DtlsEvent, Fingerprint, RtcDtlsEngine, is_dtls,
};
use quietroom::turn::stun::{Class, Message, MessageBuilder, Method, attr};

// Each test crate uses part of the harness.
#[allow(unused_imports)]
pub(crate) use observed::{
    InputLog, InputVideo, KeyframeEvent, KeyframeLog, Numbering, Observed, SentLog, SentVideo,
    after, around, frames_begun_after, in_sequence_order, newest,
};
#[allow(unused_imports)]
pub(crate) use page::{Page, chromium, one_chromium_at_a_time};
pub(crate) use peer::PeerProcess;

pub(crate) const VIDEO: TrackId = TrackId(1);
pub(crate) const OUT_SSRC: u32 = 0x00DD_BA11;
/// The SFU's RTX stream toward a subscriber that negotiated RTX.
pub(crate) const OUT_RTX_SSRC: u32 = 0x00DD_BA12;

const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
const RRID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
const TWCC_URI: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

/// What the SFU takes from an offer.
pub(crate) struct Offer {
    pub(crate) ufrag: String,
    pub(crate) fingerprint: Fingerprint,
    /// The first `a=ssrc` (the media SSRC of a sender that signals it).
    pub(crate) ssrc: Option<u32>,
    /// Audio or video (the offer's one m-line).
    pub(crate) kind: Kind,
    /// The codec the SFU takes: the first of VP8, VP9, H264, AV1 and Opus the offer lists
    /// (Chromium's and aiortc's first video choice is VP8), its `a=rtpmap` encoding
    /// (`NAME/RATE[/CHANNELS]`), clock rate, payload type and `a=fmtp`.
    pub(crate) codec: String,
    pub(crate) encoding: String,
    pub(crate) clock_rate: u32,
    pub(crate) pt: u8,
    pub(crate) fmtp: Option<String>,
    /// The RTX payload type for that codec, if offered.
    pub(crate) rtx: Option<u8>,
    pub(crate) mid: String,
    /// Simulcast RIDs the offerer sends (`a=rid:X send`), lowest first as listed.
    pub(crate) rids: Vec<String>,
    /// Header extension ids by URI.
    pub(crate) extensions: Vec<(String, u8)>,
    /// The publisher sends one SVC stream (set by the test): its streams are found by MID,
    /// with RTX and transport-wide CC, as a simulcast publisher's are.
    pub(crate) svc: bool,
}

impl Offer {
    pub(crate) fn parse(sdp: &str) -> Offer {
        let attr = |name: &str| {
            sdp.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_else(|| panic!("offer without {name}"))
        };
        let (pt, codec, encoding, clock_rate): (u8, String, String, u32) = sdp
            .lines()
            .filter_map(|l| l.strip_prefix("a=rtpmap:"))
            .filter_map(|l| {
                let (pt, encoding) = l.trim().split_once(' ')?;
                let mut parts = encoding.split('/');
                let name = parts.next()?;
                if !["VP8", "VP9", "H264", "AV1", "opus"].contains(&name) {
                    return None;
                }
                let rate = parts.next()?.parse().ok()?;
                Some((pt.parse().ok()?, name.to_owned(), encoding.to_owned(), rate))
            })
            .next()
            .expect("offer without VP8, VP9, H264, AV1 or Opus");
        // `a=fmtp:PT PARAMS` lines as (payload type, parameters).
        let fmtp = sdp
            .lines()
            .filter_map(|l| l.strip_prefix("a=fmtp:")?.trim().split_once(' '));
        let rtx = fmtp
            .clone()
            .find(|(_, params)| params.split(';').any(|p| p == format!("apt={pt}")))
            .and_then(|(rtx, _)| rtx.parse().ok());
        let params = fmtp
            .clone()
            .find(|(fmtp_pt, _)| *fmtp_pt == pt.to_string())
            .map(|(_, params)| params.to_owned());
        Offer {
            ufrag: attr("a=ice-ufrag:").to_owned(),
            // Offerers may list several hashes; the SFU pins the sha-256 one.
            fingerprint: format!("sha-256 {}", attr("a=fingerprint:sha-256"))
                .parse()
                .expect("sha-256 fingerprint"),
            ssrc: sdp
                .lines()
                .find_map(|l| l.strip_prefix("a=ssrc:"))
                .and_then(|l| l.split(' ').next())
                .and_then(|s| s.parse().ok()),
            kind: if sdp.contains("\nm=audio ") {
                Kind::Audio
            } else {
                Kind::Video
            },
            codec,
            encoding,
            clock_rate,
            pt,
            fmtp: params,
            rtx,
            mid: attr("a=mid:").to_owned(),
            rids: sdp
                .lines()
                .filter_map(|l| l.strip_prefix("a=rid:"))
                .filter_map(|l| l.strip_suffix(" send"))
                .map(str::to_owned)
                .collect(),
            extensions: sdp
                .lines()
                .filter_map(|l| l.strip_prefix("a=extmap:"))
                .filter_map(|l| {
                    let (id, uri) = l.split_once(' ')?;
                    Some((uri.trim().to_owned(), id.split('/').next()?.parse().ok()?))
                })
                .collect(),
            svc: false,
        }
    }

    /// Whether the publisher's streams are named by MID (and RID), with RTX and
    /// transport-wide CC, as a browser sends simulcast or SVC.
    fn named_streams(&self) -> bool {
        !self.rids.is_empty() || self.svc
    }

    fn extension(&self, uri: &str) -> Option<u8> {
        self.extensions
            .iter()
            .find(|(u, _)| u == uri)
            .map(|(_, id)| *id)
    }

    /// The router's name for [`Offer::codec`].
    pub(crate) fn router_codec(&self) -> Codec {
        Codec::from_encoding_name(&self.codec)
    }

    /// The track a publisher's offer describes: RID simulcast (SSRCs learned from MID, RID
    /// and repaired-RID) or one layer with a signaled SSRC; for audio, the signaled SSRC
    /// with its audio level extension.
    pub(crate) fn track(&self) -> TrackConfig {
        if self.kind == Kind::Audio {
            return TrackConfig {
                kind: Kind::Audio,
                codec: self.router_codec(),
                clock_rate: self.clock_rate,
                layers: vec![LayerConfig {
                    ssrc: self.ssrc,
                    rid: None,
                    spatial: 0,
                    bitrate_bps: 40_000,
                    rtx_ssrc: None,
                }],
                extensions: ExtensionIds {
                    audio_level: self.extension(AUDIO_LEVEL_URI),
                    ..Default::default()
                },
                rtx_payload_type: None,
                mid: None,
            };
        }
        let layer = |i: usize, ssrc, rid: Option<&String>| LayerConfig {
            ssrc,
            rid: rid.cloned(),
            spatial: i as u8,
            // An SVC stream carries every spatial layer: the whole 720p bitrate.
            bitrate_bps: if self.svc {
                2_000_000
            } else {
                [150_000, 500_000, 1_500_000][i.min(2)]
            },
            rtx_ssrc: None,
        };
        let layers = if self.rids.is_empty() {
            vec![layer(0, self.ssrc, None)]
        } else {
            self.rids
                .iter()
                .enumerate()
                .map(|(i, rid)| layer(i, None, Some(rid)))
                .collect()
        };
        let simulcast = self.named_streams();
        TrackConfig {
            kind: Kind::Video,
            codec: self.router_codec(),
            clock_rate: 90_000,
            layers,
            extensions: ExtensionIds {
                transport_cc: self.extension(TWCC_URI),
                mid: self.extension(MID_URI).filter(|_| simulcast),
                rid: self.extension(RID_URI).filter(|_| simulcast),
                repaired_rid: self.extension(RRID_URI).filter(|_| simulcast),
                ..Default::default()
            },
            rtx_payload_type: self.rtx.filter(|_| simulcast),
            mid: simulcast.then(|| self.mid.clone()),
        }
    }
}

/// One peer connection as the SFU sees it.
pub(crate) struct Leg {
    pub(crate) id: ParticipantId,
    pub(crate) publisher: bool,
    /// The media and RTX payload types its offer gave.
    pub(crate) pt: u8,
    pub(crate) rtx: Option<u8>,
    pub(crate) ufrag: String,
    pub(crate) pwd: String,
    pub(crate) remote_ufrag: String,
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) dtls: RtcDtlsEngine,
    pub(crate) connected: bool,
}

/// The SFU: one socket, a leg per peer connection, the router.
pub(crate) struct Sfu {
    pub(crate) socket: UdpSocket,
    /// The publisher's video codec.
    pub(crate) codec: Codec,
    pub(crate) certificate: DtlsCertificate,
    pub(crate) legs: Vec<Leg>,
    pub(crate) router: Router<Observed>,
    /// What the router sent the subscriber, from the plaintext it protected.
    pub(crate) sent: SentLog,
    /// Keyframe requests the router sent publishers, and keyframes that arrived.
    pub(crate) keyframes: KeyframeLog,
    /// What publishers sent, as the router decrypted it.
    pub(crate) inputs: InputLog,
    pub(crate) dropped: Vec<String>,
    /// Loss toward subscribers: every this-many-th media packet on [`OUT_SSRC`] is not sent
    /// (the link loses it), so the subscriber must NACK it and the router resend it.
    pub(crate) lose_every: Option<u64>,
    /// Media packets toward subscribers so far, and how many of them were lost.
    pub(crate) media_sent: u64,
    pub(crate) media_lost: u64,
    /// The sequence numbers of the media packets toward subscribers that were lost.
    pub(crate) lost_sequences: Vec<u16>,
    /// Loss on publishers' uplinks: every this-many-th media packet (the offer's payload type,
    /// not RTX) a publisher sends is dropped before the router sees it, so the router must
    /// NACK it and the publisher resend it.
    pub(crate) lose_uplink_every: Option<u64>,
    /// Media packets from publishers so far, and how many of them were dropped.
    pub(crate) uplink_received: u64,
    pub(crate) uplink_lost: u64,
    /// What the uplink lost: (SSRC, sequence number).
    pub(crate) uplink_dropped: Vec<(u32, u16)>,
    /// Lose every padding filler on the media SSRC (the router fills a number it kept for a
    /// packet it then left out) the first time it is sent, so that the subscriber must ask
    /// for it; the sequence numbers of those lost.
    pub(crate) lose_fillers: bool,
    pub(crate) fillers_lost: Vec<u16>,
    /// Per leg: its track is published, or its subscription made.
    wired: Vec<bool>,
}

impl Sfu {
    /// An SFU for these offers (publisher or not), and its answers, in the same order.
    pub(crate) fn answering(offers: &[(&Offer, bool)]) -> (Sfu, Vec<String>) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(2)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let certificate = DtlsCertificate::generate().unwrap();
        let now = Instant::now();
        let legs: Vec<Leg> = offers
            .iter()
            .enumerate()
            .map(|(i, (offer, publisher))| Leg {
                id: ParticipantId(i as u64 + 1),
                publisher: *publisher,
                pt: offer.pt,
                rtx: offer.rtx,
                ufrag: format!("quietroom{i}"),
                pwd: format!("quietroomicepassword{i:04}"),
                remote_ufrag: offer.ufrag.clone(),
                addr: None,
                dtls: RtcDtlsEngine::server(
                    DtlsConfig::new(certificate.clone(), offer.fingerprint),
                    now,
                )
                .unwrap(),
                connected: false,
            })
            .collect();
        let publisher_twcc = offers
            .iter()
            .find(|(_, publisher)| *publisher)
            .and_then(|(offer, _)| offer.extension(TWCC_URI));
        let answers = offers
            .iter()
            .zip(&legs)
            .map(|((offer, _), leg)| {
                answer(offer, leg, port, &certificate.fingerprint(), publisher_twcc)
            })
            .collect();
        let codec = offers
            .iter()
            .find(|(_, publisher)| *publisher)
            .map_or(Codec::Vp8, |(offer, _)| offer.router_codec());
        let sfu = Sfu {
            socket,
            codec,
            certificate,
            legs,
            router: Router::new(router_config()),
            sent: SentLog::default(),
            keyframes: KeyframeLog::default(),
            inputs: InputLog::default(),
            dropped: Vec::new(),
            lose_every: None,
            media_sent: 0,
            media_lost: 0,
            lost_sequences: Vec::new(),
            lose_uplink_every: None,
            uplink_received: 0,
            uplink_lost: 0,
            uplink_dropped: Vec::new(),
            lose_fillers: false,
            fillers_lost: Vec::new(),
            wired: vec![false; offers.len()],
        };
        (sfu, answers)
    }

    /// Wires the room as soon as each side's handshake is done: leg 0 publishes the track its
    /// offer describes, leg 1 subscribes to it (with RTX when it offered RTX).
    pub(crate) fn wire(&mut self, publisher: &Offer, subscriber: &Offer) {
        self.wire_room(&[publisher, subscriber], &[(1, 0)]);
    }

    /// Wires a room of any number of legs (`offers` in the legs' order) as each one's
    /// handshake is done: publisher leg `i` publishes its offer's track as
    /// [`Sfu::track_of`]`(i)`; for each `(subscriber leg, publisher leg)` in `subscriptions`,
    /// the subscriber takes that track as [`OUT_SSRC`] (with RTX when it offered RTX) once it
    /// is published.
    pub(crate) fn wire_room(&mut self, offers: &[&Offer], subscriptions: &[(usize, usize)]) {
        for (i, offer) in offers.iter().enumerate() {
            if self.legs[i].publisher && !self.wired[i] && self.legs[i].connected {
                let (id, track) = (self.legs[i].id, Sfu::track_of(i));
                self.router.publish(id, track, offer.track()).unwrap();
                self.wired[i] = true;
            }
        }
        for &(s, p) in subscriptions {
            if self.wired[p] && !self.wired[s] && self.legs[s].connected {
                let (id, track) = (self.legs[s].id, Sfu::track_of(p));
                self.router
                    .subscribe(Instant::now(), id, track, OUT_SSRC)
                    .unwrap();
                if let Some(pt) = offers[s].rtx {
                    self.router.set_rtx(id, track, OUT_RTX_SSRC, pt).unwrap();
                }
                self.wired[s] = true;
            }
        }
    }

    /// The publishers' packets as the router decrypted them ([`Sfu::inputs`]), each resend
    /// named by the media SSRC it repairs (the router learned which from repaired-RID).
    pub(crate) fn inputs_resolved(&self) -> Vec<InputVideo> {
        let now = Instant::now();
        let layers: Vec<_> = (0..self.legs.len())
            .flat_map(|i| self.router.layer_states(now, Sfu::track_of(i)))
            .collect();
        let mut inputs = self.inputs.lock().unwrap().clone();
        for input in inputs.iter_mut().filter(|i| i.rtx) {
            if let Some(ssrc) = layers
                .iter()
                .find(|l| l.rtx_ssrc == Some(input.ssrc))
                .and_then(|l| l.ssrc)
            {
                input.ssrc = ssrc;
            }
        }
        inputs
    }

    /// Media packets (not resends) the router has sent the subscriber so far, by the log.
    pub(crate) fn media_in_log(&self) -> usize {
        self.sent.lock().unwrap().iter().filter(|p| !p.rtx).count()
    }

    /// [`observed::check_picture_numbering`] of what the subscriber was sent.
    pub(crate) fn check_picture_numbering(&self) -> Numbering {
        observed::check_picture_numbering(&self.sent, &self.inputs_resolved(), self.codec)
    }

    /// What the uplink lost and the publisher never resent (by the time of the call):
    /// (SSRC, sequence number).
    pub(crate) fn uplink_unrepaired(&self) -> Vec<(u32, u16)> {
        let inputs = self.inputs_resolved();
        self.uplink_dropped
            .iter()
            .filter(|&&(ssrc, seq)| !inputs.iter().any(|i| i.ssrc == ssrc && i.sequence == seq))
            .copied()
            .collect()
    }

    /// The track publisher leg `i` publishes: [`VIDEO`] for leg 0.
    pub(crate) fn track_of(i: usize) -> TrackId {
        TrackId(i as u64 + 1)
    }

    /// Reads every datagram waiting (then waits up to 2 ms for one more), fires due timers,
    /// sends what is queued. Reading all that is queued keeps the arrival times the router
    /// reports in transport-wide CC feedback close to the real ones on a busy machine, where
    /// the sender's congestion control would otherwise see queuing that is only this loop's.
    pub(crate) fn step(&mut self) {
        let mut buf = [0u8; 2048];
        let mut now = Instant::now();
        loop {
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => self.input(now, from, &mut buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) => panic!("{e}"),
            }
            now = Instant::now();
        }
        let now = Instant::now();
        for leg in &mut self.legs {
            if leg.dtls.poll_timeout().is_some_and(|at| at <= now) {
                let _ = leg.dtls.handle_timeout(now);
            }
            while let Some(datagram) = leg.dtls.poll_transmit() {
                if let Some(addr) = leg.addr {
                    self.socket.send_to(&datagram, addr).unwrap();
                }
            }
        }
        if self.router.poll_timeout().is_some_and(|at| at <= now) {
            self.router.handle_timeout(now);
        }
        while let Some(t) = self.router.poll_transmit() {
            let to = self.legs.iter().find(|l| l.id == t.to).and_then(|l| l.addr);
            let media = !t.rtcp && t.data.get(8..12) == Some(&OUT_SSRC.to_be_bytes()[..]);
            let mut lost = false;
            if media {
                self.media_sent += 1;
                lost = self.lose_every.is_some_and(|n| self.media_sent % n == 0);
                self.media_lost += u64::from(lost);
                if lost && let Some(&[a, b]) = t.data.get(2..4) {
                    self.lost_sequences.push(u16::from_be_bytes([a, b]));
                }
                // A filler: the padding bit on the media SSRC (probes go on RTX).
                if self.lose_fillers
                    && t.data.first().is_some_and(|b| b & 0x20 != 0)
                    && let Some(&[a, b]) = t.data.get(2..4)
                {
                    let sequence = u16::from_be_bytes([a, b]);
                    if !self.fillers_lost.contains(&sequence) {
                        self.fillers_lost.push(sequence);
                        lost = true;
                    }
                }
            }
            if let Some(addr) = to.filter(|_| !lost) {
                self.socket.send_to(&t.data, addr).unwrap();
            }
            self.router.recycle(t.data);
        }
    }

    fn input(&mut self, now: Instant, from: SocketAddr, datagram: &mut [u8]) {
        match datagram.first() {
            Some(0..=3) => {
                let Ok(request) = Message::parse(datagram) else {
                    return;
                };
                for leg in &mut self.legs {
                    if let Some(response) = ice_response(leg, &request, from) {
                        leg.addr = Some(from);
                        self.socket.send_to(&response, from).unwrap();
                    }
                }
            }
            _ if is_dtls(datagram) => {
                let Some(leg) = self.legs.iter_mut().find(|l| l.addr == Some(from)) else {
                    return;
                };
                if let Err(e) = leg.dtls.handle_input(now, datagram) {
                    panic!("DTLS with {:?} failed: {e}", leg.id);
                }
                while let Some(event) = leg.dtls.poll_event() {
                    if let DtlsEvent::Connected { session, .. } = event {
                        self.router
                            .add_participant(
                                leg.id,
                                Observed::new(
                                    *session,
                                    self.codec,
                                    leg.rtx,
                                    self.sent.clone(),
                                    self.inputs.clone(),
                                    self.keyframes.clone(),
                                ),
                            )
                            .unwrap();
                        leg.connected = true;
                    }
                }
            }
            Some(128..=191) => {
                let Some(leg) = self.legs.iter().find(|l| l.addr == Some(from)) else {
                    return;
                };
                let rtcp = matches!(datagram.get(1), Some(192..=223));
                if !rtcp
                    && leg.publisher
                    && datagram.get(1).map(|b| b & 0x7F) == Some(leg.pt)
                    && let Some(n) = self.lose_uplink_every
                {
                    self.uplink_received += 1;
                    if self.uplink_received % n == 0 {
                        self.uplink_lost += 1;
                        if let Ok(header) = quietroom::router::rtp::RtpHeader::parse(datagram) {
                            self.uplink_dropped.push((header.ssrc, header.sequence));
                        }
                        return;
                    }
                }
                let outcome = if rtcp {
                    self.router.handle_rtcp(now, leg.id, datagram)
                } else {
                    self.router.handle_rtp(now, leg.id, datagram)
                };
                if let Err(e) = outcome {
                    self.dropped.push(format!("{:?}: {e}", leg.id));
                }
            }
            _ => {}
        }
    }
}

/// The router's configuration in these tests: the defaults, with a layer demand that falls
/// after 1 s instead of 5, to keep the tests short.
fn router_config() -> RouterConfig {
    let mut config = RouterConfig::default();
    config.layer_demand_hold = Duration::from_secs(1);
    config
}

/// An `a=ice-lite` answer with the offer's codec (and its RTX when offered), the SFU passive
/// in DTLS. A publisher's simulcast is accepted RID for RID, with the header extensions the
/// router reads; a subscriber gets the SFU's SSRC.
fn answer(
    offer: &Offer,
    leg: &Leg,
    port: u16,
    fingerprint: &Fingerprint,
    publisher_twcc: Option<u8>,
) -> String {
    let (pt, encoding) = (offer.pt, &offer.encoding);
    let audio = offer.kind == Kind::Audio;
    let kind = if audio { "audio" } else { "video" };
    let twcc = if leg.publisher {
        offer.extension(TWCC_URI).filter(|_| offer.named_streams())
    } else {
        offer
            .extension(TWCC_URI)
            .filter(|&id| Some(id) == publisher_twcc)
    };
    let mut media = String::new();
    let mut payload_types = pt.to_string();
    if leg.publisher {
        media.push_str("a=recvonly\r\n");
        let uris: &[&str] = if audio {
            &[AUDIO_LEVEL_URI]
        } else if !offer.named_streams() {
            &[]
        } else {
            &[MID_URI, RID_URI, RRID_URI, TWCC_URI]
        };
        for uri in uris {
            if let Some(id) = offer.extension(uri) {
                media.push_str(&format!("a=extmap:{id} {uri}\r\n"));
            }
        }
    } else {
        media.push_str(&format!("a=sendonly\r\na=msid:quietroom {kind}\r\n"));
        // Transport-wide CC toward the subscriber too: its feedback drives the router's
        // estimate (and the padding probes above a congestion cap). The router writes the
        // publisher's extension id into each copy, so it is offered here only when the
        // subscriber's offer uses the same id (Chromium numbers its extensions alike).
        if let Some(id) = twcc {
            media.push_str(&format!("a=extmap:{id} {TWCC_URI}\r\n"));
        }
        // The media SSRC first: Chromium takes the first `a=ssrc` for the primary stream.
        if offer.rtx.is_some() {
            media.push_str(&format!("a=ssrc-group:FID {OUT_SSRC} {OUT_RTX_SSRC}\r\n"));
        }
        media.push_str(&format!("a=ssrc:{OUT_SSRC} cname:quietroom\r\n"));
        if offer.rtx.is_some() {
            media.push_str(&format!("a=ssrc:{OUT_RTX_SSRC} cname:quietroom\r\n"));
        }
    }
    media.push_str("a=rtcp-mux\r\n");
    media.push_str(&format!("a=rtpmap:{pt} {encoding}\r\n"));
    if !audio {
        media.push_str(&format!(
            "a=rtcp-fb:{pt} nack\r\na=rtcp-fb:{pt} nack pli\r\n"
        ));
    }
    // The codec's parameters as offered (H.264's profile and packetization mode, VP9's
    // profile, AV1's level): the SFU forwards what the publisher encodes, unchanged.
    if let Some(params) = &offer.fmtp {
        media.push_str(&format!("a=fmtp:{pt} {params}\r\n"));
    }
    if twcc.is_some() {
        media.push_str(&format!("a=rtcp-fb:{pt} transport-cc\r\n"));
    }
    // RTX: from a simulcast publisher (repaired-RID names the layer), and toward every
    // subscriber that offers it.
    if let Some(rtx) = offer
        .rtx
        .filter(|_| !leg.publisher || offer.named_streams())
    {
        payload_types.push_str(&format!(" {rtx}"));
        media.push_str(&format!(
            "a=rtpmap:{rtx} rtx/90000\r\na=fmtp:{rtx} apt={pt}\r\n"
        ));
    }
    if leg.publisher && !offer.rids.is_empty() {
        for rid in &offer.rids {
            media.push_str(&format!("a=rid:{rid} recv\r\n"));
        }
        media.push_str(&format!("a=simulcast:recv {}\r\n", offer.rids.join(";")));
    }
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE {mid}\r\n\
         a=ice-lite\r\na=msid-semantic:WMS *\r\n\
         m={kind} {port} UDP/TLS/RTP/SAVPF {payload_types}\r\nc=IN IP4 127.0.0.1\r\n\
         a=mid:{mid}\r\n{media}\
         a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=fingerprint:{fingerprint}\r\n\
         a=setup:passive\r\n\
         a=candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host\r\na=end-of-candidates\r\n",
        mid = offer.mid,
        ufrag = leg.ufrag,
        pwd = leg.pwd,
    )
}

/// Answers an ICE connectivity check as an ice-lite agent: the USERNAME must be
/// `ours:theirs` and MESSAGE-INTEGRITY keyed with our password.
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

/// A program the test needs, if `check` says it works; otherwise the test is skipped with a
/// note, or fails under `QUIETROOM_REQUIRE_PEERS=1`.
pub(crate) fn peer(what: &str, program: PathBuf, check: &[&str]) -> Option<PathBuf> {
    let usable = Command::new(&program)
        .args(check)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if usable {
        return Some(program);
    }
    let msg = format!(
        "{what} interop needs {}: run scripts/peers.sh",
        program.display()
    );
    assert!(
        std::env::var("QUIETROOM_REQUIRE_PEERS").as_deref() != Ok("1"),
        "{msg}"
    );
    eprintln!("SKIPPED: {msg}");
    None
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
