//! Certificate fingerprints as exchanged over signaling (RFC 8122 `a=fingerprint`).

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// Length of a SHA-256 digest, in bytes.
const SHA256_LEN: usize = 32;

/// The SHA-256 fingerprint of a DER-encoded certificate, as carried in SDP
/// (`a=fingerprint:sha-256 AB:CD:…`, RFC 8122 §5).
///
/// The fingerprint received over signaling is what authenticates the DTLS peer: a handshake
/// whose peer certificate hashes to anything else fails with
/// [`Error::FingerprintMismatch`].
///
/// `Display` writes the SDP form (hash name, a space, then 32 uppercase hex bytes separated by
/// colons); `FromStr` parses it back, accepting either hex case and any case of the hash name.
/// Comparison with [`PartialEq`] runs in constant time.
///
/// ```
/// use quietroom_srtp::dtls::Fingerprint;
///
/// let fp = Fingerprint::of_der(b"not really a certificate");
/// let sdp = fp.to_string();
/// assert!(sdp.starts_with("sha-256 "));
/// assert_eq!(sdp.parse::<Fingerprint>()?, fp);
/// assert!("sha-1 AB:CD".parse::<Fingerprint>().is_err());
/// # Ok::<(), quietroom_srtp::Error>(())
/// ```
#[derive(Clone, Copy, Eq)]
pub struct Fingerprint {
    digest: [u8; SHA256_LEN],
}

impl Fingerprint {
    /// The hash function name, as written in SDP.
    pub const ALGORITHM: &'static str = "sha-256";

    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(certificate_der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, certificate_der);
        let mut bytes = [0u8; SHA256_LEN];
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint { digest: bytes }
    }

    /// A fingerprint from a raw SHA-256 digest.
    pub const fn from_digest(digest: [u8; SHA256_LEN]) -> Self {
        Fingerprint { digest }
    }

    /// The raw SHA-256 digest.
    pub const fn digest(&self) -> &[u8; SHA256_LEN] {
        &self.digest
    }

    /// Whether `certificate_der` hashes to this fingerprint (constant-time comparison).
    pub fn matches_der(&self, certificate_der: &[u8]) -> bool {
        *self == Fingerprint::of_der(certificate_der)
    }
}

impl PartialEq for Fingerprint {
    /// Constant-time: the running time does not depend on where the digests differ.
    fn eq(&self, other: &Self) -> bool {
        let diff = self
            .digest
            .iter()
            .zip(other.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl std::hash::Hash for Fingerprint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.digest.hash(state);
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::ALGORITHM)?;
        f.write_str(" ")?;
        for (i, b) in self.digest.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A fingerprint is public (it travels in SDP), so showing it is fine and useful.
        write!(f, "Fingerprint({self})")
    }
}

