//! RTP/RTCP helpers over the workspace's checked reader.

use quietroom_wire::{Reader, Truncated};

use crate::Error;

impl From<Truncated> for Error {
    fn from(t: Truncated) -> Self {
        Error::Truncated {
            what: t.what,
            need: t.need,
            have: t.have,
        }
    }
}

/// Takes the first byte of an RTP or RTCP header, refusing any version but 2.
pub(crate) fn version2_byte(r: &mut Reader<'_>) -> Result<u8, Error> {
    let b0 = r.u8()?;
    if b0 >> 6 == 2 {
        Ok(b0)
    } else {
        Err(Error::Malformed {
            what: r.what(),
            reason: "version is not 2",
        })
    }
}
