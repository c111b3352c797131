//! One SRTP/SRTCP context: the keys of one master key and the state of its streams.

use std::fmt;

use crate::cipher::Cipher;
use crate::index::{MAX_SRTP_INDEX, estimate_index};
use crate::rtcp::{E_FLAG, MAX_SRTCP_INDEX, RTCP_CLEAR_LEN, rtcp_sender_ssrc};
use crate::rtp::RtpHeader;
use crate::streams::Streams;
use crate::{Error, MasterKey, Profile, SrtpConfig};

/// SRTP and SRTCP under one master key, protecting and unprotecting **in place**.
///
/// A context keeps separate per-SSRC state for what it protects and what it unprotects
/// (rollover counter, replay window, SRTCP index), created on the first packet of each SSRC;
/// a packet that fails leaves that state untouched. Normally a context protects one
/// direction; [`SrtpSession`](crate::SrtpSession) pairs two.
///
/// ```
/// use quietroom_srtp::{MasterKey, Profile, SrtpConfig, SrtpContext};
///
/// let key = MasterKey::new(Profile::AeadAes256Gcm, &[1; 32], &[2; 12])?;
/// let mut sender = SrtpContext::new(&key, &SrtpConfig::default())?;
/// let mut receiver = SrtpContext::new(&key, &SrtpConfig::default())?;
///
/// let mut buf = [0u8; 64];
/// let rtcp = [0x80, 201, 0, 1, 0, 0, 0, 9]; // an empty receiver report
/// buf[..8].copy_from_slice(&rtcp);
/// let n = sender.protect_rtcp(&mut buf, 8)?;
/// assert_eq!(receiver.unprotect_rtcp(&mut buf[..n])?, 8);
/// assert_eq!(&buf[..8], &rtcp);
/// # Ok::<(), quietroom_srtp::Error>(())
/// ```
pub struct SrtpContext {
    profile: Profile,
    rtp: Cipher,
    rtcp: Cipher,
    rtp_tx: Streams,
    rtp_rx: Streams,
    rtcp_tx: Streams,
    rtcp_rx: Streams,
    config: SrtpConfig,
}

impl SrtpContext {
    /// Derives the session keys from `master` (RFC 3711 §4.3, key derivation rate 0).
    ///
    /// # Errors
    ///
    /// Only if the cipher library refuses a derived key, which the profile's lengths rule out.
    pub fn new(master: &MasterKey, config: &SrtpConfig) -> Result<Self, Error> {
        Ok(SrtpContext {
            profile: master.profile(),
            rtp: Cipher::new(master, false)?,
            rtcp: Cipher::new(master, true)?,
            rtp_tx: Streams::default(),
            rtp_rx: Streams::default(),
            rtcp_tx: Streams::default(),
            rtcp_rx: Streams::default(),
            config: config.clone(),
        })
    }

    /// The protection profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The settings this context was made with.
    pub fn config(&self) -> &SrtpConfig {
        &self.config
    }

    /// The rollover counter of the newest packet protected (`sent == true`) or accepted for
    /// `ssrc`, if any packet of that stream was seen.
    pub fn rollover_counter(&self, ssrc: u32, sent: bool) -> Option<u32> {
        let streams = if sent { &self.rtp_tx } else { &self.rtp_rx };
        streams.top(ssrc).map(|index| (index >> 16) as u32)
    }

    /// How many SSRCs this context tracks (RTP and RTCP, both directions).
    pub fn stream_count(&self) -> usize {
        self.rtp_tx.len() + self.rtp_rx.len() + self.rtcp_tx.len() + self.rtcp_rx.len()
    }

    /// Forgets all state of `ssrc` (for example when a track is unpublished), so its memory is
    /// released and its slot counts no more against [`SrtpConfig::max_streams`].
    pub fn remove_ssrc(&mut self, ssrc: u32) {
        self.rtp_tx.remove(ssrc);
        self.rtp_rx.remove(ssrc);
        self.rtcp_tx.remove(ssrc);
        self.rtcp_rx.remove(ssrc);
    }

