//! The per-packet paths of the packet cache, the munger and the picture-ID munger allocate
//! nothing: every buffer is allocated by `PacketCache::new` and `Munger::new`. Counted with dhat's testing allocator.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use quietroom_router::cache::PacketCache;
use quietroom_router::codec::{Codec, picture_fields};
use quietroom_router::munger::{Munger, PictureMunger};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn cache_and_munger_allocate_nothing_after_construction() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let t0 = Instant::now();
    let mut cache = PacketCache::new(512, 1500, Duration::from_secs(2));
    let mut mungers: Vec<Munger> = (0..3).map(|i| Munger::new(100 + i)).collect();
    let mut pictures: Vec<PictureMunger> = (0..3).map(|_| PictureMunger::new()).collect();
    let packet = [0xABu8; 1200];
    let too_long = [0u8; 1600];
    let rtt = Duration::from_millis(30);

    let before = dhat::HeapStats::get();
    let mut forwarded = 0usize;
    for i in 0..20_000u32 {
        let now = t0 + Duration::from_millis(u64::from(i));
        let seq = (i as u16).wrapping_add(60_000);
        // Three simulcast layers, the middle one reordered by a few places now and then.
        cache.insert(seq, &packet, now);
        cache.insert(seq, &too_long, now);
        assert!(cache.get(seq, now).is_some());
        let _ = cache.get(seq.wrapping_sub(700), now);
        let _ = cache.allow_resend(seq.wrapping_sub(3), now, rtt, 3);
        let _ = cache.len();
        for (k, m) in mungers.iter_mut().enumerate() {
            let layer = 1 + (i as usize + k) % 3;
            if i % 500 == k as u32 {
                m.switch_to(layer as u32, now);
            }
            for ssrc in 1..=3u32 {
                let s = if ssrc == 2 && i % 7 == 0 {
                    seq.wrapping_sub(2)
                } else {
                    seq
                };
                let layer_seq = s.wrapping_add(ssrc as u16 * 1000);
                let ts = i / 3 * 3000 + ssrc;
                let [hi, lo] = (0x8000 | (i as u16 / 3)).to_be_bytes();
                let descriptor = [0x90, 0xE0, hi, lo, i as u8, 0x20, 0x50];
                let fields = picture_fields(Codec::Vp8, &descriptor).unwrap();
                if i % 17 == 0 {
                    pictures[k].skip(ssrc, &fields);
                }
                if m.map(ssrc, layer_seq, ts, now, 90_000).is_ok() {
                    forwarded += 1;
                    let out = pictures[k].map(ssrc, &fields);
                    let _ = pictures[k].for_resend(ssrc, &fields);
                    let mut copy = descriptor;
                    fields.write(&mut copy, out.picture_id, out.tl0_pic_idx);
                    if i % 11 == 0 {
                        let _ = m.skip(ssrc, layer_seq);
                    }
                }
                if i % 13 == 0 {
                    let _ = m.skip(ssrc, layer_seq.wrapping_add(1));
                }
            }
            let _ = m.input_for(seq);
        }
    }
    let after = dhat::HeapStats::get();
    assert!(
        forwarded > 10_000,
        "the test forwarded only {forwarded} packets"
    );
    assert_eq!(
        after.total_blocks, before.total_blocks,
        "allocations on the per-packet path"
    );
}

/// Runs without libtest's harness (`harness = false` in Cargo.toml): its main thread can
/// allocate while a test runs, and dhat counts the allocations of every thread.
fn main() {
    cache_and_munger_allocate_nothing_after_construction();
}
