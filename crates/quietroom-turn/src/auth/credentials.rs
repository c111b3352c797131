//! Credential stores: the [`CredentialStore`] trait, static users, and store composition.

use std::collections::HashMap;

use super::key::{LongTermKey, userhash};
use crate::TurnError;

/// The answer of a [`CredentialStore`] for one username in one realm.
///
/// `Debug` is redacted: it shows the variant, never the key.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// The user is known and currently valid: here is the long-term key.
    Key(LongTermKey),
    /// No such user (or a username the store cannot interpret). The server answers 401.
    Unknown,
    /// The user's credentials have expired (e.g. a shared-secret username whose expiry has
    /// passed). The server answers 401.
    Expired,
}

/// Where the server gets users' long-term keys.
///
/// Implementations must not panic on any username or realm: both come off the wire.
pub trait CredentialStore: Send {
    /// The long-term key for `username` in `realm`. `unix_now` is wall-clock seconds since
    /// the Unix epoch, passed in by the caller (this crate never reads the clock).
    fn lookup(&self, username: &str, realm: &str, unix_now: u64) -> Lookup;

    /// Resolves a USERHASH (RFC 8489 §14.4) to the username, for stores that can.
    /// The default answers `None` (the store does not support username anonymity).
    fn username_for_hash(&self, userhash: &[u8; 32], realm: &str) -> Option<String> {
        let _ = (userhash, realm);
        None
    }
}

/// Tries `A`, then `B`, so that static users and shared-secret users can both be enabled.
///
/// A key from `A` wins; otherwise `B` is asked, and its key wins. If neither has a key,
/// the answer is [`Lookup::Expired`] when either store said so (the more useful answer
/// for logs), else [`Lookup::Unknown`]. `username_for_hash` asks `A`, then `B`.
impl<A: CredentialStore, B: CredentialStore> CredentialStore for (A, B) {
    fn lookup(&self, username: &str, realm: &str, unix_now: u64) -> Lookup {
        let first = match self.0.lookup(username, realm, unix_now) {
            Lookup::Key(key) => return Lookup::Key(key),
            other => other,
        };
        match self.1.lookup(username, realm, unix_now) {
            Lookup::Key(key) => Lookup::Key(key),
            Lookup::Expired => Lookup::Expired,
            Lookup::Unknown => first,
        }
    }

    fn username_for_hash(&self, userhash: &[u8; 32], realm: &str) -> Option<String> {
        self.0
            .username_for_hash(userhash, realm)
            .or_else(|| self.1.username_for_hash(userhash, realm))
    }
}

/// A boxed store (e.g. `Box<dyn CredentialStore>`) is a store.
impl<T: CredentialStore + ?Sized> CredentialStore for Box<T> {
    fn lookup(&self, username: &str, realm: &str, unix_now: u64) -> Lookup {
        (**self).lookup(username, realm, unix_now)
    }

    fn username_for_hash(&self, userhash: &[u8; 32], realm: &str) -> Option<String> {
        (**self).username_for_hash(userhash, realm)
    }
}

/// Static username/password pairs (the `--user NAME:PASSWORD` of the example server).
///
/// Keys are derived once, for the realm given at construction, when a user is added;
/// passwords are not kept. Lookups in any other realm answer [`Lookup::Unknown`].
/// Supports USERHASH resolution. `Debug` shows the realm and the number of users only.
#[derive(Clone)]
pub struct StaticCredentials {
    realm: String,
    users: HashMap<String, LongTermKey>,
    hashes: HashMap<[u8; 32], String>,
}

impl StaticCredentials {
    /// An empty store for `realm`.
    pub fn new(realm: &str) -> Self {
        StaticCredentials {
            realm: realm.to_owned(),
            users: HashMap::new(),
            hashes: HashMap::new(),
        }
    }

    /// Adds (or replaces) a user. The password is hashed into the long-term key at once
    /// and not kept.
    pub fn add(&mut self, username: &str, password: &str) -> &mut Self {
        let key = LongTermKey::derive(username, &self.realm, password);
        self.users.insert(username.to_owned(), key);
        self.hashes
            .insert(userhash(username, &self.realm), username.to_owned());
        self
    }

    /// The realm the keys were derived for.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// How many users the store holds.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the store holds no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Splits a `NAME:PASSWORD` command-line value at its first `:` (so the password may
    /// itself contain `:`). Both parts must be non-empty; otherwise
    /// [`TurnError::Config`], whose reason never repeats the input (it holds a password).
    pub fn parse_user(spec: &str) -> Result<(String, String), TurnError> {
        match spec.split_once(':') {
            Some((name, password)) if !name.is_empty() && !password.is_empty() => {
                Ok((name.to_owned(), password.to_owned()))
            }
            Some(("", _)) => Err(TurnError::Config {
                what: "user",
                reason: "expected NAME:PASSWORD, but the name is empty".to_owned(),
            }),
            Some(_) => Err(TurnError::Config {
                what: "user",
                reason: "expected NAME:PASSWORD, but the password is empty".to_owned(),
            }),
            None => Err(TurnError::Config {
                what: "user",
                reason: "expected NAME:PASSWORD (no ':' found)".to_owned(),
            }),
        }
    }
}

