//! Delay-based overuse detection from transport-wide CC feedback: GCC's arrival-time filter
//! (draft-ietf-rmcat-gcc-02 §5) in the trendline form libwebrtc uses.
//!
//! Packets are grouped by send time into bursts of [`BURST`]. For each group against the one
//! before it, the delay variation is how much longer the group took to arrive than to be
//! sent. Summed, that is the queuing delay built up along the path (up to a constant);
//! smoothed, it is regressed against arrival time over the last [`WINDOW`] groups. The slope is
//! how fast the queue grows, in milliseconds per millisecond: 0.1 means the path receives
//! about 10 % more than it can carry.
//!
//! The slope, scaled by [`GAIN`] and by how many groups have been seen (up to 60, so that an
//! early estimate weighs less), is compared with an adaptive threshold γ (GCC §5.4):
//!
//! * above γ for more than [`OVERUSE_TIME`] and at least two groups, with the slope not
//!   falling: [`DelayState::Overusing`] — the queue is growing;
//! * below −γ: [`DelayState::Underusing`] — the queue is draining;
//! * otherwise [`DelayState::Normal`].
//!
//! γ follows |trend| upwards slowly and downwards quickly, so noise a path always has (a busy
//! receiver, a keyframe's burst) raises it, while a queue that keeps growing still crosses it.
//!
//! A standing queue that grows slowly (a path a few percent too narrow, with a deep buffer)
//! never shows much growth within one feedback, and would otherwise go unnoticed until its
//! buffer overflows, seconds of delay later; the trend over many groups shows it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Packets sent within this span of a group's first packet belong to the group.
pub const BURST: Duration = Duration::from_millis(5);
/// Groups the trend is regressed over.
pub const WINDOW: usize = 20;
/// Weight of the newest accumulated delay in its exponential smoothing (1 − 0.9).
const SMOOTHING: f64 = 0.9;
/// Scale applied to the slope before comparing it with the threshold.
pub const GAIN: f64 = 4.0;
/// The sample count that scales the slope is capped at this.
const MAX_SCALE: f64 = 60.0;
/// The threshold γ starts here (milliseconds, in the scaled trend's units) and stays in
/// [`THRESHOLD_MIN`, `THRESHOLD_MAX`].
pub const THRESHOLD_START: f64 = 12.5;
const THRESHOLD_MIN: f64 = 6.0;
const THRESHOLD_MAX: f64 = 600.0;
/// γ's rate towards |trend| when |trend| is above it (per millisecond).
const K_UP: f64 = 0.0087;
/// γ's rate towards |trend| when |trend| is below it (per millisecond).
const K_DOWN: f64 = 0.039;
/// A trend this far above γ is an outlier γ does not follow.
const OUTLIER: f64 = 15.0;
/// γ's update uses at most this much elapsed time (milliseconds).
const MAX_UPDATE_MS: f64 = 100.0;
/// The trend must stay above γ this long before it counts as overuse.
pub const OVERUSE_TIME: Duration = Duration::from_millis(10);
/// A jump in arrival time of more than this between groups (a receiver that stalled, or a
/// clock that jumped) restarts the filter.
pub const RESET_GAP: Duration = Duration::from_secs(3);

/// What the queuing delay along the path is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DelayState {
    /// No trend beyond the threshold either way.
    #[default]
    Normal,
    /// The queue is growing: the path receives more than it carries.
    Overusing,
    /// The queue is draining.
    Underusing,
}

/// One burst of packets: first and last send time, latest arrival (microseconds on the
/// receiver's clock).
#[derive(Clone, Copy, Debug)]
struct Group {
    first_sent: Instant,
    last_sent: Instant,
    arrival_us: i64,
}

/// The delay-based overuse detector for one path. Bounded: it keeps [`WINDOW`] samples.
#[derive(Debug, Clone)]
pub struct DelayDetector {
    /// The group being filled, and the last complete one.
    current: Option<Group>,
    previous: Option<Group>,
    /// The latest reference time seen (in 64 ms units, unwrapped) and the wraps so far.
    reference: Option<i64>,
    /// The arrival time of the first group since the last reset (milliseconds).
    first_arrival_ms: Option<f64>,
    accumulated_ms: f64,
    smoothed_ms: f64,
    /// (arrival ms since the first group, smoothed accumulated delay ms).
    samples: VecDeque<(f64, f64)>,
    /// Delay variations seen since the last reset (capped).
    deltas: u32,
    previous_trend: f64,
    threshold: f64,
    /// Arrival time of the last threshold update (milliseconds).
    last_update_ms: Option<f64>,
    /// How long, and over how many groups, the trend has been above γ.
    overuse_ms: Option<f64>,
    overuse_groups: u32,
    state: DelayState,
}

