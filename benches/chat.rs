//! Chat fan-out and backlog replay.
//!
//! `cargo bench --bench chat`. Fan-out: one message accepted and queued for every
//! participant of a room of 10, 100 or 1000, then every delivery taken. Backlog: a late joiner
//! receives a 1000-message backlog. Memory per stored message is measured (not timed) by
//! `crates/quietroom-chat/tests/memory.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quietroom::chat::{Chat, ChatLimits, ParticipantId, RoomId};

fn limits() -> ChatLimits {
    let mut limits = ChatLimits::default();
    limits.rate_burst = u32::MAX;
    limits.rate_interval = Duration::from_nanos(1);
    limits.max_participants = 10_000;
    limits
}

const BODY: &[u8] = b"A typical chat line of about sixty bytes, sent to the room.";

fn fan_out(c: &mut Criterion) {
    let mut g = c.benchmark_group("chat_fanout");
    for n in [10u64, 100, 1000] {
        let mut chat = Chat::new(limits());
        let (room, t0) = (RoomId(1), Instant::now());
        chat.open_room(t0, room, None).unwrap();
        for p in 0..n {
            chat.handle_join(t0, room, ParticipantId(p)).unwrap();
        }
        g.throughput(Throughput::Elements(n));
        let mut now = t0;
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                now += Duration::from_micros(1);
                chat.handle_message(now, room, ParticipantId(0), None, BODY, None)
                    .unwrap();
                while let Some(d) = chat.poll_delivery() {
                    black_box(d);
                }
            })
        });
    }
    g.finish();
}

fn backlog(c: &mut Criterion) {
    let mut g = c.benchmark_group("chat_backlog_replay");
    let mut chat = Chat::new(limits());
    let (room, t0) = (RoomId(1), Instant::now());
    chat.open_room(t0, room, None).unwrap();
    chat.handle_join(t0, room, ParticipantId(0)).unwrap();
    for i in 0..1000u64 {
        let now = t0 + Duration::from_micros(i);
        chat.handle_message(now, room, ParticipantId(0), None, BODY, None)
            .unwrap();
    }
    while chat.poll_delivery().is_some() {}
    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000", |b| {
        b.iter(|| {
            let n = chat.handle_join(t0, room, ParticipantId(1)).unwrap();
            assert_eq!(n, 1000);
            while let Some(d) = chat.poll_delivery() {
                black_box(d);
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = fan_out, backlog
}
criterion_main!(benches);
