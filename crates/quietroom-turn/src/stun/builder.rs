//! [`MessageBuilder`]: writes a STUN message into a caller-owned buffer.

use std::net::SocketAddr;

use ring::hmac;

use super::address::{encode_address, encode_xor_address};
use super::attr::{self, AddressFamily};
use super::integrity::{fingerprint, mac};
use super::{Class, HEADER_LEN, MAGIC_COOKIE, Method, TransactionId, message_type, padding};

/// Writes a message into a caller-owned `Vec`, appending after whatever it already holds
/// (reuse the `Vec` to avoid allocation).
///
/// The header length is kept correct after every `add_*`, so the integrity attributes and
/// FINGERPRINT can be added at any point; add them last, in the order MESSAGE-INTEGRITY,
/// MESSAGE-INTEGRITY-SHA256, FINGERPRINT. Values are padded to 4 bytes with zeros.
///
/// STUN lengths are 16-bit: a value longer than 65 535 bytes is cut to that length by
/// [`MessageBuilder::add_raw`], and a message whose attributes exceed 65 535 bytes gets a
/// saturated (wrong) length field. Messages meant for a datagram never come near either.
pub struct MessageBuilder<'b> {
    buf: &'b mut Vec<u8>,
    start: usize,
    tid: TransactionId,
}

