//! A bidirectional SRTP session: the outbound and inbound contexts of one peer.

use crate::{Error, MasterKey, MediaCrypto, Profile, Role, SrtpConfig, SrtpContext};

/// Both directions of one SRTP session: what we send is protected with the local master key,
/// what we receive is verified with the remote one.
///
/// This is what a completed DTLS-SRTP handshake hands back, and the default
/// [`MediaCrypto`] implementation.
///
/// ```
/// use quietroom_srtp::{MediaCrypto, Profile, Role, SrtpConfig, SrtpSession};
///
/// let material = [7u8; 56]; // from EXTRACTOR-dtls_srtp in real use
/// let p = Profile::AeadAes128Gcm;
/// let mut alice = SrtpSession::from_keying_material(p, &material, Role::Client, SrtpConfig::default())?;
/// let mut bob = SrtpSession::from_keying_material(p, &material, Role::Server, SrtpConfig::default())?;
///
/// // A 12-byte RTP header and a payload, with room for the tag.
/// let mut packet = vec![0x80, 96, 0, 1, 0, 0, 0, 1, 0xCA, 0xFE, 0xBA, 0xBE, 1, 2, 3];
/// let len = packet.len();
/// packet.resize(len + alice.rtp_overhead(), 0);
/// let srtp_len = alice.protect_rtp(&mut packet, len)?;
/// let rtp_len = bob.unprotect_rtp(&mut packet[..srtp_len])?;
/// assert_eq!(&packet[12..rtp_len], &[1, 2, 3]);
/// # Ok::<(), quietroom_srtp::Error>(())
/// ```
#[derive(Debug)]
pub struct SrtpSession {
    outbound: SrtpContext,
    inbound: SrtpContext,
}

impl SrtpSession {
    /// A session from the two master keys.
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`] if the keys are for different profiles.
    pub fn new(local: &MasterKey, remote: &MasterKey, config: SrtpConfig) -> Result<Self, Error> {
        if local.profile() != remote.profile() {
            return Err(Error::KeyLength {
                what: "remote master key",
                profile: local.profile(),
                expected: local.profile().key_len(),
                got: remote.profile().key_len(),
            });
        }
        Ok(SrtpSession {
            outbound: SrtpContext::new(local, &config)?,
            inbound: SrtpContext::new(remote, &config)?,
        })
    }

    /// A session from `EXTRACTOR-dtls_srtp` keying material (RFC 5764 §4.2), for the side that
    /// took `role` in the DTLS handshake.
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`] when `material` has the wrong length for `profile`.
    pub fn from_keying_material(
        profile: Profile,
        material: &[u8],
        role: Role,
        config: SrtpConfig,
    ) -> Result<Self, Error> {
        let (local, remote) = crate::split_keying_material(profile, material, role)?;
        Self::new(&local, &remote, config)
    }

    /// The session's protection profile.
    pub fn profile(&self) -> Profile {
        self.outbound.profile()
    }

    /// The context that protects what we send.
    pub fn outbound(&mut self) -> &mut SrtpContext {
        &mut self.outbound
    }

    /// The context that unprotects what we receive.
    pub fn inbound(&mut self) -> &mut SrtpContext {
        &mut self.inbound
    }
}

impl MediaCrypto for SrtpSession {
    fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        self.outbound.protect_rtp(buf, len)
    }

    fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.inbound.unprotect_rtp(buf)
    }

    fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        self.outbound.protect_rtcp(buf, len)
    }

    fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.inbound.unprotect_rtcp(buf)
    }

    fn rtp_overhead(&self) -> usize {
        self.outbound.profile().rtp_overhead()
    }

    fn rtcp_overhead(&self) -> usize {
        self.outbound.profile().rtcp_overhead()
    }
}
