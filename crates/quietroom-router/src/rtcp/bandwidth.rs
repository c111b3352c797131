//! A simple send-side bandwidth estimate per subscriber, used to pick simulcast layers.
//!
//! Two inputs: the subscriber's REMB (the latest value is taken as is), and the transport-cc
//! feedback the subscriber sends about packets the router sent it. From the latter the
//! estimator computes the acked bitrate (bytes of packets reported received over the last
//! [`ACKED_WINDOW`] of their arrival times, on the receiver's clock), the loss fraction, and
//! whether queuing delay grew. Arrival time, not send time: packets sent faster than the path
//! carries, into a deep buffer, all arrive in the end, and counted by send time they would
//! show the sending rate as delivered.
//!
//! Loss is read over at least [`LOSS_MIN_PACKETS`] reported packets, gathered across
//! feedbacks as libwebrtc's send-side estimate does: at low rates one feedback covers a
//! handful of packets, and one lost packet in five would read as 20 % loss.
//!
//! Queuing delay is read two ways, and counts as overuse when either holds in each of
//! [`OVERUSE_FEEDBACKS`] feedbacks in a row:
//! * it grew by more than [`DELAY_OVERUSE`] within the feedback, measured between the packet
//!   groups of the detector below (so that the time a frame's burst takes to leave a narrow
//!   link is not read as a queue): a sudden bottleneck, seen within a feedback or two;
//! * GCC's delay-based detector ([`DelayDetector`]: the trend of queuing delay over the last
//!   packet groups against an adaptive threshold) reported overuse: a queue that grows too
//!   slowly to show within one feedback (a path a few percent too narrow, with a deep
//!   buffer), which the first check would miss until the buffer overflowed, seconds of delay
//!   later. The router does not pace its sending, so a group is about a frame (30 per
//!   second), and the trend spans about 0.7 s: too slow alone for a sudden bottleneck.
//!
//! Then, cutting at most once per [`DECREASE_INTERVAL`]:
//!
//! * a loss window above 10 %: min(estimate, 2 × acked) × (1 − 0.5 × loss) — relative to
//!   the estimate rather than to what was sent, since a router forwarding a low layer sends
//!   less than the path carries, but from no more than twice what was acknowledged
//!   ([`LOSS_BASE_OVER_ACKED`]);
//! * else, overuse: estimate = min(estimate, acked × 0.85);
//! * else, the latest loss window below 2 %: estimate = max(estimate, acked × 1.08);
//! * else (2–10 % loss, delay growing in this feedback only, or a cut too soon after the
//!   last): hold.
//!
//! A draining queue (the detector's underuse) does not hold the rate, unlike GCC's rate
//! controller: after a bottleneck the regression over the last groups keeps reading a
//! falling delay for a second or more after the queue is empty, and the rate grows from
//! what was acknowledged, which the bottleneck still limits while it drains.
//!
//! Each feedback also gives a [`PathSignal`] (congested, hold, clear) from the same loss and
//! delay thresholds; the router caps a subscriber on congestion, lifts the cap while the
//! path is clear, and probes above it with padding (`router/feedback.rs`,
//! `router/probe.rs`).
//!
//! It is GCC's delay detector with a simpler rate controller: no pacing of media, and the
//! rate follows what was acknowledged rather than GCC's additive increase.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::delay::{DelayDetector, DelayState};
use super::parse::Feedback;

/// Window over which the acked bitrate is measured (by arrival time).
pub const ACKED_WINDOW: Duration = Duration::from_millis(500);
/// Estimates older than this are ignored by [`BandwidthEstimate::estimate_bps`].
pub const FRESHNESS: Duration = Duration::from_secs(5);
/// At most this many acked packets are kept for the bitrate window.
pub const MAX_WINDOW_PACKETS: usize = 8192;

/// Reported packets a loss fraction is computed over, at least (libwebrtc's
/// `SendSideBandwidthEstimation` waits for 20 as well).
pub const LOSS_MIN_PACKETS: u32 = 20;

/// Queuing-delay growth within one feedback above which it shows a sudden bottleneck.
pub const DELAY_OVERUSE: Duration = Duration::from_millis(25);
/// Feedbacks in a row that must show queuing delay growing (either way) before it counts
/// as overuse (a single one is often a burst, or a busy receiver).
pub const OVERUSE_FEEDBACKS: u8 = 2;
/// The estimate is cut at most once per this interval (libwebrtc: 300 ms plus the round
/// trip).
pub const DECREASE_INTERVAL: Duration = Duration::from_millis(300);

