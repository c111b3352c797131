//! Typed attribute getters on [`Message`]: `Ok(None)` when the attribute is absent,
//! [`TurnError::Malformed`] when it is present but unusable. Each reads the first occurrence.

use std::net::SocketAddr;

use quietroom_wire::Reader;

use super::address::{decode_address, decode_xor_address};
use super::attr::{self, AddressFamily};
use super::{MAX_TEXT_LEN, Message, malformed, padding};
use crate::TurnError;

impl<'a> Message<'a> {
    fn value(&self, typ: u16) -> Option<&'a [u8]> {
        self.get(typ).map(|a| a.value)
    }

    fn fixed<const N: usize>(
        &self,
        typ: u16,
        what: &'static str,
    ) -> Result<Option<[u8; N]>, TurnError> {
        self.value(typ)
            .map(|v| <[u8; N]>::try_from(v).map_err(|_| malformed(what, "wrong length")))
            .transpose()
    }

    fn text(&self, typ: u16, what: &'static str) -> Result<Option<&'a str>, TurnError> {
        self.value(typ).map(|v| text(v, what)).transpose()
    }

    fn family(&self, typ: u16, what: &'static str) -> Result<Option<AddressFamily>, TurnError> {
        self.fixed::<4>(typ, what)?
            .map(|[f, ..]| {
                AddressFamily::from_wire(f).ok_or(malformed(what, "unknown address family"))
            })
            .transpose()
    }

    /// The first XOR-obfuscated address of type `typ` (XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS,
    /// XOR-RELAYED-ADDRESS).
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] for an unknown family or a length that does not match it.
    pub fn xor_address(&self, typ: u16) -> Result<Option<SocketAddr>, TurnError> {
        self.value(typ)
            .map(|v| decode_xor_address(v, &self.tid))
            .transpose()
    }

    /// Every XOR-obfuscated address of type `typ`, in message order (a CreatePermission
    /// request may carry several XOR-PEER-ADDRESS attributes).
    pub fn xor_addresses(
        &self,
        typ: u16,
    ) -> impl Iterator<Item = Result<SocketAddr, TurnError>> + '_ {
        self.get_all(typ)
            .map(move |a| decode_xor_address(a.value, &self.tid))
    }

    /// The first plain (non-XOR) address of type `typ` (MAPPED-ADDRESS, ALTERNATE-SERVER,
    /// RESPONSE-ORIGIN, OTHER-ADDRESS).
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] for an unknown family or a length that does not match it.
    pub fn address(&self, typ: u16) -> Result<Option<SocketAddr>, TurnError> {
        self.value(typ).map(decode_address).transpose()
    }

    /// USERNAME: UTF-8, at most 763 bytes.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if too long or not UTF-8.
    pub fn username(&self) -> Result<Option<&'a str>, TurnError> {
        self.text(attr::USERNAME, "USERNAME")
    }

    /// REALM: UTF-8, at most 763 bytes.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if too long or not UTF-8.
    pub fn realm(&self) -> Result<Option<&'a str>, TurnError> {
        self.text(attr::REALM, "REALM")
    }

    /// NONCE: UTF-8, at most 763 bytes.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if too long or not UTF-8.
    pub fn nonce(&self) -> Result<Option<&'a str>, TurnError> {
        self.text(attr::NONCE, "NONCE")
    }

    /// SOFTWARE: UTF-8, at most 763 bytes.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if too long or not UTF-8.
    pub fn software(&self) -> Result<Option<&'a str>, TurnError> {
        self.text(attr::SOFTWARE, "SOFTWARE")
    }

    /// USERHASH: 32 bytes.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if not 32 bytes long.
    pub fn userhash(&self) -> Result<Option<[u8; 32]>, TurnError> {
        self.fixed(attr::USERHASH, "USERHASH")
    }

    /// LIFETIME in seconds.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if not 4 bytes long.
    pub fn lifetime(&self) -> Result<Option<u32>, TurnError> {
        Ok(self
            .fixed(attr::LIFETIME, "LIFETIME")?
            .map(u32::from_be_bytes))
    }

    /// CHANNEL-NUMBER: the channel (the 2 RFFU bytes are ignored). The range is not checked
    /// here.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if not 4 bytes long.
    pub fn channel_number(&self) -> Result<Option<u16>, TurnError> {
        Ok(self
            .fixed::<4>(attr::CHANNEL_NUMBER, "CHANNEL-NUMBER")?
            .map(|[a, b, _, _]| u16::from_be_bytes([a, b])))
    }

    /// REQUESTED-TRANSPORT: the IP protocol number (17 = UDP).
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if not 4 bytes long.
    pub fn requested_transport(&self) -> Result<Option<u8>, TurnError> {
        Ok(self
            .fixed::<4>(attr::REQUESTED_TRANSPORT, "REQUESTED-TRANSPORT")?
            .map(|[p, ..]| p))
    }

    /// REQUESTED-ADDRESS-FAMILY.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if not 4 bytes long, or with reason `"unknown address family"`
    /// for a family other than 0x01 and 0x02 (which RFC 8656 answers with 440).
    pub fn requested_address_family(&self) -> Result<Option<AddressFamily>, TurnError> {
        self.family(attr::REQUESTED_ADDRESS_FAMILY, "REQUESTED-ADDRESS-FAMILY")
    }

    /// ADDITIONAL-ADDRESS-FAMILY.
    ///
    /// # Errors
    ///
    /// As [`Message::requested_address_family`].
    pub fn additional_address_family(&self) -> Result<Option<AddressFamily>, TurnError> {
        self.family(attr::ADDITIONAL_ADDRESS_FAMILY, "ADDITIONAL-ADDRESS-FAMILY")
    }

    /// EVEN-PORT: `Some(R)`, whether the next-higher port is to be reserved.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if not 1 byte long.
    pub fn even_port(&self) -> Result<Option<bool>, TurnError> {
        Ok(self
            .fixed::<1>(attr::EVEN_PORT, "EVEN-PORT")?
            .map(|[b]| b & 0x80 != 0))
    }

    /// RESERVATION-TOKEN: 8 bytes.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if not 8 bytes long.
    pub fn reservation_token(&self) -> Result<Option<[u8; 8]>, TurnError> {
        self.fixed(attr::RESERVATION_TOKEN, "RESERVATION-TOKEN")
    }

    /// The ICMP attribute (RFC 8656 §18.13) of a Data indication: (type, code, error data).
    pub fn icmp(&self) -> Result<Option<(u8, u8, u32)>, TurnError> {
        Ok(self
            .fixed::<8>(attr::ICMP, "ICMP")?
            .map(|v| (v[2], v[3], u32::from_be_bytes([v[4], v[5], v[6], v[7]]))))
    }

    /// Whether DONT-FRAGMENT is present.
    pub fn dont_fragment(&self) -> bool {
        self.get(attr::DONT_FRAGMENT).is_some()
    }

    /// The DATA value.
    pub fn data(&self) -> Option<&'a [u8]> {
        self.value(attr::DATA)
    }

    /// ERROR-CODE: the code (300–699) and the reason phrase.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if shorter than 4 bytes, the class is not 3–6, the number is
    /// over 99, or the reason is not UTF-8 of at most 763 bytes.
    pub fn error_code(&self) -> Result<Option<(u16, &'a str)>, TurnError> {
        self.value(attr::ERROR_CODE)
            .map(|v| {
                let (_, code, reason) = error_code(v, "ERROR-CODE")?;
                Ok((code, reason))
            })
            .transpose()
    }

    /// ADDRESS-ERROR-CODE (RFC 8656 §18.13): the family, the code and the reason phrase.
    ///
    /// # Errors
    ///
    /// As [`Message::error_code`], and for an unknown family.
    pub fn address_error_code(&self) -> Result<Option<(AddressFamily, u16, &'a str)>, TurnError> {
        const WHAT: &str = "ADDRESS-ERROR-CODE";
        self.value(attr::ADDRESS_ERROR_CODE)
            .map(|v| {
                let (family, code, reason) = error_code(v, WHAT)?;
                let family = AddressFamily::from_wire(family)
                    .ok_or(malformed(WHAT, "unknown address family"))?;
                Ok((family, code, reason))
            })
            .transpose()
    }

    /// UNKNOWN-ATTRIBUTES: the listed types.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if the length is odd.
    pub fn unknown_attributes(&self) -> Result<Option<Vec<u16>>, TurnError> {
        self.value(attr::UNKNOWN_ATTRIBUTES)
            .map(|v| {
                if v.len() % 2 != 0 {
                    return Err(malformed("UNKNOWN-ATTRIBUTES", "odd length"));
                }
                Ok(v.chunks_exact(2)
                    .map(|c| c.iter().fold(0u16, |acc, &b| (acc << 8) | u16::from(b)))
                    .collect())
            })
            .transpose()
    }

    /// PASSWORD-ALGORITHM: the algorithm number and its parameters.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if the parameters overrun the value or bytes follow them.
    pub fn password_algorithm(&self) -> Result<Option<(u16, &'a [u8])>, TurnError> {
        const WHAT: &str = "PASSWORD-ALGORITHM";
        self.value(attr::PASSWORD_ALGORITHM)
            .map(|v| {
                let mut r = Reader::new(v, WHAT);
                let alg = password_algorithm(&mut r, WHAT)?;
                if r.is_empty() {
                    Ok(alg)
                } else {
                    Err(malformed(WHAT, "bytes after the parameters"))
                }
            })
            .transpose()
    }

    /// PASSWORD-ALGORITHMS: every algorithm number with its parameters.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] if an entry overruns the value.
    #[allow(clippy::type_complexity)]
    pub fn password_algorithms(&self) -> Result<Option<Vec<(u16, &'a [u8])>>, TurnError> {
        const WHAT: &str = "PASSWORD-ALGORITHMS";
        self.value(attr::PASSWORD_ALGORITHMS)
            .map(|v| {
                let mut r = Reader::new(v, WHAT);
                let mut out = Vec::new();
                while !r.is_empty() {
                    out.push(password_algorithm(&mut r, WHAT)?);
                }
                Ok(out)
            })
            .transpose()
    }
}

