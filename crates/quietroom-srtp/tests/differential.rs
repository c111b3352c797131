//! Differential tests against the reference implementations, webrtc-rs's `webrtc-srtp` 0.17
//! (async line) and `rtc-srtp` 0.21 (sans-IO line): every profile, random keys, payloads,
//! CSRCs, header extensions, padding and sequence wraps, in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use proptest::prelude::*;
use quietroom_srtp::{MasterKey, Profile, SrtpConfig, SrtpContext};

type WebrtcCtx = webrtc_srtp::context::Context;
type RtcCtx = rtc_srtp::context::Context;

fn webrtc_profile(p: Profile) -> webrtc_srtp::protection_profile::ProtectionProfile {
    use webrtc_srtp::protection_profile::ProtectionProfile as W;
    match p {
        Profile::Aes128CmHmacSha1_80 => W::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32 => W::Aes128CmHmacSha1_32,
        Profile::AeadAes128Gcm => W::AeadAes128Gcm,
        Profile::AeadAes256Gcm => W::AeadAes256Gcm,
        _ => unreachable!("new profile without a reference mapping"),
    }
}

fn rtc_profile(p: Profile) -> rtc_srtp::protection_profile::ProtectionProfile {
    use rtc_srtp::protection_profile::ProtectionProfile as R;
    match p {
        Profile::Aes128CmHmacSha1_80 => R::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32 => R::Aes128CmHmacSha1_32,
        Profile::AeadAes128Gcm => R::AeadAes128Gcm,
        Profile::AeadAes256Gcm => R::AeadAes256Gcm,
        _ => unreachable!("new profile without a reference mapping"),
    }
}

struct Refs {
    webrtc: WebrtcCtx,
    rtc: RtcCtx,
}

fn refs(p: Profile, key: &[u8], salt: &[u8]) -> Refs {
    let provider = rtc_crypto::default_provider().unwrap();
    Refs {
        webrtc: WebrtcCtx::new(key, salt, webrtc_profile(p), None, None).unwrap(),
        rtc: RtcCtx::new(key, salt, rtc_profile(p), None, None, provider.crypto()).unwrap(),
    }
}

fn ours(p: Profile, key: &[u8], salt: &[u8]) -> SrtpContext {
    let mk = MasterKey::new(p, key, salt).unwrap();
    SrtpContext::new(&mk, &SrtpConfig::default()).unwrap()
}

#[derive(Debug, Clone)]
struct Rtp {
    csrcs: u8,
    ext_words: u8,
    padding: u8,
    payload: Vec<u8>,
    seq_step: u16,
}

fn rtp_strategy() -> impl Strategy<Value = Rtp> {
    (
        0u8..4,
        0u8..3,
        0u8..4,
        proptest::collection::vec(any::<u8>(), 1..300),
        prop_oneof![8 => Just(1u16), 1 => 2u16..40],
    )
        .prop_map(|(csrcs, ext_words, padding, payload, seq_step)| Rtp {
            csrcs,
            ext_words,
            padding,
            payload,
            seq_step,
        })
}

