//! The default [`DtlsEngine`]: DTLS 1.2 on webrtc-rs's sans-IO `rtc-dtls`.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::BytesMut;
use rtc_dtls::config::{
    ClientAuthType, ConfigBuilder, ExtendedMasterSecretType, VerifyPeerCertificateFn,
};
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc_shared::TransportProtocol;
use rtc_shared::error::Error as RtcError;
use zeroize::Zeroizing;

use super::{DtlsConfig, DtlsEngine, DtlsEvent, DtlsState, Fingerprint};
use crate::{Error, Profile, Role, SrtpConfig, SrtpSession};

/// The RFC 5764 §4.2 exporter label.
const SRTP_EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";
/// rtc-dtls's endpoint multiplexes by address; ours is single-peer, so fixed placeholder
/// addresses (TEST-NET-1, never on the wire) stand in for the real ones.
const LOCAL: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
    9,
);
const REMOTE: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)),
    9,
);
/// Largest record body we let through to rtc-dtls (2^14 plus the RFC 6347 expansion allowance).
const MAX_RECORD_LEN: usize = 16_384 + 2_048;

/// DTLS 1.2 with `use_srtp`, extended master secret and mutual certificate authentication
/// pinned by fingerprint, on webrtc-rs's sans-IO [`rtc_dtls`].
///
/// - Offers (as client) or accepts (as server) the profiles of [`DtlsConfig::profiles`].
/// - Always requests the client's certificate (`RequireAnyClientCert`) and requires the
///   extended master secret (RFC 7627), so both directions are authenticated.
/// - Skips CA-chain validation: the only check is that the SHA-256 of the peer's leaf
///   certificate equals [`DtlsConfig::remote_fingerprint`] — done inside the handshake (a
///   mismatch aborts it with a `bad_certificate` alert) and once more before keys are exported.
///
/// See the [module documentation](super) for a complete in-memory handshake.
pub struct RtcDtlsEngine {
    role: Role,
    endpoint: Endpoint,
    state: DtlsState,
    local_fingerprint: Fingerprint,
    remote_fingerprint: Fingerprint,
    profiles: Vec<Profile>,
    srtp_config: SrtpConfig,
    deadline: Instant,
    /// Set by the verification callback when the peer's certificate does not match.
    mismatch: Arc<AtomicBool>,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<DtlsEvent>,
    negotiated: Option<Profile>,
    peer_fingerprint: Option<Fingerprint>,
    dropped: u64,
}

