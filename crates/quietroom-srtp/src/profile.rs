//! SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2).

use std::fmt;

/// An SRTP protection profile: the cipher, key sizes and authentication tag lengths that both
/// ends use for one DTLS-SRTP association.
///
/// The numeric value of each variant is its `use_srtp` identifier from the IANA "DTLS-SRTP
/// Protection Profiles" registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// `SRTP_AES128_CM_HMAC_SHA1_80`: AES-128 counter mode, 80-bit HMAC-SHA1 tag (RFC 3711).
    Aes128CmHmacSha1_80,
    /// `SRTP_AES128_CM_HMAC_SHA1_32`: as `_80` but a 32-bit tag on SRTP (SRTCP keeps 80 bits).
    Aes128CmHmacSha1_32,
    /// `SRTP_AEAD_AES_128_GCM`: AES-128-GCM with a 16-byte tag (RFC 7714).
    AeadAes128Gcm,
    /// `SRTP_AEAD_AES_256_GCM`: AES-256-GCM with a 16-byte tag (RFC 7714).
    AeadAes256Gcm,
}

impl Profile {
    /// Every supported profile, strongest preference first (the order quietroom offers them).
    pub const ALL: [Profile; 4] = [
        Profile::AeadAes128Gcm,
        Profile::AeadAes256Gcm,
        Profile::Aes128CmHmacSha1_80,
        Profile::Aes128CmHmacSha1_32,
    ];

    /// The `use_srtp` identifier of this profile (RFC 5764 §4.1.2, RFC 7714 §14.2).
    pub const fn dtls_id(self) -> u16 {
        match self {
            Profile::Aes128CmHmacSha1_80 => 0x0001,
            Profile::Aes128CmHmacSha1_32 => 0x0002,
            Profile::AeadAes128Gcm => 0x0007,
            Profile::AeadAes256Gcm => 0x0008,
        }
    }

    /// The profile with the given `use_srtp` identifier, if quietroom supports it.
    pub const fn from_dtls_id(id: u16) -> Option<Profile> {
        match id {
            0x0001 => Some(Profile::Aes128CmHmacSha1_80),
            0x0002 => Some(Profile::Aes128CmHmacSha1_32),
            0x0007 => Some(Profile::AeadAes128Gcm),
            0x0008 => Some(Profile::AeadAes256Gcm),
            _ => None,
        }
    }

    /// The profile's registered name, as OpenSSL and libsrtp spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Profile::Aes128CmHmacSha1_80 => "SRTP_AES128_CM_SHA1_80",
            Profile::Aes128CmHmacSha1_32 => "SRTP_AES128_CM_SHA1_32",
            Profile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            Profile::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        }
    }

    /// Whether the profile is an AEAD (GCM) profile.
    pub const fn is_aead(self) -> bool {
        matches!(self, Profile::AeadAes128Gcm | Profile::AeadAes256Gcm)
    }

    /// Length of the master key (and of the session encryption key), in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Profile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Length of the master salt, in bytes: 14 for AES-CM, 12 for AEAD.
    pub const fn salt_len(self) -> usize {
        if self.is_aead() { 12 } else { 14 }
    }

    /// Bytes that SRTP protection appends to an RTP packet (the authentication tag).
    pub const fn rtp_overhead(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 => 10,
            Profile::Aes128CmHmacSha1_32 => 4,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16,
        }
    }

    /// Bytes that SRTCP protection appends to an RTCP packet (tag and the E-bit/index word).
    pub const fn rtcp_overhead(self) -> usize {
        match self {
            Profile::Aes128CmHmacSha1_80 | Profile::Aes128CmHmacSha1_32 => 10 + 4,
            Profile::AeadAes128Gcm | Profile::AeadAes256Gcm => 16 + 4,
        }
    }

    /// Length of the keying material to export from DTLS for this profile:
    /// `2 × (key_len + salt_len)` (RFC 5764 §4.2).
    pub const fn keying_material_len(self) -> usize {
        2 * (self.key_len() + self.salt_len())
    }
}

impl TryFrom<u16> for Profile {
    type Error = crate::Error;

    /// The profile with this `use_srtp` identifier.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedProfile`](crate::Error::UnsupportedProfile) for any other identifier.
    fn try_from(id: u16) -> Result<Self, Self::Error> {
        Profile::from_dtls_id(id).ok_or(crate::Error::UnsupportedProfile(id))
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for p in Profile::ALL {
            assert_eq!(Profile::from_dtls_id(p.dtls_id()), Some(p));
        }
        assert_eq!(Profile::from_dtls_id(0x0003), None);
        assert_eq!(
            Profile::try_from(0x0003),
            Err(crate::Error::UnsupportedProfile(3))
        );
        assert_eq!(Profile::try_from(7), Ok(Profile::AeadAes128Gcm));
    }

    #[test]
    fn keying_material_lengths_match_openssl() {
        // PEERS.md: 56 bytes for AEAD_AES_128_GCM, 60 for AES128_CM_SHA1_80.
        assert_eq!(Profile::AeadAes128Gcm.keying_material_len(), 56);
        assert_eq!(Profile::Aes128CmHmacSha1_80.keying_material_len(), 60);
        assert_eq!(Profile::AeadAes256Gcm.keying_material_len(), 88);
    }
}
