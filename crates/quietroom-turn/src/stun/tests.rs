//! RFC 5769 and RFC 8489 test vectors, builder round trips and malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use super::*;
use crate::TurnError;

/// RFC 5769 §2.1: sample request (short-term credentials).
const RFC5769_REQUEST: &str = "000100582112a442b7e7a701bc34d686fa87dfae\
    802200105354554e207465737420636c69656e74\
    002400046e0001ff\
    80290008932ff9b151263b36\
    000600096576746a3a68367659202020\
    000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2\
    80280004e57a3bcf";
/// RFC 5769 §2.2: sample IPv4 response.
const RFC5769_RESPONSE_V4: &str = "0101003c2112a442b7e7a701bc34d686fa87dfae\
    8022000b7465737420766563746f7220\
    002000080001a147e112a643\
    000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7\
    80280004c07d4c96";
/// RFC 5769 §2.3: sample IPv6 response.
const RFC5769_RESPONSE_V6: &str = "010100482112a442b7e7a701bc34d686fa87dfae\
    8022000b7465737420766563746f7220\
    002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d9\
    00080014a382954e4be67bf11784c97c8292c275bfe3ed41\
    80280004c8fb0b4c";
/// RFC 5769 §2.4: sample request with long-term authentication.
const RFC5769_LONG_TERM: &str = "000100602112a44278ad3433c6ad72c029da412e\
    00060012e3839ee38388e383aae38383e382afe382b90000\
    0015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b\
    6578616d706c652e6f726700\
    00080014f67024656dd64a3e02b8e0712e85c9a28ca89666";
/// RFC 8489 Appendix B.1 as corrected by verified erratum 6268: USERHASH, NONCE with the
/// "obMatJos2" cookie, REALM, PASSWORD-ALGORITHM (SHA-256), MESSAGE-INTEGRITY-SHA256.
const RFC8489_B1: &str = "000100902112a44278ad3433c6ad72c029da412e\
    001e00204a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704\
    001500296f624d61744a6f733241414143662f2f3439396b39353464364f4c33346f4c39\
    4653547679363473410000000014000b6578616d706c652e6f726700\
    001d000400020000001c0020\
    b5c7bf005b6c52a21c51c5e892f81924136296cb927c43149309278cc6518e65";

const SHORT_TERM_PASSWORD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const SAMPLE_TID: TransactionId = TransactionId([
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
]);

fn bytes(h: &str) -> Vec<u8> {
    hex::decode(h).unwrap()
}

fn long_term_md5() -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest("マトリックス:example.org:TheMatrIX".as_bytes()).into()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

#[test]
fn rfc5769_sample_request() {
    let b = bytes(RFC5769_REQUEST);
    let m = Message::parse(&b).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Request, Method::BINDING));
    assert_eq!(m.transaction_id(), SAMPLE_TID);
    assert_eq!(m.software().unwrap(), Some("STUN test client"));
    assert_eq!(m.username().unwrap(), Some("evtj:h6vY"));
    let types: Vec<u16> = m.attrs().map(|a| a.typ).collect();
    assert_eq!(types, [0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028]);
    assert_eq!(m.check_fingerprint(), Ok(true));
    assert_eq!(
        m.check_integrity(SHORT_TERM_PASSWORD, None),
        Ok(IntegrityKind::Sha1)
    );
    assert_eq!(
        m.check_integrity(b"wrong", None),
        Err(TurnError::IntegrityMismatch)
    );
    // PRIORITY (0x0024) is comprehension-required and unknown to a TURN server.
    assert_eq!(
        m.unknown_comprehension_required(&[attr::USERNAME, attr::MESSAGE_INTEGRITY]),
        [0x0024]
    );
    let dbg = format!("{m:?}");
    assert!(dbg.contains("0x0006") && !dbg.contains("evtj"), "{dbg}");
}

#[test]
fn rfc5769_sample_responses() {
    for (h, addr) in [
        (RFC5769_RESPONSE_V4, "192.0.2.1:32853"),
        (
            RFC5769_RESPONSE_V6,
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        ),
    ] {
        let b = bytes(h);
        let m = Message::parse(&b).unwrap();
        assert_eq!((m.class(), m.method()), (Class::Success, Method::BINDING));
        assert_eq!(m.software().unwrap(), Some("test vector"));
        let want: SocketAddr = addr.parse().unwrap();
        assert_eq!(m.xor_address(attr::XOR_MAPPED_ADDRESS).unwrap(), Some(want));
        assert_eq!(m.check_fingerprint(), Ok(true));
        assert_eq!(
            m.check_integrity(SHORT_TERM_PASSWORD, None),
            Ok(IntegrityKind::Sha1)
        );

        // The builder reproduces the vector byte for byte once the padding matches: the RFC
        // pads SOFTWARE with a space, the builder with zero.
        let mut out = Vec::new();
        let mut mb = MessageBuilder::new(&mut out, Class::Success, Method::BINDING, SAMPLE_TID);
        mb.add_str(attr::SOFTWARE, "test vector")
            .add_xor_address(attr::XOR_MAPPED_ADDRESS, want);
        let mut rfc_padded = b.clone();
        let pad_at = 20 + 4 + 11;
        rfc_padded[pad_at] = 0;
        let n = mb.finish();
        // Everything but the length field, which covers the integrity attributes in the RFC.
        assert_eq!(out[..2], rfc_padded[..2]);
        assert_eq!(out[4..n], rfc_padded[4..n]);
    }
}

