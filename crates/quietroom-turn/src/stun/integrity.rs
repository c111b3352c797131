//! MESSAGE-INTEGRITY (HMAC-SHA1), MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (CRC-32),
//! RFC 8489 §14.5–14.7.
//!
//! Each covers the message up to (not including) its own attribute, with the header length
//! field rewritten as if the message ended just after that attribute. The MACs are computed
//! over the pieces in place, without copying the message.

use ring::hmac;

use super::{HEADER_LEN, Message, RawAttr, attr, malformed};
use crate::TurnError;

/// The value FINGERPRINT's CRC-32 is XORed with ("STUN").
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// Which integrity attribute [`Message::check_integrity`] verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrityKind {
    /// MESSAGE-INTEGRITY, HMAC-SHA1.
    Sha1,
    /// MESSAGE-INTEGRITY-SHA256, HMAC-SHA256.
    Sha256,
}

/// The three pieces a MAC or CRC covers: the message type, the rewritten length, and the
/// rest of the message from the cookie up to `end`.
fn pieces(msg: &[u8], end: usize, new_len: usize) -> Option<([u8; 2], [u8; 2], &[u8])> {
    let typ = msg.get(..2)?;
    let rest = msg.get(4..end)?;
    let len = u16::try_from(new_len).ok()?;
    Some((
        [typ.first().copied()?, typ.get(1).copied()?],
        len.to_be_bytes(),
        rest,
    ))
}

/// HMAC of `msg[..end]` with the length field replaced by `new_len`.
pub(super) fn mac(
    alg: hmac::Algorithm,
    key: &[u8],
    msg: &[u8],
    end: usize,
    new_len: usize,
) -> Option<hmac::Tag> {
    let (typ, len, rest) = pieces(msg, end, new_len)?;
    let key = hmac::Key::new(alg, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(&typ);
    ctx.update(&len);
    ctx.update(rest);
    Some(ctx.sign())
}

/// CRC-32 of `msg[..end]` with the length field replaced by `new_len`, XOR [`FINGERPRINT_XOR`].
pub(super) fn fingerprint(msg: &[u8], end: usize, new_len: usize) -> Option<u32> {
    let (typ, len, rest) = pieces(msg, end, new_len)?;
    let mut h = crc32fast::Hasher::new();
    h.update(&typ);
    h.update(&len);
    h.update(rest);
    Some(h.finalize() ^ FINGERPRINT_XOR)
}

/// Compares without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl Message<'_> {
    /// Whether MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 is present.
    pub fn has_integrity(&self) -> bool {
        self.get(attr::MESSAGE_INTEGRITY).is_some()
            || self.get(attr::MESSAGE_INTEGRITY_SHA256).is_some()
    }

    /// Verifies MESSAGE-INTEGRITY-SHA256 with `key_sha256` if that attribute is present and a
    /// key is given, else MESSAGE-INTEGRITY (HMAC-SHA1, the full 20-byte tag) with `key_sha1`
    /// (RFC 8489 §14.5–14.6). The tag is compared in constant time. A truncated
    /// MESSAGE-INTEGRITY-SHA256 (16 to 32 bytes, a multiple of 4) is compared on its length.
    ///
    /// # Errors
    ///
    /// [`TurnError::IntegrityMismatch`] if the tag does not verify, or if only
    /// MESSAGE-INTEGRITY-SHA256 is present and no SHA-256 key is given;
    /// [`TurnError::Malformed`] if neither attribute is present or the one checked has an
    /// invalid length.
    pub fn check_integrity(
        &self,
        key_sha1: &[u8],
        key_sha256: Option<&[u8]>,
    ) -> Result<IntegrityKind, TurnError> {
        let sha256 = self.get(attr::MESSAGE_INTEGRITY_SHA256);
        if let (Some(a), Some(key)) = (sha256, key_sha256) {
            const WHAT: &str = "MESSAGE-INTEGRITY-SHA256";
            let n = a.value.len();
            if !(16..=32).contains(&n) || n % 4 != 0 {
                return Err(malformed(
                    WHAT,
                    "length is not 16 to 32 and a multiple of 4",
                ));
            }
            self.verify(hmac::HMAC_SHA256, key, a)?;
            return Ok(IntegrityKind::Sha256);
        }
        match self.get(attr::MESSAGE_INTEGRITY) {
            Some(a) => {
                if a.value.len() != 20 {
                    return Err(malformed("MESSAGE-INTEGRITY", "length is not 20"));
                }
                self.verify(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key_sha1, a)?;
                Ok(IntegrityKind::Sha1)
            }
            None if sha256.is_some() => Err(TurnError::IntegrityMismatch),
            None => Err(malformed("STUN message", "no message integrity attribute")),
        }
    }

    fn verify(&self, alg: hmac::Algorithm, key: &[u8], a: RawAttr<'_>) -> Result<(), TurnError> {
        let end = a.offset + 4 + a.value.len();
        let tag = mac(alg, key, self.raw, a.offset, end - HEADER_LEN)
            .ok_or(TurnError::IntegrityMismatch)?;
        let computed = tag.as_ref().get(..a.value.len()).unwrap_or(&[]);
        if constant_time_eq(computed, a.value) {
            Ok(())
        } else {
            Err(TurnError::IntegrityMismatch)
        }
    }

    /// Checks FINGERPRINT: the CRC-32 of the message up to the attribute, with the length
    /// field covering it, XOR 0x5354554E. `Ok(false)` if the attribute is absent.
    ///
    /// # Errors
    ///
    /// [`TurnError::FingerprintMismatch`] if it does not match; [`TurnError::Malformed`] if
    /// its value is not 4 bytes.
    pub fn check_fingerprint(&self) -> Result<bool, TurnError> {
        let Some(a) = self.get(attr::FINGERPRINT) else {
            return Ok(false);
        };
        let Ok(value) = <[u8; 4]>::try_from(a.value) else {
            return Err(malformed("FINGERPRINT", "length is not 4"));
        };
        let end = a.offset + 8;
        match fingerprint(self.raw, a.offset, end - HEADER_LEN) {
            Some(crc) if crc == u32::from_be_bytes(value) => Ok(true),
            _ => Err(TurnError::FingerprintMismatch),
        }
    }
}