/// A loss cut starts from the estimate, but from no more than this multiple of the
/// acknowledged rate: headroom far above what is being sent (a subscriber on a low layer)
/// is unproven, and cutting from it would take many windows to matter.
pub const LOSS_BASE_OVER_ACKED: f64 = 2.0;

/// Loss above which the estimate is cut in proportion.
const LOSS_HIGH: f64 = 0.10;
/// Loss below which the estimate may grow.
const LOSS_LOW: f64 = 0.02;
/// Growth factor over the acked bitrate.
const INCREASE: f64 = 1.08;
/// Back-off factor on delay overuse.
const DELAY_BACKOFF: f64 = 0.85;
/// Shortest span the acked bitrate is computed over while the window is still filling.
pub const MIN_SPAN: Duration = Duration::from_millis(50);

/// What the latest transport-cc feedback says about the path (GCC's three states, from
/// loss and queuing delay alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathSignal {
    /// A loss window just completed with loss above 10 %, or queuing delay grew in
    /// [`OVERUSE_FEEDBACKS`] feedbacks in a row: send less.
    Congested,
    /// The latest loss window lost 2 % or more, or queuing delay grew (not yet long enough
    /// to cut): keep the rate.
    Hold,
    /// The latest loss window lost under 2 % (or none has completed yet) and queuing delay
    /// is steady: the rate may grow.
    Clear,
}

/// REMB- and transport-cc-based bandwidth estimate for one subscriber. Bounded: at most
/// [`MAX_WINDOW_PACKETS`] acked packets are remembered.
#[derive(Debug, Clone, Default)]
pub struct BandwidthEstimate {
    remb: Option<(u64, Instant)>,
    twcc: Option<(u64, Instant)>,
    /// Acked packets in the window: (arrival on the receiver's clock in µs, bytes).
    acked: VecDeque<(i64, usize)>,
    first_acked_arrival: Option<i64>,
    acked_bps: Option<u64>,
    loss: Option<f64>,
    /// Reported and lost packets of the loss window being gathered.
    window_total: u32,
    window_lost: u32,
    /// The loss of the window behind the latest [`PathSignal::Congested`], when loss (not
    /// delay) caused it.
    heavy_loss: Option<f64>,
    /// Queuing delay, from the arrival times.
    delay: DelayDetector,
    /// Feedbacks in a row that showed queuing delay growing.
    overuse_streak: u8,
    /// When the estimate was last cut.
    last_decrease: Option<Instant>,
    signal: Option<PathSignal>,
}

impl BandwidthEstimate {
    /// No estimate yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a REMB of `bps` received at `now`; it replaces any earlier one.
    pub fn on_remb(&mut self, now: Instant, bps: u64) {
        self.remb = Some((bps, now));
    }

