//! AES_CM_128_HMAC_SHA1_80 and _32 for SRTP and SRTCP (RFC 3711 §4.1.1, §4.2.1).

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::Error;
use crate::kdf::SessionKeys;
use crate::rtcp::{E_FLAG, RTCP_CLEAR_LEN};

const SALT_LEN: usize = 14;
/// SRTCP always carries an 80-bit tag with these profiles (RFC 5764 §4.1.2).
const RTCP_TAG_LEN: usize = 10;

/// An AES-128 session key schedule, the keyed HMAC-SHA1 state and the 112-bit session salt.
pub(crate) struct AesCmHmacSha1 {
    aes: aes::Aes128Enc,
    mac: Hmac<Sha1>,
    salt: [u8; SALT_LEN],
    tag_len: usize,
}

impl AesCmHmacSha1 {
    pub(crate) fn new(keys: &SessionKeys, tag_len: usize) -> Result<Self, Error> {
        let aes = aes::Aes128Enc::new_from_slice(&keys.encryption[..16]).map_err(|_| {
            Error::Malformed {
                what: "session key",
                reason: "AES-128 needs a 16-byte key",
            }
        })?;
        // HMAC accepts a key of any length; this cannot fail.
        let mac = <Hmac<Sha1> as Mac>::new_from_slice(&keys.authentication[..]).map_err(|_| {
            Error::Malformed {
                what: "session key",
                reason: "HMAC-SHA1 refused the authentication key",
            }
        })?;
        let mut salt = [0; SALT_LEN];
        salt.copy_from_slice(&keys.salt[..SALT_LEN]);
        Ok(AesCmHmacSha1 {
            aes,
            mac,
            salt,
            tag_len,
        })
    }

    /// Applies the AES-CM keystream for (`ssrc`, `index`) to `data`. The counter block is
    /// `(salt << 16) XOR (SSRC << 64) XOR (index << 16)` (RFC 3711 §4.1.1); the SRTCP index is
    /// used the same way (§4.1 and §3.4).
    #[inline]
    fn apply_keystream(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..SALT_LEN].copy_from_slice(&self.salt);
        for (b, x) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= x;
        }
        for (b, x) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..8]) {
            *b ^= x;
        }
        let core = ctr::CtrCore::<aes::Aes128Enc, ctr::flavors::Ctr128BE>::inner_iv_init(
            self.aes.clone(),
            &iv.into(),
        );
        ctr::Ctr128BE::<aes::Aes128Enc>::from_core(core).apply_keystream(data);
    }

    #[inline]
    pub(crate) fn seal_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> usize {
        self.apply_keystream(ssrc, index, &mut buf[header_len..len]);
        let mut mac = self.mac.clone();
        mac.update(&buf[..len]);
        mac.update(&roc(index));
        let tag = mac.finalize().into_bytes();
        buf[len..len + self.tag_len].copy_from_slice(&tag[..self.tag_len]);
        len + self.tag_len
    }

    #[inline]
    pub(crate) fn open_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, Error> {
        let end = buf.len() - self.tag_len;
        let mut mac = self.mac.clone();
        mac.update(&buf[..end]);
        mac.update(&roc(index));
        mac.verify_truncated_left(&buf[end..])
            .map_err(|_| Error::AuthenticationFailed)?;
        self.apply_keystream(ssrc, index, &mut buf[header_len..end]);
        Ok(end)
    }

    pub(crate) fn seal_rtcp(&self, buf: &mut [u8], len: usize, ssrc: u32, index: u32) -> usize {
        self.apply_keystream(ssrc, u64::from(index), &mut buf[RTCP_CLEAR_LEN..len]);
        buf[len..len + 4].copy_from_slice(&(E_FLAG | index).to_be_bytes());
        let mut mac = self.mac.clone();
        mac.update(&buf[..len + 4]);
        let tag = mac.finalize().into_bytes();
        buf[len + 4..len + 4 + RTCP_TAG_LEN].copy_from_slice(&tag[..RTCP_TAG_LEN]);
        len + 4 + RTCP_TAG_LEN
    }

    pub(crate) fn open_rtcp(
        &self,
        buf: &mut [u8],
        ssrc: u32,
        e_index: u32,
    ) -> Result<usize, Error> {
        let auth_end = buf.len() - RTCP_TAG_LEN;
        let rtcp_len = auth_end - 4;
        let mut mac = self.mac.clone();
        mac.update(&buf[..auth_end]);
        mac.verify_truncated_left(&buf[auth_end..])
            .map_err(|_| Error::AuthenticationFailed)?;
        if e_index & E_FLAG != 0 {
            let index = u64::from(e_index & !E_FLAG);
            self.apply_keystream(ssrc, index, &mut buf[RTCP_CLEAR_LEN..rtcp_len]);
        }
        Ok(rtcp_len)
    }
}

/// The rollover counter: the high 32 bits of the 48-bit index, appended to the authenticated
/// portion (RFC 3711 §4.2).
#[inline]
fn roc(index: u64) -> [u8; 4] {
    ((index >> 16) as u32).to_be_bytes()
}
