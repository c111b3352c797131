//! RTP packets as the router sees them (RFC 3550, RFC 8285): a zero-copy parsed view of a
//! packet in its buffer, iteration over header extensions, the typed extension values the
//! router reads, in-place rewriting of the fields an SFU rewrites per subscriber, and RTX
//! (RFC 4588) encapsulation.
//!
//! Nothing here allocates: [`RtpHeader::parse`] returns field values and byte ranges into the
//! caller's buffer, the getters return borrowed slices, and the setters patch bytes in place.
//! Every function is total over arbitrary input: malformed bytes give an error or `None`,
//! never a panic.
//!
//! ```
//! use quietroom_router::rtp::{self, RtpHeader};
//!
//! // V=2, X=1, PT=111, seq 7, ts 960, SSRC 0x1234_5678, one-byte extension id 1 (audio level).
//! let mut packet = vec![
//!     0x90, 0x6F, 0x00, 0x07, 0x00, 0x00, 0x03, 0xC0, 0x12, 0x34, 0x56, 0x78, //
//!     0xBE, 0xDE, 0x00, 0x01, 0x10, 0x9E, 0x00, 0x00, //
//!     0xAA, 0xBB,
//! ];
//! let header = RtpHeader::parse(&packet)?;
//! assert_eq!((header.payload_type, header.sequence, header.timestamp), (111, 7, 960));
//! assert_eq!(header.extension(&packet, 1).and_then(rtp::audio_level), Some((true, 30)));
//! assert_eq!(header.payload(&packet), &[0xAA, 0xBB]);
//!
//! rtp::set_sequence(&mut packet, 1000)?;
//! rtp::set_ssrc(&mut packet, 42)?;
//! let rewritten = RtpHeader::parse(&packet)?;
//! assert_eq!((rewritten.sequence, rewritten.ssrc), (1000, 42));
//! # Ok::<(), quietroom_router::RouterError>(())
//! ```

mod extension;
mod header;
mod rewrite;
mod rtx;
mod values;

pub use extension::{Extensions, set_extension};
pub use header::{ExtensionBlock, RtpHeader};
pub use rewrite::{
    set_marker, set_payload_type, set_sequence, set_ssrc, set_stream_position, set_timestamp,
};
pub use rtx::{Padding, rtx_original_sequence, write_rtx};
pub use values::{abs_send_time, audio_level, sdes_item, transport_sequence, uri};

/// Whether RTP timestamp `a` is after `b`, modulo 2^32 (within half the range, as RTP
/// timestamps compare).
#[inline]
pub(crate) fn timestamp_after(a: u32, b: u32) -> bool {
    a.wrapping_sub(b).wrapping_sub(1) < 0x7FFF_FFFF
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
