//! The sans-IO router: participants, published tracks, subscriptions, and the forward path.
//!
//! Input is `(time, participant, packet)`: [`Router::handle_rtp`] and [`Router::handle_rtcp`]
//! take what a participant's transport received (still SRTP/SRTCP). Output is
//! `(participant, packet)` transmits ([`Router::poll_transmit`], already protected for that
//! participant), timers ([`Router::poll_timeout`] → [`Router::handle_timeout`]) and
//! [`RouterEvent`]s. No sockets, no clock.
//!
//! Each packet is decrypted once, in place, with the publisher's [`MediaCrypto`]; for each
//! subscriber it is copied into a pooled buffer, rewritten (SSRC, sequence number, timestamp)
//! and encrypted with that subscriber's [`MediaCrypto`]. Media never leaves memory.

mod allocation;
mod config;
mod demand;
mod feedback;
mod forward;
mod inspect;
mod layer_history;
mod participants;
mod probe;
mod route;
mod selection;
mod speaker;
mod svc;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

pub use config::{
    ExtensionIds, Kind, LayerConfig, ParticipantId, RouterConfig, TrackConfig, TrackId,
};
use quietroom_srtp::MediaCrypto;

pub use inspect::{DownlinkState, LayerState, SubscriptionState};

use crate::RouterError;
use crate::cache::PacketCache;
use crate::munger::{Munger, PictureMunger};
use crate::nack::NackGenerator;
use crate::rtcp::{BandwidthEstimate, ReceiveStats, SrInfo, TwccRecorder};
use layer_history::LayerHistory;
use participants::Participants;
use speaker::SpeakerDetector;

/// A packet to send to a participant, already protected with its crypto. Give `data` back
/// with [`Router::recycle`] once sent.
#[derive(Debug)]
pub struct Transmit {
    /// Who receives it.
    pub to: ParticipantId,
    /// Whether it is SRTCP (else SRTP).
    pub rtcp: bool,
    /// The protected packet.
    pub data: Vec<u8>,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouterEvent {
    /// A subscriber now receives another layer of a track.
    LayerSwitched {
        /// The subscriber.
        subscriber: ParticipantId,
        /// The track.
        track: TrackId,
        /// The spatial index of the layer now forwarded.
        spatial: u8,
    },
    /// The loudest participant changed.
    ActiveSpeaker {
        /// The participant now speaking.
        participant: ParticipantId,
    },
    /// The highest spatial layer of a video track that any of its subscribers asked for
    /// ([`Router::set_preferences`]): layers above it can be paused at the publisher (for a
    /// browser, `RTCRtpSender.setParameters` with `active: false`), saving its uplink and
    /// encoder (LiveKit's dynacast, Jitsi's sender constraints). For an SVC stream (VP9
    /// spatial layers in one SSRC) it is the highest spatial layer (SID) wanted of those
    /// seen, and the publisher can send fewer with a smaller `scalabilityMode` (libwebrtc
    /// scales the spatial layers down from the encoding's resolution, so 1 of `L3T3_KEY` is
    /// `L2T3_KEY` with `scaleResolutionDownBy` 2). Bandwidth estimates do not lower it. Raised when it changes: at
    /// once when it rises, once a lower value has held for
    /// [`RouterConfig::layer_demand_hold`] when it falls.
    LayerDemand {
        /// The track.
        track: TrackId,
        /// The highest spatial index wanted; `None` when no subscriber takes any (none, or
        /// all paused).
        max_spatial: Option<u8>,
    },
    /// A track ended (unpublished, or its publisher left); its subscribers should be told.
    TrackEnded {
        /// The track.
        track: TrackId,
        /// Who was subscribed.
        subscribers: Vec<ParticipantId>,
    },
}

/// Counters since the router started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouterStats {
    /// Packets received from publishers and decrypted.
    pub received: u64,
    /// Packets forwarded to subscribers.
    pub forwarded: u64,
    /// Packets resent in answer to NACKs.
    pub retransmitted: u64,
    /// Keyframe requests sent to publishers.
    pub keyframe_requests: u64,
    /// NACK packets sent to publishers for what their uplinks lost.
    pub publisher_nacks: u64,
    /// Inputs dropped: failed decryption, malformed, unknown stream.
    pub dropped: u64,
    /// Padding packets sent to probe subscribers' bandwidth.
    pub probe_packets: u64,
    /// Padding packets sent to fill a subscriber's sequence number that a late packet, left
    /// out, had kept (see [`Munger::skip`](crate::munger::Munger::skip)).
    pub gap_fillers: u64,
    /// Packets forwarded from the cache right after a layer switch: the rest of a keyframe
    /// whose first packet came late (resent), which had reached the router before it.
    pub caught_up: u64,
}

