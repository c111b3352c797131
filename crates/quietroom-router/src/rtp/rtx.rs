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
