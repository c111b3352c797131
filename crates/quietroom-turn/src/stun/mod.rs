//! A zero-copy STUN codec (RFC 8489) with the TURN attributes (RFC 8656), TURN ChannelData
//! messages and the stream framing that TCP and TLS carry them in.
//!
//! Parsing borrows the datagram and allocates nothing: [`Message::parse`] validates the header
//! and the attribute TLVs once, and typed getters then decode single attributes on demand,
//! returning `Ok(None)` when an attribute is absent and [`TurnError::Malformed`] when it is
//! present but unusable. [`MessageBuilder`] appends a message to a caller-owned `Vec`, keeping
//! the header length correct after every attribute so that MESSAGE-INTEGRITY,
//! MESSAGE-INTEGRITY-SHA256 and FINGERPRINT can be appended at any point.
//!
//! ```
//! use quietroom_turn::stun::{attr, Class, Message, MessageBuilder, Method, TransactionId};
//!
//! let mut buf = Vec::new();
//! let tid = TransactionId([7; 12]);
//! let mut b = MessageBuilder::new(&mut buf, Class::Success, Method::BINDING, tid);
//! b.add_xor_address(attr::XOR_MAPPED_ADDRESS, "192.0.2.1:32853".parse()?);
//! b.add_fingerprint();
//! let len = b.finish();
//!
//! let msg = Message::parse(&buf[..len])?;
//! assert_eq!(msg.class(), Class::Success);
//! assert_eq!(msg.xor_address(attr::XOR_MAPPED_ADDRESS)?, Some("192.0.2.1:32853".parse()?));
//! assert!(msg.check_fingerprint()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`TurnError::Malformed`]: crate::TurnError::Malformed

mod address;
pub mod attr;
mod builder;
mod channel_data;
mod framing;
mod getters;
mod integrity;
mod message;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use address::{decode_address, decode_xor_address, encode_address, encode_xor_address};
pub use attr::AddressFamily;
pub use builder::MessageBuilder;
pub use channel_data::{CHANNEL_NUMBERS, ChannelData, is_channel_data};
pub use framing::stream_frame_len;
pub use integrity::{FINGERPRINT_XOR, IntegrityKind};
pub use message::{MAX_ATTRIBUTES, Message, RawAttr};

/// The fixed value in bytes 4–7 of every STUN message (RFC 8489 §5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// The length of the STUN message header.
pub const HEADER_LEN: usize = 20;

/// The longest USERNAME, REALM, NONCE, SOFTWARE or error reason accepted, in bytes.
pub const MAX_TEXT_LEN: usize = 763;

/// The 96-bit transaction ID that pairs a response with its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TransactionId(pub [u8; 12]);

/// The class of a STUN message (RFC 8489 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// A request, answered by a success or error response.
    Request,
    /// An indication, never answered.
    Indication,
    /// A success response.
    Success,
    /// An error response.
    Error,
}

/// A STUN method: the 12-bit operation a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Method(pub u16);

impl Method {
    /// Binding (RFC 8489).
    pub const BINDING: Method = Method(0x001);
    /// Allocate (RFC 8656).
    pub const ALLOCATE: Method = Method(0x003);
    /// Refresh (RFC 8656).
    pub const REFRESH: Method = Method(0x004);
    /// Send, an indication (RFC 8656).
    pub const SEND: Method = Method(0x006);
    /// Data, an indication (RFC 8656).
    pub const DATA: Method = Method(0x007);
    /// CreatePermission (RFC 8656).
    pub const CREATE_PERMISSION: Method = Method(0x008);
    /// ChannelBind (RFC 8656).
    pub const CHANNEL_BIND: Method = Method(0x009);
}

/// The 16-bit message type for `class` and `method`: the class bits C1 C0 are interleaved
/// with the method bits (RFC 8489 §5). Method bits above the 12th are dropped.
pub(crate) fn message_type(class: Class, method: Method) -> u16 {
    let m = method.0 & 0x0FFF;
    let c = match class {
        Class::Request => 0x0000,
        Class::Indication => 0x0010,
        Class::Success => 0x0100,
        Class::Error => 0x0110,
    };
    (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | c
}

/// Splits a message type into its class and method.
pub(crate) fn split_message_type(typ: u16) -> (Class, Method) {
    let class = match typ & 0x0110 {
        0x0000 => Class::Request,
        0x0010 => Class::Indication,
        0x0100 => Class::Success,
        _ => Class::Error,
    };
    let method = (typ & 0x000F) | ((typ >> 1) & 0x0070) | ((typ >> 2) & 0x0F80);
    (class, Method(method))
}

/// Whether `bytes` looks like a STUN message: at least a header, the top two bits zero and the
/// magic cookie in place. This is the demultiplexing test of RFC 7983, not a validation.
pub fn is_stun(bytes: &[u8]) -> bool {
    match (bytes.first(), bytes.get(4..8)) {
        (Some(&first), Some(cookie)) => {
            bytes.len() >= HEADER_LEN && first & 0xC0 == 0 && cookie == MAGIC_COOKIE.to_be_bytes()
        }
        _ => false,
    }
}

/// The padding that follows a value of `len` bytes to reach a 4-byte boundary.
pub(crate) fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// A [`TurnError::Malformed`](crate::TurnError::Malformed) shorthand.
pub(crate) fn malformed(what: &'static str, reason: &'static str) -> crate::TurnError {
    crate::TurnError::Malformed { what, reason }
}
