//! Receiver statistics for one incoming RTP stream (RFC 3550 appendix A.1, A.3 and A.8), and
//! the LSR/DLSR bookkeeping for the sender reports received on it, as needed to fill RTCP
//! report blocks.

use std::time::Instant;

use super::parse::ReportBlock;

/// A jump of fewer than this many sequence numbers ahead is taken as in order (RFC 3550 A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// A sequence number fewer than this many behind the highest is taken as reordered or
/// duplicated (RFC 3550 A.1); anything further away is a jump that needs confirming.
pub const MAX_MISORDER: u16 = 100;

/// Largest cumulative-lost value a report block carries (24-bit signed).
const MAX_LOST: i64 = 0x7F_FFFF;
/// Smallest cumulative-lost value a report block carries.
const MIN_LOST: i64 = -0x80_0000;

/// Sequence, loss and jitter statistics for one incoming RTP stream.
///
/// Follows RFC 3550 A.1 without the probation period: the first packet starts the stream. A
/// jump of more than [`MAX_DROPOUT`] ahead (or more than [`MAX_MISORDER`] behind) is ignored
/// unless the next packet confirms it, in which case the stream restarts from there (as when a
/// sender restarts). Reordered and duplicate packets count as received (as in the RFC), so
/// cumulative loss can go negative.
///
/// Interarrival jitter (A.8) is kept in RTP timestamp units, arrival times being converted with
/// the clock rate. It is updated only for packets that advance the highest sequence number, so
/// reordered packets and retransmissions do not inflate it.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    clock_rate: u32,
    /// Set once the first packet has been recorded.
    started: bool,
    base_seq: u16,
    max_seq: u16,
    /// Sequence number wraps, times 2^16.
    cycles: u64,
    /// The sequence number that would confirm a jump.
    bad_seq: Option<u16>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    epoch: Option<Instant>,
    transit: Option<u32>,
    /// Jitter times 16 (RFC 3550 A.8's integer form).
    jitter_q4: u64,
}

impl ReceiveStats {
    /// Statistics for a stream whose RTP clock runs at `clock_rate` Hz (90000 for video, 48000
    /// for Opus). A clock rate of 0 disables jitter.
    pub fn new(clock_rate: u32) -> Self {
        ReceiveStats {
            clock_rate,
            started: false,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            bad_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            epoch: None,
            transit: None,
            jitter_q4: 0,
        }
    }

    fn restart(&mut self, sequence: u16) {
        self.started = true;
        self.base_seq = sequence;
        self.max_seq = sequence;
        self.cycles = 0;
        self.bad_seq = None;
        self.received = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
    }

    /// Records a packet with RTP `sequence` and `rtp_timestamp` that arrived at `now`.
    pub fn record(&mut self, now: Instant, sequence: u16, rtp_timestamp: u32) {
        let in_order = if !self.started {
            self.restart(sequence);
            true
        } else {
            let udelta = sequence.wrapping_sub(self.max_seq);
            if udelta == 0 {
                false // duplicate of the highest
            } else if udelta < MAX_DROPOUT {
                if sequence < self.max_seq {
                    self.cycles += 1 << 16;
                }
                self.max_seq = sequence;
                true
            } else if udelta <= u16::MAX - MAX_MISORDER {
                // A large jump: believe it only if the next packet follows it.
                if self.bad_seq == Some(sequence) {
                    self.restart(sequence);
                    self.transit = None;
                    true
                } else {
                    self.bad_seq = Some(sequence.wrapping_add(1));
                    return;
                }
            } else {
                false // reordered or duplicate
            }
        };
        self.received += 1;
        if in_order {
            self.update_jitter(now, rtp_timestamp);
        }
    }

    fn update_jitter(&mut self, now: Instant, rtp_timestamp: u32) {
        if self.clock_rate == 0 {
            return;
        }
        let epoch = *self.epoch.get_or_insert(now);
        let since = now.saturating_duration_since(epoch);
        // Arrival in timestamp units, modulo 2^32 like the RTP timestamp itself (whole seconds
        // wrap harmlessly; the fraction cannot overflow: below 10^9 × 2^32). In u64, so the
        // division by a constant compiles to a multiplication: this runs for every packet.
        let clock = u64::from(self.clock_rate);
        let arrival = since
            .as_secs()
            .wrapping_mul(clock)
            .wrapping_add(u64::from(since.subsec_nanos()) * clock / 1_000_000_000)
            as u32;
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(previous) = self.transit {
            let d = u64::from((transit.wrapping_sub(previous) as i32).unsigned_abs());
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Packets counted as received since the stream (re)started, duplicates included.
    pub fn packets_received(&self) -> u64 {
        self.received
    }

    /// The extended highest sequence number received (wraps in the upper bits), or `None`
    /// before the first packet.
    pub fn extended_highest_sequence(&self) -> Option<u64> {
        self.started
            .then_some(self.cycles + u64::from(self.max_seq))
    }

    fn expected(&self) -> u64 {
        if !self.started {
            return 0;
        }
        self.cycles + u64::from(self.max_seq) - u64::from(self.base_seq) + 1
    }

    /// Packets lost since the stream (re)started: expected minus received, negative when
    /// duplicates outnumber losses. Not clamped.
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in RTP timestamp units.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter_q4 >> 4).unwrap_or(u32::MAX)
    }

