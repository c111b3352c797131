//! The local DTLS certificate: generated ECDSA P-256 self-signed, or loaded from PEM.

use std::fmt;

use rtc_dtls::crypto::Certificate;

use super::Fingerprint;
use crate::Error;

/// The certificate and private key this side presents in the DTLS handshake.
///
/// WebRTC-style DTLS-SRTP authenticates by fingerprint, not by CA chain, so the certificate is
/// normally self-signed and freshly generated ([`DtlsCertificate::generate`]); its
/// [`fingerprint`](Self::fingerprint) is what the peer must receive over signaling. Cloning is
/// cheap (the private key is shared, not copied).
///
/// `Debug` shows only the fingerprint; the private key is never printed.
///
/// ```
/// use quietroom_srtp::dtls::DtlsCertificate;
///
/// let cert = DtlsCertificate::generate()?;
/// println!("a=fingerprint:{}", cert.fingerprint());
/// # Ok::<(), quietroom_srtp::Error>(())
/// ```
#[derive(Clone)]
pub struct DtlsCertificate {
    inner: Certificate,
    fingerprint: Fingerprint,
}

fn cert_error(context: &str, err: impl fmt::Display) -> Error {
    Error::Certificate {
        reason: format!("{context}: {err}"),
    }
}

fn crypto_provider()
-> Result<std::sync::Arc<dyn rtc_dtls::crypto_provider::RTCCryptoProvider>, Error> {
    rtc_dtls::crypto_provider::default_provider()
        .map_err(|e| cert_error("no DTLS crypto provider available", e))
}

impl DtlsCertificate {
    /// Generates a fresh ECDSA P-256 key and a self-signed certificate for it.
    ///
    /// The certificate carries no identifying names and a fixed, very long validity period
    /// (so no wall-clock time is needed); its only purpose is to be pinned by fingerprint.
    /// Generate one per peer connection, or per process, as your privacy model prefers.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] if key generation or certificate signing fails.
    pub fn generate() -> Result<Self, Error> {
        let provider = crypto_provider()?;
        // rcgen's default key pair (used by `generate_self_signed`) is ECDSA P-256/SHA-256.
        let inner = Certificate::generate_self_signed(Vec::<String>::new(), provider.crypto())
            .map_err(|e| cert_error("generating a self-signed ECDSA P-256 certificate", e))?;
        Self::from_inner(inner)
    }

