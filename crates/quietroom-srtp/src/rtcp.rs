//! The parts of the RTCP header (RFC 3550 §6.4) and the SRTCP trailer (RFC 3711 §3.4) that
//! SRTCP needs.

use crate::Error;
use crate::reader::version2_byte;
use quietroom_wire::Reader;

/// Bytes of the first RTCP header plus the sender SSRC: the part that stays in the clear.
pub(crate) const RTCP_CLEAR_LEN: usize = 8;
/// The E flag in the SRTCP index word.
pub(crate) const E_FLAG: u32 = 0x8000_0000;
/// The largest SRTCP index (31 bits).
pub(crate) const MAX_SRTCP_INDEX: u32 = 0x7FFF_FFFF;

/// Reads the sender SSRC of the first packet of a (compound) RTCP packet.
pub(crate) fn rtcp_sender_ssrc(packet: &[u8]) -> Result<u32, Error> {
    let mut r = Reader::new(packet, "RTCP header");
    version2_byte(&mut r)?;
    let _pt = r.u8()?;
    let _length = r.u16()?;
    Ok(r.u32()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_ssrc() {
        let p = [0x80, 200, 0, 6, 0xCA, 0xFE, 0xBA, 0xBE];
        assert_eq!(rtcp_sender_ssrc(&p).unwrap(), 0xCAFE_BABE);
        assert!(matches!(
            rtcp_sender_ssrc(&p[..7]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            rtcp_sender_ssrc(&[0; 8]),
            Err(Error::Malformed { .. })
        ));
    }
}
