//! AEAD_AES_128_GCM and AEAD_AES_256_GCM for SRTP and SRTCP (RFC 7714), on `ring`.

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::kdf::SessionKeys;
use crate::rtcp::{E_FLAG, RTCP_CLEAR_LEN};
use crate::{Error, Profile};

const TAG_LEN: usize = 16;
const SALT_LEN: usize = 12;

/// An AES-GCM session key and the 96-bit session salt.
pub(crate) struct AesGcm {
    key: LessSafeKey,
    salt: [u8; SALT_LEN],
}

impl AesGcm {
    pub(crate) fn new(profile: Profile, keys: &SessionKeys) -> Result<Self, Error> {
        let algorithm = match profile {
            Profile::AeadAes256Gcm => &AES_256_GCM,
            _ => &AES_128_GCM,
        };
        let key =
            UnboundKey::new(algorithm, &keys.encryption[..profile.key_len()]).map_err(|_| {
                Error::KeyLength {
                    what: "session key",
                    profile,
                    expected: profile.key_len(),
                    got: algorithm.key_len(),
                }
            })?;
        let mut salt = [0; SALT_LEN];
        salt.copy_from_slice(&keys.salt[..SALT_LEN]);
        Ok(AesGcm {
            key: LessSafeKey::new(key),
            salt,
        })
    }

    /// RFC 7714 §8.1: `00 00 || SSRC || ROC || SEQ`, XOR the salt.
    #[inline]
    fn rtp_nonce(&self, ssrc: u32, index: u64) -> Nonce {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..12].copy_from_slice(&index.to_be_bytes()[2..8]);
        self.nonce(iv)
    }

    /// RFC 7714 §9.1: `00 00 || SSRC || 00 00 || 0 || SRTCP index`, XOR the salt.
    #[inline]
    fn rtcp_nonce(&self, ssrc: u32, index: u32) -> Nonce {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[8..12].copy_from_slice(&(index & !E_FLAG).to_be_bytes());
        self.nonce(iv)
    }

    #[inline]
    fn nonce(&self, mut iv: [u8; 12]) -> Nonce {
        for (b, s) in iv.iter_mut().zip(self.salt) {
            *b ^= s;
        }
        Nonce::assume_unique_for_key(iv)
    }

    #[inline]
    pub(crate) fn seal_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, Error> {
        let nonce = self.rtp_nonce(ssrc, index);
        let (header, rest) = buf.split_at_mut(header_len);
        let (payload, spare) = rest.split_at_mut(len - header_len);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(&*header), payload)
            .map_err(|_| too_long("RTP packet"))?;
        spare[..TAG_LEN].copy_from_slice(tag.as_ref());
        Ok(len + TAG_LEN)
    }

    #[inline]
    pub(crate) fn open_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<usize, Error> {
        let nonce = self.rtp_nonce(ssrc, index);
        let (header, rest) = buf.split_at_mut(header_len);
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(&*header), rest)
            .map_err(|_| Error::AuthenticationFailed)?;
        Ok(header_len + plain.len())
    }

    pub(crate) fn seal_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        index: u32,
    ) -> Result<usize, Error> {
        let e_index = (E_FLAG | index).to_be_bytes();
        let nonce = self.rtcp_nonce(ssrc, index);
        let mut aad = [0u8; RTCP_CLEAR_LEN + 4];
        aad[..RTCP_CLEAR_LEN].copy_from_slice(&buf[..RTCP_CLEAR_LEN]);
        aad[RTCP_CLEAR_LEN..].copy_from_slice(&e_index);
        let (payload, spare) = buf[RTCP_CLEAR_LEN..].split_at_mut(len - RTCP_CLEAR_LEN);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(aad), payload)
            .map_err(|_| too_long("RTCP packet"))?;
        spare[..TAG_LEN].copy_from_slice(tag.as_ref());
        spare[TAG_LEN..TAG_LEN + 4].copy_from_slice(&e_index);
        Ok(len + TAG_LEN + 4)
    }

    pub(crate) fn open_rtcp(
        &self,
        buf: &mut [u8],
        ssrc: u32,
        e_index: u32,
    ) -> Result<usize, Error> {
        let n = buf.len();
        let rtcp_len = n - TAG_LEN - 4;
        let nonce = self.rtcp_nonce(ssrc, e_index);
        let e_bytes = e_index.to_be_bytes();
        if e_index & E_FLAG != 0 {
            let mut aad = [0u8; RTCP_CLEAR_LEN + 4];
            aad[..RTCP_CLEAR_LEN].copy_from_slice(&buf[..RTCP_CLEAR_LEN]);
            aad[RTCP_CLEAR_LEN..].copy_from_slice(&e_bytes);
            self.key
                .open_in_place(nonce, Aad::from(aad), &mut buf[RTCP_CLEAR_LEN..n - 4])
                .map_err(|_| Error::AuthenticationFailed)?;
        } else {
            // Unencrypted SRTCP (RFC 7714 §9.2): the whole packet and the index word are
            // associated data and the tag covers no ciphertext. Move the index word next to the
            // packet so the associated data is contiguous, with the tag after it.
            let mut tag = [0u8; TAG_LEN];
            tag.copy_from_slice(&buf[rtcp_len..rtcp_len + TAG_LEN]);
            buf[rtcp_len..rtcp_len + 4].copy_from_slice(&e_bytes);
            buf[rtcp_len + 4..].copy_from_slice(&tag);
            let (aad, tag) = buf.split_at_mut(rtcp_len + 4);
            self.key
                .open_in_place(nonce, Aad::from(&*aad), tag)
                .map_err(|_| Error::AuthenticationFailed)?;
        }
        Ok(rtcp_len)
    }
}

fn too_long(what: &'static str) -> Error {
    Error::Malformed {
        what,
        reason: "longer than AES-GCM can protect",
    }
}
