//! SRTP unprotect on arbitrary bytes, for every profile.
//!
//! The first byte picks the profile. The rest is split into packets by one-byte length
//! prefixes and each one is (a) unprotected as received, which must fail cleanly, and (b) if
//! it parses as RTP, protected by a sender and unprotected again, which must give it back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quietroom_fuzz::{contexts, packets};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Some((profile, mut tx, mut rx)) = contexts(which) else { return };
    let mut buf = [0u8; 300];
    for packet in packets(rest) {
        let len = packet.len();
        buf[..len].copy_from_slice(packet);
        if let Ok(n) = rx.unprotect_rtp(&mut buf[..len]) {
            assert!(n <= len);
        }
        buf[..len].copy_from_slice(packet);
        if let Ok(n) = tx.protect_rtp(&mut buf, len) {
            assert_eq!(n, len + profile.rtp_overhead());
            let m = rx.unprotect_rtp(&mut buf[..n]).expect("our own packet unprotects");
            assert_eq!(&buf[..m], packet);
        }
    }
});
