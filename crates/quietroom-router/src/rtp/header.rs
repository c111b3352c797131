//! The RTP fixed header, CSRC list, header-extension block and padding (RFC 3550 §5.1, §5.3.1).

use quietroom_wire::Reader;

use super::extension::Extensions;
use crate::RouterError;

/// What errors from this module name.
const WHAT: &str = "RTP header";

/// Length of the fixed RTP header (up to and including the SSRC).
pub(super) const FIXED_HEADER_LEN: usize = 12;

/// Where a packet's header-extension block lies in its buffer (RFC 3550 §5.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionBlock {
    /// The 16-bit profile field: `0xBEDE` for RFC 8285 one-byte elements, `0x1000`–`0x100F`
    /// for two-byte elements, anything else for an RFC 3550 profile-specific block.
    pub profile: u16,
    /// Offset in the packet of the first byte after the 4-byte profile/length header.
    pub start: usize,
    /// Length in bytes of the block's contents (the length field × 4).
    pub len: usize,
}

/// A parsed view of an RTP packet in a buffer: header fields plus byte ranges. Parsing
/// allocates nothing; the ranges index the buffer that was parsed, which the accessors take
/// again (and check, so a header paired with the wrong buffer gives empty results, not a
/// panic).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// The marker bit (end of a video frame, start of a talk spurt).
    pub marker: bool,
    /// The 7-bit payload type.
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The media timestamp.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    /// How many CSRCs follow the fixed header (0–15); see [`RtpHeader::csrcs`].
    pub csrc_count: u8,
    /// Byte range of the extension block's elements (after the 4-byte `0xBEDE`/`0x100x`
    /// header), if the X bit is set.
    pub extensions: Option<ExtensionBlock>,
    /// Offset of the payload in the packet.
    pub payload_offset: usize,
    /// Length of the payload, excluding padding.
    pub payload_len: usize,
    /// Length of the padding at the end of the packet, including the count byte (0 if the P
    /// bit is clear).
    pub padding_len: usize,
}

fn malformed(reason: &'static str) -> RouterError {
    RouterError::Malformed { what: WHAT, reason }
}

impl RtpHeader {
    /// Parses the RTP packet in `packet`.
    ///
    /// # Errors
    ///
    /// [`RouterError::Truncated`] if the packet ends inside the fixed header, the CSRC list or
    /// the extension block; [`RouterError::Malformed`] if the version is not 2, or the P bit is
    /// set and the last byte (the padding count) is 0 or larger than what follows the header.
    pub fn parse(packet: &[u8]) -> Result<RtpHeader, RouterError> {
        let mut r = Reader::new(packet, WHAT);
        let fixed: [u8; FIXED_HEADER_LEN] = r.array()?;
        let [b0, b1, s0, s1, t0, t1, t2, t3, i0, i1, i2, i3] = fixed;
        if b0 >> 6 != 2 {
            return Err(malformed("version is not 2"));
        }
        let has_padding = b0 & 0x20 != 0;
        let has_extension = b0 & 0x10 != 0;
        let csrc_count = b0 & 0x0F;
        r.take(usize::from(csrc_count) * 4)?;

        let extensions = if has_extension {
            let profile = r.u16()?;
            let len = usize::from(r.u16()?) * 4;
            let start = r.pos();
            r.take(len)?;
            Some(ExtensionBlock {
                profile,
                start,
                len,
            })
        } else {
            None
        };

        let payload_offset = r.pos();
        let rest = r.rest();
        let padding_len = if has_padding {
            let Some(&count) = rest.last() else {
                return Err(malformed("padding bit set on a packet without payload"));
            };
            if count == 0 {
                return Err(malformed("padding count is zero"));
            }
            if usize::from(count) > rest.len() {
                return Err(malformed("padding count exceeds the payload"));
            }
            usize::from(count)
        } else {
            0
        };

        Ok(RtpHeader {
            marker: b1 & 0x80 != 0,
            payload_type: b1 & 0x7F,
            sequence: u16::from_be_bytes([s0, s1]),
            timestamp: u32::from_be_bytes([t0, t1, t2, t3]),
            ssrc: u32::from_be_bytes([i0, i1, i2, i3]),
            csrc_count,
            extensions,
            payload_offset,
            payload_len: rest.len().saturating_sub(padding_len),
            padding_len,
        })
    }

    /// The payload (padding excluded) in `packet`, the buffer this header was parsed from.
    /// Empty if `packet` is too short for the recorded range.
    pub fn payload<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet
            .get(self.payload_offset..)
            .and_then(|rest| rest.get(..self.payload_len))
            .unwrap_or_default()
    }

    /// The CSRC list in `packet`, the buffer this header was parsed from (empty if `packet` is
    /// too short for it).
    pub fn csrcs<'a>(&self, packet: &'a [u8]) -> impl ExactSizeIterator<Item = u32> + 'a {
        let list = packet
            .get(FIXED_HEADER_LEN..)
            .and_then(|rest| rest.get(..usize::from(self.csrc_count) * 4))
            .unwrap_or_default();
        list.chunks_exact(4)
            .map(|c| c.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    }

    /// Iterates the RFC 8285 header-extension elements in `packet`, the buffer this header was
    /// parsed from, as `(id, value)`: the one-byte form (profile `0xBEDE`; ids 1–14, id 15
    /// stops, id 0 is padding) and the two-byte form (profiles `0x1000`–`0x100F`; id 0 is
    /// padding). A malformed element ends the iteration; other profiles yield nothing.
    pub fn extensions<'a>(&self, packet: &'a [u8]) -> Extensions<'a> {
        Extensions::new(packet, self.extensions)
    }

    /// The value of the first header-extension element with `id`, if any (see
    /// [`RtpHeader::extensions`]). Id 0 (padding) never matches.
    pub fn extension<'a>(&self, packet: &'a [u8], id: u8) -> Option<&'a [u8]> {
        if id == 0 {
            return None;
        }
        self.extensions(packet)
            .find(|&(i, _)| i == id)
            .map(|(_, value)| value)
    }
}