#[test]
fn rfc5769_long_term_request() {
    let b = bytes(RFC5769_LONG_TERM);
    let m = Message::parse(&b).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Request, Method::BINDING));
    assert_eq!(m.username().unwrap(), Some("マトリックス"));
    assert_eq!(m.nonce().unwrap(), Some("f//499k954d6OL34oL9FSTvy64sA"));
    assert_eq!(m.realm().unwrap(), Some("example.org"));
    assert_eq!(m.check_fingerprint(), Ok(false));
    let key = long_term_md5();
    assert_eq!(m.check_integrity(&key, None), Ok(IntegrityKind::Sha1));

    // Rebuilt with the builder it is identical (the RFC pads with zeros here).
    let mut out = Vec::new();
    let mut mb = MessageBuilder::new(
        &mut out,
        Class::Request,
        Method::BINDING,
        m.transaction_id(),
    );
    mb.add_str(attr::USERNAME, "マトリックス")
        .add_str(attr::NONCE, "f//499k954d6OL34oL9FSTvy64sA")
        .add_str(attr::REALM, "example.org")
        .add_message_integrity(&key);
    mb.finish();
    assert_eq!(out, b);
}

#[test]
fn rfc8489_b1_sha256_and_userhash() {
    let b = bytes(RFC8489_B1);
    let m = Message::parse(&b).unwrap();
    let userhash = sha256("マトリックス:example.org".as_bytes());
    assert_eq!(m.userhash().unwrap().map(|u| u.to_vec()), Some(userhash));
    assert_eq!(
        m.nonce().unwrap(),
        Some("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA")
    );
    assert_eq!(m.realm().unwrap(), Some("example.org"));
    assert_eq!(m.password_algorithm().unwrap(), Some((0x0002, &[][..])));
    let key = sha256("マトリックス:example.org:TheMatrIX".as_bytes());
    assert_eq!(
        m.check_integrity(b"", Some(&key)),
        Ok(IntegrityKind::Sha256)
    );
    assert_eq!(
        m.check_integrity(b"", Some(b"wrong")),
        Err(TurnError::IntegrityMismatch)
    );
    // Only the SHA-256 attribute is present and no SHA-256 key is given.
    assert_eq!(
        m.check_integrity(&key, None),
        Err(TurnError::IntegrityMismatch)
    );

    let mut out = Vec::new();
    let mut mb = MessageBuilder::new(
        &mut out,
        Class::Request,
        Method::BINDING,
        m.transaction_id(),
    );
    mb.add_raw(attr::USERHASH, m.userhash().unwrap().as_ref().unwrap())
        .add_str(attr::NONCE, m.nonce().unwrap().unwrap())
        .add_str(attr::REALM, "example.org")
        .add_password_algorithm(0x0002, &[])
        .add_message_integrity_sha256(&key);
    mb.finish();
    assert_eq!(out, b);
}

fn sample_message() -> Vec<u8> {
    let mut out = Vec::new();
    let mut mb = MessageBuilder::new(
        &mut out,
        Class::Request,
        Method::ALLOCATE,
        TransactionId([9; 12]),
    );
    mb.add_str(attr::USERNAME, "user")
        .add_requested_transport(17)
        .add_u32(attr::LIFETIME, 600)
        .add_message_integrity(b"key")
        .add_fingerprint();
    mb.finish();
    out
}

