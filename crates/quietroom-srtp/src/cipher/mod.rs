//! The two SRTP transforms, behind one enum so the context dispatches without boxing.
//!
//! Each transform works in place: `seal_*` encrypts the payload where it lies and appends the
//! tag (and for SRTCP the E-bit/index word) in the spare bytes after it; `open_*` verifies and
//! decrypts and returns the plaintext length. Callers have already checked every length.

mod cm;
mod gcm;
#[cfg(test)]
mod tests;

use crate::kdf::SessionKeys;
use crate::{Error, MasterKey, Profile};

/// The session cipher for SRTP or SRTCP in one direction.
///
/// Not boxed: a context holds two for its whole life and never moves them, and the variant is
/// read on every packet.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Cipher {
    /// AES-CM + HMAC-SHA1 (RFC 3711).
    Cm(cm::AesCmHmacSha1),
    /// AES-GCM (RFC 7714).
    Gcm(gcm::AesGcm),
}

impl Cipher {
    /// Derives the session keys for SRTP (`rtcp == false`) or SRTCP and keys the cipher.
    pub(crate) fn new(master: &MasterKey, rtcp: bool) -> Result<Self, Error> {
        Self::from_session_keys(master.profile(), &SessionKeys::derive(master, rtcp), rtcp)
    }

    /// Keys the cipher with already derived session keys.
    pub(crate) fn from_session_keys(
        profile: Profile,
        keys: &SessionKeys,
        rtcp: bool,
    ) -> Result<Self, Error> {
        Ok(if profile.is_aead() {
            Cipher::Gcm(gcm::AesGcm::new(profile, keys)?)
        } else {
            let tag_len = if rtcp {
                profile.rtcp_overhead() - 4
            } else {
                profile.rtp_overhead()
            };
            Cipher::Cm(cm::AesCmHmacSha1::new(keys, tag_len)?)
        })
    }

    /// Protects the RTP packet `buf[..len]` whose header is `header_len` bytes; returns the
    /// SRTP length. `buf` has room for the tag.
    #[inline]
    pub(crate) fn seal_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, Error> {
        match self {
            Cipher::Cm(c) => Ok(c.seal_rtp(buf, header_len, len, ssrc, index)),
            Cipher::Gcm(c) => c.seal_rtp(buf, header_len, len, ssrc, index),
        }
    }

    /// Verifies and decrypts the SRTP packet that fills `buf`; returns the RTP length.
    #[inline]
    pub(crate) fn open_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, Error> {
        match self {
            Cipher::Cm(c) => c.open_rtp(buf, header_len, ssrc, index),
            Cipher::Gcm(c) => c.open_rtp(buf, header_len, ssrc, index),
        }
    }

    /// Protects the RTCP packet `buf[..len]` with SRTCP index `index` (E flag set); returns
    /// the SRTCP length.
    #[inline]
    pub(crate) fn seal_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        index: u32,
    ) -> Result<usize, Error> {
        match self {
            Cipher::Cm(c) => Ok(c.seal_rtcp(buf, len, ssrc, index)),
            Cipher::Gcm(c) => c.seal_rtcp(buf, len, ssrc, index),
        }
    }

    /// Verifies (and, when the E flag is set, decrypts) the SRTCP packet that fills `buf`,
    /// whose trailer word is `e_index`; returns the RTCP length.
    #[inline]
    pub(crate) fn open_rtcp(
        &self,
        buf: &mut [u8],
        ssrc: u32,
        e_index: u32,
    ) -> Result<usize, Error> {
        match self {
            Cipher::Cm(c) => c.open_rtcp(buf, ssrc, e_index),
            Cipher::Gcm(c) => c.open_rtcp(buf, ssrc, e_index),
        }
    }
}
