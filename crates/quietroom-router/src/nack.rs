//! NACKs toward a publisher: which packets of a stream are missing, and when to ask for them
//! again (RFC 4585 generic NACK, answered by the publisher over RTX).
//!
//! The router forwards what arrives; when the publisher's uplink loses a packet, every
//! subscriber would see the loss. A [`NackGenerator`] per received stream notices the gap,
//! asks for the packet at once and then again every round trip, a bounded number of times,
//! and forgets it when it arrives (the retransmission then fills the output sequence number
//! each subscriber's [munger](crate::munger) reserved for it). A gap too large to repair this
//! way is reported so the router asks for a keyframe instead, as mediasoup's `NackGenerator`
//! and libwebrtc's `NackRequester` do.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use quietroom_router::nack::{Arrival, NackGenerator};
//!
//! let t0 = Instant::now();
//! let rtt = Duration::from_millis(50);
//! let mut nack = NackGenerator::new(256);
//! assert_eq!(nack.on_packet(t0, 10), Arrival::InOrder);
//! assert_eq!(nack.on_packet(t0, 13), Arrival::Gap); // 11 and 12 are missing
//! let mut due = Vec::new();
//! nack.poll_due(t0, rtt, 10, &mut due);
//! assert_eq!(due, [11, 12]);
//! assert_eq!(nack.on_packet(t0, 11), Arrival::Recovered);
//! due.clear();
//! nack.poll_due(t0 + rtt, rtt, 10, &mut due);
//! assert_eq!(due, [12]); // asked again one round trip later
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a packet's arrival meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The next packet, or the first.
    InOrder,
    /// Newer than expected: the packets in between are now missing and due at once.
    Gap,
    /// A packet that was missing.
    Recovered,
    /// Seen before, or too old to matter.
    Old,
    /// Newer than expected by more than can be asked for: the missing list was cleared, and
    /// only a keyframe repairs the stream.
    TooManyLost,
}

#[derive(Clone, Copy, Debug)]
struct Missing {
    /// Extended sequence number.
    seq: u64,
    /// NACKs sent for it.
    tries: u8,
    /// When the last NACK for it was sent.
    last: Option<Instant>,
}

/// The missing packets of one stream. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct NackGenerator {
    /// The highest extended sequence number seen.
    highest: Option<u64>,
    /// Missing packets, oldest first (by extended sequence number).
    missing: VecDeque<Missing>,
    capacity: usize,
    /// When [`poll_due`](Self::poll_due) next has something to send (may be early).
    due: Option<Instant>,
}