    /// Loads a certificate and its private key from PEM text.
    ///
    /// `certificate_pem` holds one or more `CERTIFICATE` blocks (leaf first);
    /// `private_key_pem` holds one unencrypted PKCS#8 `PRIVATE KEY` block (what
    /// `openssl req -newkey ec … -nodes` writes). ECDSA P-256, Ed25519 and RSA keys are
    /// accepted. The key is not checked against the certificate here: a mismatched pair fails
    /// the handshake.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] for a missing or malformed block, an encrypted or SEC1
    /// (`EC PRIVATE KEY`) key — convert it with `openssl pkcs8 -topk8 -nocrypt` — or an
    /// unsupported key type.
    pub fn from_pem(certificate_pem: &str, private_key_pem: &str) -> Result<Self, Error> {
        const BEGIN_KEY: &str = "-----BEGIN PRIVATE KEY-----";
        const END_KEY: &str = "-----END PRIVATE KEY-----";
        if private_key_pem.contains("-----BEGIN EC PRIVATE KEY-----")
            || private_key_pem.contains("-----BEGIN RSA PRIVATE KEY-----")
        {
            return Err(Error::Certificate {
                reason: "the private key is not PKCS#8; convert it with \
                         `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8.pem`"
                    .into(),
            });
        }
        if private_key_pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err(Error::Certificate {
                reason: "the private key is encrypted; decrypt it first \
                         (`openssl pkcs8 -topk8 -nocrypt`)"
                    .into(),
            });
        }
        if private_key_pem.matches(BEGIN_KEY).count() != 1 {
            return Err(Error::Certificate {
                reason: "expected exactly one `-----BEGIN PRIVATE KEY-----` (PKCS#8) block".into(),
            });
        }
        if !certificate_pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(Error::Certificate {
                reason: "no `-----BEGIN CERTIFICATE-----` block in the certificate PEM".into(),
            });
        }
        // rtc-dtls reads its own bundle format: the key first, labelled `PRIVATE_KEY`, then
        // the certificates. Only the labels are rewritten; the base64 content is untouched.
        let mut bundle = zeroize::Zeroizing::new(
            private_key_pem
                .replace(BEGIN_KEY, "-----BEGIN PRIVATE_KEY-----")
                .replace(END_KEY, "-----END PRIVATE_KEY-----"),
        );
        bundle.push('\n');
        bundle.push_str(certificate_pem);
        let provider = crypto_provider()?;
        let inner = Certificate::from_pem(&bundle, provider.crypto())
            .map_err(|e| cert_error("loading the PEM certificate and key", e))?;
        Self::from_inner(inner)
    }

    fn from_inner(inner: Certificate) -> Result<Self, Error> {
        let leaf = inner
            .certificate
            .first()
            .ok_or_else(|| Error::Certificate {
                reason: "the certificate chain is empty".into(),
            })?;
        let fingerprint = Fingerprint::of_der(leaf.as_ref());
        Ok(DtlsCertificate { inner, fingerprint })
    }

    /// The SHA-256 fingerprint of the leaf certificate, to send to the peer over signaling.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The DER encoding of the leaf certificate.
    pub fn certificate_der(&self) -> &[u8] {
        self.inner
            .certificate
            .first()
            .map(|c| c.as_ref())
            .unwrap_or_default()
    }

    /// The rtc-dtls form, for the engine.
    pub(crate) fn rtc(&self) -> &Certificate {
        &self.inner
    }
}

impl fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsCertificate")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn generated_certificates_are_distinct_and_fingerprinted() {
        let a = DtlsCertificate::generate().unwrap();
        let b = DtlsCertificate::generate().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(a.fingerprint().matches_der(a.certificate_der()));
        let dbg = format!("{a:?}");
        assert!(dbg.starts_with("DtlsCertificate { fingerprint: Fingerprint(sha-256 "));
    }

    #[test]
    fn generated_key_is_ecdsa_p256() {
        let cert = DtlsCertificate::generate().unwrap();
        let der = cert.certificate_der();
        // id-ecPublicKey (1.2.840.10045.2.1) and prime256v1 (1.2.840.10045.3.1.7).
        let ec_public_key = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
        let p256 = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
        assert!(der.windows(ec_public_key.len()).any(|w| w == ec_public_key));
        assert!(der.windows(p256.len()).any(|w| w == p256));
    }

    #[test]
    fn pem_round_trip_keeps_the_fingerprint() {
        let cert = DtlsCertificate::generate().unwrap();
        let bundle = cert.rtc().serialize_pem().unwrap();
        // Split rtc-dtls's bundle back into standard PEM files.
        let key_end = bundle.find("-----END PRIVATE_KEY-----").unwrap() + 25;
        let key_pem = bundle[..key_end].replace("PRIVATE_KEY", "PRIVATE KEY");
        let cert_pem = &bundle[key_end..];
        let loaded = DtlsCertificate::from_pem(cert_pem, &key_pem).unwrap();
        assert_eq!(loaded.fingerprint(), cert.fingerprint());
    }

    #[test]
    fn bad_pem_is_a_certificate_error() {
        let cases = [
            ("", ""),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
            ),
            (
                "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
                "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            ),
        ];
        for (c, k) in cases {
            let err = DtlsCertificate::from_pem(c, k).unwrap_err();
            assert!(matches!(err, Error::Certificate { .. }), "{err:?}");
        }
    }
}
