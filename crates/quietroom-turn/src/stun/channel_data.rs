//! TURN ChannelData messages (RFC 8656 §12.4): a 4-byte header (channel number, length) and
//! the application data, padded to 4 bytes over stream transports.

use quietroom_wire::Reader;

use super::{malformed, padding};
use crate::TurnError;

/// A ChannelData message borrowing its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelData<'a> {
    /// The channel number: 0x4000–0x4FFF in RFC 8656, 0x4000–0x7FFF in RFC 5766.
    pub channel: u16,
    /// The application data.
    pub data: &'a [u8],
}

/// Channel numbers the codec accepts: RFC 5766's 0x4000–0x7FFF, which contains RFC 8656's
/// 0x4000–0x4FFF. Clients of the older RFC (coturn's own) still pick numbers up to 0x7FFF;
/// which range a server binds is its policy (`ServerConfig::rfc5766_channels`).
pub const CHANNEL_NUMBERS: std::ops::RangeInclusive<u16> = 0x4000..=0x7FFF;

impl<'a> ChannelData<'a> {
    /// Parses a ChannelData message at the start of `bytes`: channel 0x4000–0x7FFF and a
    /// length within the input. Returns the message and the bytes it occupies, including the
    /// padding to 4 when `padded` (stream transports, where the padding must be present).
    /// Over UDP pass `padded = false`: the bytes after the data (padding or not) are allowed
    /// and not counted.
    ///
    /// # Errors
    ///
    /// [`TurnError::Malformed`] for a channel number out of range; [`TurnError::Truncated`]
    /// when the input ends before the data (or its padding, when `padded`).
    pub fn parse(bytes: &'a [u8], padded: bool) -> Result<(ChannelData<'a>, usize), TurnError> {
        let mut r = Reader::new(bytes, "ChannelData");
        let channel = r.u16()?;
        if !CHANNEL_NUMBERS.contains(&channel) {
            return Err(malformed(
                "ChannelData",
                "channel number not in 0x4000-0x7FFF",
            ));
        }
        let len = usize::from(r.u16()?);
        let data = r.take(len)?;
        if padded {
            r.take(padding(len))?;
        }
        Ok((ChannelData { channel, data }, r.pos()))
    }

    /// Appends a ChannelData message, padded with zeros to 4 bytes when `pad`. Data beyond
    /// 65 535 bytes is cut off.
    pub fn encode(channel: u16, data: &[u8], pad: bool, out: &mut Vec<u8>) {
        let data = data.get(..usize::from(u16::MAX)).unwrap_or(data);
        out.extend_from_slice(&channel.to_be_bytes());
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(data);
        if pad {
            out.resize(out.len() + padding(data.len()), 0);
        }
    }

    /// The bytes [`ChannelData::encode`] writes for this message.
    pub fn encoded_len(&self, pad: bool) -> usize {
        let n = 4 + self.data.len();
        if pad { n + padding(n) } else { n }
    }
}

/// Whether `bytes` starts like a ChannelData message: first byte 0x40–0x7F.
pub fn is_channel_data(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(0x40..=0x7F))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_with_and_without_padding() {
        for len in 0usize..9 {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for pad in [false, true] {
                let mut out = Vec::new();
                ChannelData::encode(0x4001, &data, pad, &mut out);
                let expected = if pad {
                    (4 + len).div_ceil(4) * 4
                } else {
                    4 + len
                };
                assert_eq!(out.len(), expected);
                let (cd, used) = ChannelData::parse(&out, pad).unwrap();
                assert_eq!(
                    cd,
                    ChannelData {
                        channel: 0x4001,
                        data: &data
                    }
                );
                assert_eq!(used, expected);
                assert_eq!(cd.encoded_len(pad), expected);
                assert!(is_channel_data(&out));
            }
        }
    }

    #[test]
    fn udp_allows_trailing_and_missing_padding() {
        let msg = [0x40, 0x00, 0x00, 0x01, 0xAA, 0, 0, 0, 9];
        let (cd, used) = ChannelData::parse(&msg, false).unwrap();
        assert_eq!((cd.data, used), (&[0xAA][..], 5));
        assert!(ChannelData::parse(&msg[..5], false).is_ok());
        // Over a stream the padding must be there.
        assert!(matches!(
            ChannelData::parse(&msg[..5], true),
            Err(TurnError::Truncated { .. })
        ));
        assert_eq!(ChannelData::parse(&msg, true).unwrap().1, 8);
    }

    #[test]
    fn channel_out_of_range_is_refused() {
        for ch in [0x0000u16, 0x3FFF, 0x8000, 0xBFFF, 0xFFFF] {
            let mut out = Vec::new();
            ChannelData::encode(ch, b"x", true, &mut out);
            assert!(matches!(
                ChannelData::parse(&out, true),
                Err(TurnError::Malformed { .. })
            ));
        }
        assert!(!is_channel_data(&[0x80]));
        assert!(is_channel_data(&[0x6F]), "RFC 5766 range");
        assert!(!is_channel_data(&[]));
    }

    #[test]
    fn length_past_end_is_truncated() {
        assert!(matches!(
            ChannelData::parse(&[0x40, 0, 0, 5, 1, 2], false),
            Err(TurnError::Truncated { .. })
        ));
        assert!(ChannelData::parse(&[0x40, 0, 0], false).is_err());
    }
}
