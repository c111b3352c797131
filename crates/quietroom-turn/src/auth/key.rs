//! The long-term key (RFC 8489 §9.2.2) and USERHASH (RFC 8489 §14.4).

use md5::{Digest as _, Md5};
use ring::digest;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// PASSWORD-ALGORITHM value for MD5 (RFC 8489 §18.5): the key is the 16-byte MD5 digest,
/// used with MESSAGE-INTEGRITY.
pub const PASSWORD_ALGORITHM_MD5: u16 = 0x0001;

/// PASSWORD-ALGORITHM value for SHA-256 (RFC 8489 §18.5): the key is the 32-byte SHA-256
/// digest, used with MESSAGE-INTEGRITY-SHA256.
pub const PASSWORD_ALGORITHM_SHA256: u16 = 0x0002;

/// The long-term key for one user in one realm, for both password algorithms.
///
/// * `md5` = MD5(username ":" realm ":" password), the MESSAGE-INTEGRITY key;
/// * `sha256` = SHA-256(username ":" realm ":" password), the MESSAGE-INTEGRITY-SHA256 key.
///
/// The strings are hashed exactly as given: RFC 8489 asks for the OpaqueString profile
/// (RFC 8265) on username and password, which callers apply (or not) before calling
/// [`LongTermKey::derive`]; this crate does not implement PRECIS.
///
/// Both keys are zeroised on drop, and `Debug` never shows them.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct LongTermKey {
    /// MD5(username ":" realm ":" password): the key for MESSAGE-INTEGRITY
    /// (PASSWORD-ALGORITHM [`PASSWORD_ALGORITHM_MD5`]).
    pub md5: [u8; 16],
    /// SHA-256(username ":" realm ":" password): the key for MESSAGE-INTEGRITY-SHA256
    /// (PASSWORD-ALGORITHM [`PASSWORD_ALGORITHM_SHA256`]).
    pub sha256: [u8; 32],
}

impl LongTermKey {
    /// Derives both keys from a username, realm and password.
    ///
    /// The three parts are streamed into the hashes, so no joined copy of the password is
    /// made.
    pub fn derive(username: &str, realm: &str, password: &str) -> Self {
        let parts: [&[u8]; 5] = [
            username.as_bytes(),
            b":",
            realm.as_bytes(),
            b":",
            password.as_bytes(),
        ];

        let mut md5 = Md5::new();
        let mut sha256 = digest::Context::new(&digest::SHA256);
        for part in parts {
            md5.update(part);
            sha256.update(part);
        }

        let mut key = LongTermKey {
            md5: [0; 16],
            sha256: [0; 32],
        };
        key.md5.copy_from_slice(&md5.finalize());
        key.sha256.copy_from_slice(sha256.finish().as_ref());
        key
    }

    /// The key for a PASSWORD-ALGORITHM value ([`PASSWORD_ALGORITHM_MD5`] or
    /// [`PASSWORD_ALGORITHM_SHA256`]); `None` for any other algorithm.
    pub fn for_algorithm(&self, algorithm: u16) -> Option<&[u8]> {
        match algorithm {
            PASSWORD_ALGORITHM_MD5 => Some(&self.md5),
            PASSWORD_ALGORITHM_SHA256 => Some(&self.sha256),
            _ => None,
        }
    }
}

impl std::fmt::Debug for LongTermKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LongTermKey(<redacted>)")
    }
}

/// USERHASH (RFC 8489 §14.4): SHA-256(username ":" realm), hashed exactly as given.
pub fn userhash(username: &str, realm: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(username.as_bytes());
    ctx.update(b":");
    ctx.update(realm.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERNAME: &str = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}"; // マトリックス
    const REALM: &str = "example.org";
    const PASSWORD: &str = "TheMatrIX"; // "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep

    #[test]
    fn rfc5769_long_term_key_matches_independent_hashes() {
        let joined = format!("{USERNAME}:{REALM}:{PASSWORD}");
        let want_md5: [u8; 16] = Md5::digest(joined.as_bytes()).into();
        let want_sha = digest::digest(&digest::SHA256, joined.as_bytes());

        let key = LongTermKey::derive(USERNAME, REALM, PASSWORD);
        assert_eq!(key.md5, want_md5);
        assert_eq!(&key.sha256[..], want_sha.as_ref());
        assert_eq!(
            key.for_algorithm(PASSWORD_ALGORITHM_MD5),
            Some(&want_md5[..])
        );
        assert_eq!(
            key.for_algorithm(PASSWORD_ALGORITHM_SHA256),
            Some(want_sha.as_ref())
        );
        assert_eq!(key.for_algorithm(0x0003), None);
    }

    #[test]
    fn rfc5769_keys_known_values() {
        // MD5 and SHA-256 of "マトリックス:example.org:TheMatrIX" (UTF-8), computed
        // independently with Python's hashlib.
        let key = LongTermKey::derive(USERNAME, REALM, PASSWORD);
        assert_eq!(hex(&key.md5), "e8ca7ad59d5eb0518e312911d2dab2a9");
        assert_eq!(
            hex(&key.sha256),
            "dd295a613b9058c3c23d6dc7165bda072304d989c9d0af3a8c7e184b4f9bb4a1"
        );
    }

    #[test]
    fn rfc8489_b1_userhash() {
        assert_eq!(
            hex(&userhash(USERNAME, REALM)),
            "4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let key = LongTermKey::derive("alice", "example.org", "hunter2");
        let shown = format!("{key:?}");
        assert_eq!(shown, "LongTermKey(<redacted>)");
        let md5_hex = hex(&key.md5);
        assert!(!shown.contains(&md5_hex));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
