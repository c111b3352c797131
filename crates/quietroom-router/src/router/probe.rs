//! Bandwidth probing: padding on a subscriber's RTX stream, so that its transport-wide CC
//! feedback can show room above the rate the router forwards it.
//!
//! The transport-wide estimate is built from acknowledged bytes, so it cannot see room above
//! what was sent: a subscriber moved down to a low layer by congestion would climb back only
//! as fast as its congestion cap is allowed to grow, and on a path that keeps losing a
//! little, not at all. So when a subscriber is held by its cap below the layers it wants,
//! the router sends it padding for [`PROBE_SEND`], enough that media and padding together
//! pass the bitrate the next layer needs (libwebrtc pads on RTX for the same reason; LiveKit
//! probes a subscriber's next layer the same way). Clear feedback raises the cap to what was
//! delivered, and the layer selection moves up; congestion ends the probe at once. Probes
//! start at most every [`PROBE_INTERVAL`], and back off up to [`PROBE_BACKOFF_MAX`] after
//! probes that failed.

use std::time::{Duration, Instant};

use quietroom_srtp::MediaCrypto;

use super::forward::send_padding;
use super::{Kind, ParticipantId, Router};
use crate::rtcp::PathSignal;
use crate::rtp::Padding;

/// How long a probe sends padding.
pub(super) const PROBE_SEND: Duration = Duration::from_millis(800);
/// How long after the padding stops a probe waits for its last feedback before it is judged.
const PROBE_SETTLE: Duration = Duration::from_millis(400);
/// Padding goes out in bursts this far apart.
const PROBE_TICK: Duration = Duration::from_millis(10);
/// The shortest wait between the start of one probe and the next.
pub(super) const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// The longest wait after probes that failed (the wait doubles after each).
pub(super) const PROBE_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Padding per packet, the count byte included: the most one count byte can say.
const PADDING_PER_PACKET: u8 = 255;
/// Bytes a padding packet takes on the wire before SRTP: header, transport-wide sequence
/// number extension, padding.
const PADDING_PACKET_BYTES: u64 = 12 + 8 + PADDING_PER_PACKET as u64;
/// The padding rate of a probe is kept within these bounds (bits per second).
const MIN_PADDING_BPS: u64 = 50_000;
const MAX_PADDING_BPS: u64 = 5_000_000;
/// A probe aims this far (percent) above the bitrate it must show, since media comes in
/// bursts.
const PROBE_OVERSHOOT_PERCENT: u64 = 110;
/// At most this many ticks' worth of padding goes out at once when the timer ran late.
const MAX_LATE_TICKS: u32 = 5;

/// One subscriber's probing state.
#[derive(Debug)]
pub(super) struct Prober {
    active: Option<Probe>,
    /// No probe starts before this.
    next_allowed: Option<Instant>,
    /// The wait after the next failed probe.
    backoff: Duration,
}

#[derive(Clone, Copy, Debug)]
struct Probe {
    /// The estimate the probe must reach.
    goal_bps: u64,
    padding_bps: u64,
    started: Instant,
    /// When the next burst of padding is due.
    next_tick: Instant,
    /// Padding bytes owed from earlier bursts (a burst sends whole packets).
    owed_bytes: u64,
}

impl Probe {
    fn sending_until(&self) -> Instant {
        self.started + PROBE_SEND
    }

    fn judged_at(&self) -> Instant {
        self.started + PROBE_SEND + PROBE_SETTLE
    }
}

impl Prober {
    pub(super) fn new() -> Self {
        Prober {
            active: None,
            next_allowed: None,
            backoff: PROBE_INTERVAL,
        }
    }

    /// The estimate the probe in progress must reach.
    pub(super) fn goal(&self) -> Option<u64> {
        self.active.map(|p| p.goal_bps)
    }

    fn may_start(&self, now: Instant) -> bool {
        self.active.is_none() && self.next_allowed.is_none_or(|at| now >= at)
    }

    fn start(&mut self, now: Instant, goal_bps: u64, padding_bps: u64) {
        self.active = Some(Probe {
            goal_bps,
            padding_bps: padding_bps.clamp(MIN_PADDING_BPS, MAX_PADDING_BPS),
            started: now,
            next_tick: now,
            owed_bytes: 0,
        });
    }

    /// Ends the probe in progress. After a success the next may start [`PROBE_INTERVAL`]
    /// after this one started; after a failure the wait doubles, up to
    /// [`PROBE_BACKOFF_MAX`].
    fn finish(&mut self, now: Instant, succeeded: bool) {
        let Some(probe) = self.active.take() else {
            return;
        };
        if succeeded {
            self.backoff = PROBE_INTERVAL;
            self.next_allowed = Some(probe.started + PROBE_INTERVAL);
        } else {
            self.next_allowed = Some(now + self.backoff);
            self.backoff = (self.backoff * 2).min(PROBE_BACKOFF_MAX);
        }
    }

