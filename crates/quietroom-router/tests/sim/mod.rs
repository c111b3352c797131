//! The simulated network and the clients of `simulated_network.rs`: a seeded PRNG, impaired
//! links, a publisher and subscribers driving the router with simulated time.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
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

mod client;
mod media;
mod net;

pub(crate) use client::*;
pub(crate) use media::*;
pub(crate) use net::*;

// ---------------------------------------------------------------------------------------------
// The simulation.

pub(crate) struct TransmitLog {
    pub(crate) at: Instant,
    pub(crate) to: ParticipantId,
    pub(crate) rtcp: bool,
    /// The SSRC in the clear header (RTP), or the sender SSRC (RTCP).
    pub(crate) ssrc: u32,
}

pub(crate) struct Sim {
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
    pub(crate) router: Router<SrtpSession>,
    pub(crate) net: Network,
    pub(crate) publisher: Publisher,
    pub(crate) subs: Vec<Subscriber>,
    pub(crate) events: Vec<(Instant, RouterEvent)>,
    pub(crate) router_errors: Vec<(Instant, String)>,
    pub(crate) log: Vec<TransmitLog>,
    pub(crate) publisher_left: bool,
    pub(crate) handle_timeouts: u64,
    /// Whether subscribers send transport-wide CC feedback.
    pub(crate) twcc: bool,
}

impl Sim {
    /// A room with a publisher (participant 1) of simulcast video and audio, and
    /// `subscribers` subscribers (participants 2..) subscribed to both, with RTX.
    pub(crate) fn new(seed: u64, subscribers: usize) -> Self {
        Sim::with_publisher(seed, subscribers, true, true)
    }

    /// Like [`Sim::new`], choosing whether audio is published and whether the publisher sends
    /// periodic keyframes.
    pub(crate) fn with_publisher(
        seed: u64,
        subscribers: usize,
        audio: bool,
        periodic_keyframes: bool,
    ) -> Self {
        Sim::build(
            seed,
            subscribers,
            audio,
            periodic_keyframes,
            false,
            false,
            false,
        )
    }

    /// Like [`Sim::new`], with the publisher's video layers published with RTX, so the router
    /// NACKs what the publisher's uplink loses and the publisher retransmits it.
    pub(crate) fn with_publisher_rtx(seed: u64, subscribers: usize) -> Self {
        Sim::build(seed, subscribers, true, true, true, false, false)
    }

    /// Like [`Sim::new`], with transport-wide CC: the publisher's video carries the
    /// transport-wide sequence number, and subscribers send transport-wide CC feedback (and
    /// no REMB), which the router's estimate and padding probes run on.
    pub(crate) fn with_twcc(seed: u64, subscribers: usize) -> Self {
        Sim::build(seed, subscribers, true, true, true, false, true)
    }

    /// Like [`Sim::with_rid_simulcast`], with transport-wide CC as in [`Sim::with_twcc`]:
    /// what a browser publishes and what browser subscribers send back.
    pub(crate) fn browser_like(seed: u64, subscribers: usize) -> Self {
        Sim::build(seed, subscribers, true, false, true, true, true)
    }

    /// A browser-like publisher: RID simulcast with RTX, no SSRC signaled, keyframes only
    /// when asked for.
    pub(crate) fn with_rid_simulcast(seed: u64, subscribers: usize) -> Self {
        Sim::build(seed, subscribers, true, false, true, true, false)
    }