fn invalid(reason: &'static str) -> Error {
    Error::InvalidFingerprint { reason }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl FromStr for Fingerprint {
    type Err = Error;

    /// Parses `sha-256 AB:CD:…` (the value of an SDP `a=fingerprint:` attribute). Leading and
    /// trailing whitespace and any run of spaces or tabs between the hash name and the digest
    /// are accepted; the hash name and the hex digits are case-insensitive.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFingerprint`] for another hash function, a digest that is not exactly
    /// 32 colon-separated two-digit hex bytes, or any other garbage.
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let (algorithm, rest) = s
            .split_once([' ', '\t'])
            .ok_or_else(|| invalid("expected `sha-256 XX:XX:…` (hash name, space, digest)"))?;
        if !algorithm.eq_ignore_ascii_case(Self::ALGORITHM) {
            return Err(invalid(
                "unsupported hash function: only sha-256 fingerprints are accepted",
            ));
        }
        let hex = rest.trim_start_matches([' ', '\t']).as_bytes();
        // 32 bytes: 64 hex digits and 31 colons.
        if hex.len() != SHA256_LEN * 3 - 1 {
            return Err(invalid(
                "a sha-256 fingerprint must be 32 colon-separated hex bytes (95 characters)",
            ));
        }
        let mut digest = [0u8; SHA256_LEN];
        for (i, byte) in digest.iter_mut().enumerate() {
            let at = i * 3;
            if i > 0 && hex[at - 1] != b':' {
                return Err(invalid("hex bytes must be separated by colons"));
            }
            let (Some(hi), Some(lo)) = (hex_value(hex[at]), hex_value(hex[at + 1])) else {
                return Err(invalid("non-hex character in the digest"));
            };
            *byte = (hi << 4) | lo;
        }
        Ok(Fingerprint { digest })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn format_is_sdp_uppercase_colon_separated() {
        let fp = Fingerprint::from_digest(core::array::from_fn(|i| i as u8 * 8));
        let s = fp.to_string();
        assert_eq!(
            s,
            "sha-256 00:08:10:18:20:28:30:38:40:48:50:58:60:68:70:78:\
             80:88:90:98:A0:A8:B0:B8:C0:C8:D0:D8:E0:E8:F0:F8"
        );
        assert_eq!(format!("{fp:?}"), format!("Fingerprint({s})"));
    }

    #[test]
    fn parse_round_trips_and_is_case_insensitive() {
        let fp = Fingerprint::of_der(b"certificate");
        let s = fp.to_string();
        assert_eq!(s.parse::<Fingerprint>().unwrap(), fp);
        assert_eq!(s.to_lowercase().parse::<Fingerprint>().unwrap(), fp);
        let shouty = s.replacen("sha-256", "SHA-256", 1);
        assert_eq!(shouty.parse::<Fingerprint>().unwrap(), fp);
        let spaced = format!("  {}\t {} \n", "Sha-256", &s[8..]);
        assert_eq!(spaced.parse::<Fingerprint>().unwrap(), fp);
    }

    #[test]
    fn matches_der_hashes_the_certificate() {
        let fp = Fingerprint::of_der(b"abc");
        assert!(fp.matches_der(b"abc"));
        assert!(!fp.matches_der(b"abd"));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            fp.to_string(),
            "sha-256 BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:\
             B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn garbage_is_rejected_with_typed_errors() {
        let good = Fingerprint::of_der(b"x").to_string();
        let hex = &good[8..];
        let cases: Vec<String> = vec![
            String::new(),
            " ".into(),
            "sha-256".into(),
            "sha-256 ".into(),
            format!("sha-1 {hex}"),
            format!("sha-2566 {hex}"),
            format!("sha-256 {}", &hex[..hex.len() - 3]),
            format!("sha-256 {hex}:00"),
            format!("sha-256 {}", hex.replace(':', "-")),
            format!("sha-256 {}", hex.replace(':', "")),
            format!("sha-256 {}G", &hex[..hex.len() - 1]),
            format!("sha-256 {}é", &hex[..hex.len() - 2]),
            format!("sha-256:{hex}"),
            "sha-256 ::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::::".into(),
        ];
        for case in &cases {
            let err = case.parse::<Fingerprint>().unwrap_err();
            assert!(
                matches!(err, Error::InvalidFingerprint { .. }),
                "{case:?}: {err:?}"
            );
        }
    }

    #[test]
    fn arbitrary_strings_never_panic() {
        // A cheap deterministic sweep over odd inputs, including multi-byte UTF-8 at every
        // position a byte index could land on.
        let alphabet = [
            "a",
            "F",
            "0",
            ":",
            " ",
            "é",
            "€",
            "\u{10FFFF}",
            "sha-256 ",
            "\t",
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..5_000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 120) as usize;
            let mut x = seed;
            for _ in 0..len {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                s.push_str(alphabet[(x >> 33) as usize % alphabet.len()]);
            }
            let _ = s.parse::<Fingerprint>();
        }
    }

    #[test]
    fn equality_compares_all_bytes() {
        let a = Fingerprint::from_digest([7; 32]);
        let mut d = [7; 32];
        d[31] = 8;
        assert_ne!(a, Fingerprint::from_digest(d));
        assert_eq!(a, Fingerprint::from_digest([7; 32]));
    }
}