    /// Takes in transport-cc feedback received at `now` about packets the router sent;
    /// `sent(seq)` returns when the packet with that transport sequence number was sent and
    /// its size, or `None` if unknown (those entries are skipped). Feedback other than
    /// [`Feedback::TransportCc`] is ignored.
    pub fn on_twcc_feedback(
        &mut self,
        now: Instant,
        feedback: &Feedback,
        sent: &dyn Fn(u16) -> Option<(Instant, usize)>,
    ) {
        let Feedback::TransportCc {
            packets,
            reference_time,
            ..
        } = feedback
        else {
            return;
        };
        let reference_us = self.delay.on_reference_time(*reference_time);
        let mut total = 0u32;
        let mut lost = 0u32;
        let mut overused = false;
        // Queuing delay built up within this feedback, between packet groups: the largest,
        // and at its end.
        let start_ms = self.delay.accumulated_ms();
        let (mut max_growth_ms, mut end_growth_ms) = (0.0f64, 0.0f64);
        for &(seq, arrival) in packets {
            let Some((sent_at, bytes)) = sent(seq) else {
                continue;
            };
            total += 1;
            let Some(arrival_us) = arrival else {
                lost += 1;
                continue;
            };
            let received_us = reference_us.saturating_add(arrival_us);
            self.push_acked(received_us, bytes);
            self.delay.on_packet(sent_at, received_us);
            overused |= self.delay.state() == DelayState::Overusing;
            end_growth_ms = self.delay.accumulated_ms() - start_ms;
            max_growth_ms = max_growth_ms.max(end_growth_ms);
        }
        if total == 0 {
            return;
        }
        self.window_total = self.window_total.saturating_add(total);
        self.window_lost = self.window_lost.saturating_add(lost);
        let heavy_loss = if self.window_total >= LOSS_MIN_PACKETS {
            let loss = f64::from(self.window_lost) / f64::from(self.window_total);
            (self.window_total, self.window_lost) = (0, 0);
            self.loss = Some(loss);
            (loss > LOSS_HIGH).then_some(loss)
        } else {
            None
        };
        let loss = self.loss.unwrap_or(0.0);
        self.acked_bps = self.acked_bitrate();
        let Some(acked) = self.acked_bps else {
            return;
        };
        let acked = acked as f64;
        let current = self.fresh(self.twcc, now).map(|bps| bps as f64);
        // The trend lags the queue: a feedback whose packets found the queue shorter at its
        // end than at its start does not count, whatever the trend still says.
        let delay_growing =
            (overused && end_growth_ms > 0.0) || max_growth_ms > DELAY_OVERUSE.as_secs_f64() * 1e3;
        self.overuse_streak = if delay_growing {
            self.overuse_streak.saturating_add(1)
        } else {
            0
        };
        let overuse = self.overuse_streak >= OVERUSE_FEEDBACKS;
        // One decrease per interval, as libwebrtc's estimate: the feedback that follows a
        // cut still shows the queue and the losses the cut is meant to clear.
        let may_decrease = self
            .last_decrease
            .is_none_or(|at| now.saturating_duration_since(at) >= DECREASE_INTERVAL);
        let congested = (heavy_loss.is_some() || overuse) && may_decrease;
        self.heavy_loss = heavy_loss.filter(|_| congested);
        if congested {
            self.last_decrease = Some(now);
        }
        self.signal = Some(if congested {
            PathSignal::Congested
        } else if heavy_loss.is_some() || delay_growing || loss >= LOSS_LOW {
            PathSignal::Hold
        } else {
            PathSignal::Clear
        });
        let estimate = match (self.signal, heavy_loss) {
            // A loss cut is relative to the estimate (libwebrtc's), not to what was sent:
            // a router forwarding a low layer sends far less than the path carries.
            (Some(PathSignal::Congested), Some(loss)) => {
                current.unwrap_or(acked).min(acked * LOSS_BASE_OVER_ACKED) * (1.0 - 0.5 * loss)
            }
            (Some(PathSignal::Congested), None) => {
                current.unwrap_or(acked).min(acked * DELAY_BACKOFF)
            }
            (Some(PathSignal::Clear), _) => current.unwrap_or(0.0).max(acked * INCREASE),
            _ => current.unwrap_or(acked),
        };
        self.twcc = Some((estimate as u64, now));
    }

    fn push_acked(&mut self, arrival_us: i64, bytes: usize) {
        if self.acked.len() >= MAX_WINDOW_PACKETS {
            self.acked.pop_front();
        }
        self.acked.push_back((arrival_us, bytes));
        self.first_acked_arrival = Some(
            self.first_acked_arrival
                .map_or(arrival_us, |f| f.min(arrival_us)),
        );
    }

    /// Drops acked packets that arrived more than [`ACKED_WINDOW`] before the newest and
    /// returns the bitrate of the rest: their bytes over the window once the history is that
    /// long; before that, the bytes after the oldest packet over the time since it (`None`
    /// while that span is under [`MIN_SPAN`]).
    fn acked_bitrate(&mut self) -> Option<u64> {
        let window_us = ACKED_WINDOW.as_micros() as i64;
        let newest = self.acked.iter().map(|&(t, _)| t).max()?;
        self.acked
            .retain(|&(t, _)| newest.saturating_sub(t) < window_us);
        let bytes: u64 = self.acked.iter().map(|&(_, b)| b as u64).sum();
        let history = self
            .first_acked_arrival
            .map_or(0, |f| newest.saturating_sub(f));
        if history >= window_us {
            return Some((bytes as f64 * 8.0 / ACKED_WINDOW.as_secs_f64()) as u64);
        }
        let &(oldest, oldest_bytes) = self.acked.iter().min_by_key(|&&(t, _)| t)?;
        let span = newest.saturating_sub(oldest);
        if span < MIN_SPAN.as_micros() as i64 {
            return None;
        }
        let bits = bytes.saturating_sub(oldest_bytes as u64) as f64 * 8.0;
        Some((bits / (span as f64 / 1e6)) as u64)
    }

