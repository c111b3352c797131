//! STUN and TURN attribute types (RFC 8489 §18.3, RFC 8656 §18) and the address family codes.
//!
//! Types 0x0000–0x7FFF are comprehension-required: a message carrying one the receiver does
//! not understand is answered with 420 (Unknown Attribute). Types 0x8000–0xFFFF are
//! comprehension-optional and may be ignored.

/// MAPPED-ADDRESS (RFC 8489), the plain form of the reflexive address.
pub const MAPPED_ADDRESS: u16 = 0x0001;
/// USERNAME (RFC 8489).
pub const USERNAME: u16 = 0x0006;
/// MESSAGE-INTEGRITY: HMAC-SHA1 (RFC 8489).
pub const MESSAGE_INTEGRITY: u16 = 0x0008;
/// ERROR-CODE (RFC 8489).
pub const ERROR_CODE: u16 = 0x0009;
/// UNKNOWN-ATTRIBUTES (RFC 8489).
pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
/// CHANNEL-NUMBER (RFC 8656).
pub const CHANNEL_NUMBER: u16 = 0x000C;
/// LIFETIME (RFC 8656).
pub const LIFETIME: u16 = 0x000D;
/// XOR-PEER-ADDRESS (RFC 8656).
pub const XOR_PEER_ADDRESS: u16 = 0x0012;
/// DATA (RFC 8656).
pub const DATA: u16 = 0x0013;
/// REALM (RFC 8489).
pub const REALM: u16 = 0x0014;
/// NONCE (RFC 8489).
pub const NONCE: u16 = 0x0015;
/// XOR-RELAYED-ADDRESS (RFC 8656).
pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
/// REQUESTED-ADDRESS-FAMILY (RFC 8656).
pub const REQUESTED_ADDRESS_FAMILY: u16 = 0x0017;
/// EVEN-PORT (RFC 8656).
pub const EVEN_PORT: u16 = 0x0018;
/// REQUESTED-TRANSPORT (RFC 8656).
pub const REQUESTED_TRANSPORT: u16 = 0x0019;
/// DONT-FRAGMENT (RFC 8656).
pub const DONT_FRAGMENT: u16 = 0x001A;
/// MESSAGE-INTEGRITY-SHA256 (RFC 8489).
pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
/// PASSWORD-ALGORITHM (RFC 8489).
pub const PASSWORD_ALGORITHM: u16 = 0x001D;
/// USERHASH (RFC 8489).
pub const USERHASH: u16 = 0x001E;
/// XOR-MAPPED-ADDRESS (RFC 8489).
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// RESERVATION-TOKEN (RFC 8656).
pub const RESERVATION_TOKEN: u16 = 0x0022;
/// ADDITIONAL-ADDRESS-FAMILY (RFC 8656).
pub const ADDITIONAL_ADDRESS_FAMILY: u16 = 0x8000;
/// ADDRESS-ERROR-CODE (RFC 8656).
pub const ADDRESS_ERROR_CODE: u16 = 0x8001;
/// PASSWORD-ALGORITHMS (RFC 8489).
pub const PASSWORD_ALGORITHMS: u16 = 0x8002;
/// ALTERNATE-DOMAIN (RFC 8489).
pub const ALTERNATE_DOMAIN: u16 = 0x8003;
/// ICMP (RFC 8656).
pub const ICMP: u16 = 0x8004;
/// SOFTWARE (RFC 8489).
pub const SOFTWARE: u16 = 0x8022;
/// ALTERNATE-SERVER (RFC 8489).
pub const ALTERNATE_SERVER: u16 = 0x8023;
/// FINGERPRINT (RFC 8489).
pub const FINGERPRINT: u16 = 0x8028;
/// RESPONSE-ORIGIN (RFC 5780).
pub const RESPONSE_ORIGIN: u16 = 0x802B;
/// OTHER-ADDRESS (RFC 5780).
pub const OTHER_ADDRESS: u16 = 0x802C;

/// Whether an attribute type is comprehension-required (0x0000–0x7FFF).
pub const fn is_comprehension_required(typ: u16) -> bool {
    typ < 0x8000
}

/// An IP address family as coded in address attributes and the address-family attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressFamily {
    /// IPv4, wire value 0x01.
    V4,
    /// IPv6, wire value 0x02.
    V6,
}

impl AddressFamily {
    /// The family for a wire value, if it is one.
    pub const fn from_wire(v: u8) -> Option<AddressFamily> {
        match v {
            0x01 => Some(AddressFamily::V4),
            0x02 => Some(AddressFamily::V6),
            _ => None,
        }
    }

    /// The wire value: 0x01 for IPv4, 0x02 for IPv6.
    pub const fn to_wire(self) -> u8 {
        match self {
            AddressFamily::V4 => 0x01,
            AddressFamily::V6 => 0x02,
        }
    }

    /// The family of an IP address.
    pub const fn of(ip: std::net::IpAddr) -> AddressFamily {
        match ip {
            std::net::IpAddr::V4(_) => AddressFamily::V4,
            std::net::IpAddr::V6(_) => AddressFamily::V6,
        }
    }
}