impl Default for DelayDetector {
    fn default() -> Self {
        DelayDetector {
            current: None,
            previous: None,
            reference: None,
            first_arrival_ms: None,
            accumulated_ms: 0.0,
            smoothed_ms: 0.0,
            samples: VecDeque::with_capacity(WINDOW),
            deltas: 0,
            previous_trend: 0.0,
            threshold: THRESHOLD_START,
            last_update_ms: None,
            overuse_ms: None,
            overuse_groups: 0,
            state: DelayState::Normal,
        }
    }
}

impl DelayDetector {
    /// A detector with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the delay is doing, as of the latest complete group.
    pub fn state(&self) -> DelayState {
        self.state
    }

    /// The queuing delay built up since the filter started (milliseconds, up to a
    /// constant): the sum of the delay variations between groups. Each group is measured at
    /// its last packet, so the time a burst takes to leave a narrow link is not read as a
    /// queue.
    pub fn accumulated_ms(&self) -> f64 {
        self.accumulated_ms
    }

    /// The adaptive threshold γ, in the scaled trend's units.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Turns a feedback's 24-bit reference time (64 ms units) and a packet's arrival offset
    /// from it into microseconds on the receiver's clock, continuous across the reference
    /// time's wrap. Call once per feedback, before its packets.
    pub fn on_reference_time(&mut self, reference_time: u32) -> i64 {
        let raw = i64::from(reference_time & 0x00FF_FFFF);
        let unwrapped = match self.reference {
            None => raw,
            Some(prev) => {
                // The nearest value congruent to `raw` modulo 2^24 (feedback may be reordered).
                let base = prev - prev.rem_euclid(1 << 24);
                [base - (1 << 24), base, base + (1 << 24)]
                    .into_iter()
                    .map(|b| b + raw)
                    .min_by_key(|v| (v - prev).abs())
                    .unwrap_or(raw)
            }
        };
        self.reference = Some(unwrapped);
        unwrapped.saturating_mul(64_000)
    }

    /// Takes in one packet reported received: sent at `sent`, arrived at `arrival_us` on the
    /// receiver's clock. Packets come in send order (a feedback lists them so); a packet
    /// sent before the current group started is ignored.
    pub fn on_packet(&mut self, sent: Instant, arrival_us: i64) {
        let Some(group) = self.current.as_mut() else {
            self.current = Some(Group {
                first_sent: sent,
                last_sent: sent,
                arrival_us,
            });
            return;
        };
        if sent < group.first_sent {
            return;
        }
        if sent.saturating_duration_since(group.first_sent) <= BURST {
            group.last_sent = group.last_sent.max(sent);
            group.arrival_us = group.arrival_us.max(arrival_us);
            return;
        }
        let done = *group;
        self.current = Some(Group {
            first_sent: sent,
            last_sent: sent,
            arrival_us,
        });
        if let Some(previous) = self.previous.replace(done) {
            self.on_group_pair(&previous, &done);
        }
    }

    /// One delay variation: `done` against the group before it.
    fn on_group_pair(&mut self, previous: &Group, done: &Group) {
        let send_ms = done
            .last_sent
            .saturating_duration_since(previous.last_sent)
            .as_secs_f64()
            * 1e3;
        let arrival_ms = done.arrival_us.saturating_sub(previous.arrival_us) as f64 / 1e3;
        if arrival_ms < 0.0 {
            // Reordered across groups: not a sample.
            return;
        }
        if arrival_ms > RESET_GAP.as_secs_f64() * 1e3 {
            let threshold = self.threshold;
            let reference = self.reference;
            *self = DelayDetector {
                previous: Some(*done),
                reference,
                threshold,
                ..DelayDetector::default()
            };
            return;
        }
        let now_ms = done.arrival_us as f64 / 1e3;
        let first = *self.first_arrival_ms.get_or_insert(now_ms);
        self.deltas = self.deltas.saturating_add(1).min(1000);
        self.accumulated_ms += arrival_ms - send_ms;
        self.smoothed_ms = SMOOTHING * self.smoothed_ms + (1.0 - SMOOTHING) * self.accumulated_ms;
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back((now_ms - first, self.smoothed_ms));
        let trend = if self.samples.len() == WINDOW {
            slope(&self.samples).unwrap_or(self.previous_trend)
        } else {
            self.previous_trend
        };
        self.detect(trend, send_ms, now_ms);
    }

