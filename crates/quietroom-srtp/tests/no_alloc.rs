//! The per-packet paths allocate nothing: once a stream exists, protect and unprotect of SRTP
//! and SRTCP run on the caller's buffer only. Counted with dhat's testing allocator.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use quietroom_srtp::{MasterKey, Profile, SrtpConfig, SrtpContext};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn steady_state_protect_and_unprotect_allocate_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut contexts: Vec<(SrtpContext, SrtpContext)> = Profile::ALL
        .into_iter()
        .map(|p| {
            let mk = MasterKey::new(p, &vec![3; p.key_len()], &vec![4; p.salt_len()]).unwrap();
            let config = SrtpConfig::default();
            (
                SrtpContext::new(&mk, &config).unwrap(),
                SrtpContext::new(&mk, &config).unwrap(),
            )
        })
        .collect();
    let mut buf = [0u8; 1300];
    let mut round = |contexts: &mut Vec<(SrtpContext, SrtpContext)>, seq: u16| {
        for (tx, rx) in contexts.iter_mut() {
            buf[..12].copy_from_slice(&[0x80, 96, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9]);
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            let n = tx.protect_rtp(&mut buf, 1200).unwrap();
            assert_eq!(rx.unprotect_rtp(&mut buf[..n]).unwrap(), 1200);
            buf[..8].copy_from_slice(&[0x80, 201, 0, 1, 0, 0, 0, 9]);
            let n = tx.protect_rtcp(&mut buf, 100).unwrap();
            assert_eq!(rx.unprotect_rtcp(&mut buf[..n]).unwrap(), 100);
        }
    };
    // The first packet of each stream creates its state (one allocation per stream).
    round(&mut contexts, 0);
    let before = dhat::HeapStats::get();
    for seq in 1..=2000u16 {
        round(&mut contexts, seq.wrapping_add(65_000));
    }
    let after = dhat::HeapStats::get();
    assert_eq!(
        after.total_blocks, before.total_blocks,
        "allocations on the per-packet path"
    );
}

/// Runs without libtest's harness (`harness = false` in Cargo.toml): its main thread can
/// allocate while a test runs, and dhat counts the allocations of every thread.
fn main() {
    steady_state_protect_and_unprotect_allocate_nothing();
}
