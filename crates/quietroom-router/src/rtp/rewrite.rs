//! In-place rewriting of the fixed-header fields an SFU rewrites per subscriber.

use super::header::FIXED_HEADER_LEN;
use crate::RouterError;

/// The fixed header of `packet`, or `Truncated` if it is shorter than 12 bytes.
#[inline]
fn fixed_header(packet: &mut [u8]) -> Result<&mut [u8; FIXED_HEADER_LEN], RouterError> {
    let have = packet.len();
    packet
        .first_chunk_mut::<FIXED_HEADER_LEN>()
        .ok_or(RouterError::Truncated {
            what: "RTP header",
            need: FIXED_HEADER_LEN,
            have,
        })
}

/// Sets the sequence number of the RTP packet in `packet`.
///
/// # Errors
///
/// [`RouterError::Truncated`] if `packet` is shorter than the 12-byte fixed header.
#[inline]
pub fn set_sequence(packet: &mut [u8], seq: u16) -> Result<(), RouterError> {
    let [_, _, s0, s1, ..] = fixed_header(packet)?;
    [*s0, *s1] = seq.to_be_bytes();
    Ok(())
}

/// Sets the timestamp of the RTP packet in `packet`.
///
/// # Errors
///
/// [`RouterError::Truncated`] if `packet` is shorter than the 12-byte fixed header.
#[inline]
pub fn set_timestamp(packet: &mut [u8], ts: u32) -> Result<(), RouterError> {
    let [_, _, _, _, t0, t1, t2, t3, ..] = fixed_header(packet)?;
    [*t0, *t1, *t2, *t3] = ts.to_be_bytes();
    Ok(())
}

/// Sets the SSRC of the RTP packet in `packet`.
///
/// # Errors
///
/// [`RouterError::Truncated`] if `packet` is shorter than the 12-byte fixed header.
#[inline]
pub fn set_ssrc(packet: &mut [u8], ssrc: u32) -> Result<(), RouterError> {
    let [.., i0, i1, i2, i3] = fixed_header(packet)?;
    [*i0, *i1, *i2, *i3] = ssrc.to_be_bytes();
    Ok(())
}

/// Sets the sequence number, timestamp and SSRC of the RTP packet in `packet` at once: what
/// an SFU rewrites in each subscriber's copy.
///
/// # Errors
///
/// [`RouterError::Truncated`] if `packet` is shorter than the 12-byte fixed header.
#[inline]
pub fn set_stream_position(
    packet: &mut [u8],
    seq: u16,
    ts: u32,
    ssrc: u32,
) -> Result<(), RouterError> {
    let [_, _, s0, s1, t0, t1, t2, t3, i0, i1, i2, i3] = fixed_header(packet)?;
    [*s0, *s1] = seq.to_be_bytes();
    [*t0, *t1, *t2, *t3] = ts.to_be_bytes();
    [*i0, *i1, *i2, *i3] = ssrc.to_be_bytes();
    Ok(())
}

/// Sets the payload type of the RTP packet in `packet`, keeping the marker bit.
///
/// # Errors
///
/// [`RouterError::Truncated`] if `packet` is shorter than the 12-byte fixed header;
/// [`RouterError::Malformed`] if `pt` does not fit in 7 bits.
#[inline]
pub fn set_payload_type(packet: &mut [u8], pt: u8) -> Result<(), RouterError> {
    if pt > 0x7F {
        return Err(RouterError::Malformed {
            what: "RTP payload type",
            reason: "exceeds 7 bits",
        });
    }
    let [_, b1, ..] = fixed_header(packet)?;
    *b1 = (*b1 & 0x80) | pt;
    Ok(())
}

/// Sets or clears the marker bit of the RTP packet in `packet`.
///
/// # Errors
///
/// [`RouterError::Truncated`] if `packet` is shorter than the 12-byte fixed header.
#[inline]
pub fn set_marker(packet: &mut [u8], marker: bool) -> Result<(), RouterError> {
    let [_, b1, ..] = fixed_header(packet)?;
    *b1 = (*b1 & 0x7F) | if marker { 0x80 } else { 0 };
    Ok(())
}
