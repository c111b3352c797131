//! The sans-IO chat core: rooms, presence, validation, rate limits, fan-out and meeting end.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::frame::EndReason;
use crate::rate::TokenBucket;
use crate::{
    ChatError, ChatLimits, ChatMessage, ChatStore, MemoryStore, MessageBody, MessageId,
    ParticipantId, RoomId, RoomStats,
};

/// A message to hand to one participant's connection; drain with [`Chat::poll_delivery`].
///
/// The message is shared with the room's buffer. Send it and drop it: a delivery kept after
/// its meeting ended keeps that one message alive (its body is wiped when the last reference
/// goes).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Who receives it.
    pub to: ParticipantId,
    /// The message.
    pub message: Arc<ChatMessage>,
}

/// Something that happened; drain with [`Chat::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// The meeting in `room` ended and every message of it was wiped.
    MeetingEnded {
        /// The room.
        room: RoomId,
        /// Why it ended.
        reason: EndReason,
        /// The participants still present, who should be told.
        participants: Vec<ParticipantId>,
        /// How many stored messages were wiped.
        wiped: usize,
    },
}

struct Room {
    ends_at: Option<Instant>,
    participants: HashMap<ParticipantId, TokenBucket>,
}

/// Meeting chat for every room of a process, sans-IO: the caller passes in what happened and
/// the time (`handle_*(now, …)`), and drains what to send ([`poll_delivery`](Self::poll_delivery)),
/// what happened ([`poll_event`](Self::poll_event)) and when to call back
/// ([`poll_timeout`](Self::poll_timeout) → [`handle_timeout`](Self::handle_timeout)). It never
/// reads a clock, never does I/O, and never logs a message.
///
/// A meeting's chat exists from [`open_room`](Self::open_room) until it ends: explicitly
/// ([`end_meeting`](Self::end_meeting)), when the last participant leaves, or when its end time
/// passes. Ending wipes its messages from the store and from pending deliveries at once.
///
/// ```
/// use std::time::{Duration, Instant};
/// use quietroom_chat::{Chat, ChatLimits, ParticipantId, RoomId};
///
/// let (room, ana, ben) = (RoomId(1), ParticipantId(1), ParticipantId(2));
/// let mut chat = Chat::new(ChatLimits::default());
/// let now = Instant::now(); // the caller's clock; the chat never reads one
/// chat.open_room(now, room, Some(now + Duration::from_secs(3600)))?;
/// chat.handle_join(now, room, ana)?;
/// chat.handle_message(now, room, ana, None, b"hello", None)?;
/// chat.handle_join(now, room, ben)?; // late joiner: gets the backlog
/// let got: Vec<_> = std::iter::from_fn(|| chat.poll_delivery())
///     .map(|d| (d.to, d.message.body().as_str().to_owned()))
///     .collect();
/// assert_eq!(got, [(ana, "hello".to_owned()), (ben, "hello".to_owned())]);
/// # Ok::<(), quietroom_chat::ChatError>(())
/// ```
pub struct Chat<S: ChatStore = MemoryStore> {
    limits: ChatLimits,
    store: S,
    rooms: HashMap<RoomId, Room>,
    next_id: u64,
    deliveries: VecDeque<Delivery>,
    events: VecDeque<ChatEvent>,
}

impl Chat<MemoryStore> {
    /// A chat with the in-memory store.
    pub fn new(limits: ChatLimits) -> Self {
        let store = MemoryStore::new(&limits);
        Chat::with_store(limits, store)
    }
}

