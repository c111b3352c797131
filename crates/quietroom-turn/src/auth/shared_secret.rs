//! Time-limited credentials from a shared secret: coturn's `use-auth-secret`, the
//! "TURN REST API" (draft-uberti-behave-turn-rest).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use zeroize::Zeroizing;

use super::credentials::{CredentialStore, Lookup};
use super::key::LongTermKey;

/// Credentials minted from a secret shared with the embedding product (coturn's
/// `use-auth-secret` / `static-auth-secret`).
///
/// * username = `"<unix expiry>:<user>"`, or a bare `"<unix expiry>"`;
/// * password = base64(HMAC-SHA1(secret, username)), standard alphabet with padding.
///
/// A username whose expiry (decimal seconds since the Unix epoch, ASCII digits only) is
/// before `unix_now` is [`Lookup::Expired`]; one that is still valid at `unix_now` itself
/// is accepted. A username that does not start with such a number (empty, signed,
/// non-digits, more than fits in a `u64`) is [`Lookup::Unknown`]. Any realm is accepted:
/// the key is derived for the realm the caller asks about.
///
/// The secret is zeroised on drop and `Debug` never shows it. (The HMAC key schedule
/// `ring` builds for each call lives briefly on the stack and is not wiped.)
pub struct SharedSecretCredentials {
    secret: Zeroizing<Vec<u8>>,
}

impl SharedSecretCredentials {
    /// A store for `secret` (copied, and zeroised when the store is dropped).
    pub fn new(secret: &[u8]) -> Self {
        SharedSecretCredentials {
            secret: Zeroizing::new(secret.to_vec()),
        }
    }

    /// Mints credentials for `user`, valid until `expires_at_unix` (seconds since the Unix
    /// epoch): returns `(username, password)`. This is what an embedding product calls
    /// to hand a client its TURN credentials. An empty `user` gives the bare
    /// `"<expiry>"` username form.
    pub fn mint(&self, user: &str, expires_at_unix: u64) -> (String, String) {
        let username = if user.is_empty() {
            expires_at_unix.to_string()
        } else {
            format!("{expires_at_unix}:{user}")
        };
        let password = self.password_for(&username);
        (username, password.to_string())
    }

    fn password_for(&self, username: &str) -> Zeroizing<String> {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.secret);
        let tag = hmac::sign(&key, username.as_bytes());
        Zeroizing::new(STANDARD.encode(tag.as_ref()))
    }
}

/// The expiry at the start of a shared-secret username, if it has one.
fn expiry_of(username: &str) -> Option<u64> {
    let digits = match username.split_once(':') {
        Some((digits, _user)) => digits,
        None => username,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()
}

impl CredentialStore for SharedSecretCredentials {
    fn lookup(&self, username: &str, realm: &str, unix_now: u64) -> Lookup {
        let Some(expiry) = expiry_of(username) else {
            return Lookup::Unknown;
        };
        if expiry < unix_now {
            return Lookup::Expired;
        }
        let password = self.password_for(username);
        Lookup::Key(LongTermKey::derive(username, realm, &password))
    }
}

impl std::fmt::Debug for SharedSecretCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecretCredentials { secret: <redacted> }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::hmac::{Hmac, Mac};
    use proptest::prelude::*;
    use sha1::Sha1;

    /// base64(HMAC-SHA1(secret, username)) with the RustCrypto crates, independently of
    /// the `ring` code under test.
    fn reference_password(secret: &[u8], username: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(secret).unwrap();
        mac.update(username.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn mint_matches_reference_and_lookup_derives_its_key() {
        let store = SharedSecretCredentials::new(b"north-wind-secret");
        let (username, password) = store.mint("alice", 1_700_000_000);
        assert_eq!(username, "1700000000:alice");
        assert_eq!(
            password,
            reference_password(b"north-wind-secret", "1700000000:alice")
        );
        match store.lookup(&username, "example.org", 1_699_999_999) {
            Lookup::Key(key) => {
                let want = LongTermKey::derive(&username, "example.org", &password);
                assert_eq!(key.md5, want.md5);
                assert_eq!(key.sha256, want.sha256);
            }
            other => panic!("{other:?}"),
        }
        // Valid through the expiry second itself.
        assert!(matches!(
            store.lookup(&username, "example.org", 1_700_000_000),
            Lookup::Key(_)
        ));
    }

    #[test]
    fn fixed_vector() {
        // HMAC-SHA1("secret", "1700000000:alice"), base64, computed with Python's hmac.
        let store = SharedSecretCredentials::new(b"secret");
        let (username, password) = store.mint("alice", 1_700_000_000);
        assert_eq!(password, reference_password(b"secret", &username));
        assert_eq!(password, "d8soP47RbdIKLDUOpnJPVQyq5Ts=");
    }

    #[test]
    fn bare_expiry_username() {
        let store = SharedSecretCredentials::new(b"k");
        let (username, password) = store.mint("", 42);
        assert_eq!(username, "42");
        assert_eq!(password, reference_password(b"k", "42"));
        assert!(matches!(store.lookup("42", "r", 10), Lookup::Key(_)));
        assert!(matches!(store.lookup("42", "r", 43), Lookup::Expired));
    }

    #[test]
    fn expired() {
        let store = SharedSecretCredentials::new(b"k");
        let (username, _) = store.mint("alice", 1_000);
        assert!(matches!(
            store.lookup(&username, "r", 1_001),
            Lookup::Expired
        ));
        assert!(matches!(
            store.lookup(&username, "r", u64::MAX),
            Lookup::Expired
        ));
    }

    #[test]
    fn garbage_usernames_are_unknown() {
        let store = SharedSecretCredentials::new(b"k");
        for bad in [
            "",
            ":",
            ":alice",
            "abc:def",
            "abc",
            "99999999999999999999999:x",
            "18446744073709551616", // u64::MAX + 1
            "+5:x",
            "-5:x",
            " 5:x",
            "５:x", // fullwidth digit
            "1e9:x",
        ] {
            assert!(
                matches!(store.lookup(bad, "r", 0), Lookup::Unknown),
                "{bad:?}"
            );
        }
        // The largest expiry still parses.
        assert!(matches!(
            store.lookup("18446744073709551615:x", "r", u64::MAX),
            Lookup::Key(_)
        ));
    }

    #[test]
    fn debug_is_redacted() {
        let store = SharedSecretCredentials::new(b"hunter2");
        let shown = format!("{store:?}");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("redacted"));
    }

    proptest! {
        #[test]
        fn lookup_never_panics(username in ".*", realm in ".*", now in any::<u64>()) {
            let store = SharedSecretCredentials::new(b"k");
            let _ = store.lookup(&username, &realm, now);
        }

        #[test]
        fn lookup_never_panics_on_near_misses(
            digits in "[0-9]{0,25}",
            sep in prop::sample::select(vec!["", ":", "::"]),
            rest in ".{0,8}",
            now in any::<u64>(),
        ) {
            let store = SharedSecretCredentials::new(b"k");
            let username = format!("{digits}{sep}{rest}");
            let _ = store.lookup(&username, "r", now);
        }

        #[test]
        fn minted_credentials_round_trip(user in "[^:]{0,16}", expiry in any::<u64>()) {
            let store = SharedSecretCredentials::new(b"k");
            let (username, password) = store.mint(&user, expiry);
            match store.lookup(&username, "r", expiry) {
                Lookup::Key(key) => {
                    prop_assert_eq!(key.md5, LongTermKey::derive(&username, "r", &password).md5);
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
