//! A bounded cache of a published stream's recent RTP packets, to answer NACKs.
//!
//! All memory is allocated once by [`PacketCache::new`]: one buffer of `capacity * max_packet`
//! bytes and one metadata slot per packet. A packet with sequence number `seq` lives in slot
//! `seq % capacity` together with its sequence number, arrival time and resend history, so a
//! lookup never returns another packet that happens to share the slot, nor a packet that has
//! aged out. Nothing on the per-packet paths ([`PacketCache::insert`], [`PacketCache::get`],
//! [`PacketCache::allow_resend`]) allocates.

use std::time::{Duration, Instant};

/// The shortest interval between two resends of one packet, whatever the RTT.
pub const MIN_RESEND_INTERVAL: Duration = Duration::from_millis(10);

/// The most slots a cache can have: one per RTP sequence number.
pub const MAX_CAPACITY: usize = 1 << 16;

/// The largest packet a cache can hold (the largest UDP payload).
pub const MAX_PACKET: usize = u16::MAX as usize;

/// Metadata of one slot.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// When the packet in the slot arrived; `None` for an empty slot.
    at: Option<Instant>,
    /// Its sequence number.
    seq: u16,
    /// Its length in bytes.
    len: usize,
    /// How many times it has been resent.
    resends: u8,
    /// When it was last resent.
    last_resend: Option<Instant>,
}

const EMPTY: Slot = Slot {
    at: None,
    seq: 0,
    len: 0,
    resends: 0,
    last_resend: None,
};

/// A bounded cache of one published stream's recent packets, answering NACKs and throttling
/// the resends. See the [module documentation](self).
pub struct PacketCache {
    slots: Box<[Slot]>,
    data: Box<[u8]>,
    max_packet: usize,
    max_age: Duration,
    len: usize,
}

impl std::fmt::Debug for PacketCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketCache")
            .field("capacity", &self.slots.len())
            .field("max_packet", &self.max_packet)
            .field("max_age", &self.max_age)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl PacketCache {
    /// Room for `capacity` packets of at most `max_packet` bytes each (all buffers allocated
    /// here, once), keeping packets at most `max_age`.
    ///
    /// `capacity` is capped at [`MAX_CAPACITY`] (one slot per sequence number) and `max_packet`
    /// at [`MAX_PACKET`]; the data buffer takes `capacity * max_packet` bytes. A capacity of 0
    /// makes a cache that stores nothing.
    pub fn new(capacity: usize, max_packet: usize, max_age: Duration) -> Self {
        let capacity = capacity.min(MAX_CAPACITY);
        let max_packet = max_packet.min(MAX_PACKET);
        PacketCache {
            slots: vec![EMPTY; capacity].into_boxed_slice(),
            data: vec![0; capacity.saturating_mul(max_packet)].into_boxed_slice(),
            max_packet,
            max_age,
            len: 0,
        }
    }

    /// Stores a copy of the (plaintext) RTP packet with sequence `seq` received at `now`
    /// (overwrites the slot `seq % capacity`; packets longer than max_packet are not stored).
    ///
    /// A packet whose sequence number is already stored and not aged out is taken for a
    /// duplicate (or a retransmission of the same packet) and leaves the stored copy, its
    /// arrival time and its resend history as they are. A packet that is not stored leaves the
    /// slot as it is.
    pub fn insert(&mut self, seq: u16, packet: &[u8], now: Instant) {
        if packet.len() > self.max_packet {
            return;
        }
        let Some(index) = self.index(seq) else {
            return;
        };
        let max_age = self.max_age;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        if let Some(at) = slot.at {
            if slot.seq == seq && fresh(at, now, max_age) {
                return;
            }
        } else {
            self.len += 1;
        }
        let start = index * self.max_packet;
        if let Some(dst) = self.data.get_mut(start..start + packet.len()) {
            dst.copy_from_slice(packet);
            *slot = Slot {
                at: Some(now),
                seq,
                len: packet.len(),
                resends: 0,
                last_resend: None,
            };
        } else if slot.at.take().is_some() {
            // Unreachable: slots and data are sized together. Keep `len` exact anyway.
            self.len -= 1;
        }
    }

    /// The packet with `seq`, if stored and not older than max_age at `now`.
    pub fn get(&self, seq: u16, now: Instant) -> Option<&[u8]> {
        let index = self.live(seq, now)?;
        let slot = self.slots.get(index)?;
        let start = index * self.max_packet;
        self.data.get(start..start + slot.len)
    }

    /// NACK throttling: whether `seq` may be resent at `now` given `rtt` — at most
    /// `max_resends` times per packet and not more often than once per `rtt` (min 10 ms,
    /// [`MIN_RESEND_INTERVAL`]); records the resend when allowed.
    ///
    /// Only a packet [`get`](PacketCache::get) would return can be resent. The count belongs
    /// to the stored packet: it starts at 0 when a packet is stored in a slot and is kept
    /// through duplicates of that packet.
    pub fn allow_resend(&mut self, seq: u16, now: Instant, rtt: Duration, max_resends: u8) -> bool {
        let Some(index) = self.live(seq, now) else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(index) else {
            return false;
        };
        if slot.resends >= max_resends {
            return false;
        }
        if let Some(last) = slot.last_resend
            && now.saturating_duration_since(last) < rtt.max(MIN_RESEND_INTERVAL)
        {
            return false;
        }
        slot.resends += 1;
        slot.last_resend = Some(now);
        true
    }

    /// How many slots hold a packet, including ones that have aged out but not yet been
    /// overwritten ([`get`](PacketCache::get) does not return those). Never more than
    /// [`capacity`](PacketCache::capacity).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no slot holds a packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many packets the cache can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The largest packet the cache stores, in bytes.
    pub fn max_packet(&self) -> usize {
        self.max_packet
    }

    /// The slot of `seq` (`None` for a zero-capacity cache).
    fn index(&self, seq: u16) -> Option<usize> {
        usize::from(seq).checked_rem(self.slots.len())
    }

    /// The slot of `seq` if it holds `seq` and that has not aged out at `now`.
    fn live(&self, seq: u16, now: Instant) -> Option<usize> {
        let index = self.index(seq)?;
        let slot = self.slots.get(index)?;
        let at = slot.at?;
        (slot.seq == seq && fresh(at, now, self.max_age)).then_some(index)
    }
}