impl<S: ChatStore> Chat<S> {
    /// A chat over any store.
    pub fn with_store(limits: ChatLimits, store: S) -> Self {
        Chat {
            limits,
            store,
            rooms: HashMap::new(),
            next_id: 1,
            deliveries: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &ChatLimits {
        &self.limits
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Whether `room` has an open meeting.
    pub fn is_open(&self, room: RoomId) -> bool {
        self.rooms.contains_key(&room)
    }

    /// The participants present in `room`, in no particular order.
    pub fn participants(&self, room: RoomId) -> impl Iterator<Item = ParticipantId> + '_ {
        self.rooms
            .get(&room)
            .into_iter()
            .flat_map(|r| r.participants.keys().copied())
    }

    /// The counters of `room`'s buffer, if its meeting is open.
    pub fn room_stats(&self, room: RoomId) -> Option<RoomStats> {
        self.is_open(room).then(|| self.store.room_stats(room))
    }

    /// Opens a meeting in `room`, ending by itself at `ends_at` if given (the end time of the
    /// room token the embedding product issued).
    ///
    /// # Errors
    ///
    /// [`ChatError::RoomAlreadyOpen`] or [`ChatError::TooManyRooms`].
    pub fn open_room(
        &mut self,
        now: Instant,
        room: RoomId,
        ends_at: Option<Instant>,
    ) -> Result<(), ChatError> {
        self.end_if_due(now, room);
        if self.rooms.contains_key(&room) {
            return Err(ChatError::RoomAlreadyOpen(room));
        }
        if self.rooms.len() >= self.limits.max_rooms {
            return Err(ChatError::TooManyRooms {
                max: self.limits.max_rooms,
            });
        }
        self.rooms.insert(
            room,
            Room {
                ends_at,
                participants: HashMap::new(),
            },
        );
        Ok(())
    }

    /// `participant` joined `room` at `now`. Queues the meeting's backlog for them — the
    /// messages they may see, oldest first — and returns how many.
    ///
    /// # Errors
    ///
    /// [`ChatError::UnknownRoom`] (also once the meeting's end time passed) or
    /// [`ChatError::RoomFull`].
    pub fn handle_join(
        &mut self,
        now: Instant,
        room: RoomId,
        participant: ParticipantId,
    ) -> Result<usize, ChatError> {
        self.end_if_due(now, room);
        let r = self
            .rooms
            .get_mut(&room)
            .ok_or(ChatError::UnknownRoom(room))?;
        if !r.participants.contains_key(&participant)
            && r.participants.len() >= self.limits.max_participants
        {
            return Err(ChatError::RoomFull {
                room,
                max: self.limits.max_participants,
            });
        }
        let (burst, interval) = (self.limits.rate_burst, self.limits.rate_interval);
        // A participant who rejoins keeps their bucket: leaving is no way around the limit.
        r.participants
            .entry(participant)
            .or_insert_with(|| TokenBucket::full(now, burst, interval));
        let deliveries = &mut self.deliveries;
        let mut count = 0;
        self.store.visit(room, &mut |m| {
            if m.visible_to(participant) && !m.is_expired(now) {
                deliveries.push_back(Delivery {
                    to: participant,
                    message: Arc::clone(m),
                });
                count += 1;
            }
        });
        Ok(count)
    }

    /// `participant` left `room`. When the last one leaves, the meeting ends.
    ///
    /// # Errors
    ///
    /// [`ChatError::UnknownRoom`] or [`ChatError::NotInRoom`].
    pub fn handle_leave(
        &mut self,
        now: Instant,
        room: RoomId,
        participant: ParticipantId,
    ) -> Result<(), ChatError> {
        self.end_if_due(now, room);
        let r = self
            .rooms
            .get_mut(&room)
            .ok_or(ChatError::UnknownRoom(room))?;
        if r.participants.remove(&participant).is_none() {
            return Err(ChatError::NotInRoom { room, participant });
        }
        if r.participants.is_empty() {
            self.end(room, EndReason::LastParticipantLeft);
        }
        Ok(())
    }

    /// `from` sent `body` to `room` at `now` — to everyone, or privately to `to`. Validates
    /// it, stores it and queues it for everyone who may see it (the sender included).
    ///
    /// `ttl` (or [`ChatLimits::default_ttl`]) makes it disappear before the meeting ends.
    ///
    /// # Errors
    ///
    /// In the order checked: [`ChatError::UnknownRoom`], [`ChatError::NotInRoom`],
    /// [`ChatError::TooLarge`], [`ChatError::InvalidUtf8`], [`ChatError::Empty`],
    /// [`ChatError::RecipientNotPresent`], [`ChatError::RateLimited`],
    /// [`ChatError::BudgetExhausted`]. A refused message is neither stored nor delivered,
    /// and does not count against the sender's rate.
    pub fn handle_message(
        &mut self,
        now: Instant,
        room: RoomId,
        from: ParticipantId,
        to: Option<ParticipantId>,
        body: &[u8],
        ttl: Option<Duration>,
    ) -> Result<MessageId, ChatError> {
        self.end_if_due(now, room);
        let r = self
            .rooms
            .get_mut(&room)
            .ok_or(ChatError::UnknownRoom(room))?;
        if !r.participants.contains_key(&from) {
            return Err(ChatError::NotInRoom {
                room,
                participant: from,
            });
        }
        if body.len() > self.limits.max_message_bytes {
            return Err(ChatError::TooLarge {
                len: body.len(),
                max: self.limits.max_message_bytes,
            });
        }
        let body = MessageBody::from_utf8(body)?;
        if body.as_str().trim().is_empty() {
            return Err(ChatError::Empty);
        }
        if let Some(recipient) = to
            && !r.participants.contains_key(&recipient)
        {
            return Err(ChatError::RecipientNotPresent { room, recipient });
        }
        let (burst, interval) = (self.limits.rate_burst, self.limits.rate_interval);
        if let Some(bucket) = r.participants.get_mut(&from)
            && let Err(retry_after) = bucket.check(now, burst, interval)
        {
            return Err(ChatError::RateLimited {
                participant: from,
                retry_after,
            });
        }

        let id = MessageId(self.next_id);
        let expires_at = ttl
            .or(self.limits.default_ttl)
            .and_then(|ttl| now.checked_add(ttl));
        let message = Arc::new(ChatMessage::new(id, room, from, to, now, expires_at, body));
        self.store.append(Arc::clone(&message))?;
        self.next_id += 1;
        if let Some(bucket) = r.participants.get_mut(&from) {
            bucket.take(interval);
        }
        for &participant in r.participants.keys() {
            if message.visible_to(participant) {
                self.deliveries.push_back(Delivery {
                    to: participant,
                    message: Arc::clone(&message),
                });
            }
        }
        Ok(id)
    }

    /// Ends the meeting in `room` now: wipes its messages and pending deliveries.
    ///
    /// # Errors
    ///
    /// [`ChatError::UnknownRoom`] if no meeting is open there.
    pub fn end_meeting(&mut self, now: Instant, room: RoomId) -> Result<(), ChatError> {
        self.end_if_due(now, room);
        if !self.rooms.contains_key(&room) {
            return Err(ChatError::UnknownRoom(room));
        }
        self.end(room, EndReason::Explicit);
        Ok(())
    }

    /// Ends the meetings whose end time has passed and drops messages whose time to live
    /// has. Call at [`poll_timeout`](Self::poll_timeout) (calling early or often is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<RoomId> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.ends_at.is_some_and(|t| now >= t))
            .map(|(room, _)| *room)
            .collect();
        for room in due {
            self.end(room, EndReason::EndTimeReached);
        }
        if self.store.remove_expired(now) > 0 {
            self.deliveries.retain(|d| !d.message.is_expired(now));
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called: the earliest meeting
    /// end time or message expiry.
    #[must_use = "meetings end and messages expire only when handle_timeout is called"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.rooms
            .values()
            .filter_map(|r| r.ends_at)
            .chain(self.store.next_expiry())
            .min()
    }

    /// The next message to send to a participant.
    #[must_use = "queued deliveries hold messages until they are taken"]
    pub fn poll_delivery(&mut self) -> Option<Delivery> {
        self.deliveries.pop_front()
    }

    /// The next event.
    #[must_use = "events tell which participants to notify"]
    pub fn poll_event(&mut self) -> Option<ChatEvent> {
        self.events.pop_front()
    }

    fn end_if_due(&mut self, now: Instant, room: RoomId) {
        let due = self
            .rooms
            .get(&room)
            .and_then(|r| r.ends_at)
            .is_some_and(|t| now >= t);
        if due {
            self.end(room, EndReason::EndTimeReached);
        }
    }

    fn end(&mut self, room: RoomId, reason: EndReason) {
        let Some(r) = self.rooms.remove(&room) else {
            return;
        };
        let wiped = self.store.wipe_room(room);
        self.deliveries.retain(|d| d.message.room() != room);
        self.events.push_back(ChatEvent::MeetingEnded {
            room,
            reason,
            participants: r.participants.into_keys().collect(),
            wiped,
        });
    }
}

impl<S: ChatStore> fmt::Debug for Chat<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chat")
            .field("rooms", &self.rooms.len())
            .field("stored_bytes", &self.store.total_bytes())
            .field("pending_deliveries", &self.deliveries.len())
            .finish_non_exhaustive()
    }
}
