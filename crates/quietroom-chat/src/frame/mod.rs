//! The chat wire format: the frames a client and the server exchange over the signaling
//! WebSocket or a data channel.
//!
//! A client sends [`Frame::Send`]; the server answers with [`Frame::Deliver`] (to every
//! participant who may see the message, the sender included), [`Frame::Rejected`] (to the sender
//! only, when a message was refused) or [`Frame::Ended`] (to everyone, when the meeting ends and
//! its chat is wiped).
//!
//! [`Frame::decode`] parses untrusted bytes through the checked
//! [`quietroom_wire::Reader`]: it never panics, never allocates and never copies the body, which
//! it borrows from the input. A frame must use every byte it is given.
//!
//! # Layout
//!
//! All integers are big-endian. Every frame starts with the version byte `0x01` and a type
//! byte.
//!
//! | type | frame      | fields after the type byte |
//! |------|------------|----------------------------|
//! | 0x01 | `Send`     | `flags: u8` · `recipient: u64` (only if private) · `ttl_ms: u32` · `body_len: u16` · `body` |
//! | 0x81 | `Deliver`  | `message_id: u64` · `sender: u64` · `flags: u8` · `recipient: u64` (only if private) · `age_ms: u32` · `body_len: u16` · `body` |
//! | 0x82 | `Rejected` | `code: u8` ([`RejectCode`]) · `retry_after_ms: u32` |
//! | 0x83 | `Ended`    | `reason: u8` ([`EndReason`]) |
//!
//! * `flags`: bit 0 set means private (a `recipient` follows); the other bits must be zero.
//! * `ttl_ms`: 0 means no time to live. A `Some` TTL is encoded rounded up to whole
//!   milliseconds and to at least 1 ms, so it never turns into "no TTL".
//! * `age_ms`: how long ago the message was sent, rounded down to whole milliseconds.
//! * `retry_after_ms`: rounded up to whole milliseconds, so a client that waits that long is
//!   not refused again for being early.
//! * Every duration saturates at `u32::MAX` ms (about 49.7 days).
//! * `body`: `body_len` bytes of UTF-8. The frame format allows an empty body; whether an
//!   empty message is accepted is the store's decision, not the wire format's.
//!
//! The encoding is canonical: a decoded frame re-encodes to exactly the bytes it came from.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use quietroom_chat::ParticipantId;
//! use quietroom_chat::frame::Frame;
//!
//! let frame = Frame::Send {
//!     to: Some(ParticipantId(7)),
//!     ttl: Some(Duration::from_secs(60)),
//!     body: "see you at 3",
//! };
//! let mut bytes = Vec::new();
//! frame.encode(&mut bytes)?;
//! assert_eq!(bytes.len(), frame.encoded_len());
//! assert_eq!(&bytes[..3], &[0x01, 0x01, 0x01]); // version, Send, private
//!
//! assert_eq!(Frame::decode(&bytes)?, frame);
//! // `Debug` shows the body's length, never its text.
//! assert!(!format!("{frame:?}").contains("see you"));
//! # Ok::<(), quietroom_chat::ChatError>(())
//! ```

use std::fmt;
use std::time::{Duration, Instant};

use quietroom_wire::{Reader, Truncated};

use crate::{ChatError, ChatMessage, MessageId, ParticipantId};

/// The only version of the format; the first byte of every frame.
pub const VERSION: u8 = 0x01;

const TYPE_SEND: u8 = 0x01;
const TYPE_DELIVER: u8 = 0x81;
const TYPE_REJECTED: u8 = 0x82;
const TYPE_ENDED: u8 = 0x83;

const FLAG_PRIVATE: u8 = 0x01;

/// What decoding errors name.
const WHAT: &str = "chat frame";

/// The largest body a frame can carry, in bytes (`body_len` is a `u16`).
pub const MAX_BODY_LEN: usize = u16::MAX as usize;

impl From<Truncated> for ChatError {
    fn from(t: Truncated) -> Self {
        ChatError::Truncated {
            what: t.what,
            need: t.need,
            have: t.have,
        }
    }
}

fn malformed(reason: &'static str) -> ChatError {
    ChatError::Malformed { what: WHAT, reason }
}

