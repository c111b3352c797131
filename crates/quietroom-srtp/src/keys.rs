//! Master keys and the DTLS-SRTP keying-material split (RFC 5764 §4.2).

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Profile};

/// The longest master key any profile uses (AES-256).
pub(crate) const MAX_KEY_LEN: usize = 32;
/// The longest master salt any profile uses (AES-CM, 112 bits).
pub(crate) const MAX_SALT_LEN: usize = 14;

/// An SRTP master key and master salt for one direction of one session.
///
/// The bytes are wiped when the value is dropped, and `Debug` never prints them.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    #[zeroize(skip)]
    profile: Profile,
    key: [u8; MAX_KEY_LEN],
    salt: [u8; MAX_SALT_LEN],
}

impl MasterKey {
    /// Checks the lengths against `profile` and keeps a copy of `key` and `salt`.
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`] when either length is not the one `profile` requires.
    pub fn new(profile: Profile, key: &[u8], salt: &[u8]) -> Result<Self, Error> {
        if key.len() != profile.key_len() {
            return Err(Error::KeyLength {
                what: "master key",
                profile,
                expected: profile.key_len(),
                got: key.len(),
            });
        }
        if salt.len() != profile.salt_len() {
            return Err(Error::KeyLength {
                what: "master salt",
                profile,
                expected: profile.salt_len(),
                got: salt.len(),
            });
        }
        let mut mk = MasterKey {
            profile,
            key: [0; MAX_KEY_LEN],
            salt: [0; MAX_SALT_LEN],
        };
        mk.key[..key.len()].copy_from_slice(key);
        mk.salt[..salt.len()].copy_from_slice(salt);
        Ok(mk)
    }

    /// The profile this key is for.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The master key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key[..self.profile.key_len()]
    }

    /// The master salt bytes.
    pub fn salt(&self) -> &[u8] {
        &self.salt[..self.profile.salt_len()]
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// Which end of the DTLS handshake this side took; it decides which half of the exported
/// keying material protects what we send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The DTLS client (`a=setup:active` in SDP).
    Client,
    /// The DTLS server (`a=setup:passive` in SDP).
    Server,
}

/// Splits `EXTRACTOR-dtls_srtp` keying material into (local, remote) master keys.
///
/// The layout is `client key | server key | client salt | server salt` (RFC 5764 §4.2); the
/// client's half protects what the client sends.
///
/// # Errors
///
/// [`Error::KeyLength`] when `material` is not [`Profile::keying_material_len`] bytes.
pub fn split_keying_material(
    profile: Profile,
    material: &[u8],
    role: Role,
) -> Result<(MasterKey, MasterKey), Error> {
    let (k, s) = (profile.key_len(), profile.salt_len());
    if material.len() != profile.keying_material_len() {
        return Err(Error::KeyLength {
            what: "keying material",
            profile,
            expected: profile.keying_material_len(),
            got: material.len(),
        });
    }
    let client = MasterKey::new(profile, &material[..k], &material[2 * k..2 * k + s])?;
    let server = MasterKey::new(profile, &material[k..2 * k], &material[2 * k + s..])?;
    Ok(match role {
        Role::Client => (client, server),
        Role::Server => (server, client),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_rfc5764_layout() {
        let p = Profile::AeadAes128Gcm;
        let material: Vec<u8> = (0..56).collect();
        let (local, remote) = split_keying_material(p, &material, Role::Client).unwrap();
        assert_eq!(local.key(), &material[0..16]);
        assert_eq!(remote.key(), &material[16..32]);
        assert_eq!(local.salt(), &material[32..44]);
        assert_eq!(remote.salt(), &material[44..56]);
        let (s_local, s_remote) = split_keying_material(p, &material, Role::Server).unwrap();
        assert_eq!(s_local.key(), remote.key());
        assert_eq!(s_remote.salt(), local.salt());
    }

    #[test]
    fn wrong_lengths_are_typed_errors() {
        let p = Profile::Aes128CmHmacSha1_80;
        assert!(matches!(
            MasterKey::new(p, &[0; 15], &[0; 14]),
            Err(Error::KeyLength {
                what: "master key",
                expected: 16,
                got: 15,
                ..
            })
        ));
        assert!(matches!(
            split_keying_material(p, &[0; 56], Role::Client),
            Err(Error::KeyLength { expected: 60, .. })
        ));
    }

    #[test]
    fn zeroize_wipes_key_and_salt() {
        let mut mk = MasterKey::new(Profile::AeadAes256Gcm, &[0xAB; 32], &[0xCD; 12]).unwrap();
        mk.zeroize();
        assert!(mk.key.iter().chain(mk.salt.iter()).all(|&b| b == 0));
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let mk = MasterKey::new(Profile::AeadAes128Gcm, &[0xAB; 16], &[0xCD; 12]).unwrap();
        let s = format!("{mk:?}");
        assert!(
            !s.contains("171") && !s.to_lowercase().contains("ab"),
            "{s}"
        );
    }
}
