//! SFU fan-out: one publisher's 1200-byte video packets forwarded to 10, 50 and 200
//! subscribers (and to 1, which shows the fixed cost of an input packet), SRTP
//! AEAD_AES_128_GCM on ingress and egress, against the bare cost of one SRTP protect of the
//! same packet per subscriber (the limit), in the same run. Heap
//! allocations per forwarded packet are counted with dhat over a measured batch.
//!
//! `cargo bench --bench router`, then `python3 scripts/bench_ratios.py` (it prints the
//! `router_fanout_*` groups too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quietroom::router::codec::Codec;
use quietroom::router::{
    ExtensionIds, Kind, LayerConfig, ParticipantId, Router, RouterConfig, TrackConfig, TrackId,
};
use quietroom::srtp::{MediaCrypto, Profile, Role, SrtpConfig, SrtpSession};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const PAYLOAD: usize = 1200;
/// Input packets per timed batch: what a driver reading with `recvmmsg` hands the router at
/// once (32, as quinn's and str0m's UDP drivers read). Each batch is protected by the
/// publisher just before it is timed, so its packets are about as fresh in cache as datagrams
/// the kernel has just written (with 256, the first ones had left L1 and L2).
const BATCH: usize = 32;

fn session(n: u64, role: Role) -> SrtpSession {
    let material: Vec<u8> = (0..56).map(|i| (i as u64 * 13 + n) as u8).collect();
    SrtpSession::from_keying_material(
        Profile::AeadAes128Gcm,
        &material,
        role,
        SrtpConfig::default(),
    )
    .unwrap()
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&0x100u32.to_be_bytes());
    // VP8, with the payload descriptor libwebrtc sends (X; I with a 15-bit picture ID; L with
    // TL0PICIDX; T), which the router rewrites per subscriber; a keyframe on the first packet
    // so subscribers start receiving.
    let picture_id = 0x8000 | (seq & 0x7FFF);
    p.extend_from_slice(&[0x90, 0xE0]);
    p.extend_from_slice(&picture_id.to_be_bytes());
    p.extend_from_slice(&[seq as u8, 0x20, if seq == 0 { 0x00 } else { 0x01 }]);
    p.resize(12 + PAYLOAD, 0x5A);
    p
}

struct Room {
    router: Router<SrtpSession>,
    publisher: SrtpSession,
    seq: u16,
    now: Instant,
}

/// One VP8 layer with a signaled SSRC.
fn video_track() -> TrackConfig {
    TrackConfig {
        kind: Kind::Video,
        codec: Codec::Vp8,
        clock_rate: 90_000,
        layers: vec![LayerConfig {
            ssrc: Some(0x100),
            rid: None,
            spatial: 0,
            bitrate_bps: 1_000_000,
            rtx_ssrc: None,
        }],
        extensions: ExtensionIds::default(),
        rtx_payload_type: None,
        mid: None,
    }
}

fn room(subscribers: u64) -> Room {
    let mut router = Router::new(RouterConfig::default());
    router
        .add_participant(ParticipantId(0), session(0, Role::Server))
        .unwrap();
    router
        .publish(ParticipantId(0), TrackId(1), video_track())
        .unwrap();
    let now = Instant::now();
    for s in 1..=subscribers {
        router
            .add_participant(ParticipantId(s), session(s, Role::Server))
            .unwrap();
        router
            .subscribe(now, ParticipantId(s), TrackId(1), 0x1000 + s as u32)
            .unwrap();
    }
    let mut room = Room {
        router,
        publisher: session(0, Role::Client),
        seq: 0,
        now,
    };
    // Warm up: the first keyframe starts every subscription and fills the buffer pool.
    for _ in 0..2 {
        let mut batch = room.batch();
        room.forward(&mut batch);
    }
    room
}