/// Whether a packet that arrived at `at` is not older than `max_age` at `now`.
fn fresh(at: Instant, now: Instant, max_age: Duration) -> bool {
    now.saturating_duration_since(at) <= max_age
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn stores_gets_and_ages_out() {
        let t0 = Instant::now();
        let mut c = PacketCache::new(4, 8, Duration::from_millis(100));
        assert!(c.is_empty());
        assert_eq!(c.capacity(), 4);
        c.insert(1, b"one", t0);
        c.insert(2, b"too long!", t0);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(1, t0), Some(&b"one"[..]));
        assert_eq!(c.get(5, t0), None, "same slot, other sequence number");
        assert_eq!(c.get(2, t0), None);
        let late = t0 + Duration::from_millis(100);
        assert_eq!(c.get(1, late), Some(&b"one"[..]));
        assert_eq!(c.get(1, late + Duration::from_millis(1)), None);
        c.insert(5, b"five", late);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(1, late), None);
        assert_eq!(c.get(5, late), Some(&b"five"[..]));
        c.insert(u16::MAX, b"", late);
        assert_eq!(c.get(u16::MAX, late), Some(&b""[..]));
        assert_eq!(c.len(), 2);

        let mut empty = PacketCache::new(0, 8, Duration::from_secs(1));
        empty.insert(1, b"x", t0);
        assert_eq!(empty.get(1, t0), None);
        assert!(!empty.allow_resend(1, t0, Duration::ZERO, 3));
        assert!(empty.is_empty());
    }

    #[test]
    fn resends_are_throttled() {
        let t0 = Instant::now();
        let rtt = Duration::from_millis(50);
        let mut c = PacketCache::new(16, 100, Duration::from_secs(1));
        assert!(!c.allow_resend(3, t0, rtt, 2), "not stored");
        c.insert(3, b"p", t0);
        assert!(c.allow_resend(3, t0, rtt, 2));
        assert!(!c.allow_resend(3, t0 + Duration::from_millis(49), rtt, 2));
        assert!(c.allow_resend(3, t0 + Duration::from_millis(50), rtt, 2));
        assert!(
            !c.allow_resend(3, t0 + Duration::from_millis(500), rtt, 2),
            "max resends"
        );
        // A duplicate keeps the history; a new packet in the slot starts afresh.
        c.insert(3, b"p", t0 + Duration::from_millis(600));
        assert!(!c.allow_resend(3, t0 + Duration::from_millis(700), rtt, 2));
        c.insert(19, b"q", t0 + Duration::from_millis(700));
        assert!(c.allow_resend(19, t0 + Duration::from_millis(700), Duration::ZERO, 2));
        // The floor of 10 ms applies whatever the RTT.
        assert!(!c.allow_resend(19, t0 + Duration::from_millis(709), Duration::ZERO, 2));
        assert!(c.allow_resend(19, t0 + Duration::from_millis(710), Duration::ZERO, 2));
        assert!(!c.allow_resend(19, t0 + Duration::from_millis(710), Duration::ZERO, 0));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert { seq: u16, len: usize },
        Get { seq: u16 },
        Resend { seq: u16, rtt_ms: u64, max: u8 },
        Wait { ms: u64 },
    }

    fn op(seqs: u16) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..seqs, 0usize..48).prop_map(|(seq, len)| Op::Insert { seq, len }),
            3 => (0..seqs).prop_map(|seq| Op::Get { seq }),
            3 => (0..seqs, 0u64..40, 0u8..4).prop_map(|(seq, rtt_ms, max)| Op::Resend { seq, rtt_ms, max }),
            2 => (0u64..30).prop_map(|ms| Op::Wait { ms }),
        ]
    }

    proptest! {
        /// The cache never holds more than its capacity, never returns an aged-out packet or
        /// one with another sequence number, and never allows more than `max_resends` resends
        /// of a stored packet nor two within one RTT (at least 10 ms).
        #[test]
        fn cache_invariants(
            capacity in 0usize..12,
            max_packet in 0usize..40,
            max_age_ms in 0u64..200,
            seqs in prop_oneof![Just(16u16), Just(u16::MAX)],
            ops in prop::collection::vec(op(u16::MAX), 0..300),
        ) {
            let t0 = Instant::now();
            let max_age = Duration::from_millis(max_age_ms);
            let mut c = PacketCache::new(capacity, max_packet, max_age);
            let mut now = t0;
            // Packets carry (seq, id); id indexes their insertion times.
            let mut inserted_at: Vec<Instant> = Vec::new();
            // Per packet id: resends allowed, and when the last was.
            let mut resends: HashMap<u32, (u8, Instant)> = HashMap::new();
            let mut buf = [0u8; 64];
            for op in ops {
                match op {
                    Op::Insert { seq, len } => {
                        let seq = seq % seqs;
                        let id = inserted_at.len() as u32;
                        inserted_at.push(now);
                        buf[..2].copy_from_slice(&seq.to_be_bytes());
                        buf[2..6].copy_from_slice(&id.to_be_bytes());
                        let len = len.max(6);
                        c.insert(seq, &buf[..len], now);
                        if len <= max_packet && capacity > 0 {
                            prop_assert!(c.get(seq, now).is_some());
                        }
                    }
                    Op::Get { seq } => {
                        let seq = seq % seqs;
                        if let Some(p) = c.get(seq, now) {
                            prop_assert!(p.len() >= 6 && p.len() <= max_packet);
                            prop_assert_eq!(u16::from_be_bytes([p[0], p[1]]), seq);
                            let id = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
                            prop_assert!(now.duration_since(inserted_at[id as usize]) <= max_age);
                        }
                    }
                    Op::Resend { seq, rtt_ms, max } => {
                        let seq = seq % seqs;
                        let rtt = Duration::from_millis(rtt_ms);
                        let id = c
                            .get(seq, now)
                            .map(|p| u32::from_be_bytes([p[2], p[3], p[4], p[5]]));
                        if c.allow_resend(seq, now, rtt, max) {
                            let id = id.expect("a resent packet is stored");
                            let entry = resends.entry(id).or_insert((0, now));
                            if entry.0 > 0 {
                                prop_assert!(now - entry.1 >= rtt.max(MIN_RESEND_INTERVAL));
                            }
                            entry.0 += 1;
                            entry.1 = now;
                            prop_assert!(entry.0 <= max);
                        }
                    }
                    Op::Wait { ms } => now += Duration::from_millis(ms),
                }
                prop_assert!(c.len() <= c.capacity());
                prop_assert!(c.capacity() == capacity);
            }
        }
    }
}
