//! Malformed input: truncations, header and attribute violations, bad values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[test]
fn every_truncation_errors() {
    for v in [
        bytes(RFC5769_REQUEST),
        bytes(RFC5769_LONG_TERM),
        bytes(RFC8489_B1),
        sample_message(),
    ] {
        for n in 0..v.len() {
            assert!(Message::parse(&v[..n]).is_err(), "prefix of {n}");
        }
        let mut extra = v.clone();
        extra.extend_from_slice(&[0; 4]);
        assert_eq!(
            Message::parse(&extra).unwrap_err(),
            TurnError::Malformed {
                what: "STUN message",
                reason: "trailing bytes after the message"
            }
        );
    }
}

#[test]
fn header_violations() {
    let good = sample_message();
    let mut b = good.clone();
    b[4] ^= 1;
    assert!(matches!(
        Message::parse(&b),
        Err(TurnError::Malformed { .. })
    ));
    assert!(!is_stun(&b));
    let mut b = good.clone();
    b[0] |= 0x80;
    assert!(matches!(
        Message::parse(&b),
        Err(TurnError::Malformed { .. })
    ));
    assert!(!is_stun(&b));
    assert!(is_stun(&good) && !is_stun(&good[..19]));
    // Length not a multiple of 4 (with the bytes to match).
    let mut b = good.clone();
    b.push(0);
    b[3] += 1;
    assert!(matches!(
        Message::parse(&b),
        Err(TurnError::Malformed { .. })
    ));
}

#[test]
fn attribute_length_past_end() {
    let mut b = sample_message();
    // USERNAME "user": claim 8 bytes… then 200.
    b[22..24].copy_from_slice(&200u16.to_be_bytes());
    assert!(Message::parse(&b).is_err());
    let mut b = bytes(RFC5769_REQUEST);
    let last = b.len() - 6;
    b[last..last + 2].copy_from_slice(&8u16.to_be_bytes());
    assert!(Message::parse(&b).is_err());
}

fn header(body_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    MessageBuilder::new(
        &mut out,
        Class::Request,
        Method::BINDING,
        TransactionId([1; 12]),
    );
    out[2..4].copy_from_slice(&u16::try_from(body_len).unwrap().to_be_bytes());
    out
}

#[test]
fn fingerprint_must_be_last_and_must_match() {
    let mut out = Vec::new();
    let mut mb = MessageBuilder::new(
        &mut out,
        Class::Request,
        Method::BINDING,
        TransactionId([1; 12]),
    );
    mb.add_fingerprint().add_str(attr::SOFTWARE, "late");
    mb.finish();
    assert_eq!(
        Message::parse(&out).unwrap_err(),
        TurnError::Malformed {
            what: "STUN message",
            reason: "FINGERPRINT is not the last attribute"
        }
    );

    let mut b = sample_message();
    let last = b.len() - 1;
    b[last] ^= 0x01;
    let m = Message::parse(&b).unwrap();
    assert_eq!(m.check_fingerprint(), Err(TurnError::FingerprintMismatch));
    // A tampered body also breaks the fingerprint.
    let mut b = sample_message();
    b[25] ^= 0x20;
    assert_eq!(
        Message::parse(&b).unwrap().check_fingerprint(),
        Err(TurnError::FingerprintMismatch)
    );
}

#[test]
fn tampered_byte_fails_integrity() {
    let good = sample_message();
    let mi_end = good.len() - 8;
    for i in (0..mi_end).filter(|&i| !(2..4).contains(&i)) {
        let mut b = good.clone();
        b[i] ^= 0x01;
        let Ok(m) = Message::parse(&b) else { continue };
        if m.has_integrity() {
            assert_eq!(
                m.check_integrity(b"key", None),
                Err(TurnError::IntegrityMismatch),
                "byte {i}"
            );
        }
    }
    assert_eq!(
        Message::parse(&good).unwrap().check_integrity(b"key", None),
        Ok(IntegrityKind::Sha1)
    );
    let m_bytes = header(0);
    assert!(matches!(
        Message::parse(&m_bytes)
            .unwrap()
            .check_integrity(b"key", None),
        Err(TurnError::Malformed { .. })
    ));
}