struct Layer {
    ssrc: Option<u32>,
    rid: Option<String>,
    spatial: u8,
    bitrate_bps: u64,
    stats: ReceiveStats,
    sr: SrInfo,
    cache: Option<PacketCache>,
    last_keyframe_request: Option<Instant>,
    /// A keyframe request held back by the throttle, to send when it allows.
    keyframe_pending: bool,
    /// When to ask again if a subscriber still waits for this layer's keyframe.
    keyframe_retry_at: Option<Instant>,
    /// The publisher's latest sender report for this layer: (NTP time, RTP time).
    last_sr: Option<(u64, u32)>,
    /// The publisher's RTX stream for this layer.
    rtx_ssrc: Option<u32>,
    /// The payload type of the layer's media packets, to restore in unwrapped RTX.
    media_pt: Option<u8>,
    /// What the publisher's uplink lost (video layers).
    nack: Option<NackGenerator>,
    /// When the layer's last media packet arrived: a browser stops sending its upper layers
    /// when its bandwidth estimate drops, and a subscriber must not wait for one of those.
    last_arrival: Option<Instant>,
    /// Temporal layers seen in the layer's payload descriptors (highest TID + 1; 0 before
    /// any TID).
    temporal_layers: u8,
    /// Spatial layers within this one stream (VP9 SVC) and their rates.
    svc: svc::SpatialLayers,
    /// The AV1 temporal unit its packets belong to, and its temporal layer.
    av1_unit: crate::codec::TemporalUnit,
}

/// A layer with no packet for this long is taken for paused by its publisher (a browser
/// drops its upper simulcast layers when its bandwidth estimate falls) and not selected.
const LAYER_IDLE: Duration = Duration::from_secs(2);

impl Layer {
    fn active(&self, now: Instant) -> bool {
        self.last_arrival
            .is_some_and(|at| now.saturating_duration_since(at) < LAYER_IDLE)
    }
}

/// Which of `layers` the publisher is sending at `now`: the active ones, or all of them while
/// none has arrived yet (nothing is known to be paused).
fn sent_now(layers: &[Layer], now: Instant) -> impl Fn(&Layer) -> bool {
    let any_active = layers.iter().any(|l| l.active(now));
    move |l: &Layer| !any_active || l.active(now)
}

/// What a publisher's SSRC carries.
#[derive(Clone, Copy, Debug)]
struct StreamRef {
    track: TrackId,
    /// Index into the track's layers.
    layer: usize,
    /// The layer's RTX stream rather than its media.
    rtx: bool,
}

struct Track {
    publisher: ParticipantId,
    config: TrackConfig,
    layers: Vec<Layer>,
    /// Everything the forward path needs per subscriber, contiguous: a packet of this track
    /// walks this vector once.
    subscribers: Vec<Subscriber>,
    /// The layer demand announced ([`RouterEvent::LayerDemand`]), and since when a lower one
    /// has held.
    demand: demand::Demand,
}

impl Track {
    fn subscriber(&self, id: ParticipantId) -> Option<&Subscription> {
        self.subscribers.iter().find(|s| s.id == id).map(|s| &s.sub)
    }

    fn subscriber_mut(&mut self, id: ParticipantId) -> Option<&mut Subscription> {
        self.subscribers
            .iter_mut()
            .find(|s| s.id == id)
            .map(|s| &mut s.sub)
    }
}

/// A subscriber of a track: who, where its participant lives, and its subscription.
struct Subscriber {
    id: ParticipantId,
    /// The participant's slot in [`Participants`].
    slot: usize,
    sub: Subscription,
}

