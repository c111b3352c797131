//! Every bound the chat keeps.

use std::time::Duration;

/// The limits a [`Chat`](crate::Chat) and its [`MemoryStore`](crate::MemoryStore) enforce.
/// Every table and buffer is bounded by one of these.
///
/// ```
/// use std::time::Duration;
/// use quietroom_chat::ChatLimits;
/// let mut limits = ChatLimits::default();
/// limits.max_message_bytes = 1000;
/// limits.default_ttl = Some(Duration::from_secs(600));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatLimits {
    /// Largest message body, in bytes of UTF-8.
    pub max_message_bytes: usize,
    /// Most messages one room keeps; older ones are evicted first.
    pub room_max_messages: usize,
    /// Most body bytes one room keeps; older messages are evicted first.
    pub room_max_bytes: usize,
    /// Most body bytes all rooms of one store keep together; the oldest message of any room is
    /// evicted first.
    pub global_max_bytes: usize,
    /// Most rooms open at once.
    pub max_rooms: usize,
    /// Most participants in one room.
    pub max_participants: usize,
    /// Messages a participant may send in a burst.
    pub rate_burst: u32,
    /// After the burst, one more message per this interval.
    pub rate_interval: Duration,
    /// Time to live of a message sent without one; `None` keeps it for the whole meeting.
    pub default_ttl: Option<Duration>,
}

impl Default for ChatLimits {
    fn default() -> Self {
        ChatLimits {
            max_message_bytes: 4 * 1024,
            room_max_messages: 1000,
            room_max_bytes: 512 * 1024,
            global_max_bytes: 64 * 1024 * 1024,
            max_rooms: 10_000,
            max_participants: 2_000,
            rate_burst: 10,
            rate_interval: Duration::from_millis(500),
            default_ttl: None,
        }
    }
}
