//! VP9 spatial scalability within one SSRC (SVC, e.g. libwebrtc's `L3T3_KEY`): the spatial
//! layers a publisher's stream carries and what each costs, measured from its packets.
//!
//! A simulcast layer is a stream of its own; an SVC stream carries every spatial layer in
//! one SSRC, each picture a layer frame per spatial layer (SID 0 first). A subscriber gets
//! the layer frames up to its spatial layer: the router leaves the others out, closing up
//! the sequence numbers, and sets the RTP marker on the last packet of the highest layer
//! frame forwarded, which ends the picture for the subscriber. It moves down at the start of
//! any picture and up at a keyframe (in `KEY` modes only a key picture predicts one spatial
//! layer from another, so that is where an upper layer can start); a move up asks the
//! publisher for one.

use std::time::{Duration, Instant};

/// The most spatial layers followed (VP9 has 3 bits of SID; libwebrtc sends up to 3).
pub(super) const MAX_SPATIAL: usize = 4;

/// How long rates are measured over.
const WINDOW: Duration = Duration::from_secs(1);

/// The share of a stream's signaled bitrate its spatial layers 0..=s take, in percent, before
/// anything is measured: `DEFAULT_SHARE[n - 1][s]` for n layers (about what libvpx gives
/// 1/4, 1/2 and full resolution).
const DEFAULT_SHARE: [[u64; MAX_SPATIAL]; MAX_SPATIAL] = [
    [100, 100, 100, 100],
    [30, 100, 100, 100],
    [15, 40, 100, 100],
    [8, 20, 45, 100],
];

/// The spatial layers of one stream and their measured rates.
#[derive(Debug, Default)]
pub(super) struct SpatialLayers {
    /// Spatial layers seen (highest SID + 1); 0 for a stream without SIDs.
    count: u8,
    /// The current measurement window: when it started and the bytes of each layer so far.
    window: Option<Instant>,
    bytes: [u64; MAX_SPATIAL],
    /// Each layer's rate over the last complete window, in bits per second.
    bps: [u64; MAX_SPATIAL],
    measured: bool,
}

impl SpatialLayers {
    /// Counts a packet of spatial layer `sid` with `bytes` of payload, arrived at `now`.
    /// `true` if it is the first of a layer above those seen so far (selection may change).
    #[inline]
    pub(super) fn record(&mut self, now: Instant, sid: u8, bytes: usize) -> bool {
        let i = usize::from(sid).min(MAX_SPATIAL - 1);
        let grew = i as u8 >= self.count;
        self.count = self.count.max(i as u8 + 1);
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
        grew
    }

    /// Spatial layers seen: 0 (or 1) for a stream that is not spatially scalable.
    pub(super) fn count(&self) -> u8 {
        self.count
    }

    /// What layers 0..=`sid` cost together, in bits per second: measured once a window is
    /// complete, else a default share of `signaled_bps` (the stream's whole bitrate).
    pub(super) fn up_to(&self, sid: u8, signaled_bps: u64) -> u64 {
        let n = usize::from(self.count.clamp(1, MAX_SPATIAL as u8));
        let s = usize::from(sid).min(n - 1);
        if self.measured {
            self.bps[..=s].iter().fold(0, |a, &b| a.saturating_add(b))
        } else {
            signaled_bps.saturating_mul(DEFAULT_SHARE[n - 1][s]) / 100
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_measured_per_layer_and_summed_upwards() {
        let t0 = Instant::now();
        let mut l = SpatialLayers::default();
        assert_eq!(l.count(), 0);
        // Before a window completes: shares of the signaled bitrate.
        assert!(l.record(t0, 0, 100));
        assert!(!l.record(t0, 0, 100));
        assert!(l.record(t0, 2, 100));
        assert_eq!(l.count(), 3);
        assert_eq!(l.up_to(0, 1_000_000), 150_000);
        assert_eq!(l.up_to(2, 1_000_000), 1_000_000);
        assert_eq!(l.up_to(9, 1_000_000), 1_000_000);
        // One second of 1000, 2000 and 5000 bytes (after the first packets).
        for ms in 0..1000u64 {
            let now = t0 + Duration::from_millis(ms);
            l.record(now, 0, 1);
            l.record(now, 1, 2);
            l.record(now, 2, 5);
        }
        l.record(t0 + Duration::from_millis(1000), 0, 0);
        assert_eq!(l.up_to(0, 0), 8 * 1200);
        assert_eq!(l.up_to(1, 0), 8 * 3200);
        assert_eq!(l.up_to(2, 0), 8 * 8300);
    }
}
