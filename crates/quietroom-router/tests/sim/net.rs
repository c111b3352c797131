//! Deterministic randomness and the impaired links.

use super::*;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness.

/// xorshift64* — tiny, seeded, good enough for impairments.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        // Never zero (xorshift's fixed point); spread small seeds.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Uniform in [lo, hi].
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Uniform in [0, max].
    pub(crate) fn up_to(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.range(0, nanos))
    }
}

// ---------------------------------------------------------------------------------------------
// The network.

/// Impairments of one direction of one participant's path to the router.
#[derive(Clone, Debug)]
pub(crate) struct LinkConfig {
    /// One-way propagation delay.
    pub(crate) latency: Duration,
    /// Extra delay, uniform in [0, jitter]; order is kept (a FIFO path).
    pub(crate) jitter: Duration,
    /// Probability that a packet is lost.
    pub(crate) loss: f64,
    /// Probability that a packet is held back by up to `reorder_delay` extra, overtaken by the
    /// ones behind it.
    pub(crate) reorder: f64,
    pub(crate) reorder_delay: Duration,
    /// Bottleneck rate in bits per second; `None` for unlimited.
    pub(crate) bandwidth_bps: Option<u64>,
    /// Bytes the bottleneck queue holds; a packet that does not fit is dropped (drop-tail).
    pub(crate) queue_bytes: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(20),
            jitter: Duration::ZERO,
            loss: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            bandwidth_bps: None,
            queue_bytes: 64 * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LinkStats {
    pub(crate) offered: u64,
    pub(crate) lost: u64,
    pub(crate) queue_dropped: u64,
    pub(crate) reordered: u64,
}

pub(crate) struct Link {
    pub(crate) config: LinkConfig,
    pub(crate) rng: Rng,
    /// When the bottleneck finishes sending what is queued.
    pub(crate) busy_until: Option<Instant>,
    /// The latest arrival of an in-order packet: later in-order packets arrive after it.
    pub(crate) last_arrival: Option<Instant>,
    pub(crate) stats: LinkStats,
}

impl Link {
    pub(crate) fn new(config: LinkConfig, seed: u64) -> Self {
        Link {
            config,
            rng: Rng::new(seed),
            busy_until: None,
            last_arrival: None,
            stats: LinkStats::default(),
        }
    }

    /// When a packet of `len` bytes sent at `now` arrives, or `None` if it is dropped.
    pub(crate) fn admit(&mut self, now: Instant, len: usize) -> Option<Instant> {
        self.stats.offered += 1;
        let mut departure = now;
        if let Some(bps) = self.config.bandwidth_bps {
            let busy = self.busy_until.filter(|b| *b > now).unwrap_or(now);
            let backlog = (busy - now).as_nanos() * u128::from(bps) / 8 / 1_000_000_000;
            if backlog as usize + len > self.config.queue_bytes {
                self.stats.queue_dropped += 1;
                return None;
            }
            let tx = Duration::from_nanos(len as u64 * 8 * 1_000_000_000 / bps);
            departure = busy + tx;
            self.busy_until = Some(departure);
        }
        if self.rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return None;
        }
        let mut arrival = departure + self.config.latency + self.rng.up_to(self.config.jitter);
        if self.rng.chance(self.config.reorder) {
            self.stats.reordered += 1;
            arrival += self.rng.up_to(self.config.reorder_delay);
        } else {
            if let Some(last) = self.last_arrival {
                arrival = arrival.max(last);
            }
            self.last_arrival = Some(arrival);
        }
        Some(arrival)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Dir {
    /// Participant → router.
    Up,
    /// Router → participant.
    Down,
}

pub(crate) struct Datagram {
    pub(crate) participant: ParticipantId,
    pub(crate) dir: Dir,
    pub(crate) rtcp: bool,
    pub(crate) data: Vec<u8>,
}

pub(crate) struct Network {
    pub(crate) seed: u64,
    pub(crate) links: HashMap<(ParticipantId, Dir), Link>,
    /// In flight, by (arrival, send order): ties keep the order they were sent in.
    pub(crate) in_flight: BTreeMap<(Instant, u64), Datagram>,
    pub(crate) next_order: u64,
}

impl Network {
    pub(crate) fn new(seed: u64) -> Self {
        Network {
            seed,
            links: HashMap::new(),
            in_flight: BTreeMap::new(),
            next_order: 0,
        }
    }

    pub(crate) fn link(&mut self, participant: ParticipantId, dir: Dir) -> &mut Link {
        let seed = self.seed
            ^ (participant.0 << 1 | u64::from(dir == Dir::Down)).wrapping_mul(0x1000_0001);
        self.links
            .entry((participant, dir))
            .or_insert_with(|| Link::new(LinkConfig::default(), seed))
    }

    pub(crate) fn configure(&mut self, participant: ParticipantId, dir: Dir, config: LinkConfig) {
        self.link(participant, dir).config = config;
    }

    /// Sends `data`; gives it back if the link drops it.
    pub(crate) fn send(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        dir: Dir,
        rtcp: bool,
        data: Vec<u8>,
    ) -> Option<Vec<u8>> {
        let Some(at) = self.link(participant, dir).admit(now, data.len()) else {
            return Some(data);
        };
        self.next_order += 1;
        self.in_flight.insert(
            (at, self.next_order),
            Datagram {
                participant,
                dir,
                rtcp,
                data,
            },
        );
        None
    }

    pub(crate) fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(at, _)| *at)
    }

    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Datagram> {
        let (at, _) = *self.in_flight.keys().next()?;
        if at > now {
            return None;
        }
        self.in_flight.pop_first().map(|(_, d)| d)
    }

    pub(crate) fn stats(&self, participant: ParticipantId, dir: Dir) -> LinkStats {
        self.links
            .get(&(participant, dir))
            .map(|l| l.stats)
            .unwrap_or_default()
    }
}