/// Checks a UTF-8 text value of at most [`MAX_TEXT_LEN`] bytes.
fn text<'a>(v: &'a [u8], what: &'static str) -> Result<&'a str, TurnError> {
    if v.len() > MAX_TEXT_LEN {
        return Err(malformed(what, "longer than 763 bytes"));
    }
    std::str::from_utf8(v).map_err(|_| malformed(what, "not UTF-8"))
}

/// An ERROR-CODE style value: the first byte (the family of ADDRESS-ERROR-CODE), the code
/// and the reason.
type Code<'a> = (u8, u16, &'a str);

/// Decodes an ERROR-CODE style value.
fn error_code<'a>(v: &'a [u8], what: &'static str) -> Result<Code<'a>, TurnError> {
    let mut r = Reader::new(v, what);
    let [first, _, class, number] = r
        .array::<4>()
        .map_err(|_| malformed(what, "shorter than 4 bytes"))?;
    let class = class & 0x07;
    if !(3..=6).contains(&class) {
        return Err(malformed(what, "class is not 3 to 6"));
    }
    if number > 99 {
        return Err(malformed(what, "number is over 99"));
    }
    let reason = text(r.rest(), what)?;
    Ok((first, u16::from(class) * 100 + u16::from(number), reason))
}

/// Reads one algorithm entry: number, parameter length, parameters, padding to 4 (a missing
/// final padding is tolerated).
fn password_algorithm<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<(u16, &'a [u8]), TurnError> {
    let overrun = |_| malformed(what, "entry overruns the value");
    let alg = r.u16().map_err(overrun)?;
    let len = usize::from(r.u16().map_err(overrun)?);
    let params = r.take(len).map_err(overrun)?;
    let pad = padding(len).min(r.remaining());
    r.take(pad).map_err(overrun)?;
    Ok((alg, params))
}
