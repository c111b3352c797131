//! Settings for one DTLS-SRTP handshake.

use std::time::Duration;

use super::{DtlsCertificate, Fingerprint};
use crate::{Profile, SrtpConfig};

/// What a DTLS-SRTP engine needs for one handshake with one peer: our certificate, the
/// peer's fingerprint received over signaling, the SRTP profiles to offer, and timers.
///
/// ```
/// use std::time::Duration;
/// use quietroom_srtp::Profile;
/// use quietroom_srtp::dtls::{DtlsCertificate, DtlsConfig};
///
/// let ours = DtlsCertificate::generate()?;
/// let theirs = "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:\
///               AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89".parse()?;
/// let config = DtlsConfig::new(ours, theirs)
///     .with_profiles(&[Profile::AeadAes128Gcm, Profile::Aes128CmHmacSha1_80])
///     .with_handshake_timeout(Duration::from_secs(10));
/// assert_eq!(config.profiles(), &[Profile::AeadAes128Gcm, Profile::Aes128CmHmacSha1_80]);
/// # Ok::<(), quietroom_srtp::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DtlsConfig {
    certificate: DtlsCertificate,
    remote_fingerprint: Fingerprint,
    profiles: Vec<Profile>,
    srtp_config: SrtpConfig,
    retransmit_interval: Duration,
    handshake_timeout: Duration,
    mtu: usize,
}

impl DtlsConfig {
    /// The default handshake retransmission interval (RFC 6347 §4.2.4.1 suggests 1 s).
    pub const DEFAULT_RETRANSMIT_INTERVAL: Duration = Duration::from_secs(1);
    /// The default overall handshake deadline, counted from the engine's creation.
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default largest DTLS datagram we send; handshake messages are fragmented to fit.
    pub const DEFAULT_MTU: usize = 1200;

    /// A configuration presenting `certificate` and accepting only a peer whose certificate
    /// hashes to `remote_fingerprint`, offering every profile in [`Profile::ALL`] order.
    pub fn new(certificate: DtlsCertificate, remote_fingerprint: Fingerprint) -> Self {
        DtlsConfig {
            certificate,
            remote_fingerprint,
            profiles: Profile::ALL.to_vec(),
            srtp_config: SrtpConfig::default(),
            retransmit_interval: Self::DEFAULT_RETRANSMIT_INTERVAL,
            handshake_timeout: Self::DEFAULT_HANDSHAKE_TIMEOUT,
            mtu: Self::DEFAULT_MTU,
        }
    }

    /// Sets the SRTP profiles to offer (as client) or accept (as server), most preferred
    /// first. Duplicates are dropped. An empty list makes every handshake fail with
    /// [`Error::NoSrtpProfile`](crate::Error::NoSrtpProfile).
    #[must_use]
    pub fn with_profiles(mut self, profiles: &[Profile]) -> Self {
        self.profiles.clear();
        for p in profiles {
            if !self.profiles.contains(p) {
                self.profiles.push(*p);
            }
        }
        self
    }

    /// Sets the settings of the [`SrtpSession`](crate::SrtpSession) the handshake produces.
    #[must_use]
    pub fn with_srtp_config(mut self, srtp_config: SrtpConfig) -> Self {
        self.srtp_config = srtp_config;
        self
    }

    /// Sets how long to wait for the peer's next flight before retransmitting ours (at least
    /// 10 ms). rtc-dtls retransmits at this fixed interval, up to 7 times, and then fails the
    /// handshake with [`Error::HandshakeTimeout`](crate::Error::HandshakeTimeout).
    #[must_use]
    pub fn with_retransmit_interval(mut self, interval: Duration) -> Self {
        self.retransmit_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Sets the overall deadline for the handshake, counted from the engine's creation. A
    /// server waiting for a ClientHello that never comes fails with
    /// [`Error::HandshakeTimeout`](crate::Error::HandshakeTimeout) at this deadline.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets the largest datagram we send (clamped to 256..=16384 bytes).
    #[must_use]
    pub fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu.clamp(256, 16_384);
        self
    }

    /// Our certificate.
    pub fn certificate(&self) -> &DtlsCertificate {
        &self.certificate
    }

    /// The fingerprint the peer's certificate must match.
    pub fn remote_fingerprint(&self) -> Fingerprint {
        self.remote_fingerprint
    }

    /// The SRTP profiles offered, most preferred first.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// Settings for the resulting SRTP session.
    pub fn srtp_config(&self) -> &SrtpConfig {
        &self.srtp_config
    }

    /// The handshake retransmission interval.
    pub fn retransmit_interval(&self) -> Duration {
        self.retransmit_interval
    }

    /// The overall handshake deadline.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// The largest datagram we send.
    pub fn mtu(&self) -> usize {
        self.mtu
    }
}