#[test]
fn every_attribute_kind_round_trips() {
    let tid = TransactionId(*b"abcdefghijkl");
    let peer1: SocketAddr = "198.51.100.7:4000".parse().unwrap();
    let peer2: SocketAddr = "[2001:db8::9]:5000".parse().unwrap();
    let mut out = vec![0xEE; 3]; // the builder appends after existing content
    let mut mb = MessageBuilder::new(&mut out, Class::Error, Method::CREATE_PERMISSION, tid);
    mb.add_xor_address(attr::XOR_PEER_ADDRESS, peer1)
        .add_xor_address(attr::XOR_PEER_ADDRESS, peer2)
        .add_address(attr::ALTERNATE_SERVER, peer2)
        .add_u32(attr::LIFETIME, 3600)
        .add_str(attr::USERNAME, "alice")
        .add_str(attr::REALM, "quietroom")
        .add_str(attr::NONCE, "n0nce")
        .add_str(attr::SOFTWARE, "qr")
        .add_raw(attr::USERHASH, &[5; 32])
        .add_error_code(438, "Stale Nonce")
        .add_unknown_attributes(&[0x0024, 0x0025, 0x0026])
        .add_password_algorithms(&[(1, &[]), (2, &[1, 2, 3])])
        .add_password_algorithm(2, &[1, 2, 3])
        .add_channel_number(0x4001)
        .add_requested_transport(17)
        .add_address_family(attr::REQUESTED_ADDRESS_FAMILY, AddressFamily::V6)
        .add_address_family(attr::ADDITIONAL_ADDRESS_FAMILY, AddressFamily::V6)
        .add_address_error_code(AddressFamily::V6, 440, "Address Family not Supported")
        .add_even_port(true)
        .add_reservation_token(*b"resvtokn")
        .add_flag(attr::DONT_FRAGMENT)
        .add_raw(attr::DATA, b"hello")
        .add_message_integrity(b"k1")
        .add_message_integrity_sha256(b"k2")
        .add_fingerprint();
    let n = mb.finish();
    assert_eq!(n, out.len() - 3);
    let m = Message::parse(&out[3..]).unwrap();
    assert_eq!(
        (m.class(), m.method()),
        (Class::Error, Method::CREATE_PERMISSION)
    );
    assert_eq!(m.transaction_id(), tid);
    assert_eq!(m.xor_address(attr::XOR_PEER_ADDRESS), Ok(Some(peer1)));
    let peers: Vec<_> = m.xor_addresses(attr::XOR_PEER_ADDRESS).collect();
    assert_eq!(peers, [Ok(peer1), Ok(peer2)]);
    assert_eq!(m.address(attr::ALTERNATE_SERVER), Ok(Some(peer2)));
    assert_eq!(m.lifetime(), Ok(Some(3600)));
    assert_eq!(m.username(), Ok(Some("alice")));
    assert_eq!(m.realm(), Ok(Some("quietroom")));
    assert_eq!(m.nonce(), Ok(Some("n0nce")));
    assert_eq!(m.software(), Ok(Some("qr")));
    assert_eq!(m.userhash(), Ok(Some([5; 32])));
    assert_eq!(m.error_code(), Ok(Some((438, "Stale Nonce"))));
    assert_eq!(
        m.unknown_attributes(),
        Ok(Some(vec![0x0024, 0x0025, 0x0026]))
    );
    assert_eq!(
        m.password_algorithms(),
        Ok(Some(vec![(1, &[][..]), (2, &[1, 2, 3][..])]))
    );
    assert_eq!(m.password_algorithm(), Ok(Some((2, &[1, 2, 3][..]))));
    assert_eq!(m.channel_number(), Ok(Some(0x4001)));
    assert_eq!(m.requested_transport(), Ok(Some(17)));
    assert_eq!(m.requested_address_family(), Ok(Some(AddressFamily::V6)));
    assert_eq!(m.additional_address_family(), Ok(Some(AddressFamily::V6)));
    assert_eq!(
        m.address_error_code(),
        Ok(Some((
            AddressFamily::V6,
            440,
            "Address Family not Supported"
        )))
    );
    assert_eq!(m.even_port(), Ok(Some(true)));
    assert_eq!(m.reservation_token(), Ok(Some(*b"resvtokn")));
    assert!(m.dont_fragment());
    assert_eq!(m.data(), Some(&b"hello"[..]));
    assert!(m.has_integrity());
    assert_eq!(m.check_integrity(b"k1", None), Ok(IntegrityKind::Sha1));
    assert_eq!(
        m.check_integrity(b"k1", Some(b"k2")),
        Ok(IntegrityKind::Sha256)
    );
    assert_eq!(
        m.check_integrity(b"k1", Some(b"k1")),
        Err(TurnError::IntegrityMismatch)
    );
    assert_eq!(m.check_fingerprint(), Ok(true));
    assert_eq!(m.ignored_count(), 0);

    // Absent attributes.
    let b = sample_message();
    let m = Message::parse(&b).unwrap();
    assert_eq!(m.xor_address(attr::XOR_RELAYED_ADDRESS), Ok(None));
    assert_eq!(m.error_code(), Ok(None));
    assert_eq!(m.even_port(), Ok(None));
    assert_eq!(m.password_algorithms(), Ok(None));
    assert!(!m.dont_fragment());
    assert_eq!(m.data(), None);
}

#[test]
fn message_type_encoding() {
    for class in [
        Class::Request,
        Class::Indication,
        Class::Success,
        Class::Error,
    ] {
        for method in 0..0x1000u16 {
            let t = message_type(class, Method(method));
            assert_eq!(t & 0xC000, 0);
            assert_eq!(split_message_type(t), (class, Method(method)));
        }
    }
    assert_eq!(message_type(Class::Success, Method::BINDING), 0x0101);
    assert_eq!(message_type(Class::Error, Method::ALLOCATE), 0x0113);
    assert_eq!(message_type(Class::Indication, Method::DATA), 0x0017);
}

mod malformed;