    /// Compares the scaled trend with γ, then moves γ (GCC §5.4).
    fn detect(&mut self, trend: f64, send_ms: f64, now_ms: f64) {
        let scaled = f64::from(self.deltas).min(MAX_SCALE) * trend * GAIN;
        if scaled > self.threshold {
            let time = match self.overuse_ms {
                // Count half of the first interval, as the overuse began somewhere in it.
                None => send_ms / 2.0,
                Some(t) => t + send_ms,
            };
            self.overuse_ms = Some(time);
            self.overuse_groups = self.overuse_groups.saturating_add(1);
            if time > OVERUSE_TIME.as_secs_f64() * 1e3
                && self.overuse_groups > 1
                && trend >= self.previous_trend
            {
                self.overuse_ms = Some(0.0);
                self.overuse_groups = 0;
                self.state = DelayState::Overusing;
            }
        } else if scaled < -self.threshold {
            self.overuse_ms = None;
            self.overuse_groups = 0;
            self.state = DelayState::Underusing;
        } else {
            self.overuse_ms = None;
            self.overuse_groups = 0;
            self.state = DelayState::Normal;
        }
        self.previous_trend = trend;
        let last = *self.last_update_ms.get_or_insert(now_ms);
        self.last_update_ms = Some(now_ms);
        if scaled.abs() > self.threshold + OUTLIER {
            return;
        }
        let k = if scaled.abs() < self.threshold {
            K_DOWN
        } else {
            K_UP
        };
        let elapsed = (now_ms - last).clamp(0.0, MAX_UPDATE_MS);
        self.threshold += k * (scaled.abs() - self.threshold) * elapsed;
        self.threshold = self.threshold.clamp(THRESHOLD_MIN, THRESHOLD_MAX);
    }
}

