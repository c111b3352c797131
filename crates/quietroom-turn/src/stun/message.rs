//! The parsed, borrowed STUN message: header validation and the attribute TLV walk.

use std::fmt;

use quietroom_wire::Reader;

use super::{
    Class, HEADER_LEN, MAGIC_COOKIE, Method, TransactionId, attr, malformed, padding,
    split_message_type,
};
use crate::TurnError;

/// The most attributes a message may carry; more is refused as malformed.
pub const MAX_ATTRIBUTES: usize = 32;

/// One attribute as it appears in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawAttr<'a> {
    /// The attribute type.
    pub typ: u16,
    /// The value, without padding.
    pub value: &'a [u8],
    /// Offset of the attribute header from the start of the message.
    pub offset: usize,
}

/// Where one kept attribute lies in the message.
#[derive(Clone, Copy, Default)]
pub(super) struct Slot {
    pub(super) typ: u16,
    pub(super) len: u16,
    pub(super) offset: u32,
}

/// A parsed STUN message borrowing the datagram.
///
/// Parsing allocates nothing: the attributes are indexed in a fixed array of
/// [`MAX_ATTRIBUTES`]. Attributes that follow MESSAGE-INTEGRITY (other than
/// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT) or MESSAGE-INTEGRITY-SHA256 (other than
/// FINGERPRINT) are ignored as RFC 8489 §14.5–14.6 require: they are counted by
/// [`Message::ignored_count`] but not returned by [`Message::attrs`] or [`Message::get`].
///
/// `Debug` prints the class, method, transaction ID and attribute types, never attribute
/// values (USERNAME and DATA stay out of logs).
#[derive(Clone)]
pub struct Message<'a> {
    pub(super) raw: &'a [u8],
    pub(super) typ: u16,
    pub(super) tid: TransactionId,
    pub(super) slots: [Slot; MAX_ATTRIBUTES],
    pub(super) count: usize,
    pub(super) ignored: usize,
}

const WHAT: &str = "STUN message";

impl<'a> Message<'a> {
    /// Parses one STUN message that is exactly `bytes` (a datagram holds one message).
    ///
    /// Checks: the top two bits of the type are zero, the magic cookie, a length that is a
    /// multiple of 4 and covers exactly the bytes after the header, attribute TLVs (padding to
    /// 4 bytes, whose content is not checked) that fill the body exactly, FINGERPRINT (if
    /// present) last, and at most [`MAX_ATTRIBUTES`] attributes kept.
    ///
    /// # Errors
    ///
    /// [`TurnError::Truncated`] when the header or an attribute runs past the input;
    /// [`TurnError::Malformed`] for every other violation, including trailing bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>, TurnError> {
        let mut r = Reader::new(bytes, "STUN header");
        let typ = r.u16()?;
        let len = usize::from(r.u16()?);
        let cookie = r.u32()?;
        let tid = TransactionId(r.array::<12>()?);
        if typ & 0xC000 != 0 {
            return Err(malformed(WHAT, "top two bits of the type are not zero"));
        }
        if cookie != MAGIC_COOKIE {
            return Err(malformed(WHAT, "wrong magic cookie"));
        }
        if len % 4 != 0 {
            return Err(malformed(WHAT, "length is not a multiple of 4"));
        }
        if r.remaining() < len {
            return Err(TurnError::Truncated {
                what: WHAT,
                need: HEADER_LEN + len,
                have: bytes.len(),
            });
        }
        if r.remaining() > len {
            return Err(malformed(WHAT, "trailing bytes after the message"));
        }