    /// When the probe in progress next needs the timer.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.active.map(|p| {
            if p.next_tick < p.sending_until() {
                p.next_tick
            } else {
                p.judged_at()
            }
        })
    }

    /// Padding packets due at `now`, the timer moved on past them.
    fn due_packets(&mut self, now: Instant) -> u64 {
        let Some(p) = self.active.as_mut() else {
            return 0;
        };
        if now < p.next_tick || p.next_tick >= p.sending_until() {
            return 0;
        }
        if now >= p.sending_until() {
            // The timer ran past the end: nothing more is sent, and the timer moves on to
            // the judgement.
            p.next_tick = p.sending_until();
            return 0;
        }
        let late = now.saturating_duration_since(p.next_tick);
        let ticks = (1 + late.as_millis() / PROBE_TICK.as_millis()).min(u128::from(MAX_LATE_TICKS));
        let ticks = u32::try_from(ticks).unwrap_or(MAX_LATE_TICKS);
        p.next_tick = now + PROBE_TICK;
        let per_tick = p.padding_bps.saturating_mul(PROBE_TICK.as_millis() as u64) / 8_000;
        p.owed_bytes = p
            .owed_bytes
            .saturating_add(per_tick.saturating_mul(u64::from(ticks)));
        let packets = p.owed_bytes / PADDING_PACKET_BYTES;
        p.owed_bytes -= packets * PADDING_PACKET_BYTES;
        packets
    }
}

impl<C: MediaCrypto> Router<C> {
    /// After transport-wide CC feedback from `participant`: ends its probe if the feedback
    /// showed congestion (a failure) or the estimate reached the probe's goal (a success), or
    /// starts one if its congestion cap holds it below layers it wants.
    pub(super) fn consider_probe(&mut self, now: Instant, participant: ParticipantId) {
        if !self.config.bandwidth_probing {
            return;
        }
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        let signal = p.bandwidth.path_signal();
        if let Some(want) = p.prober.goal() {
            if signal == Some(PathSignal::Congested) {
                p.prober.finish(now, false);
            } else if p.estimate_bps.is_some_and(|bps| bps >= want) {
                p.prober.finish(now, true);
            }
            return;
        }
        let Some((cap, _)) = p.congestion_cap else {
            return;
        };
        // REMB at or below the cap decides, whatever a probe shows.
        let remb_limits = p.bandwidth.remb_bps().is_some_and(|remb| remb <= cap);
        if signal != Some(PathSignal::Clear) || remb_limits || !p.prober.may_start(now) {
            return;
        }
        let media = p.bandwidth.acked_bitrate_bps().unwrap_or(0);
        // Only now the walks over the participant's subscriptions.
        let Some(goal) = self.probe_goal(now, participant).filter(|&goal| goal > cap) else {
            return;
        };
        if self.padding_route(participant).is_none() {
            return;
        }
        if let Some(p) = self.participants.get_mut(&participant) {
            let aim = goal.saturating_mul(PROBE_OVERSHOOT_PERCENT) / 100;
            p.prober.start(now, goal, aim.saturating_sub(media));
        }
    }

    /// The smallest estimate that would move one of `participant`'s video subscriptions up
    /// a step it wants — the next spatial layer the publisher sends, or all temporal layers
    /// of the current one — with the selection's headroom, given how the estimate is divided
    /// among its video subscriptions (`router/allocation.rs`), the audio it receives
    /// included. `None` if it has all it wants.
    fn probe_goal(&self, now: Instant, participant: ParticipantId) -> Option<u64> {
        self.participants.get(&participant)?.estimate_bps?;
        let plan = self.plan_video(now, participant);
        let video_goal = plan.allocation.next_goal(&plan.choices, |i| {
            // All temporal layers of the layer it gets, when it gets fewer than it wants.
            let t = self.tracks.get(plan.tracks.get(i)?)?;
            let sub = t.subscriber(participant)?;
            let layer = t.layers.get(plan.layer(i))?;
            (sub.target_temporal < sub.max_temporal)
                .then(|| layer.bitrate_bps.saturating_mul(plan.headroom) / 100)
        });
        video_goal.map(|goal| goal.saturating_add(plan.audio_bps))
    }

    /// The video subscription of `participant` that can carry padding: RTX negotiated and
    /// the transport-wide sequence number extension in use, so the padding counts in the
    /// feedback.
    fn padding_route(&self, participant: ParticipantId) -> Option<super::TrackId> {
        let p = self.participants.get(&participant)?;
        p.subscribed.iter().copied().find(|id| {
            self.tracks.get(id).is_some_and(|t| {
                t.config.kind == Kind::Video
                    && t.config.extensions.transport_cc.is_some()
                    && t.subscriber(participant).is_some_and(|s| s.rtx.is_some())
            })
        })
    }

