//! Ephemeral meeting chat: a room's messages live in memory exactly as long as its meeting,
//! bounded, and are wiped the moment it ends.
//!
//! - [`Chat`] is the sans-IO core: open a room, report joins, leaves and messages with the
//!   time, and drain [`Delivery`]s (fan-out and late joiners' backlog) and [`ChatEvent`]s.
//!   Sizes, UTF-8, presence and a per-participant token bucket are checked on every message,
//!   and each refusal is a typed [`ChatError`].
//! - [`ChatStore`] is the seam for where messages live; [`MemoryStore`] is the default,
//!   bounded per room by count and bytes and across rooms by a byte budget, evicting the
//!   oldest first (counted in [`RoomStats`]).
//! - A meeting ends explicitly, when its last participant leaves, or when its end time passes;
//!   its messages are then unreachable, and each [`MessageBody`] is zeroised when dropped.
//!   Nothing here writes chat to disk or logs, and no `Debug` shows a message's text.
//! - [`frame`] is the binary wire form of chat messages, with a decoder that never panics.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use quietroom_chat::{Chat, ChatEvent, ChatLimits, ParticipantId, RoomId};
//!
//! let mut chat = Chat::new(ChatLimits::default());
//! let (room, host, guest) = (RoomId(7), ParticipantId(1), ParticipantId(2));
//! let t0 = Instant::now();
//! chat.open_room(t0, room, None)?;
//! chat.handle_join(t0, room, host)?;
//! chat.handle_join(t0, room, guest)?;
//! chat.handle_message(t0, room, guest, Some(host), b"just for you", None)?;
//! let to: Vec<_> = std::iter::from_fn(|| chat.poll_delivery()).map(|d| d.to).collect();
//! assert_eq!(to.len(), 2); // the host and the sender, nobody else
//!
//! chat.end_meeting(t0, room)?;
//! assert!(matches!(chat.poll_event(), Some(ChatEvent::MeetingEnded { wiped: 1, .. })));
//! assert!(chat.handle_join(t0, room, guest).is_err()); // nothing left to join
//! # Ok::<(), quietroom_chat::ChatError>(())
//! ```
#![forbid(unsafe_code)]

mod body;
mod chat;
mod error;
pub mod frame;
mod ids;
mod limits;
mod message;
mod rate;
mod store;
#[cfg(test)]
mod tests;

pub use body::MessageBody;
pub use chat::{Chat, ChatEvent, Delivery};
pub use error::ChatError;
pub use frame::EndReason;
pub use ids::{MessageId, ParticipantId, RoomId};
pub use limits::ChatLimits;
pub use message::ChatMessage;
pub use store::{ChatStore, MemoryStore, RoomStats};