impl CredentialStore for StaticCredentials {
    fn lookup(&self, username: &str, realm: &str, _unix_now: u64) -> Lookup {
        if realm != self.realm {
            return Lookup::Unknown;
        }
        match self.users.get(username) {
            Some(key) => Lookup::Key(key.clone()),
            None => Lookup::Unknown,
        }
    }

    fn username_for_hash(&self, userhash: &[u8; 32], realm: &str) -> Option<String> {
        if realm != self.realm {
            return None;
        }
        self.hashes.get(userhash).cloned()
    }
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("realm", &self.realm)
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(lookup: Lookup) -> Option<LongTermKey> {
        match lookup {
            Lookup::Key(key) => Some(key),
            Lookup::Unknown | Lookup::Expired => None,
        }
    }

    #[test]
    fn static_lookup_and_realm() {
        let mut store = StaticCredentials::new("example.org");
        store.add("alice", "pw1").add("bob", "pw2");
        assert_eq!(store.len(), 2);
        let key = key_of(store.lookup("alice", "example.org", 0));
        let want = LongTermKey::derive("alice", "example.org", "pw1");
        assert_eq!(key.map(|k| k.md5), Some(want.md5));
        assert!(matches!(
            store.lookup("alice", "other.org", 0),
            Lookup::Unknown
        ));
        assert!(matches!(
            store.lookup("carol", "example.org", 0),
            Lookup::Unknown
        ));
        assert!(matches!(store.lookup("", "", u64::MAX), Lookup::Unknown));
    }

    #[test]
    fn static_userhash() {
        let mut store = StaticCredentials::new("example.org");
        store.add("alice", "pw1");
        let hash = userhash("alice", "example.org");
        assert_eq!(
            store.username_for_hash(&hash, "example.org").as_deref(),
            Some("alice")
        );
        assert_eq!(store.username_for_hash(&hash, "other.org"), None);
        assert_eq!(store.username_for_hash(&[0; 32], "example.org"), None);
    }

    #[test]
    fn parse_user_cases() {
        assert_eq!(
            StaticCredentials::parse_user("alice:s3cr:et"),
            Ok(("alice".to_owned(), "s3cr:et".to_owned()))
        );
        for bad in ["", "alice", ":pw", "alice:", ":"] {
            match StaticCredentials::parse_user(bad) {
                Err(TurnError::Config { what, reason }) => {
                    assert_eq!(what, "user");
                    assert!(!reason.is_empty());
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        // The password never appears in the error.
        let err = StaticCredentials::parse_user(":hunter2").err();
        assert!(!format!("{err:?}").contains("hunter2"));
    }

    #[test]
    fn debug_hides_keys_and_names() {
        let mut store = StaticCredentials::new("example.org");
        store.add("alice", "hunter2");
        let shown = format!("{store:?}");
        assert!(!shown.contains("alice"));
        assert!(!shown.contains("hunter2"));
        let lookup = format!("{:?}", store.lookup("alice", "example.org", 0));
        assert_eq!(lookup, "Key(LongTermKey(<redacted>))");
    }

    struct Fixed(Lookup);
    impl CredentialStore for Fixed {
        fn lookup(&self, _: &str, _: &str, _: u64) -> Lookup {
            self.0.clone()
        }
    }

    #[test]
    fn tuple_falls_through() {
        let mut a = StaticCredentials::new("r");
        a.add("alice", "pa");
        let mut b = StaticCredentials::new("r");
        b.add("bob", "pb").add("alice", "other");
        let both = (a, b);
        let alice = key_of(both.lookup("alice", "r", 0)).map(|k| k.md5);
        assert_eq!(alice, Some(LongTermKey::derive("alice", "r", "pa").md5));
        let bob = key_of(both.lookup("bob", "r", 0)).map(|k| k.md5);
        assert_eq!(bob, Some(LongTermKey::derive("bob", "r", "pb").md5));
        assert!(matches!(both.lookup("carol", "r", 0), Lookup::Unknown));
        assert_eq!(
            both.username_for_hash(&userhash("bob", "r"), "r")
                .as_deref(),
            Some("bob")
        );

        let expired_then_unknown = (Fixed(Lookup::Expired), Fixed(Lookup::Unknown));
        assert!(matches!(
            expired_then_unknown.lookup("x", "r", 0),
            Lookup::Expired
        ));
        let unknown_then_expired = (Fixed(Lookup::Unknown), Fixed(Lookup::Expired));
        assert!(matches!(
            unknown_then_expired.lookup("x", "r", 0),
            Lookup::Expired
        ));
        let key = LongTermKey::derive("x", "r", "p");
        let expired_then_key = (Fixed(Lookup::Expired), Fixed(Lookup::Key(key.clone())));
        assert!(matches!(
            expired_then_key.lookup("x", "r", 0),
            Lookup::Key(_)
        ));

        let boxed: Box<dyn CredentialStore> = Box::new(Fixed(Lookup::Key(key)));
        assert!(matches!(boxed.lookup("x", "r", 0), Lookup::Key(_)));
    }
}
