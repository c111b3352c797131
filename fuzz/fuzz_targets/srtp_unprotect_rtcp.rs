//! SRTCP unprotect on arbitrary bytes, for every profile; as `srtp_unprotect_rtp`, for RTCP.
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
        if let Ok(n) = rx.unprotect_rtcp(&mut buf[..len]) {
            assert!(n <= len);
        }
        buf[..len].copy_from_slice(packet);
        if let Ok(n) = tx.protect_rtcp(&mut buf, len) {
            assert_eq!(n, len + profile.rtcp_overhead());
            let m = rx.unprotect_rtcp(&mut buf[..n]).expect("our own packet unprotects");
            assert_eq!(&buf[..m], packet);
        }
    }
});
