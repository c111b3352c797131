//! Stateless, expiring nonces with the RFC 8489 §9.2 "nonce cookie".

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use zeroize::Zeroizing;

/// The magic string every RFC 8489 nonce cookie starts with (§9.2).
const COOKIE: &str = "obMatJos2";
/// Length of the base64-encoded 24-bit security feature set that follows the cookie.
const FEATURES_LEN: usize = 4;
/// Length of the cookie and the feature set together.
const PREFIX_LEN: usize = COOKIE.len() + FEATURES_LEN;
/// Bytes of HMAC-SHA256 kept in a nonce.
const TAG_LEN: usize = 16;
/// Bytes of the issue time.
const TIME_LEN: usize = 8;
/// Bytes of the binary body (issue time, then truncated tag) encoded after the prefix.
const BODY_LEN: usize = TIME_LEN + TAG_LEN;
/// Base64 length of the body (24 bytes encode to exactly 32 characters, no padding).
const BODY_B64_LEN: usize = BODY_LEN / 3 * 4;
/// Domain separation for the nonce MAC.
const MAC_LABEL: &[u8] = b"quietroom-turn nonce v1\0";

/// Feature bit for "password algorithms" (RFC 8489 §18.1 bit 0). Bits are numbered in
/// IETF order, bit 0 being the most significant bit of the 24-bit set.
const BIT_PASSWORD_ALGORITHMS: u32 = 1 << 23;
/// Feature bit for "username anonymity" (RFC 8489 §18.1 bit 1).
const BIT_USERNAME_ANONYMITY: u32 = 1 << 22;

/// The STUN security features a server advertises in its nonce cookie (RFC 8489 §9.2,
/// §18.1), so that clients can detect bid-down attacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SecurityFeatures {
    /// Bit 0, "password algorithms": the server supports PASSWORD-ALGORITHMS (SHA-256
    /// keys and MESSAGE-INTEGRITY-SHA256).
    pub password_algorithms: bool,
    /// Bit 1, "username anonymity": the server supports USERHASH.
    pub username_anonymity: bool,
}

impl SecurityFeatures {
    /// The 24-bit set, most significant byte first.
    fn to_bytes(self) -> [u8; 3] {
        let mut bits = 0u32;
        if self.password_algorithms {
            bits |= BIT_PASSWORD_ALGORITHMS;
        }
        if self.username_anonymity {
            bits |= BIT_USERNAME_ANONYMITY;
        }
        let [_, a, b, c] = bits.to_be_bytes();
        [a, b, c]
    }

    /// Reads the 24-bit set; unassigned bits are ignored.
    fn from_bytes([a, b, c]: [u8; 3]) -> Self {
        let bits = u32::from_be_bytes([0, a, b, c]);
        SecurityFeatures {
            password_algorithms: bits & BIT_PASSWORD_ALGORITHMS != 0,
            username_anonymity: bits & BIT_USERNAME_ANONYMITY != 0,
        }
    }
}

/// The verdict on a NONCE a client sent back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by this server, to this client address, and still within its lifetime.
    Valid,
    /// Well-formed and authentic but no longer (or not yet) valid: the server answers
    /// 438 (Stale Nonce) with a fresh nonce.
    Stale,
    /// Anything else: not issued by this server, issued to another client address,
    /// tampered with, or not a nonce at all. The server answers 401 with a fresh nonce.
    Invalid,
}

/// Stateless, expiring nonces bound to the client's transport address.
///
/// A nonce is `"obMatJos2"`, the 24-bit security feature set in 4 base64 characters
/// (RFC 8489 §9.2), then 32 base64 characters encoding the issue time (a big-endian
/// `u64` of milliseconds since an origin the caller chooses) followed by the first 16
/// bytes of HMAC-SHA256, keyed with the server secret, over the cookie and feature set,
/// the issue time and the client's address (IP, canonicalised so that an IPv4-mapped
/// IPv6 address counts as the IPv4 address, and port). 45 characters in all.
///
/// Nothing is stored per client. Time is passed in as the duration since the caller's
/// origin (e.g. `Instant::now().duration_since(origin)`); this type never reads a clock.
/// A nonce whose issue time is after `since_origin` (e.g. a restart with a persisted
/// secret but a new origin) is [`NonceCheck::Stale`], so the client just retries.
///
/// The secret is zeroised on drop and `Debug` never shows it. (The HMAC key schedule
/// `ring` builds for each call lives briefly on the stack and is not wiped.)
pub struct NonceManager {
    secret: Zeroizing<[u8; 32]>,
    lifetime_ms: u64,
    features: SecurityFeatures,
    prefix: String,
}

impl NonceManager {
    /// A manager keyed with `secret` (take it from a CSPRNG; the caller should zeroise its
    /// own copy), issuing nonces that are valid for `lifetime` and advertise `features`.
    pub fn new(secret: [u8; 32], lifetime: Duration, features: SecurityFeatures) -> Self {
        let mut prefix = String::with_capacity(PREFIX_LEN);
        prefix.push_str(COOKIE);
        prefix.push_str(&STANDARD.encode(features.to_bytes()));
        NonceManager {
            secret: Zeroizing::new(secret),
            lifetime_ms: millis(lifetime),
            features,
            prefix,
        }
    }

