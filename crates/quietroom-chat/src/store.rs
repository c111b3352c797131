//! Where a meeting's messages live while it lasts: the [`ChatStore`] seam and its in-memory
//! default.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use crate::{ChatError, ChatLimits, ChatMessage, MessageId, RoomId};

/// Counters for one room's buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomStats {
    /// Messages stored now.
    pub messages: usize,
    /// Body bytes stored now.
    pub bytes: usize,
    /// Messages evicted to respect a count or byte bound, since the meeting opened.
    pub evicted: u64,
    /// Messages dropped because their time to live passed, since the meeting opened.
    pub expired: u64,
}

/// Storage for the messages of open meetings.
///
/// [`MemoryStore`] is the default. A team running several server nodes can implement this over
/// a shared store (Redis, say) without changing any caller; the implementation must keep the
/// same promises: bounded per room and in total, oldest evicted first, nothing kept after
/// [`wipe_room`](Self::wipe_room), nothing written to disk or logs.
pub trait ChatStore: Send {
    /// Stores `message` at the end of its room's buffer, evicting the oldest messages first
    /// as the bounds require; returns how many were evicted.
    ///
    /// # Errors
    ///
    /// [`ChatError::TooLarge`] when the body alone exceeds a room's byte bound, and
    /// [`ChatError::BudgetExhausted`] when no eviction can make room for it. Nothing is
    /// stored or evicted then.
    fn append(&mut self, message: Arc<ChatMessage>) -> Result<usize, ChatError>;

    /// Calls `f` with each stored message of `room`, oldest first.
    fn visit(&self, room: RoomId, f: &mut dyn FnMut(&Arc<ChatMessage>));

    /// Drops every message of `room` and its counters; returns how many messages there were.
    fn wipe_room(&mut self, room: RoomId) -> usize;

    /// Drops every message whose time to live has passed at `now`; returns how many.
    fn remove_expired(&mut self, now: Instant) -> usize;

    /// The earliest time to live still pending.
    fn next_expiry(&self) -> Option<Instant>;

    /// The counters of `room` (all zero for a room with nothing stored).
    fn room_stats(&self, room: RoomId) -> RoomStats;

    /// Body bytes stored across all rooms.
    fn total_bytes(&self) -> usize;
}

#[derive(Default)]
struct RoomBuffer {
    messages: VecDeque<Arc<ChatMessage>>,
    stats: RoomStats,
}

/// The default [`ChatStore`]: per-room ring buffers in this process's memory, bounded by
/// [`ChatLimits::room_max_messages`], [`ChatLimits::room_max_bytes`] and, across all rooms,
/// [`ChatLimits::global_max_bytes`].
pub struct MemoryStore {
    room_max_messages: usize,
    room_max_bytes: usize,
    global_max_bytes: usize,
    rooms: HashMap<RoomId, RoomBuffer>,
    total_bytes: usize,
    /// Pending expiries, earliest first. Entries of messages already gone are skipped when
    /// popped, and the heap is rebuilt when they outnumber the live ones.
    expiries: BinaryHeap<Reverse<(Instant, MessageId, RoomId)>>,
    live_with_ttl: usize,
}

impl MemoryStore {
    /// An empty store with the bounds of `limits`.
    pub fn new(limits: &ChatLimits) -> Self {
        MemoryStore {
            room_max_messages: limits.room_max_messages.max(1),
            room_max_bytes: limits.room_max_bytes,
            global_max_bytes: limits.global_max_bytes,
            rooms: HashMap::new(),
            total_bytes: 0,
            expiries: BinaryHeap::new(),
            live_with_ttl: 0,
        }
    }

    fn evict_front(&mut self, room: RoomId) -> bool {
        let Some(buffer) = self.rooms.get_mut(&room) else {
            return false;
        };
        let Some(old) = buffer.messages.pop_front() else {
            return false;
        };
        buffer.stats.messages -= 1;
        buffer.stats.bytes -= old.body().len();
        buffer.stats.evicted += 1;
        self.total_bytes -= old.body().len();
        if old.expires_at().is_some() {
            self.live_with_ttl -= 1;
        }
        true
    }