        let mut msg = Message {
            raw: bytes,
            typ,
            tid,
            slots: [Slot::default(); MAX_ATTRIBUTES],
            count: 0,
            ignored: 0,
        };
        let mut r = Reader::new(bytes, "STUN attribute");
        r.take(HEADER_LEN)?;
        let mut after_mi = false;
        let mut after_mi256 = false;
        let mut after_fingerprint = false;
        while !r.is_empty() {
            let offset = r.pos();
            let t = r.u16()?;
            let l = r.u16()?;
            r.take(usize::from(l))?;
            r.take(padding(usize::from(l)))?;
            if after_fingerprint {
                return Err(malformed(WHAT, "FINGERPRINT is not the last attribute"));
            }
            let keep = match t {
                attr::FINGERPRINT => {
                    after_fingerprint = true;
                    true
                }
                _ if after_mi256 => false,
                attr::MESSAGE_INTEGRITY_SHA256 => {
                    after_mi256 = true;
                    true
                }
                _ if after_mi => false,
                attr::MESSAGE_INTEGRITY => {
                    after_mi = true;
                    true
                }
                _ => true,
            };
            if !keep {
                msg.ignored += 1;
                continue;
            }
            let slot = msg
                .slots
                .get_mut(msg.count)
                .ok_or(malformed(WHAT, "too many attributes"))?;
            *slot = Slot {
                typ: t,
                len: l,
                offset: u32::try_from(offset).map_err(|_| malformed(WHAT, "too long"))?,
            };
            msg.count += 1;
        }
        Ok(msg)
    }

    /// The message class.
    pub fn class(&self) -> Class {
        split_message_type(self.typ).0
    }

    /// The method.
    pub fn method(&self) -> Method {
        split_message_type(self.typ).1
    }

    /// The 16-bit message type as on the wire.
    pub fn message_type(&self) -> u16 {
        self.typ
    }

    /// The transaction ID.
    pub fn transaction_id(&self) -> TransactionId {
        self.tid
    }

    /// The whole message as parsed.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    fn slots(&self) -> &[Slot] {
        self.slots.get(..self.count).unwrap_or(&[])
    }

    pub(super) fn raw_attr(&self, s: &Slot) -> RawAttr<'a> {
        let offset = s.offset as usize;
        let start = offset + 4;
        let value = self
            .raw
            .get(start..start + usize::from(s.len))
            .unwrap_or(&[]);
        RawAttr {
            typ: s.typ,
            value,
            offset,
        }
    }

    /// The attributes in message order, without those ignored after the integrity
    /// attributes.
    pub fn attrs(&self) -> impl Iterator<Item = RawAttr<'a>> + '_ {
        self.slots().iter().map(move |s| self.raw_attr(s))
    }

    /// The number of attributes [`Message::attrs`] returns.
    pub fn attr_count(&self) -> usize {
        self.count
    }

    /// The number of attributes ignored because they followed MESSAGE-INTEGRITY or
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.5–14.6).
    pub fn ignored_count(&self) -> usize {
        self.ignored
    }

    /// The first attribute of type `typ`.
    pub fn get(&self, typ: u16) -> Option<RawAttr<'a>> {
        self.get_all(typ).next()
    }

    /// Every attribute of type `typ`, in message order.
    pub fn get_all(&self, typ: u16) -> impl Iterator<Item = RawAttr<'a>> + '_ {
        self.attrs().filter(move |a| a.typ == typ)
    }

    /// The comprehension-required attribute types (0x0000–0x7FFF) present but not in `known`,
    /// each once, at most 16: the content of UNKNOWN-ATTRIBUTES in a 420 response. Empty when
    /// the message can be processed.
    pub fn unknown_comprehension_required(&self, known: &[u16]) -> Vec<u16> {
        let mut out = Vec::new();
        for a in self.attrs() {
            if attr::is_comprehension_required(a.typ)
                && !known.contains(&a.typ)
                && !out.contains(&a.typ)
            {
                if out.len() == 16 {
                    break;
                }
                out.push(a.typ);
            }
        }
        out
    }
}

/// Prints an attribute type in hex.
struct Hex(u16);

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x}", self.0)
    }
}

/// The attribute types of a message, as a list.
struct Types<'m, 'a>(&'m Message<'a>);

impl fmt::Debug for Types<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.slots().iter().map(|s| Hex(s.typ)))
            .finish()
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Message");
        d.field("class", &self.class())
            .field("method", &Hex(self.method().0))
            .field("transaction_id", &self.tid)
            .field("attrs", &Types(self));
        if self.ignored > 0 {
            d.field("ignored", &self.ignored);
        }
        d.finish()
    }
}