    /// The security features this manager advertises.
    pub fn security_features(&self) -> SecurityFeatures {
        self.features
    }

    /// Issues a nonce for `client` at `since_origin`.
    pub fn issue(&self, since_origin: Duration, client: SocketAddr) -> String {
        let time = millis(since_origin).to_be_bytes();
        let tag = self.tag(self.prefix.as_bytes(), &time, client);
        let mut body = [0u8; BODY_LEN];
        for (out, byte) in body.iter_mut().zip(time.iter().chain(tag.iter())) {
            *out = *byte;
        }
        let mut nonce = String::with_capacity(PREFIX_LEN + BODY_B64_LEN);
        nonce.push_str(&self.prefix);
        STANDARD.encode_string(body, &mut nonce);
        nonce
    }

    /// Checks a NONCE a client sent back, from `client`, at `since_origin`. Never panics,
    /// whatever the string.
    pub fn check(&self, nonce: &str, since_origin: Duration, client: SocketAddr) -> NonceCheck {
        let (Some(prefix), Some(body_b64)) = (nonce.get(..PREFIX_LEN), nonce.get(PREFIX_LEN..))
        else {
            return NonceCheck::Invalid;
        };
        if body_b64.len() != BODY_B64_LEN {
            return NonceCheck::Invalid;
        }
        let mut body = [0u8; BODY_LEN];
        match STANDARD.decode_slice(body_b64, &mut body) {
            Ok(BODY_LEN) => {}
            _ => return NonceCheck::Invalid,
        }
        let Some((time, tag)) = body.split_first_chunk::<TIME_LEN>() else {
            return NonceCheck::Invalid;
        };
        let expected = self.tag(prefix.as_bytes(), time, client);
        // The prefix is covered by the MAC; comparing it too (after the MAC, so a forger
        // learns nothing from timing) rejects authentic nonces issued with other features.
        if !ct_eq(&expected, tag) || prefix != self.prefix {
            return NonceCheck::Invalid;
        }
        let issued = u64::from_be_bytes(*time);
        let now = millis(since_origin);
        match now.checked_sub(issued) {
            Some(age) if age < self.lifetime_ms => NonceCheck::Valid,
            _ => NonceCheck::Stale,
        }
    }

    /// Parses the cookie and security feature set at the start of a nonce; `None` when
    /// the nonce does not start with `"obMatJos2"` and 4 base64 characters. Unassigned
    /// feature bits are ignored.
    pub fn features(nonce: &str) -> Option<SecurityFeatures> {
        let encoded = nonce.strip_prefix(COOKIE)?.get(..FEATURES_LEN)?;
        let mut bytes = [0u8; 3];
        match STANDARD.decode_slice(encoded, &mut bytes) {
            Ok(3) => Some(SecurityFeatures::from_bytes(bytes)),
            _ => None,
        }
    }

    /// The first [`TAG_LEN`] bytes of HMAC-SHA256 over the nonce's contents.
    fn tag(&self, prefix: &[u8], time: &[u8; TIME_LEN], client: SocketAddr) -> [u8; TAG_LEN] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.secret.as_slice());
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(MAC_LABEL);
        ctx.update(prefix);
        ctx.update(time);
        match client.ip().to_canonical() {
            IpAddr::V4(ip) => {
                ctx.update(&[4]);
                ctx.update(&ip.octets());
            }
            IpAddr::V6(ip) => {
                ctx.update(&[6]);
                ctx.update(&ip.octets());
            }
        }
        ctx.update(&client.port().to_be_bytes());
        let full = ctx.sign();
        let mut tag = [0u8; TAG_LEN];
        for (out, byte) in tag.iter_mut().zip(full.as_ref()) {
            *out = *byte;
        }
        tag
    }
}

impl std::fmt::Debug for NonceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceManager")
            .field("secret", &"<redacted>")
            .field("lifetime_ms", &self.lifetime_ms)
            .field("features", &self.features)
            .finish()
    }
}