struct Subscription {
    munger: Munger,
    /// VP8/VP9 picture ID and TL0PICIDX continuity across layer changes.
    picture: PictureMunger,
    /// Index into the track's layers of what is forwarded now, and what should be.
    current: Option<usize>,
    target: Option<usize>,
    max_spatial: u8,
    paused: bool,
    /// How its participant's estimate favours it ([`Router::set_priority`]).
    priority: u8,
    /// Temporal layers (VP8/VP9 TID): the highest the subscriber asked for, the highest its
    /// bandwidth allows (within that), and the highest forwarded now. Packets of a higher
    /// TID are left out, their sequence numbers closed up; the forwarded layer moves down at
    /// the start of a frame and up at the start of a base-layer or layer-sync frame.
    max_temporal: u8,
    target_temporal: u8,
    current_temporal: u8,
    /// Where `current_temporal` changed, for late packets of the frames before.
    temporal_history: LayerHistory,
    /// Spatial layers within one SVC stream (VP9 SID): the highest the subscriber should get
    /// and the highest forwarded now (`u8::MAX`: all). See `router/svc.rs`.
    target_svc: u8,
    current_svc: u8,
    /// Where `current_svc` changed, for late packets of the pictures before.
    svc_history: LayerHistory,
    /// The last forwarded packet's (input, output) timestamps, to translate sender reports.
    last_timestamps: Option<(u32, u32)>,
    /// Sender-report counters of what was forwarded.
    packets_sent: u32,
    octets_sent: u32,
    /// RTX (RFC 4588) for retransmissions, when negotiated: (SSRC, payload type, next
    /// sequence number).
    rtx: Option<(u32, u8, u16)>,
    /// Just switched layers: gets what of the new layer the router had cached past the
    /// switch point (see `Router::catch_up`).
    catching_up: bool,
}

/// A hasher for the router's own ids (small integers chosen by the application, not by
/// remote peers): a multiplicative hash keeps the per-packet, per-subscriber lookups cheap.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}

/// A map keyed by router ids.
type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

struct Participant<C> {
    crypto: C,
    published: Vec<TrackId>,
    /// The tracks it subscribes to (each [`Subscription`] lives in its track).
    subscribed: Vec<TrackId>,
    /// Latest bandwidth estimate for what we send this participant, in bits per second.
    estimate_bps: Option<u64>,
    /// Arrivals of this participant's packets by transport-wide sequence number, for the
    /// transport-wide CC feedback the router sends it.
    twcc: TwccRecorder,
    /// REMB and transport-wide CC feedback about what the router sends this participant.
    bandwidth: BandwidthEstimate,
    /// A cap from congestion its transport-wide CC feedback showed, and when it last moved;
    /// it rises again while the feedback is clear.
    congestion_cap: Option<(u64, Instant)>,
    /// Padding probes for room above the congestion cap.
    prober: probe::Prober,
    /// The next transport-wide sequence number of what the router sends this participant,
    /// and what was sent under each recent one: (sequence, time, bytes).
    twcc_out_seq: u16,
    twcc_sent: Box<[Option<(u16, Instant, usize)>]>,
    /// Sender reports recently sent to this participant, (middle 32 bits of their NTP time,
    /// when), to measure the round-trip time from its receiver reports (RFC 3550 §6.4.1).
    sr_sent: [Option<(u32, Instant)>; 8],
    /// The latest round-trip time measured to this participant.
    rtt: Option<std::time::Duration>,
}

impl<C> Participant<C> {
    /// Records that transport-wide sequence number `seq` (the next one) went to this
    /// participant at `now` on a packet of `len` bytes, for its feedback, and moves on.
    #[inline]
    fn record_twcc_sent(&mut self, seq: u16, now: Instant, len: usize) {
        self.twcc_sent[usize::from(seq) % SENT_HISTORY] = Some((seq, now, len));
        self.twcc_out_seq = seq.wrapping_add(1);
    }
}

/// The SFU core. Generic over the [`MediaCrypto`] of each participant's session, so the
/// SRTP implementation can be swapped.
pub struct Router<C: MediaCrypto> {
    config: RouterConfig,
    participants: Participants<C>,
    tracks: IdMap<TrackId, Track>,
    by_ssrc: IdMap<(ParticipantId, u32), StreamRef>,
    speaker: SpeakerDetector,
    next_report: Option<Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RouterEvent>,
    pool: Vec<Vec<u8>>,
    /// Scratch for the forward path: the copies of the packet being forwarded.
    egress: Vec<forward::Egress>,
    /// Scratch for NACKs to publishers: the sequence numbers due.
    nack_scratch: Vec<u16>,
    stats: RouterStats,
}