/// Why the server refused a message, as carried by [`Frame::Rejected`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum RejectCode {
    /// The body is over the size limit ([`ChatError::TooLarge`]).
    TooLarge = 1,
    /// The body is empty ([`ChatError::Empty`]).
    Empty = 2,
    /// The body is not UTF-8 ([`ChatError::InvalidUtf8`]).
    InvalidUtf8 = 3,
    /// The sender is sending too fast ([`ChatError::RateLimited`]); see `retry_after`.
    RateLimited = 4,
    /// The sender is not in the room ([`ChatError::NotInRoom`]).
    NotInRoom = 5,
    /// The private message's recipient is not in the room
    /// ([`ChatError::RecipientNotPresent`]).
    RecipientNotPresent = 6,
    /// The room has no open meeting ([`ChatError::UnknownRoom`]).
    UnknownRoom = 7,
    /// The server's chat memory budget is used up ([`ChatError::BudgetExhausted`]).
    BudgetExhausted = 8,
    /// Any other reason.
    Other = 255,
}

impl RejectCode {
    /// The code for a wire byte.
    ///
    /// # Errors
    ///
    /// [`ChatError::Malformed`] for a byte that is not a known code.
    pub const fn from_u8(code: u8) -> Result<Self, ChatError> {
        Ok(match code {
            1 => RejectCode::TooLarge,
            2 => RejectCode::Empty,
            3 => RejectCode::InvalidUtf8,
            4 => RejectCode::RateLimited,
            5 => RejectCode::NotInRoom,
            6 => RejectCode::RecipientNotPresent,
            7 => RejectCode::UnknownRoom,
            8 => RejectCode::BudgetExhausted,
            255 => RejectCode::Other,
            _ => {
                return Err(ChatError::Malformed {
                    what: WHAT,
                    reason: "unknown reject code",
                });
            }
        })
    }

    /// The wire byte (the same as `code as u8`, which other crates cannot write because the
    /// enum is `#[non_exhaustive]`).
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The code that tells a client why `error` refused its message. Errors with no code of
    /// their own (and frame errors: a client that sent a bad frame gets [`RejectCode::Other`])
    /// map to [`RejectCode::Other`].
    pub const fn for_error(error: &ChatError) -> RejectCode {
        match error {
            ChatError::TooLarge { .. } => RejectCode::TooLarge,
            ChatError::Empty => RejectCode::Empty,
            ChatError::InvalidUtf8 { .. } => RejectCode::InvalidUtf8,
            ChatError::RateLimited { .. } => RejectCode::RateLimited,
            ChatError::NotInRoom { .. } => RejectCode::NotInRoom,
            ChatError::RecipientNotPresent { .. } => RejectCode::RecipientNotPresent,
            ChatError::UnknownRoom(_) => RejectCode::UnknownRoom,
            ChatError::BudgetExhausted { .. } => RejectCode::BudgetExhausted,
            ChatError::RoomAlreadyOpen(_)
            | ChatError::TooManyRooms { .. }
            | ChatError::RoomFull { .. }
            | ChatError::Truncated { .. }
            | ChatError::Malformed { .. } => RejectCode::Other,
        }
    }

    /// How long a client refused with `error` should wait before trying again: the
    /// `retry_after` of [`ChatError::RateLimited`], zero for every other error.
    pub const fn retry_after(error: &ChatError) -> Duration {
        match error {
            ChatError::RateLimited { retry_after, .. } => *retry_after,
            _ => Duration::ZERO,
        }
    }
}

impl From<RejectCode> for u8 {
    fn from(code: RejectCode) -> u8 {
        code.as_u8()
    }
}

/// Why a meeting ended, as carried by [`Frame::Ended`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum EndReason {
    /// The meeting was ended on purpose (by its host or the embedding product).
    Explicit = 0,
    /// The last participant left.
    LastParticipantLeft = 1,
    /// The meeting's scheduled end time was reached.
    EndTimeReached = 2,
}

impl EndReason {
    /// The reason for a wire byte.
    ///
    /// # Errors
    ///
    /// [`ChatError::Malformed`] for a byte that is not a known reason.
    pub const fn from_u8(reason: u8) -> Result<Self, ChatError> {
        Ok(match reason {
            0 => EndReason::Explicit,
            1 => EndReason::LastParticipantLeft,
            2 => EndReason::EndTimeReached,
            _ => {
                return Err(ChatError::Malformed {
                    what: WHAT,
                    reason: "unknown end reason",
                });
            }
        })
    }