#[test]
fn attributes_after_integrity_are_ignored() {
    let mut out = Vec::new();
    let mut mb = MessageBuilder::new(
        &mut out,
        Class::Request,
        Method::BINDING,
        TransactionId([1; 12]),
    );
    mb.add_str(attr::USERNAME, "u")
        .add_message_integrity(b"k")
        .add_str(attr::SOFTWARE, "after")
        .add_message_integrity(b"k")
        .add_message_integrity_sha256(b"k")
        .add_str(attr::REALM, "after too")
        .add_fingerprint();
    mb.finish();
    let m = Message::parse(&out).unwrap();
    let types: Vec<u16> = m.attrs().map(|a| a.typ).collect();
    assert_eq!(
        types,
        [
            attr::USERNAME,
            attr::MESSAGE_INTEGRITY,
            attr::MESSAGE_INTEGRITY_SHA256,
            attr::FINGERPRINT
        ]
    );
    assert_eq!(m.ignored_count(), 3);
    assert_eq!(m.software(), Ok(None));
    assert_eq!(m.check_integrity(b"k", None), Ok(IntegrityKind::Sha1));
    assert_eq!(m.check_fingerprint(), Ok(true));
    assert!(format!("{m:?}").contains("ignored: 3"));
}

#[test]
fn too_many_attributes() {
    let build = |n: usize| {
        let mut out = Vec::new();
        let mut mb = MessageBuilder::new(
            &mut out,
            Class::Request,
            Method::BINDING,
            TransactionId([1; 12]),
        );
        for _ in 0..n {
            mb.add_flag(attr::DONT_FRAGMENT);
        }
        mb.finish();
        out
    };
    assert_eq!(
        Message::parse(&build(MAX_ATTRIBUTES)).unwrap().attr_count(),
        32
    );
    assert_eq!(
        Message::parse(&build(MAX_ATTRIBUTES + 1)).unwrap_err(),
        TurnError::Malformed {
            what: "STUN message",
            reason: "too many attributes"
        }
    );
}

#[test]
fn malformed_attribute_values() {
    let tid = TransactionId([3; 12]);
    let build = |typ: u16, value: &[u8]| {
        let mut out = Vec::new();
        let mut mb = MessageBuilder::new(&mut out, Class::Request, Method::ALLOCATE, tid);
        mb.add_raw(typ, value);
        mb.finish();
        out
    };
    let is_malformed = |r: Result<(), TurnError>| matches!(r, Err(TurnError::Malformed { .. }));
    let b = build(attr::XOR_PEER_ADDRESS, &[0, 3, 0, 0, 1, 2, 3, 4]);
    assert!(is_malformed(
        Message::parse(&b)
            .unwrap()
            .xor_address(attr::XOR_PEER_ADDRESS)
            .map(drop)
    ));
    let b = build(attr::XOR_PEER_ADDRESS, &[0, 2, 0, 0, 1, 2, 3, 4]);
    assert!(is_malformed(
        Message::parse(&b)
            .unwrap()
            .xor_address(attr::XOR_PEER_ADDRESS)
            .map(drop)
    ));
    let mut v6_long = vec![0, 2, 0, 0];
    v6_long.extend_from_slice(&[0; 20]);
    let b = build(attr::XOR_PEER_ADDRESS, &v6_long);
    let m = Message::parse(&b).unwrap();
    assert!(is_malformed(
        m.xor_addresses(attr::XOR_PEER_ADDRESS)
            .next()
            .unwrap()
            .map(drop)
    ));
    let b = build(attr::USERNAME, &[0xFF, 0xFE]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().username().map(drop)
    ));
    let b = build(attr::USERNAME, &[b'a'; 764]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().username().map(drop)
    ));
    let b = build(attr::USERNAME, &[b'a'; 763]);
    assert!(Message::parse(&b).unwrap().username().is_ok());
    let b = build(attr::LIFETIME, &[0, 0, 1]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().lifetime().map(drop)
    ));
    let b = build(attr::REQUESTED_ADDRESS_FAMILY, &[3, 0, 0, 0]);
    assert!(is_malformed(
        Message::parse(&b)
            .unwrap()
            .requested_address_family()
            .map(drop)
    ));
    let b = build(attr::ERROR_CODE, &[0, 0, 7, 0]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().error_code().map(drop)
    ));
    let b = build(attr::ERROR_CODE, &[0, 0, 4, 100]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().error_code().map(drop)
    ));
    let b = build(attr::ERROR_CODE, &[0, 0, 4]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().error_code().map(drop)
    ));
    let b = build(attr::PASSWORD_ALGORITHMS, &[0, 1, 0, 9, 1]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().password_algorithms().map(drop)
    ));
    let b = build(attr::EVEN_PORT, &[0x80, 0]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().even_port().map(drop)
    ));
    let b = build(attr::CHANNEL_NUMBER, &[0x40, 0]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().channel_number().map(drop)
    ));
    let b = build(attr::MESSAGE_INTEGRITY, &[0; 16]);
    assert!(is_malformed(
        Message::parse(&b)
            .unwrap()
            .check_integrity(b"k", None)
            .map(drop)
    ));
    let b = build(attr::FINGERPRINT, &[0; 8]);
    assert!(is_malformed(
        Message::parse(&b).unwrap().check_fingerprint().map(drop)
    ));
}
