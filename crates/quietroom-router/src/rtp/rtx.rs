//! RTX retransmission payloads (RFC 4588 §4): the original sequence number (OSN) followed by
//! the original payload, sent on the RTX SSRC with the RTX payload type.

use super::header::RtpHeader;
use super::rewrite::{set_payload_type, set_sequence, set_ssrc};
use crate::RouterError;

/// What errors from this module name.
const WHAT: &str = "RTX packet";

/// The original sequence number carried in the first two bytes of an RTX payload.
pub fn rtx_original_sequence(payload: &[u8]) -> Option<u16> {
    payload
        .first_chunk::<2>()
        .map(|&osn| u16::from_be_bytes(osn))
}

/// Builds the RTX packet for `original` (parsed as `header`) into `out`: the header bytes
/// (CSRCs and extensions included) with SSRC, payload type and sequence number replaced, the
/// original sequence number inserted before the payload, and the padding dropped (P bit
/// cleared). Returns the RTX packet's length: `header.payload_offset + 2 + header.payload_len`,
/// at most `original.len() + 2`.
///
/// # Errors
///
/// [`RouterError::Truncated`] if `original` is shorter than `header` describes or `out` is
/// too short; [`RouterError::Malformed`] if `rtx_pt` does not fit in 7 bits.
pub fn write_rtx(
    original: &[u8],
    header: &RtpHeader,
    rtx_ssrc: u32,
    rtx_pt: u8,
    rtx_seq: u16,
    out: &mut [u8],
) -> Result<usize, RouterError> {
    let head_len = header.payload_offset;
    let payload_end = head_len.saturating_add(header.payload_len);
    let (Some(head), Some(payload)) = (
        original.get(..head_len),
        original.get(head_len..payload_end),
    ) else {
        return Err(RouterError::Truncated {
            what: "RTP packet",
            need: payload_end,
            have: original.len(),
        });
    };
    let total = payload_end.saturating_add(2);
    let have = out.len();
    let Some(out) = out.get_mut(..total) else {
        return Err(RouterError::Truncated {
            what: WHAT,
            need: total,
            have,
        });
    };
    let (out_head, rest) = out.split_at_mut(head_len);
    let (osn, out_payload) = rest.split_at_mut(2);
    out_head.copy_from_slice(head);
    osn.copy_from_slice(&header.sequence.to_be_bytes());
    out_payload.copy_from_slice(payload);
    set_payload_type(out, rtx_pt)?;
    set_sequence(out, rtx_seq)?;
    set_ssrc(out, rtx_ssrc)?;
    if let Some(b0) = out.first_mut() {
        *b0 &= !0x20;
    }
    Ok(total)
}

/// A padding-only packet (RFC 3550 §5.1, P bit): what a sender uses to probe for bandwidth,
/// on its RTX stream as libwebrtc does, so that the media stream's numbering is untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Padding {
    /// The RTX SSRC.
    pub ssrc: u32,
    /// The RTX payload type (7 bits).
    pub payload_type: u8,
    /// The RTX stream's next sequence number.
    pub sequence: u16,
    /// The timestamp (the media stream's latest, as libwebrtc sends).
    pub timestamp: u32,
    /// The transport-wide sequence number extension (id 1–14, one-byte form) and its value,
    /// so the receiver's congestion feedback covers the packet.
    pub transport_cc: Option<(u8, u16)>,
    /// Padding bytes, the count byte included (1–255).
    pub padding: u8,
}

impl Padding {
    /// Writes the packet into `out` (cleared first) and returns its length: 12 header bytes,
    /// 8 for the extension when there is one, then the padding, its last byte the count.
    ///
    /// # Errors
    ///
    /// [`RouterError::Malformed`] for a zero padding length, a payload type above 127 or an
    /// extension id outside 1–14; `out` is left empty.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<usize, RouterError> {
        let refuse = |reason| {
            Err(RouterError::Malformed {
                what: "padding packet",
                reason,
            })
        };
        out.clear();
        if self.padding == 0 {
            return refuse("no padding");
        }
        if self.payload_type > 0x7F {
            return refuse("payload type above 127");
        }
        if let Some((id, _)) = self.transport_cc
            && !(1..=14).contains(&id)
        {
            return refuse("one-byte extension id outside 1-14");
        }
        // V=2, P=1, X when there is an extension.
        out.push(0xA0 | if self.transport_cc.is_some() { 0x10 } else { 0 });
        out.push(self.payload_type);
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        if let Some((id, seq)) = self.transport_cc {
            // One-byte form (RFC 8285): one word, the element (length 2) and one byte of
            // padding.
            out.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, (id << 4) | 1]);
            out.extend_from_slice(&seq.to_be_bytes());
            out.push(0);
        }
        let start = out.len();
        out.resize(start + usize::from(self.padding), 0);
        if let Some(count) = out.last_mut() {
            *count = self.padding;
        }
        Ok(out.len())
    }
}
