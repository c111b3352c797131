//! TLS settings for the TLS listeners: certificates from PEM, modern protocol versions and
//! AEAD cipher suites only.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::{cipher_suite, default_provider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::TurnError;

/// A rustls server configuration from a PEM certificate chain (leaf first) and a PEM private
/// key (PKCS#8, SEC1 or PKCS#1 RSA), for [`DriverConfig::tls_config`](super::DriverConfig).
///
/// Only TLS 1.3 and TLS 1.2 are offered, and only AEAD cipher suites (AES-GCM and
/// ChaCha20-Poly1305, with ECDHE key exchange under TLS 1.2), with the `ring` crypto
/// provider. No client certificates are requested.
///
/// # Errors
///
/// [`TurnError::Tls`] when the PEM holds no certificate or no key, does not parse, or the key
/// does not suit the certificate. The message never contains key material.
pub fn tls_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TurnError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TurnError::Tls(format!("reading the certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TurnError::Tls(
            "the certificate PEM holds no CERTIFICATE block".into(),
        ));
    }
    // The error of a key parse is reported by kind only: it could otherwise quote the input.
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
        TurnError::Tls(
            "the key PEM holds no usable PRIVATE KEY (PKCS#8), EC PRIVATE KEY (SEC1) or RSA \
             PRIVATE KEY block"
                .into(),
        )
    })?;
    let base = default_provider();
    let provider = CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..base
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TurnError::Tls(format!("protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TurnError::Tls(format!("certificate and key: {e}")))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]

    use super::*;

    #[test]
    fn refuses_empty_and_garbage() {
        assert!(matches!(
            tls_config_from_pem(b"", b""),
            Err(TurnError::Tls(_))
        ));
        let e = tls_config_from_pem(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n",
        );
        match e {
            Err(TurnError::Tls(msg)) => assert!(!msg.contains("c2VjcmV0")),
            other => panic!("expected a TLS error, got {other:?}"),
        }
    }
}