fn build_rtp(r: &Rtp, seq: u16, ssrc: u32) -> Vec<u8> {
    let mut b0 = 0x80 | r.csrcs;
    if r.ext_words > 0 {
        b0 |= 0x10;
    }
    if r.padding > 0 {
        b0 |= 0x20;
    }
    let mut p = vec![b0, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for i in 0..r.csrcs {
        p.extend_from_slice(&(0x1000 + u32::from(i)).to_be_bytes());
    }
    if r.ext_words > 0 {
        p.extend_from_slice(&[0xBE, 0xDE, 0, r.ext_words]);
        for w in 0..r.ext_words {
            p.extend_from_slice(&[0x10, w, 0, 0]);
        }
    }
    p.extend_from_slice(&r.payload);
    if r.padding > 0 {
        p.extend(std::iter::repeat_n(0, usize::from(r.padding) - 1));
        p.push(r.padding);
    }
    p
}

fn profile_strategy() -> impl Strategy<Value = Profile> {
    prop_oneof![
        Just(Profile::Aes128CmHmacSha1_80),
        Just(Profile::Aes128CmHmacSha1_32),
        Just(Profile::AeadAes128Gcm),
        Just(Profile::AeadAes256Gcm),
    ]
}

fn keys(p: Profile, seed: &[u8; 32]) -> (Vec<u8>, Vec<u8>) {
    let key = seed[..p.key_len()].to_vec();
    let salt: Vec<u8> = seed.iter().rev().take(p.salt_len()).copied().collect();
    (key, salt)
}

fn protect(ctx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + ctx.profile().rtp_overhead(), 0);
    let n = ctx.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// What we protect is byte-identical to what both references protect, and both references
    /// unprotect it; across sequence wraps (start near 65535), CSRCs, extensions and padding.
    #[test]
    fn rtp_protect_matches_references(
        profile in profile_strategy(),
        seed in any::<[u8; 32]>(),
        ssrc in any::<u32>(),
        start in prop_oneof![Just(65_500u16), any::<u16>()],
        packets in proptest::collection::vec(rtp_strategy(), 1..60),
    ) {
        let (key, salt) = keys(profile, &seed);
        let mut us = ours(profile, &key, &salt);
        let mut tx = refs(profile, &key, &salt);
        let mut rx = refs(profile, &key, &salt);
        let mut seq = start;
        for r in &packets {
            seq = seq.wrapping_add(r.seq_step);
            let plain = build_rtp(r, seq, ssrc);
            let mine = protect(&mut us, &plain);
            let webrtc = tx.webrtc.encrypt_rtp(&plain).unwrap();
            let rtc = tx.rtc.encrypt_rtp(&plain).unwrap();
            prop_assert_eq!(&mine[..], &webrtc[..], "webrtc-srtp differs");
            prop_assert_eq!(&mine[..], &rtc[..], "rtc-srtp differs");
            prop_assert_eq!(&rx.webrtc.decrypt_rtp(&mine).unwrap()[..], &plain[..]);
            prop_assert_eq!(&rx.rtc.decrypt_rtp(&mine).unwrap()[..], &plain[..]);
        }
    }

    /// What the references protect, we unprotect, including with neighbouring packets swapped
    /// in transit.
    #[test]
    fn rtp_unprotect_accepts_references(
        profile in profile_strategy(),
        seed in any::<[u8; 32]>(),
        ssrc in any::<u32>(),
        start in prop_oneof![Just(65_530u16), any::<u16>()],
        packets in proptest::collection::vec(rtp_strategy(), 1..60),
        swaps in proptest::collection::vec(any::<bool>(), 60),
        use_rtc in any::<bool>(),
    ) {
        let (key, salt) = keys(profile, &seed);
        let mut tx = refs(profile, &key, &salt);
        let mut seq = start;
        let mut wire = Vec::new();
        for r in &packets {
            seq = seq.wrapping_add(r.seq_step);
            let plain = build_rtp(r, seq, ssrc);
            let protected = if use_rtc {
                tx.rtc.encrypt_rtp(&plain).unwrap().to_vec()
            } else {
                tx.webrtc.encrypt_rtp(&plain).unwrap().to_vec()
            };
            wire.push((plain, protected));
        }
        // Neighbours swap in transit, but the stream's first packet arrives first: it is what
        // sets the receiver's rollover counter (RFC 3711 §3.3.1).
        for i in 2..wire.len() {
            if swaps[i] && !swaps[i - 1] {
                wire.swap(i - 1, i);
            }
        }
        let mut us = ours(profile, &key, &salt);
        for (plain, protected) in &wire {
            let mut buf = protected.clone();
            let n = us.unprotect_rtp(&mut buf).unwrap();
            prop_assert_eq!(&buf[..n], &plain[..]);
        }
    }

    /// SRTCP both ways: ours into both references, and both references into ours.
    #[test]
    fn rtcp_round_trips_with_references(
        profile in profile_strategy(),
        seed in any::<[u8; 32]>(),
        ssrc in any::<u32>(),
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..20),
    ) {
        let (key, salt) = keys(profile, &seed);
        let mut us_tx = ours(profile, &key, &salt);
        // One receiving context per reference: both send the same SRTCP indices.
        let mut us_rx = [ours(profile, &key, &salt), ours(profile, &key, &salt)];
        let mut tx = refs(profile, &key, &salt);
        let mut rx = refs(profile, &key, &salt);
        for body in &bodies {
            // A receiver report with `words` report-block-sized words of payload.
            let mut plain = vec![0x80, 201, 0, 1];
            plain.extend_from_slice(&ssrc.to_be_bytes());
            for w in body {
                plain.extend_from_slice(&[*w; 4]);
            }
            let words = (plain.len() / 4 - 1) as u16;
            plain[2..4].copy_from_slice(&words.to_be_bytes());

            let mut buf = plain.clone();
            buf.resize(plain.len() + profile.rtcp_overhead(), 0);
            let n = us_tx.protect_rtcp(&mut buf, plain.len()).unwrap();
            prop_assert_eq!(&rx.webrtc.decrypt_rtcp(&buf[..n]).unwrap()[..], &plain[..]);
            prop_assert_eq!(&rx.rtc.decrypt_rtcp(&buf[..n]).unwrap()[..], &plain[..]);

            for (rx, protected) in us_rx.iter_mut().zip([
                tx.webrtc.encrypt_rtcp(&plain).unwrap().to_vec(),
                tx.rtc.encrypt_rtcp(&plain).unwrap().to_vec(),
            ]) {
                let mut buf = protected.clone();
                let n = rx.unprotect_rtcp(&mut buf).unwrap();
                prop_assert_eq!(&buf[..n], &plain[..]);
            }
        }
    }
}
