//! Memory overhead per stored message, measured with dhat's allocation counters (not a timing
//! test): everything the store and the message keep beyond the body's own bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::time::{Duration, Instant};

use quietroom_chat::{Chat, ChatLimits, ParticipantId, RoomId};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn overhead_per_stored_message() {
    let _profiler = dhat::Profiler::builder().testing().build();
    const N: usize = 10_000;
    const BODY: usize = 64;
    let mut limits = ChatLimits::default();
    limits.room_max_messages = N;
    limits.rate_burst = u32::MAX;
    let mut chat = Chat::new(limits);
    let (room, t0) = (RoomId(1), Instant::now());
    chat.open_room(t0, room, None).unwrap();
    chat.handle_join(t0, room, ParticipantId(1)).unwrap();
    // Warm up so the room's tables exist before measuring.
    chat.handle_message(t0, room, ParticipantId(1), None, &[b'w'; BODY], None)
        .unwrap();
    while chat.poll_delivery().is_some() {}

    let before = dhat::HeapStats::get().curr_bytes;
    for i in 1..N {
        let now = t0 + Duration::from_micros(i as u64);
        chat.handle_message(now, room, ParticipantId(1), None, &[b'x'; BODY], None)
            .unwrap();
        while chat.poll_delivery().is_some() {}
    }
    let after = dhat::HeapStats::get().curr_bytes;
    let per_message = (after - before) as f64 / (N - 1) as f64;
    let overhead = per_message - BODY as f64;
    println!(
        "stored {} messages of {BODY} bytes: {per_message:.1} bytes each, {overhead:.1} bytes overhead",
        N - 1
    );
    // ChatMessage in its Arc (ids, times, body pointer) plus the ring-buffer slot; the deque
    // grows by doubling, so a little spare capacity is counted too.
    assert!(
        overhead < 160.0,
        "overhead per message grew to {overhead:.1} bytes"
    );
}

/// Runs without libtest's harness (`harness = false` in Cargo.toml): its main thread can
/// allocate while a test runs, and dhat counts the allocations of every thread.
fn main() {
    overhead_per_stored_message();
}
