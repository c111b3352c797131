//! VP9 spatial scalability within one SSRC (SVC, e.g. libwebrtc's `L3T3_KEY`): the spatial
//! layers a publisher's stream carries and what each costs, measured from its packets.
//!
//! A simulcast layer is a stream of its own; an SVC stream carries every spatial layer in
//! one SSRC, each picture a layer frame per spatial layer (SID 0 first). A subscriber gets
//! what its spatial layer needs: the router leaves the rest out, closing up the sequence
//! numbers, and sets the RTP marker on the last packet of the highest layer frame
//! forwarded, which ends the picture for the subscriber. What it needs depends on the
//! stream's mode, which the router learns from the D bit of inter pictures' upper layer
//! frames ([`Mode`]):
//! - Full SVC (`L3T3`): each layer frame is predicted from the one below it in its picture,
//!   so a subscriber gets the layer frames up to its own. It moves down at the start of any
//!   picture and up at a keyframe.
//! - `KEY` modes (`L3T3_KEY`, K-SVC): only a key picture's layer frames are predicted from
//!   the ones below; an inter picture's layer frame only from the same layer's earlier frame.
//!   A subscriber gets a key picture up to its layer, then only its own layer's frames of
//!   each inter picture (as mediasoup forwards K-SVC): the lower ones are not needed, and
//!   forwarding them would cost the subscriber their bandwidth and, on loss, a stall (a
//!   libwebrtc receiver decodes a picture once its marked end is complete, without a lower
//!   layer frame still being repaired, and then drops that frame, which leaves the next ones
//!   of its layer without their reference). Having none of the lower layers' chain, it moves
//!   down at a keyframe too.
//!
//! A move that waits for a keyframe asks the publisher for one, again while none comes. A
//! mode learned applies from the next picture, so each picture goes out in one mode.
//!
//! Selection offers a subscriber the spatial layers the publisher is sending, each at what it
//! costs the subscriber (its measured rate, or the layers' up to it in full SVC). An encoder
//! short of bitrate stops its top layer without a keyframe: a layer quiet for [`QUIET`]
//! leaves the offer, and subscribers choose again.

use std::time::{Duration, Instant};

use crate::codec::PictureFields;
use crate::rtp::timestamp_after;

/// The most spatial layers followed (VP9 has 3 bits of SID; libwebrtc sends up to 3).
pub(super) const MAX_SPATIAL: usize = 4;

/// How long rates are measured over.
const WINDOW: Duration = Duration::from_secs(1);

/// How long a spatial layer may send nothing before it counts as stopped (an encoder that
/// lacks the bitrate for its top layer stops sending it, without a keyframe).
const QUIET: Duration = Duration::from_secs(1);

/// The share of a stream's signaled bitrate its spatial layers 0..=s take, in percent, before
/// anything is measured: `DEFAULT_SHARE[n - 1][s]` for n layers (about what libvpx gives
/// 1/4, 1/2 and full resolution).
const DEFAULT_SHARE: [[u64; MAX_SPATIAL]; MAX_SPATIAL] = [
    [100, 100, 100, 100],
    [30, 100, 100, 100],
    [15, 40, 100, 100],
    [8, 20, 45, 100],
];

/// How a subscriber's spatial layer is forwarded from an SVC stream (see the module).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Mode {
    /// Only key pictures predict one spatial layer from another (K-SVC): an inter picture
    /// goes out as the subscriber's own layer frame alone. Until an inter picture's upper
    /// layer frame shows its D bit, the stream is taken for full SVC, which forwards more
    /// than K-SVC needs but never less.
    pub(super) key_only: bool,
    /// The highest spatial layer seen (what "all of them" forwards of an inter picture).
    pub(super) top: u8,
}

impl Mode {
    /// Whether a subscriber forwarded spatial layers up to `current` must wait for a
    /// keyframe to get those up to `target` instead: up always, down in a `KEY` mode (it
    /// has none of the lower layer's chain).
    #[inline]
    pub(super) fn waits_for_keyframe(self, current: u8, target: u8) -> bool {
        target > current || (self.key_only && target < current)
    }

    /// Whether the layer frame of spatial layer `sid`, whose descriptor says `fields`, goes
    /// to a subscriber forwarded spatial layers up to `current` (`u8::MAX`: all).
    #[inline]
    pub(super) fn forwards(self, sid: u8, fields: &PictureFields, current: u8) -> bool {
        if self.key_only && fields.inter_picture() {
            sid == current.min(self.top)
        } else {
            sid <= current
        }
    }
}