impl NackGenerator {
    /// Tracks at most `capacity` missing packets (at least 1); a gap larger than that is
    /// [`Arrival::TooManyLost`]. The list is allocated here.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        NackGenerator {
            highest: None,
            missing: VecDeque::with_capacity(capacity),
            capacity,
            due: None,
        }
    }

    /// Packets missing now.
    pub fn missing(&self) -> usize {
        self.missing.len()
    }

    /// Records the arrival of sequence number `seq` at `now`.
    pub fn on_packet(&mut self, now: Instant, seq: u16) -> Arrival {
        let Some(highest) = self.highest else {
            self.highest = Some((1 << 32) + u64::from(seq));
            return Arrival::InOrder;
        };
        let step = i64::from(seq.wrapping_sub(highest as u16) as i16);
        let ext = highest.wrapping_add_signed(step);
        if step <= 0 {
            return match self.missing.binary_search_by_key(&ext, |m| m.seq) {
                Ok(i) => {
                    self.missing.remove(i);
                    Arrival::Recovered
                }
                Err(_) => Arrival::Old,
            };
        }
        self.highest = Some(ext);
        let gap = (step - 1) as u64;
        if gap == 0 {
            return Arrival::InOrder;
        }
        if gap > self.capacity as u64 {
            self.missing.clear();
            self.due = None;
            return Arrival::TooManyLost;
        }
        for seq in ext - gap..ext {
            if self.missing.len() == self.capacity {
                self.missing.pop_front();
            }
            self.missing.push_back(Missing {
                seq,
                tries: 0,
                last: None,
            });
        }
        // Due at once.
        self.due = Some(self.due.map_or(now, |due| due.min(now)));
        Arrival::Gap
    }

    /// Appends to `out` the sequence numbers to NACK at `now`: those never asked for, and
    /// those last asked for at least `interval` ago (a round trip), each at most `max_tries`
    /// times; packets asked for that often are given up.
    pub fn poll_due(
        &mut self,
        now: Instant,
        interval: Duration,
        max_tries: u8,
        out: &mut Vec<u16>,
    ) {
        let mut next: Option<Instant> = None;
        self.missing.retain_mut(|m| {
            let ready = m
                .last
                .is_none_or(|at| now.saturating_duration_since(at) >= interval);
            if ready {
                if m.tries >= max_tries {
                    return false;
                }
                m.tries += 1;
                m.last = Some(now);
                out.push(m.seq as u16);
            }
            let at = m.last.map_or(now, |at| at + interval);
            next = Some(next.map_or(at, |n| n.min(at)));
            true
        });
        self.due = next;
    }

    /// When [`poll_due`](Self::poll_due) should next be called, if anything is missing. It
    /// may be early (a packet recovered since), never late.
    pub fn next_due(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gaps_recovery_retries_and_give_up() {
        let t0 = Instant::now();
        let rtt = Duration::from_millis(40);
        let mut g = NackGenerator::new(16);
        let mut out = Vec::new();
        g.poll_due(t0, rtt, 3, &mut out);
        assert!(out.is_empty());
        assert_eq!(g.next_due(), None);
        assert_eq!(g.on_packet(t0, 65_534), Arrival::InOrder);
        assert_eq!(g.on_packet(t0, 65_535), Arrival::InOrder);
        // Across the wrap: 0 and 1 missing.
        assert_eq!(g.on_packet(t0, 2), Arrival::Gap);
        assert_eq!(g.missing(), 2);
        g.poll_due(t0, rtt, 3, &mut out);
        assert_eq!(out, [0, 1]);
        assert_eq!(g.next_due(), Some(t0 + rtt));
        // Not again before a round trip.
        out.clear();
        g.poll_due(t0 + rtt / 2, rtt, 3, &mut out);
        assert!(out.is_empty());
        assert_eq!(g.on_packet(t0, 0), Arrival::Recovered);
        assert_eq!(g.on_packet(t0, 0), Arrival::Old);
        for k in 1..=2 {
            out.clear();
            g.poll_due(t0 + rtt * k, rtt, 3, &mut out);
            assert_eq!(out, [1], "try {}", k + 1);
        }
        // Three tries: given up.
        out.clear();
        g.poll_due(t0 + rtt * 3, rtt, 3, &mut out);
        assert!(out.is_empty());
        assert_eq!(g.missing(), 0);
        assert_eq!(g.next_due(), None);
        // A gap larger than the list asks for a keyframe instead.
        assert_eq!(g.on_packet(t0, 100), Arrival::TooManyLost);
        assert_eq!(g.missing(), 0);
        assert_eq!(g.on_packet(t0, 101), Arrival::InOrder);
        assert_eq!(g.on_packet(t0, 50), Arrival::Old);
    }

    proptest! {
        /// Whatever arrives, the list stays within its capacity, a packet that arrived is
        /// never asked for afterwards, and nothing is asked for more than `max_tries` times.
        #[test]
        fn bounded_and_never_asks_for_what_arrived(
            steps in prop::collection::vec((any::<i8>(), 0u64..60), 1..400),
            capacity in 1usize..40,
        ) {
            let t0 = Instant::now();
            let rtt = Duration::from_millis(20);
            let mut g = NackGenerator::new(capacity);
            let mut seq = 1000u16;
            let mut now = t0;
            let mut arrived = std::collections::HashSet::new();
            let mut asked: std::collections::HashMap<u16, u8> = std::collections::HashMap::new();
            let mut out = Vec::new();
            for (step, ms) in steps {
                seq = seq.wrapping_add(step as u16);
                now += Duration::from_millis(ms);
                let _ = g.on_packet(now, seq);
                arrived.insert(seq);
                prop_assert!(g.missing() <= capacity);
                out.clear();
                g.poll_due(now, rtt, 4, &mut out);
                for s in &out {
                    prop_assert!(!arrived.contains(s), "asked for {} which arrived", s);
                    let n = asked.entry(*s).or_default();
                    *n += 1;
                    prop_assert!(*n <= 4);
                }
            }
        }
    }
}