impl RtcDtlsEngine {
    /// An engine taking `role`, created at `now` (the handshake deadline counts from here).
    /// A client queues its ClientHello immediately: drain [`poll_transmit`](DtlsEngine::poll_transmit).
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] if rtc-dtls refuses the configuration (for example no cipher
    /// suite usable with the certificate's key).
    pub fn new(config: DtlsConfig, role: Role, now: Instant) -> Result<Self, Error> {
        let is_client = role == Role::Client;
        let mismatch = Arc::new(AtomicBool::new(false));
        let provider =
            rtc_dtls::crypto_provider::default_provider().map_err(|e| Error::Handshake {
                reason: format!("no DTLS crypto provider available: {e}"),
            })?;
        let profiles: Vec<SrtpProtectionProfile> = config
            .profiles()
            .iter()
            .map(|p| to_rtc_profile(*p))
            .collect();
        let handshake_config = ConfigBuilder::default()
            .with_crypto_provider(provider)
            .with_certificates(vec![config.certificate().rtc().clone()])
            .with_srtp_protection_profiles(profiles)
            .with_client_auth(ClientAuthType::RequireAnyClientCert)
            .with_extended_master_secret(ExtendedMasterSecretType::Require)
            .with_flight_interval(config.retransmit_interval())
            .with_mtu(config.mtu())
            .with_server_name("localhost".to_owned())
            .with_insecure_skip_verify(true)
            .with_verify_peer_certificate(Some(fingerprint_verifier(
                config.remote_fingerprint(),
                Arc::clone(&mismatch),
            )))
            .build(is_client, None)
            .map_err(|e| Error::Handshake {
                reason: format!("invalid DTLS configuration: {e}"),
            })?;
        let handshake_config = Arc::new(handshake_config);

        let server_config = (!is_client).then(|| Arc::clone(&handshake_config));
        let mut endpoint = Endpoint::new(LOCAL, TransportProtocol::UDP, server_config);
        if is_client {
            endpoint
                .connect(now, REMOTE, handshake_config, None)
                .map_err(|e| Error::Handshake {
                    reason: format!("starting the DTLS client: {e}"),
                })?;
        }
        let mut engine = RtcDtlsEngine {
            role,
            endpoint,
            state: DtlsState::Handshaking,
            local_fingerprint: config.certificate().fingerprint(),
            remote_fingerprint: config.remote_fingerprint(),
            profiles: config.profiles().to_vec(),
            srtp_config: config.srtp_config().clone(),
            deadline: now + config.handshake_timeout(),
            mismatch,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            negotiated: None,
            peer_fingerprint: None,
            dropped: 0,
        };
        engine.drain_endpoint();
        Ok(engine)
    }

    /// A DTLS client (`a=setup:active`) created at `now`.
    ///
    /// # Errors
    ///
    /// As [`RtcDtlsEngine::new`].
    pub fn client(config: DtlsConfig, now: Instant) -> Result<Self, Error> {
        Self::new(config, Role::Client, now)
    }

    /// A DTLS server (`a=setup:passive`) created at `now`.
    ///
    /// # Errors
    ///
    /// As [`RtcDtlsEngine::new`].
    pub fn server(config: DtlsConfig, now: Instant) -> Result<Self, Error> {
        Self::new(config, Role::Server, now)
    }

    /// The negotiated SRTP profile, once connected.
    pub fn negotiated_profile(&self) -> Option<Profile> {
        self.negotiated
    }

    /// The fingerprint of the peer's certificate, once connected.
    pub fn peer_fingerprint(&self) -> Option<Fingerprint> {
        self.peer_fingerprint
    }

    /// The fingerprint the peer's certificate must match.
    pub fn remote_fingerprint(&self) -> Fingerprint {
        self.remote_fingerprint
    }

    /// How many datagrams were dropped without processing (not well-formed DTLS records, or
    /// DTLS application data, which this engine does not carry).
    pub fn dropped_datagrams(&self) -> u64 {
        self.dropped
    }

    /// **Testing and interop aid; never log, store or send the result.**
    ///
    /// Exports the `EXTRACTOR-dtls_srtp` keying material again (RFC 5764 §4.2:
    /// `client key | server key | client salt | server salt`, [`Profile::keying_material_len`]
    /// bytes), for comparing against another implementation in tests. The returned buffer
    /// is wiped when dropped. Production code needs only the [`SrtpSession`] from
    /// [`DtlsEvent::Connected`].
    ///
    /// # Errors
    ///
    /// [`Error::HandshakeIncomplete`] before the handshake completed, [`Error::Closed`] after
    /// the association was closed.
    pub fn dangerous_srtp_keying_material(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        let profile = self.negotiated.ok_or(Error::HandshakeIncomplete)?;
        let state = self
            .endpoint
            .get_connection_state(REMOTE)
            .ok_or(Error::Closed)?;
        let secret = state
            .export_keying_material(SRTP_EXPORTER_LABEL, &[], profile.keying_material_len())
            .map_err(|e| Error::Handshake {
                reason: format!("exporting SRTP keying material: {e}"),
            })?;
        Ok(Zeroizing::new(secret.as_ref().to_vec()))
    }

    fn drain_endpoint(&mut self) {
        while let Some(transmit) = self.endpoint.poll_transmit() {
            self.transmits.push_back(transmit.message.to_vec());
        }
    }

    /// Moves to `Failed` and hands the error back for returning.
    fn fail(&mut self, error: Error) -> Error {
        self.state = DtlsState::Failed;
        error
    }

    /// Fails after rtc-dtls completed a handshake we refuse: tell the peer, then fail.
    fn refuse(&mut self, now: Instant, error: Error) -> Error {
        let _closed = self.endpoint.stop(now, REMOTE);
        self.drain_endpoint();
        self.fail(error)
    }

    fn on_handshake_complete(&mut self, now: Instant) -> Result<(), Error> {
        let Some(state) = self.endpoint.get_connection_state(REMOTE) else {
            return Err(self.fail(Error::HandshakeIncomplete));
        };
        // Belt and braces: rtc-dtls ran our fingerprint callback inside the handshake; check
        // the certificate that completed it once more before any key leaves this engine.
        let peer = state
            .peer_certificates
            .first()
            .map(|der| Fingerprint::of_der(der));
        if peer != Some(self.remote_fingerprint) {
            return Err(self.refuse(now, Error::FingerprintMismatch));
        }
        let profile = match from_rtc_profile(state.srtp_protection_profile()) {
            Some(p) if self.profiles.contains(&p) => p,
            _ => return Err(self.refuse(now, Error::NoSrtpProfile)),
        };
        let material = match state.export_keying_material(
            SRTP_EXPORTER_LABEL,
            &[],
            profile.keying_material_len(),
        ) {
            Ok(m) => m,
            Err(e) => {
                let reason = format!("exporting SRTP keying material: {e}");
                return Err(self.refuse(now, Error::Handshake { reason }));
            }
        };
        let session = match SrtpSession::from_keying_material(
            profile,
            material.as_ref(),
            self.role,
            self.srtp_config.clone(),
        ) {
            Ok(s) => s,
            Err(e) => return Err(self.refuse(now, e)),
        };
        drop(material); // wiped on drop (rtc-crypto's SecretVec is Zeroizing)
        self.negotiated = Some(profile);
        self.peer_fingerprint = peer;
        self.state = DtlsState::Connected;
        self.events.push_back(DtlsEvent::Connected {
            profile,
            session: Box::new(session),
            peer_fingerprint: self.remote_fingerprint,
        });
        Ok(())
    }

    fn map_error(&self, error: &RtcError, datagram: Option<&[u8]>) -> Error {
        if self.mismatch.load(Ordering::SeqCst) {
            return Error::FingerprintMismatch;
        }
        match error {
            RtcError::ErrServerNoMatchingSrtpProfile
            | RtcError::ErrClientNoMatchingSrtpProfile
            | RtcError::ErrRequestedButNoSrtpExtension => Error::NoSrtpProfile,
            RtcError::ErrClientCertificateRequired => Error::Handshake {
                reason: "the DTLS client presented no certificate; one is required to check \
                         its fingerprint"
                    .into(),
            },
            RtcError::ErrAlertFatalOrClose => Error::Handshake {
                reason: match datagram.and_then(plaintext_alert) {
                    Some(code) => format!(
                        "the peer sent fatal alert {} ({code}){}",
                        alert_name(code),
                        if code == 42 {
                            "; it probably does not accept our certificate fingerprint"
                        } else {
                            ""
                        }
                    ),
                    None => "the peer sent a fatal alert".into(),
                },
            },
            other => Error::Handshake {
                reason: format!("rtc-dtls: {other}"),
            },
        }
    }
}

