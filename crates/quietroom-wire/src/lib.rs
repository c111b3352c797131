//! The checked reader over borrowed bytes that every quietroom parser is built on (after
//! rustls's `Reader`): each read is bounds-checked and fails with a typed [`Truncated`] error
//! naming what was being read, so no parser of untrusted bytes can panic or read past its input.
//!
//! ```
//! use quietroom_wire::{Reader, Truncated};
//!
//! let mut r = Reader::new(&[0x12, 0x34, 0xAB], "example header");
//! assert_eq!(r.u16()?, 0x1234);
//! assert_eq!(r.remaining(), 1);
//! assert_eq!(r.u16(), Err(Truncated { what: "example header", need: 4, have: 3 }));
//! # Ok::<(), Truncated>(())
//! ```
#![forbid(unsafe_code)]

/// The input ended before a field: `need` bytes were required in all, `have` were there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("truncated {what}: need {need} bytes, have {have}")]
pub struct Truncated {
    /// What was being read ("RTP header", "chat frame", …).
    pub what: &'static str,
    /// Bytes needed from the start of the input.
    pub need: usize,
    /// Bytes the input has.
    pub have: usize,
}

/// Reads big-endian fields from the front of a borrowed buffer.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the structure in errors.
    #[inline]
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    /// What this reader reads, as given to [`Reader::new`].
    #[inline]
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// Bytes consumed so far.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte was consumed.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Takes the next `n` bytes.
    ///
    /// # Errors
    ///
    /// [`Truncated`] if fewer than `n` remain; nothing is consumed then.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        match self.pos.checked_add(n).filter(|&end| end <= self.buf.len()) {
            Some(end) => {
                let out = &self.buf[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(Truncated {
                what: self.what,
                need: self.pos.saturating_add(n),
                have: self.buf.len(),
            }),
        }
    }

    /// Takes everything that is left.
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Takes one byte.
    ///
    /// # Errors
    ///
    /// [`Truncated`] at the end of the input.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.array::<1>()?[0])
    }

    /// Takes a big-endian `u16`.
    ///
    /// # Errors
    ///
    /// [`Truncated`] if fewer than 2 bytes remain.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Takes a big-endian `u32`.
    ///
    /// # Errors
    ///
    /// [`Truncated`] if fewer than 4 bytes remain.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Takes a big-endian `u64`.
    ///
    /// # Errors
    ///
    /// [`Truncated`] if fewer than 8 bytes remain.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, Truncated> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Takes the next `N` bytes as an array.
    ///
    /// # Errors
    ///
    /// [`Truncated`] if fewer than `N` remain.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked_and_atomic() {
        let mut r = Reader::new(&[1, 2, 3], "test");
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert_eq!(
            r.u16(),
            Err(Truncated {
                what: "test",
                need: 4,
                have: 3
            })
        );
        assert_eq!(r.pos(), 2, "a failed read consumes nothing");
        assert_eq!(r.u8().unwrap(), 3);
        assert!(r.is_empty());
        assert!(r.take(usize::MAX).is_err());
        assert_eq!(r.rest(), &[] as &[u8]);
    }

    #[test]
    fn wide_reads() {
        let bytes: Vec<u8> = (1..=8).collect();
        assert_eq!(
            Reader::new(&bytes, "t").u64().unwrap(),
            0x0102_0304_0506_0708
        );
        assert_eq!(Reader::new(&bytes, "t").u32().unwrap(), 0x0102_0304);
        assert_eq!(Reader::new(&bytes, "t").array::<3>().unwrap(), [1, 2, 3]);
    }
}