    /// Encrypts and authenticates the RTP packet in `buf[..len]`, appending the tag; returns
    /// the SRTP length. `buf` must have [`Profile::rtp_overhead`] spare bytes after `len`.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`], a malformed header, [`Error::Replayed`] / [`Error::TooOld`]
    /// for an index already protected (unless [`SrtpConfig::with_allow_repeat_tx`]),
    /// [`Error::TooManyStreams`] or [`Error::IndexExhausted`].
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let need = len.saturating_add(self.profile.rtp_overhead());
        if buf.len() < need {
            return Err(Error::BufferTooSmall {
                need,
                have: buf.len(),
            });
        }
        let header = RtpHeader::parse(&buf[..len])?;
        let index = estimate_index(self.rtp_tx.top(header.ssrc), header.seq);
        if index > MAX_SRTP_INDEX {
            return Err(Error::IndexExhausted { ssrc: header.ssrc });
        }
        self.rtp_tx.check(
            header.ssrc,
            index,
            !self.config.allow_repeat_tx(),
            self.config.max_streams(),
        )?;
        let out = self
            .rtp
            .seal_rtp(buf, header.len, len, header.ssrc, index)?;
        self.rtp_tx
            .accept(header.ssrc, index, self.config.replay_window());
        Ok(out)
    }

    /// Verifies and decrypts the SRTP packet that fills `buf`; returns the length of the RTP
    /// packet now at the front of `buf`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] / [`Error::Malformed`] for a bad packet,
    /// [`Error::AuthenticationFailed`], [`Error::Replayed`], [`Error::TooOld`],
    /// [`Error::TooManyStreams`].
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let header = RtpHeader::parse(buf)?;
        let need = header.len + self.profile.rtp_overhead();
        if buf.len() < need {
            return Err(Error::Truncated {
                what: "SRTP packet",
                need,
                have: buf.len(),
            });
        }
        let index = estimate_index(self.rtp_rx.top(header.ssrc), header.seq);
        if index > MAX_SRTP_INDEX {
            return Err(Error::IndexExhausted { ssrc: header.ssrc });
        }
        self.rtp_rx
            .check(header.ssrc, index, true, self.config.max_streams())?;
        let out = self.rtp.open_rtp(buf, header.len, header.ssrc, index)?;
        self.rtp_rx
            .accept(header.ssrc, index, self.config.replay_window());
        Ok(out)
    }

    /// Encrypts and authenticates the (compound) RTCP packet in `buf[..len]`, appending the
    /// E-flag/SRTCP-index word and the tag; returns the SRTCP length. `buf` must have
    /// [`Profile::rtcp_overhead`] spare bytes after `len`. SRTCP is always encrypted.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`], a malformed header, [`Error::TooManyStreams`] or
    /// [`Error::IndexExhausted`] after 2^31 packets.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let need = len.saturating_add(self.profile.rtcp_overhead());
        if buf.len() < need {
            return Err(Error::BufferTooSmall {
                need,
                have: buf.len(),
            });
        }
        let ssrc = rtcp_sender_ssrc(&buf[..len])?;
        let index = self.rtcp_tx.top(ssrc).map_or(0, |top| top + 1);
        if index > u64::from(MAX_SRTCP_INDEX) {
            return Err(Error::IndexExhausted { ssrc });
        }
        self.rtcp_tx
            .check(ssrc, index, true, self.config.max_streams())?;
        let out = self.rtcp.seal_rtcp(buf, len, ssrc, index as u32)?;
        self.rtcp_tx
            .accept(ssrc, index, self.config.replay_window());
        Ok(out)
    }

    /// Verifies and (if its E flag is set) decrypts the SRTCP packet that fills `buf`; returns
    /// the length of the RTCP packet now at the front of `buf`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] / [`Error::Malformed`] for a bad packet,
    /// [`Error::AuthenticationFailed`], [`Error::Replayed`], [`Error::TooOld`],
    /// [`Error::TooManyStreams`].
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let overhead = self.profile.rtcp_overhead();
        let need = RTCP_CLEAR_LEN + overhead;
        if buf.len() < need {
            return Err(Error::Truncated {
                what: "SRTCP packet",
                need,
                have: buf.len(),
            });
        }
        let ssrc = rtcp_sender_ssrc(buf)?;
        let n = buf.len();
        // The E-flag/index word follows the packet: last with AEAD, before the tag with AES-CM.
        let at = if self.profile.is_aead() {
            n - 4
        } else {
            n - overhead
        };
        let e_index = u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
        let index = u64::from(e_index & !E_FLAG);
        self.rtcp_rx
            .check(ssrc, index, true, self.config.max_streams())?;
        let out = self.rtcp.open_rtcp(buf, ssrc, e_index)?;
        self.rtcp_rx
            .accept(ssrc, index, self.config.replay_window());
        Ok(out)
    }
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("streams", &self.stream_count())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
