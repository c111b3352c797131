//! A per-participant token bucket, on injected time.

use std::time::{Duration, Instant};

/// Allows `burst` messages at once and one more every `interval` after that.
///
/// Credit is kept as a [`Duration`] (a message costs `interval`, the bucket holds at most
/// `burst × interval`), so the arithmetic is exact: no floating point, no drift.
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    credit: Duration,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub(crate) fn full(now: Instant, burst: u32, interval: Duration) -> Self {
        TokenBucket {
            credit: interval.saturating_mul(burst),
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant, burst: u32, interval: Duration) {
        let elapsed = now.saturating_duration_since(self.updated);
        self.credit = self
            .credit
            .saturating_add(elapsed)
            .min(interval.saturating_mul(burst));
        self.updated = self.updated.max(now);
    }

    /// Whether one message may be sent at `now`; if not, how long until it may. Changes
    /// nothing but the refill.
    pub(crate) fn check(
        &mut self,
        now: Instant,
        burst: u32,
        interval: Duration,
    ) -> Result<(), Duration> {
        self.refill(now, burst, interval);
        if self.credit >= interval {
            Ok(())
        } else {
            Err(interval - self.credit)
        }
    }

    /// Spends one message. Call after [`check`](Self::check) passed at the same `now`.
    pub(crate) fn take(&mut self, interval: Duration) {
        self.credit = self.credit.saturating_sub(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn burst_then_steady() {
        let t0 = Instant::now();
        let iv = Duration::from_millis(100);
        let mut b = TokenBucket::full(t0, 3, iv);
        for _ in 0..3 {
            assert_eq!(b.check(t0, 3, iv), Ok(()));
            b.take(iv);
        }
        assert_eq!(b.check(t0, 3, iv), Err(iv));
        assert_eq!(
            b.check(t0 + Duration::from_millis(40), 3, iv),
            Err(Duration::from_millis(60))
        );
        assert_eq!(b.check(t0 + iv, 3, iv), Ok(()));
    }

    proptest! {
        /// Under any pattern of attempts, the messages accepted between any two instants never
        /// exceed `burst + elapsed / interval`.
        #[test]
        fn never_exceeds_burst_plus_rate(
            burst in 1u32..8,
            interval_ms in 1u64..200,
            gaps in proptest::collection::vec(0u64..300, 1..200),
        ) {
            let iv = Duration::from_millis(interval_ms);
            let t0 = Instant::now();
            let mut b = TokenBucket::full(t0, burst, iv);
            let mut now = t0;
            let mut accepted = Vec::new();
            for gap in gaps {
                now += Duration::from_millis(gap);
                if b.check(now, burst, iv).is_ok() {
                    b.take(iv);
                    accepted.push(now);
                }
            }
            for (i, start) in accepted.iter().enumerate() {
                for (j, end) in accepted.iter().enumerate().skip(i) {
                    let allowed = u64::from(burst) + ((*end - *start).as_millis() as u64) / interval_ms;
                    prop_assert!((j - i + 1) as u64 <= allowed);
                }
            }
        }
    }
}