/// Whole milliseconds in `d`, saturating at `u64::MAX`.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Compares two byte strings without an early exit on the first difference.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIFETIME: Duration = Duration::from_secs(600);

    fn manager(features: SecurityFeatures) -> NonceManager {
        NonceManager::new([7; 32], LIFETIME, features)
    }

    fn client() -> SocketAddr {
        SocketAddr::from(([203, 0, 113, 5], 40000))
    }

    const BOTH: SecurityFeatures = SecurityFeatures {
        password_algorithms: true,
        username_anonymity: true,
    };

    #[test]
    fn issue_then_check() {
        let m = manager(BOTH);
        let t0 = Duration::from_secs(1000);
        let nonce = m.issue(t0, client());
        assert_eq!(nonce.len(), PREFIX_LEN + BODY_B64_LEN);
        assert!(nonce.starts_with("obMatJos2"));
        assert_eq!(m.check(&nonce, t0, client()), NonceCheck::Valid);
        assert_eq!(
            m.check(&nonce, t0 + LIFETIME - Duration::from_millis(1), client()),
            NonceCheck::Valid
        );
        assert_eq!(m.check(&nonce, t0 + LIFETIME, client()), NonceCheck::Stale);
        assert_eq!(
            m.check(&nonce, t0 + Duration::from_secs(100_000), client()),
            NonceCheck::Stale
        );
        // Issued "in the future" (a new origin): authentic, so Stale, not Invalid.
        assert_eq!(
            m.check(&nonce, t0 - Duration::from_millis(1), client()),
            NonceCheck::Stale
        );
    }

    #[test]
    fn bound_to_client_address() {
        let m = manager(SecurityFeatures::default());
        let t0 = Duration::from_secs(5);
        let nonce = m.issue(t0, client());
        let other_ip = SocketAddr::from(([203, 0, 113, 6], 40000));
        let other_port = SocketAddr::from(([203, 0, 113, 5], 40001));
        assert_eq!(m.check(&nonce, t0, other_ip), NonceCheck::Invalid);
        assert_eq!(m.check(&nonce, t0, other_port), NonceCheck::Invalid);
        // The same client seen through a dual-stack socket.
        let mapped: SocketAddr = "[::ffff:203.0.113.5]:40000".parse().unwrap();
        assert_eq!(m.check(&nonce, t0, mapped), NonceCheck::Valid);
    }

    #[test]
    fn other_secret_or_features_is_invalid() {
        let t0 = Duration::from_secs(5);
        let nonce = manager(BOTH).issue(t0, client());
        let other = NonceManager::new([8; 32], LIFETIME, BOTH);
        assert_eq!(other.check(&nonce, t0, client()), NonceCheck::Invalid);
        let fewer = manager(SecurityFeatures::default());
        assert_eq!(fewer.check(&nonce, t0, client()), NonceCheck::Invalid);
    }

    #[test]
    fn every_flipped_character_is_invalid() {
        let m = manager(BOTH);
        let t0 = Duration::from_secs(5);
        let nonce = m.issue(t0, client());
        for i in 0..nonce.len() {
            let mut bytes = nonce.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert_eq!(
                m.check(&tampered, t0, client()),
                NonceCheck::Invalid,
                "{tampered}"
            );
        }
        // Truncated, extended, empty.
        assert_eq!(
            m.check(&nonce[..nonce.len() - 1], t0, client()),
            NonceCheck::Invalid
        );
        assert_eq!(
            m.check(&format!("{nonce}A"), t0, client()),
            NonceCheck::Invalid
        );
        assert_eq!(m.check("", t0, client()), NonceCheck::Invalid);
    }

    #[test]
    fn features_prefix() {
        for (features, encoded) in [
            (SecurityFeatures::default(), "AAAA"),
            (
                SecurityFeatures {
                    password_algorithms: true,
                    username_anonymity: false,
                },
                "gAAA",
            ),
            (
                SecurityFeatures {
                    password_algorithms: false,
                    username_anonymity: true,
                },
                "QAAA",
            ),
            (BOTH, "wAAA"),
        ] {
            let nonce = manager(features).issue(Duration::ZERO, client());
            assert_eq!(nonce.get(9..13), Some(encoded));
            assert_eq!(NonceManager::features(&nonce), Some(features));
        }
        assert_eq!(NonceManager::features("obMatJos2"), None);
        assert_eq!(NonceManager::features("obMatJos2AA"), None);
        assert_eq!(NonceManager::features("obMatJos2AA=="), None);
        assert_eq!(NonceManager::features("xbMatJos2AAAA"), None);
        assert_eq!(NonceManager::features("obMatJos2AAé"), None);
        // Unassigned bits are ignored.
        assert_eq!(
            NonceManager::features("obMatJos2P///"),
            Some(SecurityFeatures::default())
        );
    }

    #[test]
    fn debug_is_redacted() {
        let m = NonceManager::new([0xAB; 32], LIFETIME, BOTH);
        let shown = format!("{m:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("171")); // 0xAB
        assert!(!shown.to_lowercase().contains("ab, "));
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_valid(s in ".*", ms in any::<u64>()) {
            let m = manager(BOTH);
            let at = Duration::from_millis(ms);
            prop_assert_ne!(m.check(&s, at, client()), NonceCheck::Valid);
            let _ = NonceManager::features(&s);
        }

        #[test]
        fn cookie_prefixed_strings_never_valid(rest in "[A-Za-z0-9+/=]{0,40}", ms in any::<u64>()) {
            let m = manager(BOTH);
            let s = format!("obMatJos2wAAA{rest}");
            prop_assert_ne!(m.check(&s, Duration::from_millis(ms), client()), NonceCheck::Valid);
        }

        #[test]
        fn issued_nonces_check(ms in any::<u64>(), port in any::<u16>(), ip in any::<IpAddr>()) {
            let m = manager(BOTH);
            let at = Duration::from_millis(ms);
            let addr = SocketAddr::new(ip, port);
            let nonce = m.issue(at, addr);
            prop_assert_eq!(m.check(&nonce, at, addr), NonceCheck::Valid);
        }
    }
}