    fn fresh(&self, value: Option<(u64, Instant)>, now: Instant) -> Option<u64> {
        value
            .filter(|&(_, at)| now.saturating_duration_since(at) < FRESHNESS)
            .map(|(bps, _)| bps)
    }

    /// The estimate at `now` in bits per second: the smaller of the REMB and the
    /// transport-cc estimate when both are fresh (younger than [`FRESHNESS`]), whichever is
    /// fresh otherwise, `None` if neither is.
    pub fn estimate_bps(&self, now: Instant) -> Option<u64> {
        match (self.fresh(self.remb, now), self.fresh(self.twcc, now)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The latest REMB value, however old.
    pub fn remb_bps(&self) -> Option<u64> {
        self.remb.map(|(bps, _)| bps)
    }

    /// The latest transport-cc-based estimate, however old.
    pub fn twcc_estimate_bps(&self) -> Option<u64> {
        self.twcc.map(|(bps, _)| bps)
    }

    /// The acked bitrate computed at the latest transport-cc feedback.
    pub fn acked_bitrate_bps(&self) -> Option<u64> {
        self.acked_bps
    }

    /// When the latest feedback said [`PathSignal::Congested`] because of loss: the loss
    /// fraction of the window that completed; `None` after delay-caused congestion and
    /// other signals.
    pub fn congesting_loss(&self) -> Option<f64> {
        self.heavy_loss
    }

    /// What the latest transport-cc feedback said about the path.
    pub fn path_signal(&self) -> Option<PathSignal> {
        self.signal
    }

    /// What the delay detector makes of queuing delay, as of the latest feedback.
    pub fn delay_state(&self) -> DelayState {
        self.delay.state()
    }

    /// The loss fraction (0.0–1.0) of the latest completed loss window (at least
    /// [`LOSS_MIN_PACKETS`] reported packets).
    pub fn loss_fraction(&self) -> Option<f64> {
        self.loss
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::rtcp::TwccFeedback;
    use std::collections::HashMap;

    const MS: Duration = Duration::from_millis(1);
    /// 1250 bytes every 10 ms is 1 Mbit/s.
    const TEN_MS: Duration = Duration::from_millis(10);

    /// A synthetic sender: 1250-byte packets every `spacing`, fed back every 100 ms.
    pub(super) struct Sim {
        t0: Instant,
        sent: HashMap<u16, (Instant, usize)>,
        seq: u16,
        pub(super) now: Instant,
    }

    impl Sim {
        pub(super) fn new() -> Self {
            let t0 = Instant::now();
            Sim {
                t0,
                sent: HashMap::new(),
                seq: 0,
                now: t0,
            }
        }

        /// Sends for 100 ms, then returns the feedback the receiver would send: `lost(i)`
        /// says whether packet i is lost, `extra_delay_us(i)` its queuing delay.
        pub(super) fn round(
            &mut self,
            est: &mut BandwidthEstimate,
            spacing: Duration,
            lost: impl Fn(u16) -> bool,
            extra_delay_us: impl Fn(u32) -> i64,
        ) {
            let base = self.seq;
            let start = self.now;
            let mut packets = Vec::new();
            let mut i = 0u32;
            while start + spacing * i < start + 100 * MS {
                let sent_at = start + spacing * i;
                self.sent.insert(self.seq, (sent_at, 1250));
                let offset_us = sent_at.duration_since(self.t0).as_micros() as i64;
                let arrival = (!lost(self.seq)).then(|| offset_us + 20_000 + extra_delay_us(i));
                packets.push((self.seq, arrival));
                self.seq = self.seq.wrapping_add(1);
                i += 1;
            }
            self.now = start + 100 * MS;
            let fb: Feedback = TwccFeedback {
                base_sequence: base,
                packets,
                ..TwccFeedback::default()
            }
            .into();
            let sent = self.sent.clone();
            est.on_twcc_feedback(self.now + 20 * MS, &fb, &move |s| sent.get(&s).copied());
        }
    }

    fn near(value: u64, target: f64, tolerance: f64) -> bool {
        (value as f64 - target).abs() <= target * tolerance
    }

    #[test]
    fn remb_only_and_freshness() {
        let t0 = Instant::now();
        let mut est = BandwidthEstimate::new();
        assert_eq!(est.estimate_bps(t0), None);
        est.on_remb(t0, 2_000_000);
        assert_eq!(est.estimate_bps(t0 + MS), Some(2_000_000));
        est.on_remb(t0 + MS, 1_000_000);
        assert_eq!(est.estimate_bps(t0 + 2 * MS), Some(1_000_000));
        assert_eq!(est.estimate_bps(t0 + MS + FRESHNESS), None);
        assert_eq!(est.remb_bps(), Some(1_000_000));
    }

    #[test]
    fn steady_clean_path_grows_over_acked() {
        let mut sim = Sim::new();
        let mut est = BandwidthEstimate::new();
        for _ in 0..20 {
            sim.round(&mut est, TEN_MS, |_| false, |_| 0);
        }
        let acked = est.acked_bitrate_bps().unwrap();
        assert!(near(acked, 1_000_000.0, 0.05), "{acked}");
        assert_eq!(est.loss_fraction(), Some(0.0));
        let e = est.estimate_bps(sim.now + 20 * MS).unwrap();
        assert!(near(e, 1_080_000.0, 0.06), "{e}");
    }

    #[test]
    fn heavy_loss_cuts_the_estimate_at_most_once_per_interval() {
        let mut sim = Sim::new();
        let mut est = BandwidthEstimate::new();
        for _ in 0..10 {
            sim.round(&mut est, TEN_MS, |_| false, |_| 0);
        }
        let before = est.twcc_estimate_bps().unwrap() as f64;
        // Every fifth packet lost: 20 %, read once 20 packets are in (two feedbacks).
        let lossy = |sim: &mut Sim, est: &mut BandwidthEstimate| {
            sim.round(est, TEN_MS, |s| s % 5 == 0, |_| 0);
        };
        lossy(&mut sim, &mut est);
        assert_eq!(
            est.path_signal(),
            Some(PathSignal::Clear),
            "10 packets: no window yet"
        );
        lossy(&mut sim, &mut est);
        let loss = est.loss_fraction().unwrap();
        assert!((loss - 0.2).abs() < 0.05, "{loss}");
        assert_eq!(est.path_signal(), Some(PathSignal::Congested));
        assert_eq!(est.congesting_loss(), Some(loss));
        // Cut from the estimate, not from the (lower) acked rate.
        let cut = est.twcc_estimate_bps().unwrap() as f64;
        assert!(
            (cut - before * (1.0 - 0.5 * loss)).abs() <= 1.0,
            "{cut} vs {before}"
        );
        // The next window, 200 ms later, is too soon for another cut: held.
        lossy(&mut sim, &mut est);
        lossy(&mut sim, &mut est);
        assert_eq!(est.path_signal(), Some(PathSignal::Hold));
        assert_eq!(est.twcc_estimate_bps().unwrap() as f64, cut);
        // The one after is not.
        lossy(&mut sim, &mut est);
        lossy(&mut sim, &mut est);
        assert_eq!(est.path_signal(), Some(PathSignal::Congested));
        assert!((est.twcc_estimate_bps().unwrap() as f64) < cut);
    }

    #[test]
    fn a_loss_cut_starts_from_at_most_twice_the_acked_rate() {
        let mut sim = Sim::new();
        let mut est = BandwidthEstimate::new();
        // 1 Mbit/s, then 200 kbit/s (a subscriber moved to a low layer): the estimate keeps
        // the headroom it had.
        for _ in 0..10 {
            sim.round(&mut est, TEN_MS, |_| false, |_| 0);
        }
        let high = est.twcc_estimate_bps().unwrap() as f64;
        for _ in 0..20 {
            sim.round(&mut est, 5 * TEN_MS, |_| false, |_| 0);
        }
        assert_eq!(est.twcc_estimate_bps().unwrap() as f64, high);
        // Then 20 % loss: the cut starts from twice the acked rate, not from the headroom.
        for _ in 0..10 {
            sim.round(&mut est, 5 * TEN_MS, |s| s % 5 == 0, |_| 0);
            if est.path_signal() == Some(PathSignal::Congested) {
                break;
            }
        }
        assert_eq!(est.path_signal(), Some(PathSignal::Congested));
        let acked = est.acked_bitrate_bps().unwrap() as f64;
        let loss = est.congesting_loss().unwrap();
        let cut = est.twcc_estimate_bps().unwrap() as f64;
        assert!(acked < high / 3.0, "{acked} vs {high}");
        assert!(
            (cut - 2.0 * acked * (1.0 - 0.5 * loss)).abs() <= 1.0,
            "{cut} from acked {acked}"
        );
    }

    #[test]
    fn moderate_loss_holds() {
        let mut sim = Sim::new();
        let mut est = BandwidthEstimate::new();
        for _ in 0..10 {
            sim.round(&mut est, TEN_MS, |_| false, |_| 0);
        }
        let before = est.twcc_estimate_bps().unwrap();
        // One packet in twenty lost: 5 %.
        sim.round(&mut est, 5 * MS, |s| s % 20 == 3, |_| 0);
        assert_eq!(est.loss_fraction(), Some(0.05));
        assert_eq!(est.twcc_estimate_bps(), Some(before));
    }

    #[test]
    fn sudden_delay_growth_backs_off() {
        let mut sim = Sim::new();
        let mut est = BandwidthEstimate::new();
        for _ in 0..10 {
            sim.round(&mut est, TEN_MS, |_| false, |_| 0);
        }
        // Queue grows 4 ms per packet: about 40 ms within a feedback. One such feedback is
        // not enough (a burst, a busy receiver)...
        let growing = |i: u32| i64::from(i) * 4000;
        let before = est.twcc_estimate_bps();
        sim.round(&mut est, TEN_MS, |_| false, growing);
        assert_eq!(est.path_signal(), Some(PathSignal::Hold));
        assert_eq!(est.twcc_estimate_bps(), before);
        // ...two in a row are.
        sim.round(&mut est, TEN_MS, |_| false, growing);
        assert_eq!(est.path_signal(), Some(PathSignal::Congested));
        assert_eq!(est.congesting_loss(), None);
        let acked = est.acked_bitrate_bps().unwrap() as f64;
        let e = est.twcc_estimate_bps().unwrap();
        assert!(e as f64 <= acked * DELAY_BACKOFF + 1.0, "{e} vs {acked}");
    }

    #[test]
    fn a_slowly_growing_queue_backs_off() {
        let mut sim = Sim::new();
        let mut est = BandwidthEstimate::new();
        for _ in 0..10 {
            sim.round(&mut est, TEN_MS, |_| false, |_| 0);
        }
        assert_eq!(est.delay_state(), DelayState::Normal);
        // The queue grows 1 ms per 10 ms packet (10 % more than the path carries), across
        // feedbacks: 10 ms within each, which no single feedback shows as much. The first
        // feedback with overuse holds (a burst, a busy receiver)...
        let before = est.twcc_estimate_bps();
        let mut signals = Vec::new();
        for round in 0..10i64 {
            sim.round(
                &mut est,
                TEN_MS,
                |_| false,
                |i| (round * 10 + i64::from(i)) * 1_000,
            );
            signals.push(est.path_signal());
            if est.path_signal() == Some(PathSignal::Congested) {
                break;
            }
        }
        let congested = signals.len() - 1;
        assert_eq!(
            signals[congested - 1],
            Some(PathSignal::Hold),
            "held first: {signals:?}"
        );
        assert!(congested <= 4, "within 500 ms: {signals:?}");
        assert!(est.twcc_estimate_bps() < before);
        // ...and the cut is to below what was acknowledged.
        assert_eq!(est.congesting_loss(), None);
        let acked = est.acked_bitrate_bps().unwrap() as f64;
        let e = est.twcc_estimate_bps().unwrap();
        assert!(e as f64 <= acked * DELAY_BACKOFF + 1.0, "{e} vs {acked}");
    }

    #[test]
    fn min_of_remb_and_twcc() {
        let mut sim = Sim::new();
        let mut est = BandwidthEstimate::new();
        for _ in 0..10 {
            sim.round(&mut est, TEN_MS, |_| false, |_| 0);
        }
        let now = sim.now + 20 * MS;
        let twcc = est.twcc_estimate_bps().unwrap();
        est.on_remb(now, 300_000);
        assert_eq!(est.estimate_bps(now), Some(300_000));
        est.on_remb(now, 50_000_000);
        assert_eq!(est.estimate_bps(now), Some(twcc));
        // A stale TWCC estimate leaves the REMB.
        assert_eq!(est.estimate_bps(now + FRESHNESS), None);
        est.on_remb(now + FRESHNESS, 700_000);
        assert_eq!(est.estimate_bps(now + FRESHNESS), Some(700_000));
    }

    #[test]
    fn unknown_packets_and_other_feedback_are_ignored() {
        let t0 = Instant::now();
        let mut est = BandwidthEstimate::new();
        est.on_twcc_feedback(t0, &Feedback::Bye { ssrcs: vec![1] }, &|_| None);
        let fb: Feedback = TwccFeedback {
            packets: vec![(0, Some(0)), (1, None)],
            ..TwccFeedback::default()
        }
        .into();
        est.on_twcc_feedback(t0, &fb, &|_| None);
        assert_eq!(est.estimate_bps(t0), None);
        assert_eq!(est.loss_fraction(), None);
    }

    #[test]
    fn window_is_bounded() {
        let t0 = Instant::now();
        let mut est = BandwidthEstimate::new();
        let packets: Vec<(u16, Option<i64>)> = (0..=u16::MAX)
            .map(|s| (s, Some(i64::from(s / 100) * 1_000)))
            .collect();
        let fb: Feedback = TwccFeedback {
            packets,
            ..TwccFeedback::default()
        }
        .into();
        // The last 8192 arrive within 82 ms: none ages out of the window, the cap holds.
        est.on_twcc_feedback(t0, &fb, &|s| Some((t0 + MS * u32::from(s / 100), 100)));
        assert_eq!(est.acked.len(), MAX_WINDOW_PACKETS);
        assert!(est.estimate_bps(t0).is_some());
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::tests::Sim;
    use super::*;

    /// One 100 ms round of the synthetic sender: packet spacing (ms), which packets are lost
    /// (a bit per packet, repeating), and whether queuing delay grows through it.
    fn round() -> impl Strategy<Value = (u64, u32, bool)> {
        (5u64..60, any::<u32>(), any::<bool>())
    }

    proptest! {
        /// Whatever the path does: a congestion signal never raises the estimate, cuts are at
        /// least [`DECREASE_INTERVAL`] apart, a hold keeps the estimate, and the estimate
        /// never jumps above 1.08 × what was acknowledged unless it was there already.
        #[test]
        fn the_estimate_reacts_within_its_rules(rounds in proptest::collection::vec(round(), 1..80)) {
            let mut sim = Sim::new();
            let mut est = BandwidthEstimate::new();
            let mut last_cut: Option<Instant> = None;
            for (spacing, lost, growing) in rounds {
                let before = est.twcc_estimate_bps();
                sim.round(
                    &mut est,
                    Duration::from_millis(spacing),
                    |s| lost & (1 << (s % 32)) != 0,
                    |i| if growing { i64::from(i) * 8_000 } else { 0 },
                );
                let now = sim.now;
                let after = est.twcc_estimate_bps();
                match est.path_signal() {
                    Some(PathSignal::Congested) => {
                        if let (Some(b), Some(a)) = (before, after) {
                            prop_assert!(a <= b, "raised on congestion: {b} -> {a}");
                        }
                        if let Some(at) = last_cut {
                            prop_assert!(now.saturating_duration_since(at) >= DECREASE_INTERVAL);
                        }
                        last_cut = Some(now);
                    }
                    Some(PathSignal::Hold) => {
                        if before.is_some() {
                            prop_assert_eq!(after, before);
                        }
                    }
                    Some(PathSignal::Clear) | None => {}
                }
                if let (Some(a), Some(acked)) = (after, est.acked_bitrate_bps()) {
                    let ceiling = (acked as f64 * INCREASE) as u64 + 1;
                    prop_assert!(
                        a <= ceiling.max(before.unwrap_or(0)),
                        "{a} above 1.08 x acked {acked} and the previous {before:?}"
                    );
                }
            }
        }
    }
}