/// The SSRC the router uses as the sender of its own RTCP (feedback to publishers).
pub const ROUTER_SSRC: u32 = 0x5155_4945; // "QUIE"
/// Buffers kept for reuse.
const POOL_LIMIT: usize = 8192;
/// Output sequence numbers remembered per subscription for NACKs.
const SENT_HISTORY: usize = 1024;

impl<C: MediaCrypto> Router<C> {
    /// An empty router.
    pub fn new(config: RouterConfig) -> Self {
        Router {
            speaker: SpeakerDetector::new(config.speaker_interval),
            config,
            participants: Participants::new(),
            tracks: IdMap::default(),
            by_ssrc: IdMap::default(),
            next_report: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            pool: Vec::new(),
            egress: Vec::with_capacity(forward::EGRESS_CHUNK),
            nack_scratch: Vec::new(),
            stats: RouterStats::default(),
        }
    }

    /// Counters since start.
    pub fn stats(&self) -> RouterStats {
        self.stats
    }

    /// Participants present.
    pub fn participant_count(&self) -> usize {
        self.participants.len()
    }

    /// Tracks published.
    pub fn track_count(&self) -> usize {
        self.tracks.len()
    }

    /// Adds a participant whose media is protected by `crypto` (its SRTP session). For
    /// retransmissions without RTX the session must allow re-protecting an index
    /// (`SrtpConfig::with_allow_repeat_tx`).
    ///
    /// Adding an id that is present replaces that participant: what it published and
    /// subscribed to ends first, as in [`remove_participant`](Self::remove_participant).
    ///
    /// # Errors
    ///
    /// [`RouterError::Limit`] past [`RouterConfig::max_participants`].
    pub fn add_participant(&mut self, id: ParticipantId, crypto: C) -> Result<(), RouterError> {
        if self.participants.len() >= self.config.max_participants
            && !self.participants.contains_key(&id)
        {
            return Err(RouterError::Limit("participants"));
        }
        self.remove_participant(id);
        self.participants.insert(
            id,
            Participant {
                crypto,
                published: Vec::new(),
                subscribed: Vec::new(),
                estimate_bps: None,
                twcc: TwccRecorder::with_interval(self.config.twcc_interval),
                bandwidth: BandwidthEstimate::new(),
                congestion_cap: None,
                prober: probe::Prober::new(),
                twcc_out_seq: 0,
                twcc_sent: vec![None; SENT_HISTORY].into_boxed_slice(),
                sr_sent: [None; 8],
                rtt: None,
            },
        );
        Ok(())
    }

    /// Removes a participant and everything it held: its tracks (their subscribers get
    /// [`RouterEvent::TrackEnded`]), its subscriptions, its queued transmits and its keys.
    pub fn remove_participant(&mut self, id: ParticipantId) {
        let Some(participant) = self.participants.remove(&id) else {
            return;
        };
        for track in participant.published {
            self.end_track(track);
        }
        for track in &participant.subscribed {
            if let Some(t) = self.tracks.get_mut(track) {
                t.subscribers.retain(|s| s.id != id);
            }
        }
        let (gone, kept): (VecDeque<Transmit>, VecDeque<Transmit>) =
            std::mem::take(&mut self.transmits)
                .into_iter()
                .partition(|t| t.to == id);
        self.transmits = kept;
        for t in gone {
            self.recycle(t.data);
        }
        self.speaker.forget(id);
    }

