//! Transport-wide congestion control feedback *generation*
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01): the router receives media carrying the
//! transport-wide sequence number header extension, records when each packet arrived, and
//! periodically tells the sender with a transport-cc RTCP packet.
//!
//! Sans-IO: arrival times are passed in; [`TwccRecorder::poll_timeout`] says when
//! [`TwccRecorder::poll_feedback`] wants to be called next.

use std::time::{Duration, Instant};

use super::build;
use super::parse::Feedback;
use crate::RouterError;

/// How often feedback is sent while packets arrive.
pub const DEFAULT_FEEDBACK_INTERVAL: Duration = Duration::from_millis(100);

/// At most this many arrivals wait for feedback; beyond it the oldest quarter is dropped
/// unreported.
pub const MAX_PENDING: usize = 2048;

/// At most this many statuses (received or not) go into one feedback packet.
pub const MAX_STATUSES_PER_FEEDBACK: usize = 1024;

/// At most this many received packets go into one feedback packet, which keeps it under about
/// 1100 bytes (two-byte deltas and two-bit status vectors at worst).
pub const MAX_RECEIVED_PER_FEEDBACK: usize = 350;

/// Reference time unit (64 ms) in microseconds.
const REFERENCE_UNIT_US: i64 = 64_000;
/// Receive delta unit (250 µs) in microseconds.
const DELTA_UNIT_US: i64 = 250;

/// One transport-cc feedback packet's content, the input of [`build::transport_cc`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TwccFeedback {
    /// SSRC of the feedback sender (the router).
    pub sender_ssrc: u32,
    /// SSRC of the media source (by convention any one SSRC of the sender being reported on).
    pub media_ssrc: u32,
    /// Transport sequence number of the first entry.
    pub base_sequence: u16,
    /// Reference time in multiples of 64 ms (24 bits).
    pub reference_time: u32,
    /// Feedback packet count (wraps).
    pub fb_count: u8,
    /// Per packet, consecutive from `base_sequence`: (transport seq, arrival in microseconds
    /// since the reference time, or `None` if not received).
    pub packets: Vec<(u16, Option<i64>)>,
}

impl TwccFeedback {
    /// The content of a parsed [`Feedback::TransportCc`]; `None` for any other feedback.
    pub fn from_feedback(fb: &Feedback) -> Option<Self> {
        match fb {
            Feedback::TransportCc {
                sender_ssrc,
                media_ssrc,
                base_sequence,
                reference_time,
                fb_count,
                packets,
            } => Some(TwccFeedback {
                sender_ssrc: *sender_ssrc,
                media_ssrc: *media_ssrc,
                base_sequence: *base_sequence,
                reference_time: *reference_time,
                fb_count: *fb_count,
                packets: packets.clone(),
            }),
            _ => None,
        }
    }
}

impl From<TwccFeedback> for Feedback {
    fn from(f: TwccFeedback) -> Self {
        Feedback::TransportCc {
            sender_ssrc: f.sender_ssrc,
            media_ssrc: f.media_ssrc,
            base_sequence: f.base_sequence,
            reference_time: f.reference_time,
            fb_count: f.fb_count,
            packets: f.packets,
        }
    }
}

/// Records arrivals of packets carrying a transport-wide sequence number and produces
/// transport-cc feedback for them.
///
/// Sequence numbers are extended across the 16-bit wrap. Each feedback starts where the
/// previous one ended, so packets missing in between are reported lost; a packet arriving after
/// the feedback that covered its number is reported again on its own (so the sender learns it
/// did arrive). Arrival times are kept relative to the first arrival recorded; the reference
/// time counts 64 ms units from it. Memory is bounded by [`MAX_PENDING`].
#[derive(Debug, Clone)]
pub struct TwccRecorder {
    interval: Duration,
    epoch: Option<Instant>,
    highest: Option<u64>,
    pending: Vec<(u64, Instant)>,
    next_base: Option<u64>,
    fb_count: u8,
    last_feedback: Option<Instant>,
    due: Option<Instant>,
}

