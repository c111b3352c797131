//! A stored chat message.

use std::fmt;
use std::time::Instant;

use crate::{MessageBody, MessageId, ParticipantId, RoomId};

/// One accepted chat message. Shared (`Arc`) between the room's buffer and pending deliveries;
/// its body is wiped when the last reference goes.
pub struct ChatMessage {
    id: MessageId,
    room: RoomId,
    from: ParticipantId,
    to: Option<ParticipantId>,
    sent_at: Instant,
    expires_at: Option<Instant>,
    body: MessageBody,
}

impl ChatMessage {
    pub(crate) fn new(
        id: MessageId,
        room: RoomId,
        from: ParticipantId,
        to: Option<ParticipantId>,
        sent_at: Instant,
        expires_at: Option<Instant>,
        body: MessageBody,
    ) -> Self {
        ChatMessage {
            id,
            room,
            from,
            to,
            sent_at,
            expires_at,
            body,
        }
    }

    /// The message's id.
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// The room it was sent in.
    pub fn room(&self) -> RoomId {
        self.room
    }

    /// The sender.
    pub fn from(&self) -> ParticipantId {
        self.from
    }

    /// The recipient of a private message; `None` for a message to the whole room.
    pub fn to(&self) -> Option<ParticipantId> {
        self.to
    }

    /// When it was accepted.
    pub fn sent_at(&self) -> Instant {
        self.sent_at
    }

    /// When it stops being delivered, if it has a time to live.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// The text.
    pub fn body(&self) -> &MessageBody {
        &self.body
    }

    /// Whether `participant` may see this message: everyone for a room message; only the
    /// sender and the recipient for a private one.
    pub fn visible_to(&self, participant: ParticipantId) -> bool {
        match self.to {
            None => true,
            Some(to) => participant == to || participant == self.from,
        }
    }

    /// Whether the message's time to live has passed at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }
}

impl fmt::Debug for ChatMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatMessage")
            .field("id", &self.id)
            .field("room", &self.room)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}