/// The spatial layers of one stream and their measured rates.
#[derive(Debug, Default)]
pub(super) struct SpatialLayers {
    /// Spatial layers seen (highest SID + 1); 0 for a stream without SIDs.
    count: u8,
    /// Learned from inter pictures' upper layer frames ([`Mode::key_only`]), and what the
    /// last one showed, which takes effect at the next picture (a picture goes out in one
    /// mode).
    key_only: bool,
    shown: Option<bool>,
    /// The newest picture begun (the timestamp of its first layer frame's start).
    newest: Option<u32>,
    /// Where `key_only` last changed (the timestamp of the picture it took effect at) and
    /// what it was before: a late packet of an earlier picture goes by the mode of its own.
    changed: Option<(u32, bool)>,
    /// When each spatial layer last sent, and which are sending (bit per SID).
    seen: [Option<Instant>; MAX_SPATIAL],
    sending: u8,
    /// The current measurement window: when it started and the bytes of each layer so far.
    window: Option<Instant>,
    bytes: [u64; MAX_SPATIAL],
    /// Each layer's rate over the last complete window, in bits per second.
    bps: [u64; MAX_SPATIAL],
    measured: bool,
}

impl SpatialLayers {
    /// Counts a packet of spatial layer `sid` with `bytes` of payload, arrived at `now`.
    /// `true` if the layers sending changed: this one started (or started again), or
    /// another has sent nothing for [`QUIET`] (selection may change).
    #[inline]
    pub(super) fn record(&mut self, now: Instant, sid: u8, bytes: usize) -> bool {
        let i = usize::from(sid).min(MAX_SPATIAL - 1);
        self.count = self.count.max(i as u8 + 1);
        let mut changed = self.sending & (1 << i) == 0;
        self.sending |= 1 << i;
        self.seen[i] = Some(now);
        for (j, seen) in self.seen.iter().enumerate() {
            if self.sending & (1 << j) != 0
                && seen.is_some_and(|t| now.saturating_duration_since(t) > QUIET)
            {
                self.sending &= !(1 << j);
                changed = true;
            }
        }
        let start = *self.window.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= WINDOW {
            let nanos = elapsed.as_nanos().max(1);
            for (bps, bytes) in self.bps.iter_mut().zip(&mut self.bytes) {
                *bps =
                    u64::try_from(u128::from(*bytes) * 8_000_000_000 / nanos).unwrap_or(u64::MAX);
                *bytes = 0;
            }
            self.measured = true;
            self.window = Some(now);
        }
        if let Some(b) = self.bytes.get_mut(i) {
            *b = b.saturating_add(bytes as u64);
        }
        changed
    }

    /// Whether spatial layer `sid` is sending: it sent within [`QUIET`] of the stream's
    /// newest packet.
    pub(super) fn sending(&self, sid: u8) -> bool {
        1u8.checked_shl(u32::from(sid))
            .is_some_and(|bit| self.sending & bit != 0)
    }

    /// Learns the stream's mode from a packet of the picture with `timestamp`: an inter
    /// picture's upper layer frame (its first packet) predicted from the layer below (D) or
    /// not. What it shows applies from the next picture begun (its first packet to arrive,
    /// whatever its layer) after it, so that the rest of this picture, and of a picture begun
    /// before, go out as their first packets did.
    #[inline]
    pub(super) fn observe(&mut self, fields: &PictureFields, timestamp: u32) {
        if self.newest.is_none_or(|n| timestamp_after(timestamp, n)) {
            self.newest = Some(timestamp);
            if let Some(key_only) = self.shown.take()
                && key_only != self.key_only
            {
                self.changed = Some((timestamp, self.key_only));
                self.key_only = key_only;
            }
        }
        if fields.frame_start()
            && fields.spatial_id().is_some_and(|sid| sid > 0)
            && fields.inter_picture()
        {
            self.shown = Some(!fields.inter_layer());
        }
    }

    /// How a subscriber's spatial layer is forwarded for the picture with `timestamp`: in
    /// the mode in force when it began.
    #[inline]
    pub(super) fn mode_for(&self, timestamp: u32) -> Mode {
        match self.changed {
            Some((at, before)) if timestamp_after(at, timestamp) => Mode {
                key_only: before,
                ..self.mode()
            },
            _ => self.mode(),
        }
    }

    /// How a subscriber's spatial layer is forwarded now.
    #[inline]
    pub(super) fn mode(&self) -> Mode {
        Mode {
            key_only: self.key_only,
            top: self.count.saturating_sub(1),
        }
    }

    /// Spatial layers seen: 0 (or 1) for a stream that is not spatially scalable.
    pub(super) fn count(&self) -> u8 {
        self.count
    }