impl Room {
    /// `BATCH` packets protected by the publisher (untimed).
    fn batch(&mut self) -> Vec<Vec<u8>> {
        (0..BATCH)
            .map(|_| {
                let mut p = rtp(self.seq);
                self.seq = self.seq.wrapping_add(1);
                let len = p.len();
                p.resize(len + 16, 0);
                let n = self.publisher.protect_rtp(&mut p, len).unwrap();
                p.truncate(n);
                p
            })
            .collect()
    }

    /// Forwards a batch, as a driver would: each transmit is taken, "sent" and recycled.
    fn forward(&mut self, batch: &mut [Vec<u8>]) {
        for packet in batch.iter_mut() {
            self.now += Duration::from_micros(100);
            self.router
                .handle_rtp(self.now, ParticipantId(0), packet)
                .unwrap();
            while let Some(t) = self.router.poll_transmit() {
                black_box(&t.data);
                self.router.recycle(t.data);
            }
        }
    }
}

/// The limit: per input packet, one copy and one SRTP protect per subscriber, each into its
/// own buffer (as a router handing N packets to a transport must produce), or all into one
/// buffer that never leaves L1.
struct Limit {
    contexts: Vec<SrtpSession>,
    bufs: Vec<Vec<u8>>,
    plain: Vec<u8>,
    seq: u16,
}

impl Limit {
    fn new(n: u64) -> Self {
        let plain = rtp(1);
        Limit {
            contexts: (1..=n).map(|s| session(s, Role::Server)).collect(),
            bufs: (0..n).map(|_| vec![0u8; plain.len() + 16]).collect(),
            plain,
            seq: 0,
        }
    }

    /// One input packet's worth, into N distinct buffers.
    fn distinct_buffers(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        let len = self.plain.len();
        for (ctx, buf) in self.contexts.iter_mut().zip(self.bufs.iter_mut()) {
            buf[..len].copy_from_slice(&self.plain);
            buf[2..4].copy_from_slice(&self.seq.to_be_bytes());
            black_box(ctx.protect_rtp(buf, len).unwrap());
        }
    }

    /// One input packet's worth, all into the first buffer.
    fn one_buffer(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        let len = self.plain.len();
        let buf = &mut self.bufs[0];
        for ctx in self.contexts.iter_mut() {
            buf[..len].copy_from_slice(&self.plain);
            buf[2..4].copy_from_slice(&self.seq.to_be_bytes());
            black_box(ctx.protect_rtp(buf, len).unwrap());
        }
    }
}

/// Router and limit timed in alternation, in turns of about a millisecond of work each, so
/// that a slow spell of a noisy machine weighs on both alike (a turn much shorter than that
/// would time each side with its state evicted by the other): returns router time / limit
/// time over `turns` turns.
fn paired_ratio(r: &mut Room, limit: &mut Limit, n: u64, turns: usize) -> f64 {
    let batches = (1_024 / (n as usize * BATCH)).max(1) * 4;
    let (mut router, mut bare) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..turns {
        for _ in 0..batches {
            let mut batch = r.batch();
            let start = Instant::now();
            r.forward(&mut batch);
            router += start.elapsed();
        }
        let start = Instant::now();
        for _ in 0..batches * BATCH {
            limit.distinct_buffers();
        }
        bare += start.elapsed();
    }
    router.as_secs_f64() / bare.as_secs_f64()
}

/// The benchmark filter given on the command line (`cargo bench --bench router -- FILTER`).
fn filter() -> Option<String> {
    std::env::args().skip(1).find(|a| !a.starts_with('-'))
}

