//! The sliding replay window (RFC 3711 §3.3.2).

/// Why the window refused an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The index was already accepted.
    Replayed,
    /// The index is further behind the newest than the window remembers.
    TooOld,
}

/// Remembers which of the last `size` indices were accepted.
///
/// A bitmap used as a ring: bit `index % size` stands for `index`. It is sized once, when the
/// stream is first seen, and never allocates afterwards.
#[derive(Clone, Debug)]
pub(crate) struct ReplayWindow {
    /// The newest accepted index, or `None` before the first.
    top: Option<u64>,
    bits: Box<[u64]>,
}

impl ReplayWindow {
    /// A window of `size` packets; `size` must be a non-zero multiple of 64.
    pub(crate) fn new(size: usize) -> Self {
        ReplayWindow {
            top: None,
            bits: vec![0; (size / 64).max(1)].into_boxed_slice(),
        }
    }

    fn size(&self) -> u64 {
        self.bits.len() as u64 * 64
    }

    /// The newest accepted index.
    pub(crate) fn top(&self) -> Option<u64> {
        self.top
    }

    fn slot(&self, index: u64) -> (usize, u64) {
        let pos = index % self.size();
        ((pos / 64) as usize, 1u64 << (pos % 64))
    }

    /// Whether `index` may be accepted; changes nothing.
    pub(crate) fn check(&self, index: u64) -> Result<(), Refusal> {
        let Some(top) = self.top else { return Ok(()) };
        if index > top {
            return Ok(());
        }
        if top - index >= self.size() {
            return Err(Refusal::TooOld);
        }
        let (word, bit) = self.slot(index);
        if self.bits[word] & bit != 0 {
            Err(Refusal::Replayed)
        } else {
            Ok(())
        }
    }

    /// Records `index` as accepted. Call only after [`check`](Self::check) passed and the
    /// packet authenticated.
    pub(crate) fn accept(&mut self, index: u64) {
        match self.top {
            Some(top) if index <= top => {}
            Some(top) if index - top < self.size() => {
                for skipped in top + 1..index {
                    let (word, bit) = self.slot(skipped);
                    self.bits[word] &= !bit;
                }
                self.top = Some(index);
            }
            _ => {
                self.bits.fill(0);
                self.top = Some(index);
            }
        }
        let (word, bit) = self.slot(index);
        self.bits[word] |= bit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn basic_window() {
        let mut w = ReplayWindow::new(64);
        assert_eq!(w.check(100), Ok(()));
        w.accept(100);
        assert_eq!(w.check(100), Err(Refusal::Replayed));
        assert_eq!(w.check(99), Ok(()));
        // The window holds the newest index and the 63 before it.
        assert_eq!(w.check(37), Ok(()));
        assert_eq!(w.check(36), Err(Refusal::TooOld));
        w.accept(164);
        assert_eq!(w.check(100), Err(Refusal::TooOld));
        assert_eq!(w.check(101), Ok(()));
        w.accept(101);
        assert_eq!(w.check(101), Err(Refusal::Replayed));
    }

    proptest! {
        /// The window agrees with a model that remembers everything: an index is refused
        /// exactly when it was accepted before or lies `size` or more behind the newest.
        #[test]
        fn matches_unbounded_model(
            size_words in 1usize..4,
            steps in proptest::collection::vec((0u64..600, any::<bool>()), 1..400),
        ) {
            let size = size_words as u64 * 64;
            let mut w = ReplayWindow::new(size as usize);
            let mut seen = HashSet::new();
            let mut top: Option<u64> = None;
            for (index, accept) in steps {
                let expect = match top {
                    Some(t) if index <= t && t - index >= size => Err(Refusal::TooOld),
                    _ if seen.contains(&index) => Err(Refusal::Replayed),
                    _ => Ok(()),
                };
                prop_assert_eq!(w.check(index), expect);
                if expect.is_ok() && accept {
                    w.accept(index);
                    seen.insert(index);
                    top = Some(top.map_or(index, |t| t.max(index)));
                }
                prop_assert_eq!(w.top(), top);
            }
        }
    }
}