impl Default for TwccRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl TwccRecorder {
    /// A recorder sending feedback every [`DEFAULT_FEEDBACK_INTERVAL`].
    pub fn new() -> Self {
        Self::with_interval(DEFAULT_FEEDBACK_INTERVAL)
    }

    /// A recorder sending feedback every `interval`.
    pub fn with_interval(interval: Duration) -> Self {
        TwccRecorder {
            interval,
            epoch: None,
            highest: None,
            pending: Vec::with_capacity(MAX_PENDING),
            next_base: None,
            fb_count: 0,
            last_feedback: None,
            due: None,
        }
    }

    /// The feedback interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Arrivals waiting for feedback.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Records that the packet with transport-wide sequence number `transport_seq` arrived at
    /// `arrival`. Packets far older than what was already reported are ignored.
    pub fn record(&mut self, transport_seq: u16, arrival: Instant) {
        self.epoch.get_or_insert(arrival);
        let ext = match self.highest {
            None => (1 << 16) + u64::from(transport_seq),
            Some(highest) => {
                let diff = i64::from(transport_seq.wrapping_sub(highest as u16) as i16);
                match highest.checked_add_signed(diff) {
                    Some(ext) => ext,
                    None => return,
                }
            }
        };
        if let Some(next_base) = self.next_base
            && ext.saturating_add(MAX_STATUSES_PER_FEEDBACK as u64) < next_base
        {
            return;
        }
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        if self.pending.len() >= MAX_PENDING {
            self.evict();
        }
        if self.pending.is_empty() {
            self.due = Some(match self.last_feedback {
                Some(last) => add(last, self.interval),
                None => add(arrival, self.interval),
            });
        }
        self.pending.push((ext, arrival));
        if self.pending.len() >= MAX_RECEIVED_PER_FEEDBACK {
            self.due = Some(self.due.map_or(arrival, |d| d.min(arrival)));
        }
    }

    /// Drops the oldest quarter of the pending arrivals, unreported.
    fn evict(&mut self) {
        self.pending.sort_unstable_by_key(|&(ext, _)| ext);
        self.pending.dedup_by_key(|&mut (ext, _)| ext);
        let drop = (self.pending.len() / 4).max(1).min(self.pending.len());
        if let Some(&(last_dropped, _)) = self.pending.get(drop.saturating_sub(1)) {
            let after = last_dropped.saturating_add(1);
            self.next_base = Some(self.next_base.map_or(after, |n| n.max(after)));
        }
        self.pending.drain(..drop);
    }