    /// The wire byte (the same as `reason as u8`, which other crates cannot write because the
    /// enum is `#[non_exhaustive]`).
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl From<EndReason> for u8 {
    fn from(reason: EndReason) -> u8 {
        reason.as_u8()
    }
}

/// A decoded frame, borrowing its body from the input (no copy, no allocation).
///
/// `Debug` shows the body's length in bytes, never its text.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame<'a> {
    /// Client → server: send a message to the room, or privately to one participant.
    Send {
        /// The recipient of a private message; `None` for the whole room.
        to: Option<ParticipantId>,
        /// How long the message stays deliverable; `None` for as long as the meeting.
        /// Encoded rounded up to whole milliseconds and to at least 1 ms.
        ttl: Option<Duration>,
        /// The text.
        body: &'a str,
    },
    /// Server → client: a message the client may see.
    Deliver {
        /// The message's id.
        id: MessageId,
        /// The sender.
        from: ParticipantId,
        /// The recipient of a private message; `None` for a message to the whole room.
        to: Option<ParticipantId>,
        /// How long ago the message was sent. Encoded rounded down to whole milliseconds.
        age: Duration,
        /// The text.
        body: &'a str,
    },
    /// Server → client: the client's message was refused.
    Rejected {
        /// Why.
        code: RejectCode,
        /// How long to wait before sending again (zero unless rate limited). Encoded rounded
        /// up to whole milliseconds.
        retry_after: Duration,
    },
    /// Server → client: the meeting ended; its chat is gone.
    Ended {
        /// Why the meeting ended.
        reason: EndReason,
    },
}

impl<'a> Frame<'a> {
    /// Parses one whole frame from `bytes`, borrowing the body.
    ///
    /// # Errors
    ///
    /// * [`ChatError::Truncated`] if `bytes` ends before a field.
    /// * [`ChatError::Malformed`] for an unsupported version, an unknown frame type, reserved
    ///   flag bits set, an unknown reject code or end reason, or bytes left over after the
    ///   frame.
    /// * [`ChatError::InvalidUtf8`] if the body is not UTF-8 (`valid_up_to` counts from the
    ///   start of the body).
    pub fn decode(bytes: &'a [u8]) -> Result<Frame<'a>, ChatError> {
        let mut r = Reader::new(bytes, WHAT);
        if r.u8()? != VERSION {
            return Err(malformed("unsupported version"));
        }
        let frame = match r.u8()? {
            TYPE_SEND => {
                let to = read_recipient(&mut r)?;
                let ttl = match r.u32()? {
                    0 => None,
                    ms => Some(Duration::from_millis(u64::from(ms))),
                };
                let body = read_body(&mut r)?;
                Frame::Send { to, ttl, body }
            }
            TYPE_DELIVER => {
                let id = MessageId(r.u64()?);
                let from = ParticipantId(r.u64()?);
                let to = read_recipient(&mut r)?;
                let age = Duration::from_millis(u64::from(r.u32()?));
                let body = read_body(&mut r)?;
                Frame::Deliver {
                    id,
                    from,
                    to,
                    age,
                    body,
                }
            }
            TYPE_REJECTED => {
                let code = RejectCode::from_u8(r.u8()?)?;
                let retry_after = Duration::from_millis(u64::from(r.u32()?));
                Frame::Rejected { code, retry_after }
            }
            TYPE_ENDED => Frame::Ended {
                reason: EndReason::from_u8(r.u8()?)?,
            },
            _ => return Err(malformed("unknown frame type")),
        };
        if !r.is_empty() {
            return Err(malformed("trailing bytes after the frame"));
        }
        Ok(frame)
    }

    /// The `Deliver` frame for `message`, as seen at `now` (its age is the time since it was
    /// sent, zero if `now` is earlier).
    pub fn deliver(message: &'a ChatMessage, now: Instant) -> Frame<'a> {
        Frame::Deliver {
            id: message.id(),
            from: message.from(),
            to: message.to(),
            age: now.saturating_duration_since(message.sent_at()),
            body: message.body().as_str(),
        }
    }

    /// The `Rejected` frame that tells a client why `error` refused its message
    /// ([`RejectCode::for_error`], [`RejectCode::retry_after`]).
    pub const fn rejection(error: &ChatError) -> Frame<'static> {
        Frame::Rejected {
            code: RejectCode::for_error(error),
            retry_after: RejectCode::retry_after(error),
        }
    }

    /// The length of the encoding in bytes (what [`Frame::encode`] appends when it succeeds).
    pub fn encoded_len(&self) -> usize {
        2 + match self {
            Frame::Send { to, body, .. } => 1 + recipient_len(*to) + 4 + 2 + body.len(),
            Frame::Deliver { to, body, .. } => 8 + 8 + 1 + recipient_len(*to) + 4 + 2 + body.len(),
            Frame::Rejected { .. } => 1 + 4,
            Frame::Ended { .. } => 1,
        }
    }

    /// Appends the encoding to `out`.
    ///
    /// Durations saturate at `u32::MAX` milliseconds; a `Send` TTL is rounded up to whole
    /// milliseconds and to at least 1 ms (0 on the wire means "no TTL"), a `Rejected`
    /// `retry_after` is rounded up and a `Deliver` age is rounded down.
    ///
    /// # Errors
    ///
    /// [`ChatError::TooLarge`] if the body is longer than [`MAX_BODY_LEN`] bytes; `out` is
    /// left unchanged then.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ChatError> {
        match *self {
            Frame::Send { to, ttl, body } => {
                let len = body_len(body)?;
                out.reserve(self.encoded_len());
                out.extend_from_slice(&[VERSION, TYPE_SEND]);
                write_recipient(out, to);
                let ttl_ms = ttl.map_or(0, |d| millis_ceil(d).max(1));
                out.extend_from_slice(&ttl_ms.to_be_bytes());
                write_body(out, len, body);
            }
            Frame::Deliver {
                id,
                from,
                to,
                age,
                body,
            } => {
                let len = body_len(body)?;
                out.reserve(self.encoded_len());
                out.extend_from_slice(&[VERSION, TYPE_DELIVER]);
                out.extend_from_slice(&id.0.to_be_bytes());
                out.extend_from_slice(&from.0.to_be_bytes());
                write_recipient(out, to);
                out.extend_from_slice(&millis_floor(age).to_be_bytes());
                write_body(out, len, body);
            }
            Frame::Rejected { code, retry_after } => {
                out.extend_from_slice(&[VERSION, TYPE_REJECTED, code.as_u8()]);
                out.extend_from_slice(&millis_ceil(retry_after).to_be_bytes());
            }
            Frame::Ended { reason } => {
                out.extend_from_slice(&[VERSION, TYPE_ENDED, reason.as_u8()]);
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Frame<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body is shown as its length only: chat text must not reach logs.
        struct BodyLen(usize);
        impl fmt::Debug for BodyLen {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} bytes", self.0)
            }
        }
        match self {
            Frame::Send { to, ttl, body } => f
                .debug_struct("Send")
                .field("to", to)
                .field("ttl", ttl)
                .field("body", &BodyLen(body.len()))
                .finish(),
            Frame::Deliver {
                id,
                from,
                to,
                age,
                body,
            } => f
                .debug_struct("Deliver")
                .field("id", id)
                .field("from", from)
                .field("to", to)
                .field("age", age)
                .field("body", &BodyLen(body.len()))
                .finish(),
            Frame::Rejected { code, retry_after } => f
                .debug_struct("Rejected")
                .field("code", code)
                .field("retry_after", retry_after)
                .finish(),
            Frame::Ended { reason } => f.debug_struct("Ended").field("reason", reason).finish(),
        }
    }
}

