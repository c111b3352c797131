//! TURN long-term credentials (RFC 8489 §9.2, RFC 8656 §7), behind a small trait.
//!
//! * [`LongTermKey`] and [`userhash`]: the key derivations of RFC 8489 (MD5 and SHA-256
//!   password algorithms, USERHASH).
//! * [`CredentialStore`]: where the server gets a user's key. [`StaticCredentials`] holds
//!   fixed username/password pairs; [`SharedSecretCredentials`] implements coturn's
//!   `use-auth-secret` (the "TURN REST API"); a pair `(A, B)` of stores tries `A`, then `B`.
//! * [`NonceManager`]: stateless, expiring nonces bound to the client's address, with the
//!   RFC 8489 nonce cookie advertising [`SecurityFeatures`].
//!
//! Everything here is sans-IO: callers pass wall-clock seconds (credential expiry) and a
//! duration since an origin of their choosing (nonces). Secrets are zeroised on drop and
//! never shown by `Debug`.

mod credentials;
mod key;
mod nonce;
mod shared_secret;

pub use credentials::{CredentialStore, Lookup, StaticCredentials};
pub use key::{LongTermKey, PASSWORD_ALGORITHM_MD5, PASSWORD_ALGORITHM_SHA256, userhash};
pub use nonce::{NonceCheck, NonceManager, SecurityFeatures};
pub use shared_secret::SharedSecretCredentials;