    /// Sends the padding that probes in progress have due at `now`, and judges probes whose
    /// feedback has had time to come back.
    pub(super) fn send_probes(&mut self, now: Instant) {
        let ids: Vec<ParticipantId> = self
            .participants
            .iter_mut()
            .filter(|(_, p)| p.prober.goal().is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let route = self.padding_route(id);
            let Router {
                participants,
                tracks,
                pool,
                transmits,
                stats,
                ..
            } = self;
            let Some(p) = participants.get_mut(&id) else {
                continue;
            };
            if p.prober
                .active
                .is_some_and(|probe| now >= probe.judged_at())
            {
                let reached = p
                    .estimate_bps
                    .zip(p.prober.goal())
                    .is_some_and(|(bps, goal)| bps >= goal);
                p.prober.finish(now, reached);
                continue;
            }
            let packets = p.prober.due_packets(now);
            let Some(track) = route.and_then(|t| tracks.get_mut(&t)) else {
                continue;
            };
            let Some(ext) = track.config.extensions.transport_cc else {
                continue;
            };
            let Some(sub) = track.subscriber_mut(id) else {
                continue;
            };
            let Some((ssrc, payload_type, first)) = sub.rtx else {
                continue;
            };
            let timestamp = sub.last_timestamps.map_or(0, |(_, out)| out);
            let mut sequence = first;
            for _ in 0..packets {
                let padding = Padding {
                    ssrc,
                    payload_type,
                    sequence,
                    timestamp,
                    transport_cc: None,
                    padding: PADDING_PER_PACKET,
                };
                if !send_padding(p, id, padding, Some(ext), now, pool, transmits) {
                    break;
                }
                sequence = sequence.wrapping_add(1);
                stats.probe_packets += 1;
            }
            sub.rtx = Some((ssrc, payload_type, sequence));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_paced_and_bounded() {
        let t0 = Instant::now();
        let mut prober = Prober::new();
        prober.start(t0, 1_000_000, 1_100_000);
        let mut sent = 0;
        let mut now = t0;
        while let Some(at) = prober.poll_timeout() {
            if at >= t0 + PROBE_SEND {
                break;
            }
            now = at;
            sent += prober.due_packets(now);
        }
        // 1.1 Mbit/s for 0.8 s, in 275-byte packets: 400, less what is still owed.
        assert!((395..=400).contains(&sent), "{sent}");
        assert_eq!(prober.poll_timeout(), Some(t0 + PROBE_SEND + PROBE_SETTLE));
        assert_eq!(prober.due_packets(now + PROBE_TICK), 0);

        // A timer that ran late sends at most a few ticks' worth at once.
        let mut late = Prober::new();
        late.start(t0, 1_000_000, MAX_PADDING_BPS * 10);
        let burst = late.due_packets(t0 + Duration::from_millis(500));
        let per_tick = MAX_PADDING_BPS / 8 / 100 / PADDING_PACKET_BYTES + 1;
        assert!(burst <= per_tick * u64::from(MAX_LATE_TICKS), "{burst}");
    }

    proptest::proptest! {
        /// However late or early the timer fires, a probe sends no more padding than its
        /// rate allows over its sending time (plus one packet of rounding), and none after.
        #[test]
        fn padding_never_exceeds_the_probe_rate(
            padding_bps in 0u64..20_000_000,
            gaps in proptest::collection::vec(0u64..120, 1..200),
        ) {
            let t0 = Instant::now();
            let mut prober = Prober::new();
            prober.start(t0, 1, padding_bps);
            let rate = padding_bps.clamp(MIN_PADDING_BPS, MAX_PADDING_BPS);
            let mut now = t0;
            let mut sent = 0u64;
            for gap in gaps {
                now += Duration::from_millis(gap);
                let due = prober.due_packets(now);
                if now >= t0 + PROBE_SEND {
                    proptest::prop_assert_eq!(due, 0, "after the sending time");
                }
                sent += due;
            }
            let allowed = rate * PROBE_SEND.as_millis() as u64 / 8_000 / PADDING_PACKET_BYTES + 1;
            proptest::prop_assert!(sent <= allowed, "{sent} packets, {allowed} allowed");
        }
    }

    #[test]
    fn failed_probes_back_off_and_a_success_resets() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let mut prober = Prober::new();
        assert!(prober.may_start(t0));
        prober.start(t0, 1, 1);
        assert!(!prober.may_start(t0));
        prober.finish(s(1), false);
        assert!(!prober.may_start(s(2)));
        assert!(prober.may_start(s(3)), "2 s after the first failure");
        prober.start(s(3), 1, 1);
        prober.finish(s(4), false);
        assert!(!prober.may_start(s(7)));
        assert!(prober.may_start(s(8)), "4 s after the second");
        for _ in 0..10 {
            prober.start(s(8), 1, 1);
            prober.finish(s(8), false);
        }
        assert_eq!(prober.backoff, PROBE_BACKOFF_MAX);
        prober.start(s(100), 1, 1);
        prober.finish(s(101), true);
        assert!(
            prober.may_start(s(102)),
            "{PROBE_INTERVAL:?} after a success started"
        );
        assert_eq!(prober.backoff, PROBE_INTERVAL);
    }
}