/// Reads `flags` and, if the private bit is set, the recipient.
fn read_recipient(r: &mut Reader<'_>) -> Result<Option<ParticipantId>, ChatError> {
    let flags = r.u8()?;
    if flags & !FLAG_PRIVATE != 0 {
        return Err(malformed("reserved flag bits set"));
    }
    Ok(if flags & FLAG_PRIVATE != 0 {
        Some(ParticipantId(r.u64()?))
    } else {
        None
    })
}

/// Reads `body_len` and the UTF-8 body.
fn read_body<'a>(r: &mut Reader<'a>) -> Result<&'a str, ChatError> {
    let len = r.u16()?;
    let bytes = r.take(usize::from(len))?;
    std::str::from_utf8(bytes).map_err(|e| ChatError::InvalidUtf8 {
        valid_up_to: e.valid_up_to(),
    })
}

fn recipient_len(to: Option<ParticipantId>) -> usize {
    if to.is_some() { 8 } else { 0 }
}

fn write_recipient(out: &mut Vec<u8>, to: Option<ParticipantId>) {
    match to {
        Some(p) => {
            out.push(FLAG_PRIVATE);
            out.extend_from_slice(&p.0.to_be_bytes());
        }
        None => out.push(0),
    }
}

/// The body's length as a `u16`, or [`ChatError::TooLarge`].
fn body_len(body: &str) -> Result<u16, ChatError> {
    u16::try_from(body.len()).map_err(|_| ChatError::TooLarge {
        len: body.len(),
        max: MAX_BODY_LEN,
    })
}

/// Writes `body_len` (from [`body_len`]) and the body.
fn write_body(out: &mut Vec<u8>, body_len: u16, body: &str) {
    out.extend_from_slice(&body_len.to_be_bytes());
    out.extend_from_slice(body.as_bytes());
}

/// Whole milliseconds, rounded down, saturating at `u32::MAX`.
fn millis_floor(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// Whole milliseconds, rounded up, saturating at `u32::MAX`.
fn millis_ceil(d: Duration) -> u32 {
    u32::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
