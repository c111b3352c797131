//! The crate's one error type.

use std::time::Duration;

use crate::{ParticipantId, RoomId};

/// Why a chat operation or a frame was refused. Nothing is stored or delivered when an
/// operation fails, and the room's state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// The message body is longer than [`ChatLimits::max_message_bytes`](crate::ChatLimits).
    #[error("message is {len} bytes; the limit is {max} (ChatLimits::max_message_bytes)")]
    TooLarge {
        /// The body's length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },

    /// The message body is empty (or only whitespace).
    #[error("message is empty")]
    Empty,

    /// The message body is not valid UTF-8.
    #[error("message is not valid UTF-8 (invalid byte at offset {valid_up_to})")]
    InvalidUtf8 {
        /// Length of the longest valid prefix.
        valid_up_to: usize,
    },

    /// The sender used up its message allowance; it may send again after `retry_after`.
    #[error("{participant} is sending too fast; retry after {retry_after:?}")]
    RateLimited {
        /// The sender.
        participant: ParticipantId,
        /// How long until one more message is allowed.
        retry_after: Duration,
    },

    /// No meeting is open in this room (never opened, or already ended and wiped).
    #[error("{0} has no open meeting")]
    UnknownRoom(RoomId),

    /// The room already has a meeting open.
    #[error("{0} already has an open meeting")]
    RoomAlreadyOpen(RoomId),

    /// The process already holds as many open rooms as it was configured to.
    #[error("too many open rooms (limit {max}; ChatLimits::max_rooms)")]
    TooManyRooms {
        /// The configured limit.
        max: usize,
    },

    /// The participant is not present in the room.
    #[error("{participant} is not in {room}")]
    NotInRoom {
        /// The room.
        room: RoomId,
        /// The participant.
        participant: ParticipantId,
    },

    /// The room already holds as many participants as it was configured to.
    #[error("{room} is full (limit {max}; ChatLimits::max_participants)")]
    RoomFull {
        /// The room.
        room: RoomId,
        /// The configured limit.
        max: usize,
    },

    /// A private message's recipient is not present in the room.
    #[error("recipient {recipient} is not in {room}")]
    RecipientNotPresent {
        /// The room.
        room: RoomId,
        /// The intended recipient.
        recipient: ParticipantId,
    },

    /// The store could not make room for the message within the process-wide byte budget,
    /// even after evicting this room's older messages.
    #[error("chat memory budget exhausted ({budget} bytes; ChatLimits::global_max_bytes)")]
    BudgetExhausted {
        /// The configured budget.
        budget: usize,
    },

    /// A frame ended before a field it announces.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },

    /// A frame that is not well formed.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
}
