//! SRTP unprotect on arbitrary bytes, for every profile.
//!
//! The first byte picks the profile. The rest is split into packets by one-byte length
//! prefixes and each one is (a) unprotected as received, which must fail cleanly, and (b) if
//! it parses as RTP, protected by a sender and unprotected again, which must give it back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quietroom_srtp::{MasterKey, Profile, SrtpConfig, SrtpContext};

fuzz_target!(|data: &[u8]| {
    let Some((&which, mut rest)) = data.split_first() else { return };
    let profile = Profile::ALL[usize::from(which) % Profile::ALL.len()];
    let key = vec![0x42; profile.key_len()];
    let salt = vec![0x17; profile.salt_len()];
    let Ok(master) = MasterKey::new(profile, &key, &salt) else { return };
    let config = SrtpConfig::default().with_max_streams(4);
    let (Ok(mut tx), Ok(mut rx)) = (SrtpContext::new(&master, &config), SrtpContext::new(&master, &config)) else {
        return;
    };
    let mut buf = [0u8; 300];
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (packet, tail) = tail.split_at(len);
        rest = tail;

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
