//! Message text that is wiped when dropped and never printed.

use std::fmt;

use zeroize::Zeroize;

use crate::ChatError;

/// The text of a chat message: validated UTF-8, zeroised in place when dropped, and never shown
/// by `Debug` (which prints only its length).
///
/// ```
/// use quietroom_chat::MessageBody;
/// let body = MessageBody::from_utf8(b"see you at 3")?;
/// assert_eq!(body.as_str(), "see you at 3");
/// assert_eq!(format!("{body:?}"), "MessageBody(12 bytes)");
/// # Ok::<(), quietroom_chat::ChatError>(())
/// ```
pub struct MessageBody {
    text: Box<str>,
}

impl MessageBody {
    /// Validates `bytes` as UTF-8 and copies them into a new body.
    ///
    /// # Errors
    ///
    /// [`ChatError::InvalidUtf8`] if `bytes` is not UTF-8.
    pub fn from_utf8(bytes: &[u8]) -> Result<Self, ChatError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(MessageBody { text: text.into() }),
            Err(e) => Err(ChatError::InvalidUtf8 {
                valid_up_to: e.valid_up_to(),
            }),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

impl Drop for MessageBody {
    fn drop(&mut self) {
        self.text.zeroize();
        #[cfg(test)]
        probe::observe(self.text.as_bytes());
    }
}

impl fmt::Debug for MessageBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageBody({} bytes)", self.text.len())
    }
}

/// A test-only look at each body's buffer after it was wiped and before it is freed.
#[cfg(test)]
pub(crate) mod probe {
    use std::cell::RefCell;

    /// (buffer address, buffer contents) of each body dropped while recording.
    type Observed = Vec<(usize, Vec<u8>)>;

    thread_local! {
        static SEEN: RefCell<Option<Observed>> = const { RefCell::new(None) };
    }

    /// Starts recording on this thread.
    pub(crate) fn start() {
        SEEN.with(|s| *s.borrow_mut() = Some(Vec::new()));
    }

    /// Stops recording; returns (buffer address, buffer contents) for each body dropped.
    pub(crate) fn take() -> Observed {
        SEEN.with(|s| s.borrow_mut().take().unwrap_or_default())
    }

    pub(super) fn observe(buffer: &[u8]) {
        SEEN.with(|s| {
            if let Some(seen) = s.borrow_mut().as_mut() {
                seen.push((buffer.as_ptr() as usize, buffer.to_vec()));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_utf8() {
        assert_eq!(
            MessageBody::from_utf8(b"ok\xFFno").err(),
            Some(ChatError::InvalidUtf8 { valid_up_to: 2 })
        );
    }

    /// The very buffer that held the text is all zeros when it is handed back to the
    /// allocator.
    #[test]
    fn drop_wipes_the_buffer_before_free() {
        let body = MessageBody::from_utf8("secret plans ✓".as_bytes()).unwrap();
        let addr = body.as_str().as_ptr() as usize;
        let len = body.len();
        probe::start();
        drop(body);
        let seen = probe::take();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, addr, "the same allocation");
        assert_eq!(seen[0].1, vec![0; len]);
    }
}
