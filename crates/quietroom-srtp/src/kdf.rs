//! The SRTP key derivation function (RFC 3711 §4.3, AES-CM PRF; RFC 7714 §11 for AEAD).

use aes::cipher::{KeyIvInit, StreamCipher};
use zeroize::Zeroizing;

use crate::keys::{MAX_KEY_LEN, MAX_SALT_LEN};
use crate::{MasterKey, Profile};

/// Key derivation labels (RFC 3711 §4.3.2).
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
pub(crate) enum Label {
    RtpEncryption = 0x00,
    RtpAuthentication = 0x01,
    RtpSalt = 0x02,
    RtcpEncryption = 0x03,
    RtcpAuthentication = 0x04,
    RtcpSalt = 0x05,
}

/// The HMAC-SHA1 session authentication key length (RFC 3711 §4.2.1, n_a = 160).
pub(crate) const AUTH_KEY_LEN: usize = 20;

/// Session keys for one of SRTP or SRTCP in one direction; wiped on drop.
pub(crate) struct SessionKeys {
    pub(crate) encryption: Zeroizing<[u8; MAX_KEY_LEN]>,
    pub(crate) authentication: Zeroizing<[u8; AUTH_KEY_LEN]>,
    pub(crate) salt: Zeroizing<[u8; MAX_SALT_LEN]>,
}

impl SessionKeys {
    /// Derives the RTP (`rtcp == false`) or RTCP session keys from `master`, with a key
    /// derivation rate of 0 as DTLS-SRTP requires (RFC 5764 §4.1.2).
    pub(crate) fn derive(master: &MasterKey, rtcp: bool) -> Self {
        let (enc, auth, salt) = if rtcp {
            (
                Label::RtcpEncryption,
                Label::RtcpAuthentication,
                Label::RtcpSalt,
            )
        } else {
            (
                Label::RtpEncryption,
                Label::RtpAuthentication,
                Label::RtpSalt,
            )
        };
        let p = master.profile();
        let mut keys = SessionKeys {
            encryption: Zeroizing::new([0; MAX_KEY_LEN]),
            authentication: Zeroizing::new([0; AUTH_KEY_LEN]),
            salt: Zeroizing::new([0; MAX_SALT_LEN]),
        };
        prf(master, enc, &mut keys.encryption[..p.key_len()]);
        if !p.is_aead() {
            prf(master, auth, &mut keys.authentication[..]);
        }
        prf(master, salt, &mut keys.salt[..p.salt_len()]);
        keys
    }
}

/// AES-CM PRF: the keystream of AES in counter mode under the master key, starting at
/// `(master_salt XOR (label << 48)) << 16`, written over `out`.
fn prf(master: &MasterKey, label: Label, out: &mut [u8]) {
    // x = key_id XOR master_salt, with key_id = label || r (r = 0 since kdr = 0) right-aligned
    // in 112 bits: the label lands on byte 7. A 96-bit AEAD master salt is left-aligned and
    // padded with zeros to 112 bits (RFC 7714 §11).
    let mut iv = Zeroizing::new([0u8; 16]);
    iv[..master.salt().len()].copy_from_slice(master.salt());
    iv[7] ^= label as u8;
    out.fill(0);
    match master.profile() {
        Profile::AeadAes256Gcm => {
            ctr::Ctr128BE::<aes::Aes256>::new(master.key().into(), (&*iv).into())
                .apply_keystream(out);
        }
        _ => {
            ctr::Ctr128BE::<aes::Aes128>::new(master.key().into(), (&*iv).into())
                .apply_keystream(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// RFC 3711 Appendix B.3: key derivation test vectors.
    #[test]
    fn rfc3711_b3() {
        let master = MasterKey::new(
            Profile::Aes128CmHmacSha1_80,
            &h("E1F97A0D3E018BE0D64FA32C06DE4139"),
            &h("0EC675AD498AFEEBB6960B3AABE6"),
        )
        .unwrap();
        let keys = SessionKeys::derive(&master, false);
        assert_eq!(
            &keys.encryption[..16],
            &h("C61E7A93744F39EE10734AFE3FF7A087")[..]
        );
        assert_eq!(&keys.salt[..14], &h("30CBBC08863D8C85D49DB34A9AE1")[..]);
        // The appendix lists 256 bits of authentication keystream; SRTP uses the first 160.
        assert_eq!(
            &keys.authentication[..],
            &h("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")[..]
        );
    }
}