    /// The room whose oldest message is the oldest of all.
    fn oldest_room(&self) -> Option<RoomId> {
        self.rooms
            .iter()
            .filter_map(|(room, b)| b.messages.front().map(|m| (m.id(), *room)))
            .min()
            .map(|(_, room)| room)
    }

    fn compact_expiries(&mut self) {
        if self.expiries.len() > 2 * self.live_with_ttl + 64 {
            let rooms = &self.rooms;
            self.expiries.retain(|Reverse((_, id, room))| {
                rooms
                    .get(room)
                    .is_some_and(|b| b.messages.binary_search_by_key(id, |m| m.id()).is_ok())
            });
        }
    }
}

impl ChatStore for MemoryStore {
    fn append(&mut self, message: Arc<ChatMessage>) -> Result<usize, ChatError> {
        let len = message.body().len();
        if len > self.room_max_bytes {
            return Err(ChatError::TooLarge {
                len,
                max: self.room_max_bytes,
            });
        }
        if len > self.global_max_bytes {
            return Err(ChatError::BudgetExhausted {
                budget: self.global_max_bytes,
            });
        }
        let room = message.room();
        let mut evicted = 0;
        loop {
            let buffer = self.rooms.entry(room).or_default();
            let full = buffer.stats.messages >= self.room_max_messages
                || buffer.stats.bytes + len > self.room_max_bytes;
            if !full || !self.evict_front(room) {
                break;
            }
            evicted += 1;
        }
        while self.total_bytes + len > self.global_max_bytes {
            match self.oldest_room() {
                Some(oldest) if self.evict_front(oldest) => evicted += 1,
                _ => {
                    return Err(ChatError::BudgetExhausted {
                        budget: self.global_max_bytes,
                    });
                }
            }
        }
        if let Some(at) = message.expires_at() {
            self.expiries.push(Reverse((at, message.id(), room)));
            self.live_with_ttl += 1;
            self.compact_expiries();
        }
        let buffer = self.rooms.entry(room).or_default();
        buffer.stats.messages += 1;
        buffer.stats.bytes += len;
        buffer.messages.push_back(message);
        self.total_bytes += len;
        Ok(evicted)
    }

    fn visit(&self, room: RoomId, f: &mut dyn FnMut(&Arc<ChatMessage>)) {
        if let Some(buffer) = self.rooms.get(&room) {
            buffer.messages.iter().for_each(f);
        }
    }

    fn wipe_room(&mut self, room: RoomId) -> usize {
        let Some(buffer) = self.rooms.remove(&room) else {
            return 0;
        };
        self.total_bytes -= buffer.stats.bytes;
        self.live_with_ttl -= buffer
            .messages
            .iter()
            .filter(|m| m.expires_at().is_some())
            .count();
        self.expiries.retain(|Reverse((_, _, r))| *r != room);
        buffer.messages.len()
    }

    fn remove_expired(&mut self, now: Instant) -> usize {
        let mut removed = 0;
        while let Some(Reverse((at, id, room))) = self.expiries.peek().copied() {
            if at > now {
                break;
            }
            self.expiries.pop();
            let Some(buffer) = self.rooms.get_mut(&room) else {
                continue;
            };
            let Ok(pos) = buffer.messages.binary_search_by_key(&id, |m| m.id()) else {
                continue;
            };
            if let Some(gone) = buffer.messages.remove(pos) {
                buffer.stats.messages -= 1;
                buffer.stats.bytes -= gone.body().len();
                buffer.stats.expired += 1;
                self.total_bytes -= gone.body().len();
                self.live_with_ttl -= 1;
                removed += 1;
            }
        }
        removed
    }

    fn next_expiry(&self) -> Option<Instant> {
        self.expiries.peek().map(|Reverse((at, _, _))| *at)
    }

    fn room_stats(&self, room: RoomId) -> RoomStats {
        self.rooms.get(&room).map(|b| b.stats).unwrap_or_default()
    }

    fn total_bytes(&self) -> usize {
        self.total_bytes
    }
}