    fn interval_fraction(&self) -> u8 {
        let expected_interval = self.expected().saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        let lost_interval = expected_interval as i64 - received_interval as i64;
        if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval as u64) * 256 / expected_interval).min(255) as u8
        }
    }

    /// Fraction of packets lost since the last [`report_block`](Self::report_block) (or since
    /// the start), in 1/256 units, without starting a new interval.
    pub fn fraction_lost(&self) -> u8 {
        self.interval_fraction()
    }

    /// A report block for this stream, as sent in an RR or SR by a receiver whose source is
    /// `ssrc`, with the given LSR/DLSR (see [`SrInfo::lsr_dlsr`]). Starts a new interval for
    /// the fraction lost. Cumulative loss is clamped to the 24-bit signed range and encoded as
    /// the raw 24-bit field.
    pub fn report_block(
        &mut self,
        ssrc: u32,
        last_sr: u32,
        delay_since_last_sr: u32,
    ) -> ReportBlock {
        let fraction_lost = self.interval_fraction();
        self.expected_prior = self.expected();
        self.received_prior = self.received;
        let lost = self.cumulative_lost().clamp(MIN_LOST, MAX_LOST);
        ReportBlock {
            ssrc,
            fraction_lost,
            total_lost: (lost as i32 as u32) & 0xFF_FFFF,
            highest_sequence: self.extended_highest_sequence().unwrap_or(0) as u32,
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// The last sender report received on a stream, for the LSR and DLSR fields of report blocks
/// (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SrInfo {
    last: Option<(u32, Instant)>,
}

impl SrInfo {
    /// No sender report yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a sender report with `ntp_time` (64-bit NTP format) received at `now`.
    pub fn on_sender_report(&mut self, now: Instant, ntp_time: u64) {
        self.last = Some(((ntp_time >> 16) as u32, now));
    }

    /// `(LSR, DLSR)` at `now`: the middle 32 bits of the last SR's NTP timestamp and the delay
    /// since it was received in 1/65536 s (saturating); `(0, 0)` before any SR.
    pub fn lsr_dlsr(&self, now: Instant) -> (u32, u32) {
        match self.last {
            None => (0, 0),
            Some((lsr, at)) => {
                let nanos = now.saturating_duration_since(at).as_nanos();
                let dlsr = nanos.saturating_mul(65_536) / 1_000_000_000;
                (lsr, u32::try_from(dlsr).unwrap_or(u32::MAX))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn in_order_without_loss() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(90_000);
        for i in 0..100u16 {
            s.record(t0 + MS * 33 * u32::from(i), 1000 + i, 3000 * u32::from(i));
        }
        assert_eq!(s.packets_received(), 100);
        let b = s.report_block(7, 1, 2);
        assert_eq!(b.ssrc, 7);
        assert_eq!(b.fraction_lost, 0);
        assert_eq!(b.total_lost, 0);
        assert_eq!(b.highest_sequence, 1099);
        // 33 ms is 2970 ticks against a 3000-tick timestamp step: |D| = 30 each time; the
        // estimate converges towards 30.
        assert!((27..=30).contains(&b.jitter), "{}", b.jitter);
        assert_eq!((b.last_sr, b.delay_since_last_sr), (1, 2));
    }

    #[test]
    fn jitter_known_values() {
        // RFC 3550 A.8 with an 8 kHz clock and 20 ms packets (160 ticks).
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(8000);
        s.record(t0, 0, 0);
        s.record(t0 + 20 * MS, 1, 160);
        assert_eq!(s.jitter(), 0);
        // 10 ms (80 ticks) late: J = 0 + (80 - 0) / 16 = 5.
        s.record(t0 + 50 * MS, 2, 320);
        assert_eq!(s.jitter(), 5);
        // Back on time: |D| = 80 again, J = 5 + (80 - 5) / 16 = 9.6875.
        s.record(t0 + 60 * MS, 3, 480);
        assert_eq!(s.jitter(), 9);
        // Steady: J = 9.6875 * 15 / 16 = 9.08.
        s.record(t0 + 80 * MS, 4, 640);
        assert_eq!(s.jitter(), 9);
    }

    #[test]
    fn jitter_tracks_floating_point_reference() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(48_000);
        let mut j = 0f64;
        let mut previous_transit: Option<f64> = None;
        let mut x: u32 = 12345;
        for i in 0..500u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let wobble_us = u64::from((x >> 16) % 30_000);
            let arrival_us = u64::from(i) * 20_000 + wobble_us;
            let ts = i.wrapping_mul(960).wrapping_add(0xFFFF_0000);
            s.record(t0 + Duration::from_micros(arrival_us), i as u16, ts);
            let transit = (arrival_us as f64 * 48_000.0 / 1e6).floor() - f64::from(i * 960);
            if let Some(p) = previous_transit {
                j += ((transit - p).abs() - j) / 16.0;
            }
            previous_transit = Some(transit);
        }
        assert!(
            (f64::from(s.jitter()) - j).abs() <= 2.0,
            "{} vs {j}",
            s.jitter()
        );
    }

    #[test]
    fn losses_and_fraction() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(90_000);
        for i in 0..100u16 {
            if i % 4 != 3 {
                s.record(t0, i, 0);
            }
        }
        // 0..=98 expected (99), 75 received.
        assert_eq!(s.fraction_lost(), ((24 * 256) / 99) as u8);
        let b = s.report_block(1, 0, 0);
        assert_eq!(b.fraction_lost, ((24 * 256) / 99) as u8);
        assert_eq!(b.total_lost, 24);
        assert_eq!(b.highest_sequence, 98);
        // Next interval: no loss.
        for i in 99..120u16 {
            s.record(t0, i, 0);
        }
        let b = s.report_block(1, 0, 0);
        assert_eq!(b.fraction_lost, 0);
        assert_eq!(b.total_lost, 24);
        // Interval with 80 of 81 lost.
        s.record(t0, 200, 0);
        assert_eq!(s.report_block(1, 0, 0).fraction_lost, (80 * 256 / 81) as u8);
    }

    #[test]
    fn wrap_reorder_duplicates() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(90_000);
        for seq in [65533u16, 65534, 65535, 0, 1] {
            s.record(t0, seq, 0);
        }
        assert_eq!(s.extended_highest_sequence(), Some(65536 + 1));
        // Reordered (behind by 1) and a duplicate: both counted received.
        s.record(t0, 3, 0);
        s.record(t0, 2, 0);
        s.record(t0, 2, 0);
        assert_eq!(s.extended_highest_sequence(), Some(65536 + 3));
        assert_eq!(s.packets_received(), 8);
        assert_eq!(s.cumulative_lost(), -1);
        let b = s.report_block(1, 0, 0);
        assert_eq!(b.total_lost, 0xFF_FFFF); // -1 in 24 bits
        assert_eq!(b.highest_sequence, 65536 + 3);
        assert_eq!(b.fraction_lost, 0);
    }

    #[test]
    fn large_jump_needs_confirmation() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(90_000);
        s.record(t0, 10, 0);
        s.record(t0, 11, 0);
        s.record(t0, 30_000, 0); // ignored
        assert_eq!(s.extended_highest_sequence(), Some(11));
        assert_eq!(s.packets_received(), 2);
        s.record(t0, 12, 0); // the stream goes on
        s.record(t0, 30_001, 0); // follows the jump to 30_000: confirmed, restart there
        assert_eq!(s.extended_highest_sequence(), Some(30_001));
        assert_eq!(s.packets_received(), 1);
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn cumulative_lost_clamps() {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(90_000);
        let mut seq = 0u16;
        for _ in 0..3000 {
            s.record(t0, seq, 0);
            seq = seq.wrapping_add(MAX_DROPOUT - 1);
        }
        assert!(s.cumulative_lost() > MAX_LOST);
        assert_eq!(s.report_block(1, 0, 0).total_lost, 0x7F_FFFF);
    }

    #[test]
    fn before_any_packet() {
        let mut s = ReceiveStats::new(90_000);
        let b = s.report_block(1, 2, 3);
        assert_eq!(
            b,
            ReportBlock {
                ssrc: 1,
                last_sr: 2,
                delay_since_last_sr: 3,
                ..ReportBlock::default()
            }
        );
        assert_eq!(s.fraction_lost(), 0);
        assert_eq!(s.extended_highest_sequence(), None);
    }

    #[test]
    fn sr_info_lsr_dlsr() {
        let t0 = Instant::now();
        let mut sr = SrInfo::new();
        assert_eq!(sr.lsr_dlsr(t0), (0, 0));
        sr.on_sender_report(t0, 0x1122_3344_5566_7788);
        assert_eq!(sr.lsr_dlsr(t0), (0x3344_5566, 0));
        assert_eq!(
            sr.lsr_dlsr(t0 + Duration::from_millis(1500)),
            (0x3344_5566, 98_304)
        );
        // Earlier `now` saturates to zero delay.
        sr.on_sender_report(t0 + MS, 0);
        assert_eq!(sr.lsr_dlsr(t0), (0, 0));
    }
}