impl<'b> MessageBuilder<'b> {
    /// Appends a header for `class` and `method` (bits above the 12th dropped) with
    /// transaction ID `tid` and no attributes.
    pub fn new(buf: &'b mut Vec<u8>, class: Class, method: Method, tid: TransactionId) -> Self {
        let start = buf.len();
        buf.extend_from_slice(&message_type(class, method).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(&tid.0);
        MessageBuilder { buf, start, tid }
    }

    /// The message written so far.
    fn msg(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or(&[])
    }

    /// The attribute bytes written so far.
    fn body_len(&self) -> usize {
        self.buf.len().saturating_sub(self.start + HEADER_LEN)
    }

    fn set_len(&mut self, body: usize) {
        let len = u16::try_from(body).unwrap_or(u16::MAX).to_be_bytes();
        if let Some(field) = self.buf.get_mut(self.start + 2..self.start + 4) {
            field.copy_from_slice(&len);
        }
    }

    /// Writes an attribute header with a placeholder length; returns where it starts.
    fn begin(&mut self, typ: u16) -> usize {
        let pos = self.buf.len();
        self.buf.extend_from_slice(&typ.to_be_bytes());
        self.buf.extend_from_slice(&[0, 0]);
        pos
    }

    /// Fills in the length of the attribute begun at `pos`, pads it and updates the header.
    fn end(&mut self, pos: usize) {
        let value_len = self.buf.len().saturating_sub(pos + 4);
        let len = u16::try_from(value_len).unwrap_or(u16::MAX).to_be_bytes();
        if let Some(field) = self.buf.get_mut(pos + 2..pos + 4) {
            field.copy_from_slice(&len);
        }
        let new_len = self.buf.len() + padding(value_len);
        self.buf.resize(new_len, 0);
        self.set_len(self.body_len());
    }

    /// Adds an attribute with `value` as it is (at most 65 535 bytes of it).
    pub fn add_raw(&mut self, typ: u16, value: &[u8]) -> &mut Self {
        let value = value.get(..usize::from(u16::MAX)).unwrap_or(value);
        let pos = self.begin(typ);
        self.buf.extend_from_slice(value);
        self.end(pos);
        self
    }

    /// Adds an XOR-obfuscated address (XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS,
    /// XOR-RELAYED-ADDRESS).
    pub fn add_xor_address(&mut self, typ: u16, addr: SocketAddr) -> &mut Self {
        let pos = self.begin(typ);
        encode_xor_address(addr, &self.tid, self.buf);
        self.end(pos);
        self
    }

    /// Adds a plain address (MAPPED-ADDRESS, ALTERNATE-SERVER, RESPONSE-ORIGIN,
    /// OTHER-ADDRESS).
    pub fn add_address(&mut self, typ: u16, addr: SocketAddr) -> &mut Self {
        let pos = self.begin(typ);
        encode_address(addr, self.buf);
        self.end(pos);
        self
    }

    /// Adds a 32-bit value (LIFETIME).
    pub fn add_u32(&mut self, typ: u16, v: u32) -> &mut Self {
        self.add_raw(typ, &v.to_be_bytes())
    }

    /// Adds a text attribute (REALM, NONCE, SOFTWARE, USERNAME).
    pub fn add_str(&mut self, typ: u16, s: &str) -> &mut Self {
        self.add_raw(typ, s.as_bytes())
    }

    fn add_code(&mut self, typ: u16, first: u8, code: u16, reason: &str) {
        let class = u8::try_from(code / 100 % 8).unwrap_or(0);
        let number = u8::try_from(code % 100).unwrap_or(0);
        let pos = self.begin(typ);
        self.buf.extend_from_slice(&[first, 0, class, number]);
        self.buf.extend_from_slice(reason.as_bytes());
        self.end(pos);
    }

    /// Adds ERROR-CODE with `code` (300–699) and a reason phrase.
    pub fn add_error_code(&mut self, code: u16, reason: &str) -> &mut Self {
        self.add_code(attr::ERROR_CODE, 0, code, reason);
        self
    }

    /// Adds ADDRESS-ERROR-CODE (RFC 8656 §18.13) for `fam`.
    pub fn add_address_error_code(
        &mut self,
        fam: AddressFamily,
        code: u16,
        reason: &str,
    ) -> &mut Self {
        self.add_code(attr::ADDRESS_ERROR_CODE, fam.to_wire(), code, reason);
        self
    }

    /// Adds UNKNOWN-ATTRIBUTES listing `types`.
    pub fn add_unknown_attributes(&mut self, types: &[u16]) -> &mut Self {
        let pos = self.begin(attr::UNKNOWN_ATTRIBUTES);
        for t in types {
            self.buf.extend_from_slice(&t.to_be_bytes());
        }
        self.end(pos);
        self
    }

    fn put_algorithm(&mut self, alg: u16, params: &[u8]) {
        let params = params.get(..usize::from(u16::MAX)).unwrap_or(params);
        self.buf.extend_from_slice(&alg.to_be_bytes());
        let len = u16::try_from(params.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(params);
        let new_len = self.buf.len() + padding(params.len());
        self.buf.resize(new_len, 0);
    }

    /// Adds PASSWORD-ALGORITHMS listing `(algorithm, parameters)` pairs.
    pub fn add_password_algorithms(&mut self, algs: &[(u16, &[u8])]) -> &mut Self {
        let pos = self.begin(attr::PASSWORD_ALGORITHMS);
        for (alg, params) in algs {
            self.put_algorithm(*alg, params);
        }
        self.end(pos);
        self
    }

    /// Adds PASSWORD-ALGORITHM.
    pub fn add_password_algorithm(&mut self, alg: u16, params: &[u8]) -> &mut Self {
        let pos = self.begin(attr::PASSWORD_ALGORITHM);
        self.put_algorithm(alg, params);
        self.end(pos);
        self
    }

    /// Adds CHANNEL-NUMBER.
    pub fn add_channel_number(&mut self, ch: u16) -> &mut Self {
        let [a, b] = ch.to_be_bytes();
        self.add_raw(attr::CHANNEL_NUMBER, &[a, b, 0, 0])
    }

    /// Adds REQUESTED-TRANSPORT with IP protocol number `proto` (17 = UDP).
    pub fn add_requested_transport(&mut self, proto: u8) -> &mut Self {
        self.add_raw(attr::REQUESTED_TRANSPORT, &[proto, 0, 0, 0])
    }

    /// Adds REQUESTED-ADDRESS-FAMILY or ADDITIONAL-ADDRESS-FAMILY.
    pub fn add_address_family(&mut self, typ: u16, fam: AddressFamily) -> &mut Self {
        self.add_raw(typ, &[fam.to_wire(), 0, 0, 0])
    }

    /// Adds EVEN-PORT with the R bit set when `reserve`.
    pub fn add_even_port(&mut self, reserve: bool) -> &mut Self {
        self.add_raw(attr::EVEN_PORT, &[if reserve { 0x80 } else { 0 }])
    }

    /// Adds RESERVATION-TOKEN.
    pub fn add_reservation_token(&mut self, token: [u8; 8]) -> &mut Self {
        self.add_raw(attr::RESERVATION_TOKEN, &token)
    }

    /// Adds a zero-length attribute (DONT-FRAGMENT).
    pub fn add_flag(&mut self, typ: u16) -> &mut Self {
        self.add_raw(typ, &[])
    }

    fn add_mac(&mut self, typ: u16, alg: hmac::Algorithm, tag_len: usize, key: &[u8]) {
        let end = self.buf.len().saturating_sub(self.start);
        let new_len = self.body_len() + 4 + tag_len;
        let tag = mac(alg, key, self.msg(), end, new_len);
        let pos = self.begin(typ);
        match &tag {
            Some(tag) => self.buf.extend_from_slice(tag.as_ref()),
            // Only when the message is over 64 KiB: a tag that cannot verify.
            None => self.buf.resize(self.buf.len() + tag_len, 0),
        }
        self.end(pos);
    }

    /// Adds MESSAGE-INTEGRITY: HMAC-SHA1 with `key` over the message so far (RFC 8489 §14.5).
    pub fn add_message_integrity(&mut self, key: &[u8]) -> &mut Self {
        self.add_mac(
            attr::MESSAGE_INTEGRITY,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            20,
            key,
        );
        self
    }

    /// Adds MESSAGE-INTEGRITY-SHA256: the full 32-byte HMAC-SHA256 with `key` over the
    /// message so far (RFC 8489 §14.6).
    pub fn add_message_integrity_sha256(&mut self, key: &[u8]) -> &mut Self {
        self.add_mac(attr::MESSAGE_INTEGRITY_SHA256, hmac::HMAC_SHA256, 32, key);
        self
    }

    /// Adds FINGERPRINT over the message so far (RFC 8489 §14.7).
    pub fn add_fingerprint(&mut self) -> &mut Self {
        let end = self.buf.len().saturating_sub(self.start);
        let crc = fingerprint(self.msg(), end, self.body_len() + 8).unwrap_or(0);
        self.add_raw(attr::FINGERPRINT, &crc.to_be_bytes())
    }

    /// Ends the message; returns its total length in bytes.
    pub fn finish(self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }
}
