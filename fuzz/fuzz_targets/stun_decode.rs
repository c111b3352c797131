//! STUN message decoding on arbitrary bytes.
//!
//! Parsing must never panic; neither may any typed getter or integrity check on a message that
//! parsed. A parsed message rebuilt attribute by attribute with `MessageBuilder::add_raw`
//! parses again to the same class, method, transaction ID and attributes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quietroom_turn::stun::{Message, MessageBuilder, attr, is_stun, stream_frame_len};

fuzz_target!(|data: &[u8]| {
    let _ = is_stun(data);
    let _ = stream_frame_len(data);
    let Ok(m) = Message::parse(data) else {
        return;
    };
    assert!(is_stun(data));
    assert_eq!(stream_frame_len(data), Ok(Some(data.len())));

    for typ in [
        attr::XOR_MAPPED_ADDRESS,
        attr::XOR_PEER_ADDRESS,
        attr::XOR_RELAYED_ADDRESS,
    ] {
        let _ = m.xor_address(typ);
        let _ = m.xor_addresses(typ).count();
    }
    let _ = m.address(attr::MAPPED_ADDRESS);
    let _ = m.username();
    let _ = m.realm();
    let _ = m.nonce();
    let _ = m.software();
    let _ = m.userhash();
    let _ = m.lifetime();
    let _ = m.channel_number();
    let _ = m.requested_transport();
    let _ = m.requested_address_family();
    let _ = m.additional_address_family();
    let _ = m.even_port();
    let _ = m.reservation_token();
    let _ = m.dont_fragment();
    let _ = m.icmp();
    let _ = m.data();
    let _ = m.error_code();
    let _ = m.address_error_code();
    let _ = m.unknown_attributes();
    let _ = m.password_algorithm();
    let _ = m.password_algorithms();
    let _ = m.unknown_comprehension_required(&[attr::USERNAME, attr::REALM]);
    let _ = m.has_integrity();
    let _ = m.check_fingerprint();
    let _ = m.check_integrity(b"fuzz key", None);
    let _ = m.check_integrity(b"fuzz key", Some(b"fuzz key"));
    let _ = format!("{m:?}");

    let mut out = Vec::with_capacity(data.len());
    let mut b = MessageBuilder::new(&mut out, m.class(), m.method(), m.transaction_id());
    for a in m.attrs() {
        b.add_raw(a.typ, a.value);
    }
    let n = b.finish();
    assert_eq!(n, out.len());
    let again = Message::parse(&out).expect("a rebuilt message parses");
    assert_eq!(again.class(), m.class());
    assert_eq!(again.method(), m.method());
    assert_eq!(again.transaction_id(), m.transaction_id());
    assert_eq!(again.ignored_count(), 0);
    assert!(
        again
            .attrs()
            .map(|a| (a.typ, a.value))
            .eq(m.attrs().map(|a| (a.typ, a.value))),
        "{m:?} rebuilt as {again:?}"
    );
});