    /// When [`poll_feedback`](Self::poll_feedback) wants to be called next; `None` while
    /// nothing is pending. May be in the past.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.pending.is_empty() {
            None
        } else {
            self.due
        }
    }

    /// If feedback is due at `now`, appends one transport-cc packet covering pending arrivals
    /// (from where the previous feedback ended) to `out`, forgets them and returns `true`.
    /// At most [`MAX_STATUSES_PER_FEEDBACK`] statuses and [`MAX_RECEIVED_PER_FEEDBACK`] received
    /// packets go into one packet; while more are pending the next call is due at once, so call
    /// it until it returns `false`.
    ///
    /// On a build error nothing is appended, but the arrivals it covered are still forgotten,
    /// so an error cannot repeat forever.
    pub fn poll_feedback(
        &mut self,
        now: Instant,
        sender_ssrc: u32,
        media_ssrc: u32,
        out: &mut Vec<u8>,
    ) -> Result<bool, RouterError> {
        let (Some(due), Some(epoch)) = (self.due, self.epoch) else {
            return Ok(false);
        };
        if now < due || self.pending.is_empty() {
            return Ok(false);
        }
        self.pending.sort_unstable_by_key(|&(ext, _)| ext);
        self.pending.dedup_by_key(|&mut (ext, _)| ext);
        let Some(&(first, _)) = self.pending.first() else {
            return Ok(false);
        };
        let late_before = self.next_base.filter(|&next| first < next);
        let base = match self.next_base {
            Some(next) if first >= next && first - next < MAX_STATUSES_PER_FEEDBACK as u64 => next,
            _ => first,
        };

        // Choose how many pending arrivals this packet takes.
        let mut taken = 0;
        let mut reference_us = 0i64;
        let mut previous_ticks = 0i64;
        let mut previous_ext = base;
        let mut received = Vec::with_capacity(MAX_RECEIVED_PER_FEEDBACK);
        for &(ext, arrival) in &self.pending {
            if ext - base >= MAX_STATUSES_PER_FEEDBACK as u64
                || received.len() >= MAX_RECEIVED_PER_FEEDBACK
            {
                break;
            }
            if let Some(next) = late_before
                && (ext >= next || (taken > 0 && ext != previous_ext + 1))
            {
                // Late arrivals are re-reported as a contiguous run only, so nothing reported
                // received before is reported lost now.
                break;
            }
            let arrival_us = micros_since(epoch, arrival);
            if taken == 0 {
                reference_us = arrival_us - arrival_us.rem_euclid(REFERENCE_UNIT_US);
            }
            let ticks = (arrival_us - reference_us).div_euclid(DELTA_UNIT_US);
            let delta = ticks - previous_ticks;
            if taken > 0 && i16::try_from(delta).is_err() {
                break;
            }
            previous_ticks = ticks;
            previous_ext = ext;
            received.push((ext, ticks * DELTA_UNIT_US));
            taken += 1;
        }
        let Some(&(last, _)) = received.last() else {
            return Ok(false);
        };

        let mut packets = Vec::with_capacity((last - base + 1) as usize);
        let mut received_iter = received.iter().peekable();
        for ext in base..=last {
            let arrival = match received_iter.peek() {
                Some(&&(e, at)) if e == ext => {
                    received_iter.next();
                    Some(at)
                }
                _ => None,
            };
            packets.push((ext as u16, arrival));
        }
        let feedback = TwccFeedback {
            sender_ssrc,
            media_ssrc,
            base_sequence: base as u16,
            reference_time: ((reference_us / REFERENCE_UNIT_US) as u64 & 0xFF_FFFF) as u32,
            fb_count: self.fb_count,
            packets,
        };

        self.pending.drain(..taken);
        if late_before.is_none() {
            self.next_base = Some(last + 1);
        }
        self.fb_count = self.fb_count.wrapping_add(1);
        self.last_feedback = Some(now);
        self.due = if self.pending.is_empty() {
            None
        } else {
            Some(now)
        };
        build::transport_cc(&feedback, out)?;
        Ok(true)
    }
}

/// `t + d`, or `t` if that is not representable.
fn add(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(t)
}

