//! The per-source-IP limit on responses to unverified UDP sources.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A token bucket per source IP, in a table of bounded size.
#[derive(Debug)]
pub(crate) struct SourceLimiter {
    rate: u32,
    burst: u32,
    max: usize,
    buckets: HashMap<IpAddr, (u32, Instant)>,
}

impl SourceLimiter {
    pub(crate) fn new(rate: u32, burst: u32, max: usize) -> Self {
        SourceLimiter {
            rate: rate.max(1),
            burst: burst.max(1),
            max: max.max(1),
            buckets: HashMap::new(),
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(1) / self.rate
    }

    /// Whether one more response may go to `ip` at `now`. When the table is full, sources
    /// not yet in it are refused (fail closed) until [`sweep`](Self::sweep) frees room.
    pub(crate) fn allow(&mut self, now: Instant, ip: IpAddr) -> bool {
        let interval = self.interval();
        let (burst, full) = (self.burst, self.buckets.len() >= self.max);
        let entry = match self.buckets.get_mut(&ip) {
            Some(entry) => entry,
            None if full => return false,
            None => self.buckets.entry(ip).or_insert((burst, now)),
        };
        let (tokens, updated) = entry;
        let earned =
            now.saturating_duration_since(*updated).as_nanos() / interval.as_nanos().max(1);
        if earned > 0 {
            *tokens = (u128::from(*tokens) + earned).min(u128::from(burst)) as u32;
            *updated = now;
        }
        if *tokens > 0 {
            *tokens -= 1;
            true
        } else {
            false
        }
    }

    /// Forgets sources whose bucket has refilled (idle ones).
    pub(crate) fn sweep(&mut self, now: Instant) {
        let refill = self.interval() * self.burst;
        self.buckets
            .retain(|_, (_, updated)| now.saturating_duration_since(*updated) < refill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_rate_per_source_and_bounded_table() {
        let t0 = Instant::now();
        let mut l = SourceLimiter::new(10, 3, 2);
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        let c: IpAddr = "203.0.113.3".parse().unwrap();
        assert!((0..3).all(|_| l.allow(t0, a)));
        assert!(!l.allow(t0, a));
        assert!(l.allow(t0 + Duration::from_millis(100), a));
        assert!(l.allow(t0, b));
        assert!(!l.allow(t0, c), "table full: new sources fail closed");
        l.sweep(t0 + Duration::from_secs(1));
        assert!(l.allow(t0 + Duration::from_secs(1), c));
    }
}
