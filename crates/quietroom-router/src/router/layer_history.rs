//! Where a subscriber's forwarded temporal layer (VP8/VP9 TID, AV1's) or SVC spatial layer
//! (VP9 SID) changed, so that a late packet goes by the layer in force for its own frame: see
//! [`LayerHistory`].

use crate::rtp::timestamp_after;

/// Changes remembered. A late packet of a frame before the oldest of them is left out.
const CHANGES: usize = 4;

/// The layer a late packet's frame (or picture) was forwarded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum InForce {
    /// Not late: its frame is at or after the newest change, and goes by the layer forwarded
    /// now (which the packet may change, at a frame start).
    Now,
    /// A frame before a change: it went by this layer.
    Was(u8),
    /// A frame before every change remembered: its layer is not known, and the packet is
    /// left out (a frame in part is no use to a decoder, and a lone packet of a frame that
    /// was left out would take another picture's numbers).
    Forgotten,
}

/// The last few changes of one subscription's forwarded temporal or SVC spatial layer, by
/// the RTP timestamp of the frame (picture) each took effect at.
///
/// The forwarded layer changes at a frame start (a picture start for spatial layers), so
/// each frame is forwarded whole or left out whole, as it must be: a decoder cannot use part
/// of a frame, for VP8 a frame left out gives up its picture ID to the next one, and the
/// RTP marker that ends a VP9 picture for a subscriber is on the highest layer frame it gets.
/// A packet that comes after a later frame's start changed the layer (a resend of what the
/// uplink lost, or reordering) belongs to a frame that was decided before: it takes that
/// decision. Cleared when the subscriber moves to another simulcast layer (another stream,
/// other timestamps).
///
/// In steady state (no change remembered, or a packet of the newest frames) a packet costs
/// one comparison.
#[derive(Clone, Debug, Default)]
pub(super) struct LayerHistory {
    /// The timestamp of the frame each change took effect at, and the layer in force before
    /// it; a ring, the newest at `newest`.
    at: [u32; CHANGES],
    before: [u8; CHANGES],
    newest: u8,
    /// How many are remembered (at most [`CHANGES`]).
    len: u8,
    /// Whether older changes were forgotten to make room.
    forgotten: bool,
}

impl LayerHistory {
    /// The layer in force for the frame with `timestamp`.
    #[inline]
    pub(super) fn in_force(&self, timestamp: u32) -> InForce {
        // (`% CHANGES` spares the bounds check on this path, taken by every packet.)
        let newest_at = self.at[usize::from(self.newest) % CHANGES];
        if self.len == 0 || !timestamp_after(newest_at, timestamp) {
            return InForce::Now;
        }
        self.late(timestamp)
    }

    /// [`LayerHistory::in_force`] for a frame before the newest change.
    #[cold]
    #[inline(never)]
    fn late(&self, timestamp: u32) -> InForce {
        let mut layer = InForce::Now;
        for back in 0..usize::from(self.len) {
            let i = (usize::from(self.newest) + CHANGES - back) % CHANGES;
            if !timestamp_after(self.at[i], timestamp) {
                return layer;
            }
            layer = InForce::Was(self.before[i]);
        }
        if self.forgotten {
            InForce::Forgotten
        } else {
            layer
        }
    }

    /// The forwarded layer changed from `from` at the frame with `timestamp` (a frame at or
    /// after the newest change: [`InForce::Now`]).
    pub(super) fn push(&mut self, timestamp: u32, from: u8) {
        if usize::from(self.len) == CHANGES {
            self.forgotten = true;
        } else {
            self.len += 1;
        }
        self.newest = ((usize::from(self.newest) + 1) % CHANGES) as u8;
        self.at[usize::from(self.newest)] = timestamp;
        self.before[usize::from(self.newest)] = from;
    }

    /// Forgets every change: the subscriber moved to another stream.
    pub(super) fn clear(&mut self) {
        *self = LayerHistory::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_goes_by_the_layer_in_force_when_it_began() {
        let mut c = LayerHistory::default();
        assert_eq!(c.in_force(1000), InForce::Now);
        // All layers until frame 3000, then TID 0 until 6000, then TID 1.
        c.push(3000, u8::MAX);
        c.push(6000, 0);
        assert_eq!(c.in_force(6000), InForce::Now);
        assert_eq!(c.in_force(9000), InForce::Now);
        assert_eq!(c.in_force(5999), InForce::Was(0));
        assert_eq!(c.in_force(3000), InForce::Was(0));
        assert_eq!(c.in_force(2999), InForce::Was(u8::MAX));
        // Across the wrap of the timestamp.
        let mut c = LayerHistory::default();
        c.push(10, 2);
        assert_eq!(c.in_force(u32::MAX - 100), InForce::Was(2));
        assert_eq!(c.in_force(11), InForce::Now);
    }

    #[test]
    fn a_frame_before_every_change_remembered_is_left_out() {
        let mut c = LayerHistory::default();
        for k in 1..=CHANGES as u32 {
            c.push(k * 3000, k as u8);
        }
        assert_eq!(c.in_force(100), InForce::Was(1), "nothing forgotten yet");
        c.push(5 * 3000, 5);
        assert_eq!(c.in_force(100), InForce::Forgotten);
        assert_eq!(c.in_force(3000), InForce::Forgotten);
        assert_eq!(
            c.in_force(6000),
            InForce::Was(3),
            "from 6000 to 9000: layer 3"
        );
        assert_eq!(c.in_force(15_000), InForce::Now);
        c.clear();
        assert_eq!(c.in_force(100), InForce::Now);
    }
}