/// Microseconds from `epoch` to `t` (0 if `t` is earlier), saturating.
fn micros_since(epoch: Instant, t: Instant) -> i64 {
    i64::try_from(t.saturating_duration_since(epoch).as_micros()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rtc_rtcp::transport_feedbacks::transport_layer_cc::{SymbolTypeTcc, TransportLayerCc};
    use rtc_shared::marshal::Unmarshal;

    const MS: Duration = Duration::from_millis(1);

    fn poll(rec: &mut TwccRecorder, now: Instant) -> Option<(TransportLayerCc, TwccFeedback)> {
        let mut out = Vec::new();
        if !rec.poll_feedback(now, 1, 2, &mut out).unwrap() {
            assert!(out.is_empty());
            return None;
        }
        let tcc = TransportLayerCc::unmarshal(&mut Bytes::from(out.clone())).unwrap();
        let parsed = crate::rtcp::parse_compound(&out).unwrap();
        Some((tcc, TwccFeedback::from_feedback(&parsed[0]).unwrap()))
    }

    #[test]
    fn known_arrivals_round_trip_through_rtc_rtcp() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::new();
        // Seq 100..110 every 5 ms starting 1 ms after the first packet's 64 ms boundary.
        for i in 0..10u16 {
            rec.record(100 + i, t0 + MS * 5 * u32::from(i));
        }
        assert_eq!(rec.poll_timeout(), Some(t0 + 100 * MS));
        assert!(poll(&mut rec, t0 + 50 * MS).is_none());
        let (tcc, fb) = poll(&mut rec, t0 + 100 * MS).unwrap();
        assert_eq!(tcc.base_sequence_number, 100);
        assert_eq!(tcc.packet_status_count, 10);
        assert_eq!(tcc.reference_time, 0);
        assert_eq!(tcc.fb_pkt_count, 0);
        assert_eq!(tcc.recv_deltas.len(), 10);
        assert_eq!(tcc.recv_deltas[0].delta, 0);
        for d in &tcc.recv_deltas[1..] {
            assert_eq!(d.type_tcc_packet, SymbolTypeTcc::PacketReceivedSmallDelta);
            assert_eq!(d.delta, 5000);
        }
        let expected: Vec<(u16, Option<i64>)> = (0..10)
            .map(|i| (100 + i as u16, Some(i64::from(i) * 5000)))
            .collect();
        assert_eq!(fb.packets, expected);
        assert_eq!(rec.pending(), 0);
        assert_eq!(rec.poll_timeout(), None);
        assert!(poll(&mut rec, t0 + 200 * MS).is_none());
    }

    #[test]
    fn reference_time_and_sub_tick_rounding() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::new();
        rec.record(1, t0);
        let _ = poll(&mut rec, t0 + 100 * MS).unwrap();
        // 200.3 ms after the epoch: reference 3 (192 ms), first delta 8.3 ms -> 33 ticks.
        rec.record(2, t0 + Duration::from_micros(200_300));
        rec.record(3, t0 + Duration::from_micros(200_300 + 1_249));
        let (tcc, fb) = poll(&mut rec, t0 + 300 * MS).unwrap();
        assert_eq!(tcc.reference_time, 3);
        assert_eq!(tcc.fb_pkt_count, 1);
        assert_eq!(fb.packets, vec![(2, Some(33 * 250)), (3, Some(38 * 250))]);
    }

    #[test]
    fn losses_within_and_between_feedbacks() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::new();
        for seq in [10u16, 11, 13, 16] {
            rec.record(seq, t0 + MS * u32::from(seq - 10));
        }
        let (tcc, fb) = poll(&mut rec, t0 + 100 * MS).unwrap();
        assert_eq!(tcc.packet_status_count, 7);
        assert_eq!(
            fb.packets,
            vec![
                (10, Some(0)),
                (11, Some(1_000)),
                (12, None),
                (13, Some(3_000)),
                (14, None),
                (15, None),
                (16, Some(6_000)),
            ]
        );
        // 17 and 18 lost before the next feedback: it starts at 17.
        rec.record(19, t0 + 150 * MS);
        let (_, fb) = poll(&mut rec, t0 + 200 * MS).unwrap();
        assert_eq!(fb.base_sequence, 17);
        assert_eq!(fb.packets.len(), 3);
        assert_eq!(fb.packets[..2], [(17, None), (18, None)]);
        assert!(fb.packets[2].1.is_some());
        // 14 turns up late: reported again on its own.
        rec.record(14, t0 + 250 * MS);
        rec.record(20, t0 + 251 * MS);
        let (_, fb) = poll(&mut rec, t0 + 300 * MS).unwrap();
        assert_eq!(fb.base_sequence, 14);
        assert_eq!(fb.packets.len(), 1);
        assert_eq!(rec.poll_timeout(), Some(t0 + 300 * MS));
        let (_, fb) = poll(&mut rec, t0 + 300 * MS).unwrap();
        assert_eq!(fb.base_sequence, 20);
        assert_eq!(fb.packets.len(), 1);
    }

    #[test]
    fn across_the_sixteen_bit_wrap() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::new();
        let seqs: Vec<u16> = (65530..=65535).chain(0..6).filter(|&s| s != 1).collect();
        for (i, &seq) in seqs.iter().enumerate() {
            rec.record(seq, t0 + MS * 2 * i as u32);
        }
        let (tcc, fb) = poll(&mut rec, t0 + 100 * MS).unwrap();
        assert_eq!(tcc.base_sequence_number, 65530);
        assert_eq!(tcc.packet_status_count, 12);
        assert_eq!(fb.packets[6], (0, Some(12_000)));
        assert_eq!(fb.packets[7], (1, None));
        assert_eq!(fb.packets[11], (5, Some(20_000)));
        // The next feedback continues after 5.
        rec.record(7, t0 + 150 * MS);
        let (_, fb) = poll(&mut rec, t0 + 200 * MS).unwrap();
        assert_eq!(fb.base_sequence, 6);
    }

    #[test]
    fn reordered_arrivals_give_negative_deltas() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::new();
        rec.record(2, t0);
        rec.record(1, t0 + 3 * MS);
        rec.record(3, t0 + 4 * MS);
        let (tcc, fb) = poll(&mut rec, t0 + 100 * MS).unwrap();
        assert_eq!(
            tcc.recv_deltas[1].type_tcc_packet,
            SymbolTypeTcc::PacketReceivedLargeDelta
        );
        assert_eq!(
            fb.packets,
            vec![(1, Some(3000)), (2, Some(0)), (3, Some(4000))]
        );
    }

    #[test]
    fn long_gap_splits_feedback() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::with_interval(Duration::from_secs(20));
        rec.record(1, t0);
        rec.record(2, t0 + Duration::from_secs(9));
        let now = t0 + Duration::from_secs(20);
        let (_, a) = poll(&mut rec, now).unwrap();
        let (_, b) = poll(&mut rec, now).unwrap();
        assert!(poll(&mut rec, now).is_none());
        assert_eq!(a.packets, vec![(1, Some(0))]);
        assert_eq!(b.base_sequence, 2);
        assert_eq!(b.reference_time, 9_000 / 64);
    }

    #[test]
    fn bounded_and_split_by_size() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::new();
        for i in 0..5000u32 {
            rec.record(i as u16, t0 + Duration::from_micros(u64::from(i) * 10));
            assert!(rec.pending() <= MAX_PENDING);
        }
        let now = t0 + 100 * MS;
        let mut feedbacks = 0;
        let mut reported = 0;
        let mut out = Vec::new();
        while rec.poll_feedback(now, 1, 2, &mut out).unwrap() {
            let parsed = crate::rtcp::parse_compound(&out).unwrap();
            let fb = TwccFeedback::from_feedback(&parsed[0]).unwrap();
            assert!(fb.packets.len() <= MAX_STATUSES_PER_FEEDBACK);
            assert!(out.len() < 1200, "{}", out.len());
            reported += fb.packets.iter().filter(|p| p.1.is_some()).count();
            feedbacks += 1;
            out.clear();
        }
        assert!(reported <= MAX_PENDING && reported > MAX_PENDING / 2);
        assert!(feedbacks >= reported / MAX_RECEIVED_PER_FEEDBACK);
        assert_eq!(rec.pending(), 0);
    }

    #[test]
    fn duplicates_are_reported_once() {
        let t0 = Instant::now();
        let mut rec = TwccRecorder::new();
        rec.record(5, t0);
        rec.record(5, t0 + MS);
        rec.record(6, t0 + 2 * MS);
        let (_, fb) = poll(&mut rec, t0 + 100 * MS).unwrap();
        assert_eq!(fb.packets.len(), 2);
    }
}
