//! Behaviour of the SRTP context: replay protection, rollover, typed errors, bounds, and a
//! malformed-packet injection test (garbage never panics and never disturbs good traffic).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use proptest::prelude::*;
use quietroom_srtp::{
    Error, MasterKey, MediaCrypto, Profile, Role, SrtpConfig, SrtpContext, SrtpSession,
};

fn pair(p: Profile, config: SrtpConfig) -> (SrtpContext, SrtpContext) {
    let key = vec![0x11; p.key_len()];
    let salt = vec![0x22; p.salt_len()];
    let mk = MasterKey::new(p, &key, &salt).unwrap();
    (
        SrtpContext::new(&mk, &config).unwrap(),
        SrtpContext::new(&mk, &config).unwrap(),
    )
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn protect(tx: &mut SrtpContext, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + tx.profile().rtp_overhead(), 0);
    let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(rx: &mut SrtpContext, wire: &[u8]) -> Result<Vec<u8>, Error> {
    let mut buf = wire.to_vec();
    let n = rx.unprotect_rtp(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn replay_and_too_old_are_refused() {
    for p in Profile::ALL {
        let (mut tx, mut rx) = pair(p, SrtpConfig::default());
        let wires: Vec<_> = (0..200u16)
            .map(|s| protect(&mut tx, &rtp(s, 7, b"x")))
            .collect();
        assert!(unprotect(&mut rx, &wires[199]).is_ok());
        assert_eq!(
            unprotect(&mut rx, &wires[199]),
            Err(Error::Replayed {
                ssrc: 7,
                index: 199
            })
        );
        // 128-packet default window: 72 is the oldest still accepted, 71 is too old.
        assert!(unprotect(&mut rx, &wires[72]).is_ok());
        assert_eq!(
            unprotect(&mut rx, &wires[71]),
            Err(Error::TooOld { ssrc: 7, index: 71 })
        );
    }
}

#[test]
fn sender_refuses_to_reuse_an_index_unless_allowed() {
    let (mut tx, _) = pair(Profile::AeadAes128Gcm, SrtpConfig::default());
    let plain = rtp(5, 1, b"hello");
    protect(&mut tx, &plain);
    let mut buf = plain.clone();
    buf.resize(plain.len() + 16, 0);
    assert_eq!(
        tx.protect_rtp(&mut buf, plain.len()),
        Err(Error::Replayed { ssrc: 1, index: 5 })
    );

    let (mut tx, mut rx) = pair(
        Profile::AeadAes128Gcm,
        SrtpConfig::default().with_allow_repeat_tx(true),
    );
    let first = protect(&mut tx, &plain);
    let again = protect(&mut tx, &plain);
    assert_eq!(first, again, "retransmission of the identical packet");
    assert!(unprotect(&mut rx, &first).is_ok());
}

#[test]
fn rollover_counter_follows_wraps_both_ways() {
    let (mut tx, mut rx) = pair(Profile::Aes128CmHmacSha1_80, SrtpConfig::default());
    let mut wires = Vec::new();
    for i in 0..300u32 {
        let seq = (65_400 + i) as u16;
        wires.push(protect(&mut tx, &rtp(seq, 9, &i.to_be_bytes())));
    }
    assert_eq!(tx.rollover_counter(9, true), Some(1));
    // Deliver with the wrap point reordered.
    wires.swap(135, 136);
    wires.swap(134, 137);
    for (i, w) in wires.iter().enumerate() {
        let plain = unprotect(&mut rx, w).unwrap();
        assert_eq!(plain.len(), 16, "packet {i}");
    }
    assert_eq!(rx.rollover_counter(9, false), Some(1));
}

#[test]
fn errors_are_typed_and_leave_state_untouched() {
    let (mut tx, mut rx) = pair(Profile::AeadAes128Gcm, SrtpConfig::default());
    let good = protect(&mut tx, &rtp(1, 3, b"payload"));

    let mut tampered = good.clone();
    tampered[14] ^= 0x80;
    assert_eq!(
        unprotect(&mut rx, &tampered),
        Err(Error::AuthenticationFailed)
    );
    assert!(matches!(
        unprotect(&mut rx, &good[..20]),
        Err(Error::Truncated {
            what: "SRTP packet",
            ..
        })
    ));
    assert!(matches!(
        unprotect(&mut rx, &good[..5]),
        Err(Error::Truncated { .. })
    ));
    let mut v1 = good.clone();
    v1[0] = 0x40;
    assert!(matches!(
        unprotect(&mut rx, &v1),
        Err(Error::Malformed { .. })
    ));
    // None of that changed anything: the genuine packet is still accepted, once.
    assert_eq!(unprotect(&mut rx, &good).unwrap(), rtp(1, 3, b"payload"));
    assert_eq!(rx.stream_count(), 1);

    let plain = rtp(2, 3, b"p");
    let mut small = plain.clone();
    assert_eq!(
        tx.protect_rtp(&mut small, plain.len()),
        Err(Error::BufferTooSmall {
            need: plain.len() + 16,
            have: plain.len()
        })
    );
    assert!(matches!(
        tx.protect_rtp(&mut small, 1000),
        Err(Error::BufferTooSmall { .. })
    ));
    let msg = Error::BufferTooSmall { need: 1, have: 0 }.to_string();
    assert!(msg.contains("rtp_overhead"), "actionable: {msg}");
}

#[test]
fn stream_table_is_bounded_and_releasable() {
    let config = SrtpConfig::default().with_max_streams(2);
    let (mut tx, mut rx) = pair(Profile::AeadAes256Gcm, config);
    for ssrc in 1..=2 {
        let w = protect(&mut tx, &rtp(1, ssrc, b"a"));
        unprotect(&mut rx, &w).unwrap();
    }
    let mut buf = rtp(1, 3, b"a");
    buf.resize(buf.len() + 16, 0);
    assert_eq!(
        tx.protect_rtp(&mut buf, 13),
        Err(Error::TooManyStreams { max: 2 })
    );
    tx.remove_ssrc(1);
    let w = protect(&mut tx, &rtp(1, 3, b"a"));
    assert_eq!(
        unprotect(&mut rx, &w),
        Err(Error::TooManyStreams { max: 2 })
    );
    rx.remove_ssrc(2);
    assert!(unprotect(&mut rx, &w).is_ok());
}

#[test]
fn srtcp_replay_and_tamper() {
    for p in Profile::ALL {
        let (mut tx, mut rx) = pair(p, SrtpConfig::default());
        let plain = [0x80, 201, 0, 1, 0, 0, 0, 42];
        let mut buf = [0u8; 64];
        buf[..8].copy_from_slice(&plain);
        let n = tx.protect_rtcp(&mut buf, 8).unwrap();
        assert_eq!(n, 8 + p.rtcp_overhead());
        let wire = buf[..n].to_vec();
        let mut bad = wire.clone();
        bad[9] ^= 1;
        assert_eq!(
            rx.unprotect_rtcp(&mut bad),
            Err(Error::AuthenticationFailed)
        );
        let mut ok = wire.clone();
        assert_eq!(rx.unprotect_rtcp(&mut ok), Ok(8));
        assert_eq!(&ok[..8], &plain);
        let mut again = wire.clone();
        assert_eq!(
            rx.unprotect_rtcp(&mut again),
            Err(Error::Replayed { ssrc: 42, index: 0 })
        );
        assert!(matches!(
            rx.unprotect_rtcp(&mut [0u8; 10]),
            Err(Error::Truncated { .. })
        ));
    }
}

#[test]
fn session_trait_object_round_trip() {
    let material: Vec<u8> = (0..88).collect();
    let p = Profile::AeadAes256Gcm;
    let mut a: Box<dyn MediaCrypto> = Box::new(
        SrtpSession::from_keying_material(p, &material, Role::Client, SrtpConfig::default())
            .unwrap(),
    );
    let mut b =
        SrtpSession::from_keying_material(p, &material, Role::Server, SrtpConfig::default())
            .unwrap();
    let plain = rtp(10, 77, b"end to end");
    let mut buf = plain.clone();
    buf.resize(plain.len() + a.rtp_overhead(), 0);
    let n = a.protect_rtp(&mut buf, plain.len()).unwrap();
    let m = b.unprotect_rtp(&mut buf[..n]).unwrap();
    assert_eq!(&buf[..m], &plain[..]);
    // The same direction's key does not open it: a's outbound key is b's inbound only.
    let plain = rtp(11, 77, b"end to end");
    let mut buf2 = plain.clone();
    buf2.resize(plain.len() + 16, 0);
    let n = b.protect_rtp(&mut buf2, plain.len()).unwrap();
    assert_eq!(
        b.unprotect_rtp(&mut buf2[..n]),
        Err(Error::AuthenticationFailed)
    );
    assert!(!format!("{b:?}").contains("key:"));
}

proptest! {
    /// Malformed-packet injection: arbitrary bytes, and genuine packets with arbitrary bytes
    /// overwritten, never panic, never authenticate, and never stop the genuine stream.
    #[test]
    fn garbage_never_panics_or_disturbs(
        profile in prop_oneof![
            Just(Profile::Aes128CmHmacSha1_80), Just(Profile::Aes128CmHmacSha1_32),
            Just(Profile::AeadAes128Gcm), Just(Profile::AeadAes256Gcm)],
        garbage in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..20),
        flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 1..4),
    ) {
        let (mut tx, mut rx) = pair(profile, SrtpConfig::default());
        for (i, g) in garbage.iter().enumerate() {
            let mut buf = g.clone();
            let _ = rx.unprotect_rtp(&mut buf);
            let mut buf = g.clone();
            let _ = rx.unprotect_rtcp(&mut buf);
            let good = protect(&mut tx, &rtp(i as u16, 5, g));
            let mut forged = good.clone();
            for (at, x) in &flips {
                let at = at % forged.len();
                forged[at] ^= x;
            }
            // Two flips of the same byte with the same value cancel out: that is no forgery.
            if forged != good {
                prop_assert!(unprotect(&mut rx, &forged).is_err());
            }
            prop_assert_eq!(unprotect(&mut rx, &good).unwrap(), rtp(i as u16, 5, g));
        }
    }

    /// Any delivery order within the window, across a sequence wrap: each packet is accepted
    /// exactly once. The stream's first packet arrives first, since that is what sets the
    /// receiver's rollover counter (RFC 3711 §3.3.1).
    #[test]
    fn any_order_within_window_accepts_each_once(
        order in Just((1u16..100).collect::<Vec<_>>()).prop_shuffle(),
        start in any::<u16>(),
    ) {
        let (mut tx, mut rx) = pair(Profile::AeadAes128Gcm, SrtpConfig::default());
        let wires: Vec<_> = (0..100u16)
            .map(|i| protect(&mut tx, &rtp(start.wrapping_add(i), 1, &i.to_be_bytes())))
            .collect();
        for &i in std::iter::once(&0).chain(&order) {
            let plain = unprotect(&mut rx, &wires[usize::from(i)]).unwrap();
            prop_assert_eq!(&plain[12..], &i.to_be_bytes()[..]);
        }
        for w in &wires {
            let refused = matches!(unprotect(&mut rx, w), Err(Error::Replayed { .. }));
            prop_assert!(refused);
        }
    }
}