    /// `publisher` publishes `track`.
    ///
    /// # Errors
    ///
    /// [`RouterError::Unknown`] for an unknown publisher, [`RouterError::Limit`] for more than
    /// 3 layers, no layer, or too many tracks, [`RouterError::Malformed`] for a track id in use.
    pub fn publish(
        &mut self,
        publisher: ParticipantId,
        track: TrackId,
        config: TrackConfig,
    ) -> Result<(), RouterError> {
        let p = self
            .participants
            .get_mut(&publisher)
            .ok_or(RouterError::Unknown("participant"))?;
        if config.layers.is_empty() || config.layers.len() > 3 {
            return Err(RouterError::Limit("one to three layers per track"));
        }
        if p.published.len() >= self.config.max_tracks_per_participant {
            return Err(RouterError::Limit("tracks per participant"));
        }
        if self.tracks.contains_key(&track) {
            return Err(RouterError::Malformed {
                what: "track",
                reason: "the track id is already published",
            });
        }
        let video = config.kind == Kind::Video;
        let layers = config
            .layers
            .iter()
            .map(|l| Layer {
                ssrc: l.ssrc,
                rid: l.rid.clone(),
                spatial: l.spatial,
                bitrate_bps: l.bitrate_bps,
                stats: ReceiveStats::new(config.clock_rate),
                sr: SrInfo::new(),
                cache: video.then(|| {
                    PacketCache::new(
                        self.config.nack_cache_packets,
                        self.config.max_packet,
                        self.config.nack_cache_age,
                    )
                }),
                last_keyframe_request: None,
                keyframe_pending: false,
                keyframe_retry_at: None,
                last_sr: None,
                rtx_ssrc: l.rtx_ssrc,
                media_pt: None,
                nack: video.then(|| NackGenerator::new(self.config.nack_cache_packets)),
                last_arrival: None,
                temporal_layers: 0,
                svc: svc::SpatialLayers::default(),
                av1_unit: crate::codec::TemporalUnit::default(),
            })
            .collect::<Vec<_>>();
        for (index, layer) in layers.iter().enumerate() {
            let streams = [(layer.ssrc, false), (layer.rtx_ssrc, true)];
            for (ssrc, rtx) in streams {
                if let Some(ssrc) = ssrc {
                    let stream = StreamRef {
                        track,
                        layer: index,
                        rtx,
                    };
                    self.by_ssrc.insert((publisher, ssrc), stream);
                }
            }
        }
        p.published.push(track);
        self.tracks.insert(
            track,
            Track {
                publisher,
                config,
                layers,
                subscribers: Vec::new(),
                demand: demand::Demand::default(),
            },
        );
        Ok(())
    }

    /// Ends a published track.
    pub fn unpublish(&mut self, track: TrackId) {
        if let Some(publisher) = self.tracks.get(&track).map(|t| t.publisher)
            && let Some(p) = self.participants.get_mut(&publisher)
        {
            p.published.retain(|t| *t != track);
        }
        self.end_track(track);
    }

    fn end_track(&mut self, track: TrackId) {
        let Some(t) = self.tracks.remove(&track) else {
            return;
        };
        self.by_ssrc.retain(|_, s| s.track != track);
        for s in &t.subscribers {
            if let Some(p) = self.participants.at_mut(s.slot) {
                p.subscribed.retain(|t| *t != track);
            }
        }
        self.events.push_back(RouterEvent::TrackEnded {
            track,
            subscribers: t.subscribers.iter().map(|s| s.id).collect(),
        });
    }

    /// `subscriber` receives `track` as SSRC `out_ssrc` (chosen by signaling). Video starts
    /// on the lowest layer once it has a keyframe.
    ///
    /// # Errors
    ///
    /// [`RouterError::Unknown`] for an unknown participant or track.
    pub fn subscribe(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        track: TrackId,
        out_ssrc: u32,
    ) -> Result<(), RouterError> {
        let t = self
            .tracks
            .get_mut(&track)
            .ok_or(RouterError::Unknown("track"))?;
        let slot = self
            .participants
            .slot(&subscriber)
            .ok_or(RouterError::Unknown("participant"))?;
        let p = self
            .participants
            .at_mut(slot)
            .ok_or(RouterError::Unknown("participant"))?;
        let audio = t.config.kind == Kind::Audio;
        let mut sub = Subscription {
            // What NACKs can be answered for is bounded by the publisher's cache: a longer
            // history would only cost cache misses on the forward path.
            munger: Munger::with_history(out_ssrc, self.config.nack_cache_packets),
            picture: PictureMunger::new(),
            current: None,
            target: Some(0),
            max_spatial: u8::MAX,
            paused: false,
            priority: 0,
            max_temporal: u8::MAX,
            target_temporal: u8::MAX,
            current_temporal: u8::MAX,
            temporal_history: LayerHistory::default(),
            target_svc: u8::MAX,
            current_svc: u8::MAX,
            svc_history: LayerHistory::default(),
            last_timestamps: None,
            packets_sent: 0,
            octets_sent: 0,
            rtx: None,
            catching_up: false,
        };
        if audio {
            // Audio has no keyframes: forward from the first packet.
            sub.current = Some(0);
            if let Some(ssrc) = t.layers.first().and_then(|l| l.ssrc) {
                sub.munger.switch_to(ssrc, now);
            }
        }
        match t.subscribers.iter_mut().find(|s| s.id == subscriber) {
            // Subscribing again starts a fresh subscription.
            Some(existing) => existing.sub = sub,
            None => {
                t.subscribers.push(Subscriber {
                    id: subscriber,
                    slot,
                    sub,
                });
                p.subscribed.push(track);
            }
        }
        if !audio {
            self.request_keyframe(now, track, 0);
        }
        Ok(())
    }