    /// What a subscriber of spatial layer `sid` gets, in bits per second: layers 0..=`sid`
    /// together, or in a `KEY` mode layer `sid` alone (key pictures aside). Measured once a
    /// window is complete, else a default share of `signaled_bps` (the stream's whole
    /// bitrate).
    pub(super) fn cost(&self, sid: u8, signaled_bps: u64) -> u64 {
        let n = usize::from(self.count.clamp(1, MAX_SPATIAL as u8));
        let s = usize::from(sid).min(n - 1);
        let from = if self.key_only { s } else { 0 };
        if self.measured {
            self.bps[from..=s]
                .iter()
                .fold(0, |a, &b| a.saturating_add(b))
        } else {
            let share = &DEFAULT_SHARE[n - 1];
            let below = if from > 0 { share[from - 1] } else { 0 };
            signaled_bps.saturating_mul(share[s] - below) / 100
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_measured_per_layer_and_summed_upwards_unless_key_only() {
        let t0 = Instant::now();
        let mut l = SpatialLayers::default();
        assert_eq!(l.count(), 0);
        // Before a window completes: shares of the signaled bitrate.
        assert!(l.record(t0, 0, 100));
        assert!(!l.record(t0, 0, 100));
        assert!(l.record(t0, 2, 100));
        assert!(l.sending(0) && !l.sending(1) && l.sending(2));
        assert_eq!(l.count(), 3);
        assert_eq!(l.cost(0, 1_000_000), 150_000);
        assert_eq!(l.cost(2, 1_000_000), 1_000_000);
        assert_eq!(l.cost(9, 1_000_000), 1_000_000);
        // One second of 1000, 2000 and 5000 bytes (after the first packets).
        for ms in 0..1000u64 {
            let now = t0 + Duration::from_millis(ms);
            l.record(now, 0, 1);
            l.record(now, 1, 2);
            l.record(now, 2, 5);
        }
        l.record(t0 + Duration::from_millis(1000), 0, 0);
        assert_eq!(l.cost(0, 0), 8 * 1200);
        assert_eq!(l.cost(1, 0), 8 * 3200);
        assert_eq!(l.cost(2, 0), 8 * 8300);
        // In a `KEY` mode a subscriber gets its own layer's inter frames alone.
        l.key_only = true;
        assert_eq!(l.cost(1, 0), 8 * 2000);
        assert_eq!(l.cost(2, 0), 8 * 5100);
        l.measured = false;
        assert_eq!(l.cost(0, 1_000_000), 150_000);
        assert_eq!(l.cost(1, 1_000_000), 250_000);
        assert_eq!(l.cost(2, 1_000_000), 600_000);
    }

    #[test]
    fn a_layer_that_sends_nothing_for_a_second_stops_counting() {
        let t0 = Instant::now();
        let mut l = SpatialLayers::default();
        assert!(l.record(t0, 0, 1));
        assert!(l.record(t0, 1, 1));
        // Layer 1 goes quiet; layer 0 goes on.
        for ms in (100..=1000).step_by(100) {
            assert!(!l.record(t0 + Duration::from_millis(ms), 0, 1), "{ms}");
        }
        assert!(l.sending(1));
        assert!(l.record(t0 + Duration::from_millis(1100), 0, 1));
        assert!(l.sending(0) && !l.sending(1));
        assert_eq!(l.count(), 2);
        // And starts again.
        assert!(l.record(t0 + Duration::from_millis(1200), 1, 1));
        assert!(l.sending(1) && !l.sending(7) && !l.sending(9));
    }

    #[test]
    fn the_mode_is_learned_from_inter_pictures_upper_layers() {
        use crate::codec::{Codec, picture_fields};
        let mut l = SpatialLayers::default();
        let fields = |first: u8, indices: u8| {
            picture_fields(Codec::Vp9, &[first, 0x81, 0x23, indices, 0x02, 0x11]).unwrap()
        };
        // A key picture's SID 1 (D set), then an inter picture's SID 0: nothing learned.
        l.observe(&fields(0xBC, 0x03), 0);
        l.observe(&fields(0xFC, 0x00), 3000);
        assert!(!l.mode().key_only);
        // An inter picture's SID 1 without D: `KEY` mode, from the next picture's SID 0 on.
        l.observe(&fields(0xFC, 0x02), 3000);
        assert!(!l.mode().key_only);
        l.observe(&fields(0xFC, 0x00), 6000);
        assert!(l.mode().key_only);
        // A late packet of picture 3000 still goes by full SVC, in which it began.
        assert!(!l.mode_for(3000).key_only);
        assert!(l.mode_for(6000).key_only);
        // A late picture start changes nothing.
        l.observe(&fields(0xFC, 0x03), 6000);
        l.observe(&fields(0xFC, 0x00), 4500);
        assert!(l.mode().key_only);
        // With D: full SVC, from the next picture's first packet to arrive, whatever its
        // layer.
        l.observe(&fields(0xFC, 0x02 | 0x01), 9000);
        assert!(!l.mode().key_only);
        assert!(l.mode_for(6000).key_only);
        // Only a layer frame's first packet (B) counts.
        l.observe(&fields(0xF4, 0x02), 9000);
        l.observe(&fields(0xFC, 0x00), 12_000);
        assert!(!l.mode().key_only);
    }
}