fn fan_out(c: &mut Criterion) {
    for n in [1u64, 10, 50, 200] {
        let mut g = c.benchmark_group(format!("router_fanout_{n}"));
        g.throughput(Throughput::Elements(n));
        let mut r = room(n);

        // Allocations per forwarded packet, counted over one batch. The profiler runs for
        // this batch only, so the untimed preparation of the timed batches does not record a
        // backtrace per allocation.
        let mut batch = r.batch();
        let allocations = {
            let _profiler = dhat::Profiler::builder().testing().build();
            let before = dhat::HeapStats::get().total_blocks;
            r.forward(&mut batch);
            dhat::HeapStats::get().total_blocks - before
        };
        println!(
            "router_fanout_{n}: {allocations} heap allocations for {} forwarded packets",
            BATCH as u64 * n
        );

        g.bench_function("router", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    let mut batch = r.batch();
                    let take = (iters - done).min(BATCH as u64) as usize;
                    let start = Instant::now();
                    r.forward(&mut batch[..take]);
                    total += start.elapsed();
                    done += take as u64;
                }
                total
            })
        });
        let mut limit = Limit::new(n);
        g.bench_function("protect-limit", |b| b.iter(|| limit.one_buffer()));
        g.bench_function("protect-limit-distinct-buffers", |b| {
            b.iter(|| limit.distinct_buffers())
        });
        g.finish();

        // About 1.5 s of work per fan-out, in 300 turns; skipped when criterion's filter (a
        // plain name here) leaves this fan-out out.
        let name = format!("router_fanout_{n}/paired");
        if filter().is_none_or(|f| name.contains(&f)) {
            let ratio = paired_ratio(&mut r, &mut limit, n, 300);
            println!("{name}: router / limit (N buffers) = {ratio:.3}");
        }
    }
}

/// A crypto that does nothing, to time the routing alone: what the router does per input
/// packet and per copy beyond the SRTP work.
struct NoCrypto;

impl MediaCrypto for NoCrypto {
    fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, quietroom::srtp::Error> {
        black_box(&buf);
        Ok(len + 16)
    }
    fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, quietroom::srtp::Error> {
        Ok(buf.len() - 16)
    }
    fn protect_rtcp(&mut self, _: &mut [u8], len: usize) -> Result<usize, quietroom::srtp::Error> {
        Ok(len)
    }
    fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, quietroom::srtp::Error> {
        Ok(buf.len())
    }
    fn rtp_overhead(&self) -> usize {
        16
    }
    fn rtcp_overhead(&self) -> usize {
        0
    }
}

/// Writes the next input packet (RTP, and room for a tag) into `input`.
fn next_input(seq: &mut u16, input: &mut [u8]) {
    input[..12 + PAYLOAD].copy_from_slice(&rtp(*seq));
    *seq = seq.wrapping_add(1);
}

/// Routing alone (no crypto), against copying the packet N times: the difference is the
/// router's own work, per input packet (1 subscriber) and per copy (the slope to 50).
fn routing_only(c: &mut Criterion) {
    for n in [1u64, 50] {
        let mut g = c.benchmark_group(format!("routing_only_{n}"));
        let mut router = Router::new(RouterConfig::default());
        router.add_participant(ParticipantId(0), NoCrypto).unwrap();
        router
            .publish(ParticipantId(0), TrackId(1), video_track())
            .unwrap();
        let mut now = Instant::now();
        for s in 1..=n {
            router.add_participant(ParticipantId(s), NoCrypto).unwrap();
            router
                .subscribe(now, ParticipantId(s), TrackId(1), 0x1000 + s as u32)
                .unwrap();
        }
        let mut seq = 0u16;
        let mut input = vec![0u8; 12 + PAYLOAD + 16];
        g.bench_function("router", |b| {
            b.iter(|| {
                next_input(&mut seq, &mut input);
                now += Duration::from_micros(100);
                router
                    .handle_rtp(now, ParticipantId(0), &mut input)
                    .unwrap();
                while let Some(t) = router.poll_transmit() {
                    black_box(&t.data);
                    router.recycle(t.data);
                }
            })
        });
        let mut bufs: Vec<Vec<u8>> = (0..n).map(|_| vec![0u8; 12 + PAYLOAD + 16]).collect();
        g.bench_function("copies", |b| {
            b.iter(|| {
                next_input(&mut seq, &mut input);
                for buf in bufs.iter_mut() {
                    buf.copy_from_slice(&input);
                    black_box(&buf);
                }
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = fan_out, routing_only
}
criterion_main!(benches);
