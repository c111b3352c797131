//! The address attribute codec: MAPPED-ADDRESS style plain addresses and the XOR-obfuscated
//! form used by XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS and XOR-RELAYED-ADDRESS (RFC 8489
//! §14.1–14.2).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use quietroom_wire::Reader;

use super::attr::AddressFamily;
use super::{MAGIC_COOKIE, TransactionId, malformed};
use crate::TurnError;

const WHAT: &str = "STUN address attribute";

/// Decodes a plain address value (MAPPED-ADDRESS, ALTERNATE-SERVER, …).
///
/// # Errors
///
/// [`TurnError::Malformed`] for an unknown family or a length that does not match it.
pub fn decode_address(value: &[u8]) -> Result<SocketAddr, TurnError> {
    decode(value, None)
}

/// Decodes an XOR-obfuscated address value with the message's transaction ID.
///
/// # Errors
///
/// [`TurnError::Malformed`] for an unknown family or a length that does not match it.
pub fn decode_xor_address(value: &[u8], tid: &TransactionId) -> Result<SocketAddr, TurnError> {
    decode(value, Some(tid))
}

/// Appends a plain address value (without the attribute header).
pub fn encode_address(addr: SocketAddr, out: &mut Vec<u8>) {
    encode(addr, None, out);
}

/// Appends an XOR-obfuscated address value (without the attribute header).
pub fn encode_xor_address(addr: SocketAddr, tid: &TransactionId, out: &mut Vec<u8>) {
    encode(addr, Some(tid), out);
}

/// The 16-byte XOR mask: the magic cookie followed by the transaction ID.
fn mask(tid: &TransactionId) -> [u8; 16] {
    let mut m = [0u8; 16];
    let (cookie, rest) = m.split_at_mut(4);
    cookie.copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    rest.copy_from_slice(&tid.0);
    m
}

fn xor_in_place(bytes: &mut [u8], mask: &[u8]) {
    for (b, m) in bytes.iter_mut().zip(mask) {
        *b ^= m;
    }
}

fn decode(value: &[u8], tid: Option<&TransactionId>) -> Result<SocketAddr, TurnError> {
    let mut r = Reader::new(value, WHAT);
    let too_short = |_| malformed(WHAT, "shorter than an address header");
    let _reserved = r.u8().map_err(too_short)?;
    let family = r.u8().map_err(too_short)?;
    let mut port = r.u16().map_err(too_short)?;
    let family =
        AddressFamily::from_wire(family).ok_or(malformed(WHAT, "unknown address family"))?;
    let m = tid.map(mask);
    if m.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let wrong_len = |_| malformed(WHAT, "length does not match the address family");
    let ip = match family {
        AddressFamily::V4 => {
            let mut a = r.array::<4>().map_err(wrong_len)?;
            if let Some(m) = &m {
                xor_in_place(&mut a, m);
            }
            IpAddr::V4(Ipv4Addr::from(a))
        }
        AddressFamily::V6 => {
            let mut a = r.array::<16>().map_err(wrong_len)?;
            if let Some(m) = &m {
                xor_in_place(&mut a, m);
            }
            IpAddr::V6(Ipv6Addr::from(a))
        }
    };
    if !r.is_empty() {
        return Err(malformed(WHAT, "length does not match the address family"));
    }
    Ok(match ip {
        IpAddr::V4(ip) => SocketAddr::V4(SocketAddrV4::new(ip, port)),
        IpAddr::V6(ip) => SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0)),
    })
}

fn encode(addr: SocketAddr, tid: Option<&TransactionId>, out: &mut Vec<u8>) {
    let m = tid.map(mask);
    let mut port = addr.port();
    if m.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    out.push(0);
    out.push(AddressFamily::of(addr.ip()).to_wire());
    out.extend_from_slice(&port.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            let mut a = ip.octets();
            if let Some(m) = &m {
                xor_in_place(&mut a, m);
            }
            out.extend_from_slice(&a);
        }
        IpAddr::V6(ip) => {
            let mut a = ip.octets();
            if let Some(m) = &m {
                xor_in_place(&mut a, m);
            }
            out.extend_from_slice(&a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5769_xor_v4_value() {
        let tid = TransactionId([
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ]);
        let mut out = Vec::new();
        encode_xor_address(([192, 0, 2, 1], 32853).into(), &tid, &mut out);
        assert_eq!(out, [0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43]);
    }

    #[test]
    fn bad_family_and_lengths() {
        let tid = TransactionId([0; 12]);
        assert!(decode_xor_address(&[0, 3, 0, 0, 1, 2, 3, 4], &tid).is_err());
        assert!(decode_xor_address(&[0, 1, 0, 0, 1, 2, 3], &tid).is_err());
        assert!(decode_xor_address(&[0, 1, 0, 0, 1, 2, 3, 4, 5], &tid).is_err());
        // IPv6 family with an IPv4-sized value, and with one byte too many.
        assert!(decode_xor_address(&[0, 2, 0, 0, 1, 2, 3, 4], &tid).is_err());
        assert!(decode_xor_address(&[0u8; 21].map(|_| 2), &tid).is_err());
        assert!(decode_address(&[0, 1]).is_err());
        assert!(decode_address(&[]).is_err());
    }

    #[test]
    fn plain_round_trip() {
        for a in ["192.0.2.1:1", "[2001:db8::1]:65535"] {
            let addr: SocketAddr = a.parse().unwrap_or_else(|_| unreachable!());
            let mut out = Vec::new();
            encode_address(addr, &mut out);
            assert_eq!(decode_address(&out), Ok(addr));
        }
    }
}