/// The least-squares slope of `y` over `x`; `None` when every `x` is the same.
fn slope(samples: &VecDeque<(f64, f64)>) -> Option<f64> {
    let n = samples.len() as f64;
    let (sx, sy) = samples
        .iter()
        .fold((0.0, 0.0), |(sx, sy), &(x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = samples.iter().fold((0.0, 0.0), |(num, den), &(x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    (den > 0.0).then(|| num / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Feeds `seconds` of packets every `spacing`, whose queuing delay is `queue_ms(t)` at
    /// send time t (seconds); returns the states seen, with when.
    fn run(
        det: &mut DelayDetector,
        t0: Instant,
        from: f64,
        seconds: f64,
        spacing: Duration,
        queue_ms: impl Fn(f64) -> f64,
    ) -> Vec<(f64, DelayState)> {
        let mut states = Vec::new();
        let mut t = from;
        while t < from + seconds {
            let sent = t0 + Duration::from_secs_f64(t);
            let arrival_us = ((t * 1e3 + 20.0 + queue_ms(t)) * 1e3) as i64;
            det.on_packet(sent, arrival_us);
            if states.last().map(|&(_, s)| s) != Some(det.state()) {
                states.push((t, det.state()));
            }
            t += spacing.as_secs_f64();
        }
        states
    }

    #[test]
    fn a_flat_path_is_normal() {
        let mut det = DelayDetector::new();
        let states = run(&mut det, Instant::now(), 0.0, 5.0, 10 * MS, |_| 0.0);
        assert_eq!(states, vec![(0.0, DelayState::Normal)]);
    }

    #[test]
    fn a_slowly_growing_queue_is_overuse_and_its_draining_underuse() {
        // 5 % too much for the path: the queue grows 5 ms per 100 ms. Within one 100 ms
        // feedback that is noise; over a window of groups it is a trend.
        let mut det = DelayDetector::new();
        let t0 = Instant::now();
        run(&mut det, t0, 0.0, 2.0, 10 * MS, |_| 0.0);
        let states = run(&mut det, t0, 2.0, 3.0, 10 * MS, |t| (t - 2.0) * 50.0);
        let over = states
            .iter()
            .find(|(_, s)| *s == DelayState::Overusing)
            .unwrap_or_else(|| panic!("never overuse: {states:?}"));
        assert!(over.0 < 3.0, "within a second: {states:?}");
        // The queue (150 ms by now) drains at 100 ms per 100 ms... over 1.5 s.
        let states = run(&mut det, t0, 5.0, 1.5, 10 * MS, |t| {
            (150.0 - (t - 5.0) * 100.0).max(0.0)
        });
        assert!(
            states.iter().any(|(_, s)| *s == DelayState::Underusing),
            "{states:?}"
        );
        // And once it is empty, back to normal.
        let states = run(&mut det, t0, 6.5, 3.0, 10 * MS, |_| 0.0);
        assert_eq!(states.last().map(|&(_, s)| s), Some(DelayState::Normal));
    }

    #[test]
    fn jitter_without_a_growing_queue_is_not_overuse() {
        // Up to 10 ms of random extra delay on a path that keeps packets in order and whose
        // queue does not grow, 30 s at 100 packets/s. (At 30 ms of such jitter, which the
        // FIFO turns into short queues that build and drain, the detector sees overuse in
        // about 4 % of the packets, as GCC's would: `OVERUSE_FEEDBACKS` in the estimate is
        // for that.)
        let mut det = DelayDetector::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut jitter = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 10_000) as f64 / 1e3
        };
        let t0 = Instant::now();
        let mut last = 0;
        for i in 0..3_000u32 {
            let t = f64::from(i) * 0.01;
            let arrival = (((t * 1e3 + 20.0 + jitter()) * 1e3) as i64).max(last);
            last = arrival;
            det.on_packet(t0 + Duration::from_secs_f64(t), arrival);
            assert_ne!(det.state(), DelayState::Overusing, "at {t} s");
        }
    }

    #[test]
    fn a_burst_is_one_group_and_reordering_is_not_a_sample() {
        let mut det = DelayDetector::new();
        let t0 = Instant::now();
        // Ten packets within 5 ms: one group, no sample yet.
        for i in 0..10u32 {
            det.on_packet(t0 + MS * i / 2, i64::from(i) * 1_000);
        }
        assert_eq!(det.deltas, 0);
        det.on_packet(t0 + 10 * MS, 10_000);
        det.on_packet(t0 + 20 * MS, 20_000);
        assert_eq!(det.deltas, 1);
        // A group that arrived before the one before it (completed by the next packet).
        det.on_packet(t0 + 30 * MS, 5_000);
        assert_eq!(det.deltas, 2);
        det.on_packet(t0 + 40 * MS, 40_000);
        assert_eq!(det.deltas, 2);
        // A packet sent before the current group began is ignored.
        det.on_packet(t0, 0);
        assert_eq!(det.deltas, 2);
    }

    #[test]
    fn a_long_gap_restarts_the_filter() {
        let mut det = DelayDetector::new();
        let t0 = Instant::now();
        run(&mut det, t0, 0.0, 1.0, 10 * MS, |_| 0.0);
        assert!(det.deltas > 50);
        // The receiver stalls 4 s.
        run(&mut det, t0, 1.0, 0.03, 10 * MS, |_| 4_000.0);
        assert!(det.deltas < 3, "{}", det.deltas);
        assert_eq!(det.state(), DelayState::Normal);
    }

    #[test]
    fn the_reference_time_unwraps() {
        let mut det = DelayDetector::new();
        let top = (1u32 << 24) - 1;
        let a = det.on_reference_time(top);
        let b = det.on_reference_time(0);
        assert_eq!(b - a, 64_000);
        // A late feedback from before the wrap.
        assert_eq!(det.on_reference_time(top), a);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever arrives in whatever order: no panic, the window and threshold stay in
        /// their bounds, and a path whose delay never changes is never read as overuse.
        #[test]
        fn bounded_and_calm_on_a_flat_path(
            packets in proptest::collection::vec((0u64..20_000, any::<i64>()), 0..400),
            references in proptest::collection::vec(any::<u32>(), 0..50),
            spacing in 1u64..50,
        ) {
            let t0 = std::time::Instant::now();
            let mut det = DelayDetector::new();
            for reference in references {
                det.on_reference_time(reference);
            }
            for (sent_ms, arrival) in packets {
                det.on_packet(t0 + Duration::from_millis(sent_ms), arrival);
                prop_assert!(det.samples.len() <= WINDOW);
                prop_assert!((THRESHOLD_MIN..=THRESHOLD_MAX).contains(&det.threshold()));
            }
            let mut flat = DelayDetector::new();
            for i in 0..500u64 {
                let sent = i * spacing;
                flat.on_packet(t0 + Duration::from_millis(sent), (sent as i64 + 30) * 1_000);
                prop_assert_ne!(flat.state(), DelayState::Overusing);
            }
        }
    }
}
