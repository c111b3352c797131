//! Per-SSRC state: one replay window (which also carries the rollover state) per stream.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::Error;
use crate::replay::{Refusal, ReplayWindow};

/// A hasher for SSRCs. SSRCs are random 32-bit values and an entry is only created for a
/// packet that authenticated (or that we protect ourselves), so a multiplicative hash is
/// enough and keeps the per-packet lookup to a few nanoseconds.
#[derive(Default)]
pub(crate) struct SsrcHasher(u64);

impl Hasher for SsrcHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (u64::from(n) ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The streams of one direction of SRTP or SRTCP.
#[derive(Clone, Debug, Default)]
pub(crate) struct Streams {
    map: HashMap<u32, ReplayWindow, BuildHasherDefault<SsrcHasher>>,
}

impl Streams {
    /// The newest index accepted for `ssrc`.
    #[inline]
    pub(crate) fn top(&self, ssrc: u32) -> Option<u64> {
        self.map.get(&ssrc).and_then(ReplayWindow::top)
    }

    /// Checks that a packet for `ssrc` may be processed: the stream is known or there is room
    /// for it, and (`check_replay`) `index` is neither replayed nor too old.
    #[inline]
    pub(crate) fn check(
        &self,
        ssrc: u32,
        index: u64,
        check_replay: bool,
        max_streams: usize,
    ) -> Result<(), Error> {
        match self.map.get(&ssrc) {
            Some(window) if check_replay => window.check(index).map_err(|r| match r {
                Refusal::Replayed => Error::Replayed { ssrc, index },
                Refusal::TooOld => Error::TooOld { ssrc, index },
            }),
            Some(_) => Ok(()),
            None if self.map.len() >= max_streams => {
                Err(Error::TooManyStreams { max: max_streams })
            }
            None => Ok(()),
        }
    }

    /// Records `index` for `ssrc`, creating the stream with a `window`-packet replay window on
    /// first use.
    #[inline]
    pub(crate) fn accept(&mut self, ssrc: u32, index: u64, window: usize) {
        self.map
            .entry(ssrc)
            .or_insert_with(|| ReplayWindow::new(window))
            .accept(index);
    }

    /// Forgets `ssrc`.
    pub(crate) fn remove(&mut self, ssrc: u32) -> bool {
        self.map.remove(&ssrc).is_some()
    }

    /// How many streams are tracked.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}
