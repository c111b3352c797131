//! A checked reader over borrowed bytes: every read is bounds-checked and fails with a typed
//! error instead of panicking.

use crate::Error;

/// Reads big-endian fields from the front of a borrowed packet.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the structure in errors ("RTP header", …).
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let out = &self.buf[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(Error::Truncated {
                what: self.what,
                need: self.pos.saturating_add(n),
                have: self.buf.len(),
            }),
        }
    }

    /// Takes one byte.
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    /// Takes the first byte of an RTP or RTCP header, refusing any version but 2.
    pub(crate) fn version2_byte(&mut self) -> Result<u8, Error> {
        let b0 = self.u8()?;
        if b0 >> 6 == 2 {
            Ok(b0)
        } else {
            Err(Error::Malformed {
                what: self.what,
                reason: "version is not 2",
            })
        }
    }

    /// Takes a big-endian `u16`.
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Takes a big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked() {
        let mut r = Reader::new(&[1, 2, 3], "test");
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert_eq!(
            r.u16(),
            Err(Error::Truncated {
                what: "test",
                need: 4,
                have: 3
            })
        );
        assert_eq!(r.u8().unwrap(), 3);
        assert_eq!(r.pos(), 3);
        assert!(r.take(usize::MAX).is_err());
    }
}
