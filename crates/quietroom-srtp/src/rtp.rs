//! The parts of the RTP header (RFC 3550 §5.1) that SRTP needs.

use crate::Error;
use crate::reader::version2_byte;
use quietroom_wire::Reader;

/// What SRTP reads from an RTP header: the stream, the sequence number, and where the
/// encrypted payload starts (after CSRCs and any header extension, which stay in the clear
/// but are authenticated, RFC 3711 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RtpHeader {
    pub(crate) ssrc: u32,
    pub(crate) seq: u16,
    /// Bytes of header, CSRC list and header extension.
    pub(crate) len: usize,
}

impl RtpHeader {
    /// Parses the header at the front of `packet`.
    pub(crate) fn parse(packet: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(packet, "RTP header");
        let b0 = version2_byte(&mut r)?;
        let _marker_pt = r.u8()?;
        let seq = r.u16()?;
        let _timestamp = r.u32()?;
        let ssrc = r.u32()?;
        let csrc_count = usize::from(b0 & 0x0f);
        r.take(4 * csrc_count)?;
        if b0 & 0x10 != 0 {
            let _profile = r.u16()?;
            let words = usize::from(r.u16()?);
            r.take(4 * words)?;
        }
        Ok(RtpHeader {
            ssrc,
            seq,
            len: r.pos(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_with_csrcs_and_extension() {
        let mut p = vec![0x92, 0x60, 0x12, 0x34, 0, 0, 0, 1, 0xDE, 0xAD, 0xBE, 0xEF];
        p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]); // 2 CSRCs
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xFF, 0, 0]); // one-byte ext, 1 word
        p.extend_from_slice(b"payload");
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!(h.len, 12 + 8 + 8);
        assert_eq!(h.seq, 0x1234);
        assert_eq!(h.ssrc, 0xDEAD_BEEF);
    }

    #[test]
    fn truncated_and_bad_version() {
        assert!(matches!(
            RtpHeader::parse(&[0x80; 11]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            RtpHeader::parse(&[0x40; 12]),
            Err(Error::Malformed { .. })
        ));
        // CSRC count says 15 but nothing follows.
        assert!(matches!(
            RtpHeader::parse(&[0x8F; 12]),
            Err(Error::Truncated { need: 72, .. })
        ));
    }
}
