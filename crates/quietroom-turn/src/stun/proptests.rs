//! Property tests: round trips through the builder, and no panics on arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::prelude::*;

use super::*;

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::from(ip),
            port,
            0,
            0
        ))),
    ]
}

/// Exercises every getter and check; none may panic.
fn touch_everything(m: &Message<'_>) {
    let _ = m.xor_address(attr::XOR_PEER_ADDRESS);
    let _ = m.xor_addresses(attr::XOR_PEER_ADDRESS).count();
    let _ = m.address(attr::MAPPED_ADDRESS);
    let _ = (
        m.username(),
        m.realm(),
        m.nonce(),
        m.software(),
        m.userhash(),
    );
    let _ = (m.lifetime(), m.channel_number(), m.requested_transport());
    let _ = (m.requested_address_family(), m.additional_address_family());
    let _ = (
        m.even_port(),
        m.reservation_token(),
        m.dont_fragment(),
        m.data(),
    );
    let _ = (
        m.error_code(),
        m.address_error_code(),
        m.unknown_attributes(),
    );
    let _ = (m.password_algorithm(), m.password_algorithms());
    let _ = m.check_integrity(b"key", Some(b"key"));
    let _ = m.check_integrity(b"key", None);
    let _ = m.check_fingerprint();
    let _ = m.unknown_comprehension_required(&[]);
    let _ = format!("{m:?}");
}

proptest! {
    #[test]
    fn addresses_round_trip(a in socket_addr(), b in socket_addr(), tid in any::<[u8; 12]>()) {
        let mut out = Vec::new();
        let mut mb = MessageBuilder::new(&mut out, Class::Success, Method::ALLOCATE, TransactionId(tid));
        mb.add_xor_address(attr::XOR_RELAYED_ADDRESS, a)
            .add_xor_address(attr::XOR_MAPPED_ADDRESS, b)
            .add_address(attr::MAPPED_ADDRESS, a);
        mb.finish();
        let m = Message::parse(&out).unwrap();
        prop_assert_eq!(m.xor_address(attr::XOR_RELAYED_ADDRESS), Ok(Some(a)));
        prop_assert_eq!(m.xor_address(attr::XOR_MAPPED_ADDRESS), Ok(Some(b)));
        prop_assert_eq!(m.address(attr::MAPPED_ADDRESS), Ok(Some(a)));
    }

    #[test]
    fn strings_and_data_round_trip(
        user in "\\PC{0,60}",
        realm in "[a-z.]{0,40}",
        data in proptest::collection::vec(any::<u8>(), 0..1300),
        key in proptest::collection::vec(any::<u8>(), 0..64),
        method in 0u16..0x1000,
    ) {
        let tid = TransactionId([0x5A; 12]);
        let mut out = Vec::new();
        let mut mb = MessageBuilder::new(&mut out, Class::Indication, Method(method), tid);
        mb.add_str(attr::USERNAME, &user)
            .add_str(attr::REALM, &realm)
            .add_raw(attr::DATA, &data)
            .add_message_integrity(&key)
            .add_message_integrity_sha256(&key)
            .add_fingerprint();
        let n = mb.finish();
        prop_assert_eq!(n % 4, 0);
        let m = Message::parse(&out).unwrap();
        prop_assert_eq!(m.method(), Method(method));
        prop_assert_eq!(m.class(), Class::Indication);
        prop_assert_eq!(m.username(), Ok(Some(user.as_str())));
        prop_assert_eq!(m.realm(), Ok(Some(realm.as_str())));
        prop_assert_eq!(m.data(), Some(&data[..]));
        prop_assert_eq!(m.check_integrity(&key, None), Ok(IntegrityKind::Sha1));
        prop_assert_eq!(m.check_integrity(&key, Some(&key)), Ok(IntegrityKind::Sha256));
        prop_assert_eq!(m.check_fingerprint(), Ok(true));
        prop_assert_eq!(stream_frame_len(&out), Ok(Some(n)));
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(m) = Message::parse(&bytes) {
            touch_everything(&m);
        }
        let _ = is_stun(&bytes);
        let _ = stream_frame_len(&bytes);
        let _ = ChannelData::parse(&bytes, true);
        let _ = ChannelData::parse(&bytes, false);
    }

    #[test]
    fn parse_never_panics_on_valid_headers(
        typ in 0u16..0x4000,
        tid in any::<[u8; 12]>(),
        body in proptest::collection::vec(any::<u8>(), 0..50).prop_map(|mut v| { v.truncate(v.len() / 4 * 4); v }),
    ) {
        let mut bytes = typ.to_be_bytes().to_vec();
        bytes.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        bytes.extend_from_slice(&tid);
        bytes.extend_from_slice(&body);
        if let Ok(m) = Message::parse(&bytes) {
            touch_everything(&m);
        }
    }

    #[test]
    fn mutated_messages_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut b = Vec::new();
        let mut mb = MessageBuilder::new(&mut b, Class::Request, Method::ALLOCATE, TransactionId([2; 12]));
        mb.add_str(attr::USERNAME, "someone")
            .add_xor_address(attr::XOR_PEER_ADDRESS, "[2001:db8::1]:9".parse().unwrap())
            .add_error_code(401, "Unauthorized")
            .add_password_algorithms(&[(1, &[]), (2, &[])])
            .add_message_integrity(b"k")
            .add_fingerprint();
        mb.finish();
        for (i, x) in flips {
            let len = b.len();
            b[i % len] ^= x;
        }
        if let Ok(m) = Message::parse(&b) {
            touch_everything(&m);
        }
    }

    #[test]
    fn channel_data_round_trips(
        channel in 0x4000u16..=0x4FFF,
        data in proptest::collection::vec(any::<u8>(), 0..1300),
        pad in any::<bool>(),
    ) {
        let mut out = Vec::new();
        ChannelData::encode(channel, &data, pad, &mut out);
        let (cd, used) = ChannelData::parse(&out, pad).unwrap();
        prop_assert_eq!(cd, ChannelData { channel, data: &data });
        prop_assert_eq!(used, out.len());
        prop_assert!(is_channel_data(&out));
        if pad {
            prop_assert_eq!(stream_frame_len(&out), Ok(Some(out.len())));
        }
    }

    #[test]
    fn channel_data_and_framing_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        for padded in [false, true] {
            if let Ok((cd, used)) = ChannelData::parse(&bytes, padded) {
                prop_assert!(used <= bytes.len());
                prop_assert_eq!(cd.encoded_len(padded), used);
            }
        }
        if let Ok(Some(n)) = stream_frame_len(&bytes) {
            prop_assert!(n >= 4);
        }
    }
}
