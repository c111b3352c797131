//! The seam between media routing and media crypto.

use crate::Error;

/// Protects and unprotects RTP and RTCP packets in place, for one peer's session.
///
/// This is the small trait the router (and any other team) programs against, so that a
/// different SRTP implementation — a hardware offload, libsrtp through FFI, a test double —
/// can be plugged in. [`SrtpSession`](crate::SrtpSession) is the default implementation.
///
/// Every method works on the caller's buffer and allocates nothing per packet:
/// - `protect_*` takes a buffer whose first `len` bytes are the plaintext packet and which has
///   at least [`rtp_overhead`](Self::rtp_overhead) / [`rtcp_overhead`](Self::rtcp_overhead)
///   spare bytes after it, and returns the protected length.
/// - `unprotect_*` takes exactly the protected packet and returns the plaintext length (a
///   prefix of the buffer).
///
/// On error the buffer's contents are unspecified and the packet must be dropped; the
/// implementation's state is unchanged.
pub trait MediaCrypto: Send {
    /// Encrypts and authenticates the RTP packet in `buf[..len]`; returns the SRTP length.
    ///
    /// # Errors
    ///
    /// A malformed packet, a buffer without room for the tag, or an index already used.
    fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error>;

    /// Verifies and decrypts the SRTP packet that fills `buf`; returns the RTP length.
    ///
    /// # Errors
    ///
    /// A malformed or truncated packet, a failed authentication tag, or a replay.
    fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error>;

    /// Encrypts and authenticates the (compound) RTCP packet in `buf[..len]`; returns the
    /// SRTCP length.
    ///
    /// # Errors
    ///
    /// A malformed packet, a buffer without room for the trailer, or an exhausted index.
    fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error>;

    /// Verifies and decrypts the SRTCP packet that fills `buf`; returns the RTCP length.
    ///
    /// # Errors
    ///
    /// A malformed or truncated packet, a failed authentication tag, or a replay.
    fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error>;

    /// Spare bytes `protect_rtp` needs after the packet.
    fn rtp_overhead(&self) -> usize;

    /// Spare bytes `protect_rtcp` needs after the packet.
    fn rtcp_overhead(&self) -> usize;
}