    fn build(
        seed: u64,
        subscribers: usize,
        audio: bool,
        periodic_keyframes: bool,
        rtx: bool,
        rid: bool,
        twcc: bool,
    ) -> Self {
        let t0 = Instant::now();
        let mut router = Router::new(RouterConfig::default());
        let pub_session = join(&mut router, 1);
        let mut publisher = Publisher::new(ParticipantId(1), pub_session, t0, seed ^ 0xBEEF);
        publisher.audio = audio;
        publisher.periodic_keyframes = periodic_keyframes;
        publisher.rtx = rtx;
        publisher.rid = rid;
        publisher.twcc = twcc.then_some(0);
        let mut video = if rid {
            video_track_rid()
        } else {
            video_track(rtx)
        };
        if twcc {
            video.extensions.transport_cc = Some(TWCC_ID);
        }
        router.publish(publisher.id, VIDEO_TRACK, video).unwrap();
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
            twcc,
        };
        for i in 0..subscribers {
            sim.add_subscriber(2 + i as u64);
        }
        sim
    }

    /// Participant `n` joins now and subscribes to what is published, with RTX for video.
    pub(crate) fn add_subscriber(&mut self, n: u64) -> ParticipantId {
        let now = self.now;
        let session = join(&mut self.router, n);
        let mut s = Subscriber::new(ParticipantId(n), session);
        if self.twcc {
            s.twcc = Some(quietroom_router::rtcp::TwccRecorder::with_interval(
                Duration::from_millis(100),
            ));
        }
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

    pub(crate) fn sub(&self, id: ParticipantId) -> &Subscriber {
        self.subs.iter().find(|s| s.id == id).unwrap()
    }

    pub(crate) fn sub_mut(&mut self, id: ParticipantId) -> &mut Subscriber {
        self.subs.iter_mut().find(|s| s.id == id).unwrap()
    }

    pub(crate) fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    /// Sets the bottleneck of a subscriber's downlink (what its client reports is separate:
    /// [`Sim::report_cap`]).
    pub(crate) fn set_link_cap(&mut self, id: ParticipantId, bps: u64, queue_bytes: usize) {
        let link = self.net.link(id, Dir::Down);
        link.config.bandwidth_bps = Some(bps);
        link.config.queue_bytes = queue_bytes;
    }

    /// How long a packet sent to `id` now would wait in its downlink's bottleneck queue.
    pub(crate) fn queue_delay(&mut self, id: ParticipantId) -> Duration {
        let now = self.now;
        self.net
            .link(id, Dir::Down)
            .busy_until
            .map_or(Duration::ZERO, |b| b.saturating_duration_since(now))
    }

    /// A subscriber reports `bps` with REMB from now on (its link is unchanged).
    pub(crate) fn report_cap(&mut self, id: ParticipantId, bps: u64) {
        let now = self.now;
        self.sub_mut(id).set_cap(now, bps);
    }

    pub(crate) fn drain_router(&mut self) {
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

    pub(crate) fn next_due(&self) -> Option<Instant> {
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
    pub(crate) fn run_until(&mut self, end: Instant) {
        while let Some(next) = self.next_due().filter(|t| *t <= end) {
            self.now = self.now.max(next);
            self.step();
        }
        self.now = self.now.max(end);
    }

    pub(crate) fn step(&mut self) {
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

    pub(crate) fn layer_switches(&self, id: ParticipantId) -> Vec<(Instant, u8)> {
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

    /// The router refused nothing, and every subscriber's stream keeps its invariants
    /// ([`Subscriber::check_stream_invariants`]).
    pub(crate) fn check_clean(&self) {
        assert!(
            self.router_errors.is_empty(),
            "{:?}",
            &self.router_errors[..self.router_errors.len().min(5)]
        );
        for s in &self.subs {
            s.check_stream_invariants();
        }
    }

    /// [`Sim::layer_switches`] of `id`, in seconds since the start.
    pub(crate) fn switch_times(&self, id: ParticipantId) -> Vec<(f64, u8)> {
        self.layer_switches(id)
            .iter()
            .map(|(at, l)| (self.secs(*at), *l))
            .collect()
    }

    /// [`Sim::switch_times`] of `id` from `at` on.
    pub(crate) fn switches_since(&self, id: ParticipantId, at: Instant) -> Vec<(f64, u8)> {
        let from = self.secs(at);
        self.switch_times(id)
            .into_iter()
            .filter(|(t, _)| *t >= from)
            .collect()
    }

    pub(crate) fn secs(&self, at: Instant) -> f64 {
        (at - self.t0).as_secs_f64()
    }
}