impl DtlsEngine for RtcDtlsEngine {
    fn role(&self) -> Role {
        self.role
    }

    fn state(&self) -> DtlsState {
        self.state
    }

    fn local_fingerprint(&self) -> Fingerprint {
        self.local_fingerprint
    }

    fn handle_input(&mut self, now: Instant, datagram: &[u8]) -> Result<(), Error> {
        if matches!(self.state, DtlsState::Failed | DtlsState::Closed) {
            return Err(Error::Closed);
        }
        if !is_well_formed(datagram) {
            self.dropped += 1;
            return Ok(());
        }
        let result = self
            .endpoint
            .read(now, REMOTE, None, BytesMut::from(datagram));
        self.drain_endpoint();
        let events = match result {
            Ok(events) => events,
            Err(e) => {
                let error = self.map_error(&e, Some(datagram));
                return Err(self.fail(error));
            }
        };
        for event in events {
            match event {
                EndpointEvent::HandshakeComplete => self.on_handshake_complete(now)?,
                EndpointEvent::PeerClosed => {
                    self.state = DtlsState::Closed;
                    self.events.push_back(DtlsEvent::PeerClosed);
                }
                // DTLS application data (data channels) is not this engine's business.
                _ => self.dropped += 1,
            }
        }
        Ok(())
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if self.state != DtlsState::Handshaking {
            return Ok(());
        }
        if now >= self.deadline {
            return Err(self.fail(Error::HandshakeTimeout));
        }
        let due = self
            .endpoint
            .poll_timeout(&REMOTE)
            .is_some_and(|t| now >= t);
        if !due {
            return Ok(());
        }
        let result = self.endpoint.handle_timeout(REMOTE, now);
        self.drain_endpoint();
        match result {
            Ok(()) => Ok(()),
            // rtc-dtls moves to its Errored state when retransmissions run out, and reports
            // that as an invalid transition out of it.
            Err(RtcError::ErrInvalidFsmTransition) => Err(self.fail(Error::HandshakeTimeout)),
            Err(e) => {
                let error = self.map_error(&e, None);
                Err(self.fail(error))
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.state != DtlsState::Handshaking {
            return None;
        }
        match self.endpoint.poll_timeout(&REMOTE) {
            Some(t) => Some(t.min(self.deadline)),
            None => Some(self.deadline),
        }
    }

    fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    fn close(&mut self, now: Instant) {
        if matches!(self.state, DtlsState::Handshaking | DtlsState::Connected) {
            let _closed = self.endpoint.stop(now, REMOTE);
            self.drain_endpoint();
        }
        if self.state != DtlsState::Failed {
            self.state = DtlsState::Closed;
        }
    }
}

impl fmt::Debug for RtcDtlsEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtcDtlsEngine")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("local_fingerprint", &self.local_fingerprint)
            .field("remote_fingerprint", &self.remote_fingerprint)
            .field("negotiated", &self.negotiated)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

/// The rtc-dtls callback that pins the peer's leaf certificate to `expected`.
fn fingerprint_verifier(
    expected: Fingerprint,
    mismatch: Arc<AtomicBool>,
) -> VerifyPeerCertificateFn {
    Arc::new(move |certificates, _chains| match certificates.first() {
        Some(leaf) if expected.matches_der(leaf) => Ok(()),
        _ => {
            mismatch.store(true, Ordering::SeqCst);
            Err(RtcError::Other(
                "peer certificate does not match the fingerprint received over signaling".into(),
            ))
        }
    })
}

fn to_rtc_profile(profile: Profile) -> SrtpProtectionProfile {
    match profile {
        Profile::Aes128CmHmacSha1_80 => SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
        Profile::Aes128CmHmacSha1_32 => SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32,
        Profile::AeadAes128Gcm => SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
        Profile::AeadAes256Gcm => SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm,
    }
}

fn from_rtc_profile(profile: SrtpProtectionProfile) -> Option<Profile> {
    match profile {
        SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => Some(Profile::Aes128CmHmacSha1_80),
        SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32 => Some(Profile::Aes128CmHmacSha1_32),
        SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => Some(Profile::AeadAes128Gcm),
        SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm => Some(Profile::AeadAes256Gcm),
        _ => None,
    }
}

/// Whether `datagram` is a sequence of syntactically plausible DTLS 1.0/1.2 records: content
/// type 20–23, version 0xFEFF or 0xFEFD, and lengths that tile the datagram exactly.
/// Anything else is dropped before rtc-dtls sees it (RFC 6347 §4.1.2.7).
pub(crate) fn is_well_formed(datagram: &[u8]) -> bool {
    let mut rest = datagram;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some((header, body)) = rest.split_first_chunk::<13>() else {
            return false;
        };
        let [content_type, major, minor, .., len_hi, len_lo] = *header;
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if !(20..=23).contains(&content_type)
            || major != 0xFE
            || !(minor == 0xFD || minor == 0xFF)
            || len == 0
            || len > MAX_RECORD_LEN
            || len > body.len()
        {
            return false;
        }
        rest = &body[len..];
    }
    true
}

/// The description code of a plaintext (epoch 0) alert record at the start of `datagram`.
fn plaintext_alert(datagram: &[u8]) -> Option<u8> {
    match datagram {
        [
            21,
            0xFE,
            _,
            0,
            0,
            _,
            _,
            _,
            _,
            _,
            _,
            0,
            2,
            _level,
            description,
            ..,
        ] => Some(*description),
        _ => None,
    }
}

fn alert_name(code: u8) -> &'static str {
    match code {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        110 => "unsupported_extension",
        _ => "(unnamed)",
    }
}