    /// Retransmits to `subscriber` over RTX (RFC 4588) on SSRC `rtx_ssrc` with payload type
    /// `rtx_payload_type`, as negotiated in its SDP. Without RTX a retransmission reuses the
    /// original SRTP index, which a receiver's replay protection refuses; WebRTC endpoints
    /// negotiate RTX for video.
    ///
    /// # Errors
    ///
    /// [`RouterError::Unknown`] if `subscriber` is not subscribed to `track`.
    pub fn set_rtx(
        &mut self,
        subscriber: ParticipantId,
        track: TrackId,
        rtx_ssrc: u32,
        rtx_payload_type: u8,
    ) -> Result<(), RouterError> {
        let sub = self
            .tracks
            .get_mut(&track)
            .and_then(|t| t.subscriber_mut(subscriber))
            .ok_or(RouterError::Unknown("subscription"))?;
        sub.rtx = Some((rtx_ssrc, rtx_payload_type, 0));
        Ok(())
    }

    /// Stops forwarding `track` to `subscriber`.
    pub fn unsubscribe(&mut self, subscriber: ParticipantId, track: TrackId) {
        if let Some(p) = self.participants.get_mut(&subscriber) {
            p.subscribed.retain(|t| *t != track);
        }
        if let Some(t) = self.tracks.get_mut(&track) {
            t.subscribers.retain(|s| s.id != subscriber);
        }
    }

    /// Asks the publisher of `track` for a keyframe on `layer`, at most once per
    /// [`RouterConfig::keyframe_request_interval`]: subscribers' requests are aggregated.
    /// A request for a layer whose SSRC is not known yet waits until it is.
    pub(super) fn request_keyframe(&mut self, now: Instant, track: TrackId, layer: usize) {
        let interval = self.config.keyframe_request_interval;
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        let publisher = t.publisher;
        let Some(l) = t.layers.get_mut(layer) else {
            return;
        };
        let Some(media_ssrc) = l.ssrc else {
            // A RID layer not seen yet: asked for once its SSRC is learned.
            l.keyframe_pending = true;
            return;
        };
        if l.last_keyframe_request
            .is_some_and(|at| now.saturating_duration_since(at) < interval)
        {
            // Held back, not dropped: `handle_timeout` sends it when the interval allows.
            l.keyframe_pending = true;
            return;
        }
        l.last_keyframe_request = Some(now);
        l.keyframe_pending = false;
        l.keyframe_retry_at = Some(now + self.config.keyframe_retry_interval);
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        if crate::rtcp::build::pli(ROUTER_SSRC, media_ssrc, &mut buf).is_ok() {
            self.stats.keyframe_requests += 1;
            self.send_rtcp(publisher, buf);
        }
    }

    /// Protects an RTCP packet for `to` and queues it.
    fn send_rtcp(&mut self, to: ParticipantId, mut buf: Vec<u8>) {
        let Some(p) = self.participants.get_mut(&to) else {
            return;
        };
        let len = buf.len();
        buf.resize(len + p.crypto.rtcp_overhead(), 0);
        match p.crypto.protect_rtcp(&mut buf, len) {
            Ok(n) => {
                buf.truncate(n);
                self.transmits.push_back(Transmit {
                    to,
                    rtcp: true,
                    data: buf,
                });
            }
            Err(_) => self.stats.dropped += 1,
        }
    }

    /// The next packet to send.
    #[must_use = "transmits must be sent"]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use = "events tell the application about layer switches and speakers"]
    pub fn poll_event(&mut self) -> Option<RouterEvent> {
        self.events.pop_front()
    }

    /// Gives a sent transmit's buffer back for reuse, so forwarding allocates nothing.
    pub fn recycle(&mut self, mut data: Vec<u8>) {
        if self.pool.len() < POOL_LIMIT {
            data.clear();
            self.pool.push(data);
        }
    }
}

impl<C: MediaCrypto> fmt::Debug for Router<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("participants", &self.participants.len())
            .field("tracks", &self.tracks.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
