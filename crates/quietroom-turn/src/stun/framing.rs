//! Framing of STUN and ChannelData messages on TCP and TLS streams (RFC 8656 §12.5).

use super::{HEADER_LEN, malformed, padding};
use crate::TurnError;

/// The length of the frame at the start of a stream buffer: a STUN message (20 bytes plus
/// its length field) or a ChannelData message padded to 4 bytes.
///
/// `Ok(Some(n))` is the frame length in bytes, whether or not all of it is buffered yet;
/// `Ok(None)` means fewer than 4 bytes are buffered so the length is not known yet.
///
/// # Errors
///
/// [`TurnError::Malformed`] when the first byte is neither STUN (top two bits 00) nor
/// ChannelData (0x40–0x7F), or a STUN length is not a multiple of 4: the stream cannot be
/// resynchronised and the connection must be closed.
pub fn stream_frame_len(buf: &[u8]) -> Result<Option<usize>, TurnError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let stun = first & 0xC0 == 0;
    if !stun && !(0x40..=0x7F).contains(&first) {
        return Err(malformed("stream frame", "neither STUN nor ChannelData"));
    }
    let Some(&[hi, lo]) = buf.get(2..4) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if stun {
        if len % 4 != 0 {
            return Err(malformed(
                "stream frame",
                "STUN length is not a multiple of 4",
            ));
        }
        Ok(Some(HEADER_LEN + len))
    } else {
        Ok(Some(4 + len + padding(len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(stream_frame_len(&[]), Ok(None));
        assert_eq!(stream_frame_len(&[0x00, 0x01, 0x00]), Ok(None));
        assert_eq!(stream_frame_len(&[0x00, 0x01, 0x00, 0x08]), Ok(Some(28)));
        assert_eq!(stream_frame_len(&[0x40, 0x00, 0x00, 0x05]), Ok(Some(12)));
        assert_eq!(stream_frame_len(&[0x4F, 0xFF, 0x00, 0x00]), Ok(Some(4)));
        assert!(stream_frame_len(&[0x00, 0x01, 0x00, 0x05]).is_err());
        assert!(stream_frame_len(&[0x80]).is_err());
        assert!(stream_frame_len(&[0x80, 0, 0, 0]).is_err());
        assert_eq!(
            stream_frame_len(&[0x6F, 0xB7, 0, 0]),
            Ok(Some(4)),
            "RFC 5766 channel"
        );
        assert!(stream_frame_len(&[0xFF]).is_err());
    }
}
