//! Behaviour of the chat core: bounds, meeting end, privacy, rate limits, TTLs and typed
//! refusals, with simulated time.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use quietroom_chat::{
    Chat, ChatError, ChatEvent, ChatLimits, ChatMessage, ChatStore, Delivery, EndReason,
    ParticipantId, RoomId,
};

fn p(n: u64) -> ParticipantId {
    ParticipantId(n)
}

fn drain(chat: &mut Chat) -> Vec<Delivery> {
    std::iter::from_fn(|| chat.poll_delivery()).collect()
}

fn room_with(chat: &mut Chat, now: Instant, room: RoomId, people: &[u64]) {
    chat.open_room(now, room, None).unwrap();
    for &n in people {
        chat.handle_join(now, room, p(n)).unwrap();
    }
}

fn relaxed() -> ChatLimits {
    let mut limits = ChatLimits::default();
    limits.rate_burst = 1_000_000;
    limits
}

#[test]
fn late_joiner_gets_this_meetings_backlog_only() {
    let mut chat = Chat::new(relaxed());
    let (room, t0) = (RoomId(1), Instant::now());
    room_with(&mut chat, t0, room, &[1]);
    chat.handle_message(t0, room, p(1), None, b"first meeting", None)
        .unwrap();
    chat.end_meeting(t0, room).unwrap();
    drain(&mut chat);

    room_with(&mut chat, t0, room, &[1]);
    chat.handle_message(t0, room, p(1), None, b"second meeting", None)
        .unwrap();
    drain(&mut chat);
    assert_eq!(chat.handle_join(t0, room, p(2)).unwrap(), 1);
    let got = drain(&mut chat);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, p(2));
    assert_eq!(got[0].message.body().as_str(), "second meeting");
}

#[test]
fn each_refusal_is_typed_and_changes_nothing() {
    let mut limits = ChatLimits::default();
    limits.max_message_bytes = 10;
    limits.rate_burst = 1;
    limits.rate_interval = Duration::from_secs(1);
    let mut chat = Chat::new(limits);
    let (room, t0) = (RoomId(9), Instant::now());
    room_with(&mut chat, t0, room, &[1, 2]);

    let send = |chat: &mut Chat, from, to, body: &[u8]| {
        chat.handle_message(t0, room, from, to, body, None)
    };
    assert_eq!(
        send(&mut chat, p(3), None, b"hi"),
        Err(ChatError::NotInRoom {
            room,
            participant: p(3)
        })
    );
    assert_eq!(
        send(&mut chat, p(1), None, b"01234567890"),
        Err(ChatError::TooLarge { len: 11, max: 10 })
    );
    assert_eq!(
        send(&mut chat, p(1), None, b"\xC3("),
        Err(ChatError::InvalidUtf8 { valid_up_to: 0 })
    );
    assert_eq!(send(&mut chat, p(1), None, b"  \n"), Err(ChatError::Empty));
    assert_eq!(
        send(&mut chat, p(1), Some(p(5)), b"psst"),
        Err(ChatError::RecipientNotPresent {
            room,
            recipient: p(5)
        })
    );
    assert_eq!(
        chat.handle_message(t0, RoomId(404), p(1), None, b"x", None),
        Err(ChatError::UnknownRoom(RoomId(404)))
    );
    // None of those used the one-message burst, stored or delivered anything.
    assert_eq!(chat.room_stats(room).unwrap().messages, 0);
    assert!(chat.poll_delivery().is_none());
    assert!(send(&mut chat, p(1), None, b"ok").is_ok());
    assert_eq!(
        send(&mut chat, p(1), None, b"again"),
        Err(ChatError::RateLimited {
            participant: p(1),
            retry_after: Duration::from_secs(1)
        })
    );
    let msg = ChatError::TooLarge { len: 11, max: 10 }.to_string();
    assert!(msg.contains("max_message_bytes"), "actionable: {msg}");
}

#[test]
fn meeting_ends_when_last_leaves_and_when_time_passes() {
    let mut chat = Chat::new(relaxed());
    let t0 = Instant::now();
    room_with(&mut chat, t0, RoomId(1), &[1, 2]);
    chat.handle_leave(t0, RoomId(1), p(1)).unwrap();
    assert!(chat.is_open(RoomId(1)));
    chat.handle_leave(t0, RoomId(1), p(2)).unwrap();
    assert!(!chat.is_open(RoomId(1)));
    assert!(matches!(
        chat.poll_event(),
        Some(ChatEvent::MeetingEnded {
            reason: EndReason::LastParticipantLeft,
            ..
        })
    ));

    let end = t0 + Duration::from_secs(60);
    chat.open_room(t0, RoomId(2), Some(end)).unwrap();
    chat.handle_join(t0, RoomId(2), p(1)).unwrap();
    chat.handle_message(t0, RoomId(2), p(1), None, b"before the end", None)
        .unwrap();
    assert_eq!(chat.poll_timeout(), Some(end));
    chat.handle_timeout(end - Duration::from_millis(1));
    assert!(chat.is_open(RoomId(2)));
    // A message arriving after the end time is refused even before the timer fires.
    assert_eq!(
        chat.handle_message(end, RoomId(2), p(1), None, b"late", None),
        Err(ChatError::UnknownRoom(RoomId(2)))
    );
    match chat.poll_event() {
        Some(ChatEvent::MeetingEnded {
            room,
            reason,
            participants,
            wiped,
        }) => {
            assert_eq!(
                (room, reason, participants, wiped),
                (RoomId(2), EndReason::EndTimeReached, vec![p(1)], 1)
            );
        }
        other => panic!("expected the meeting to end, got {other:?}"),
    }
    assert_eq!(chat.poll_timeout(), None);
}

#[test]
fn ttl_expires_messages_within_a_meeting() {
    let mut chat = Chat::new(relaxed());
    let (room, t0) = (RoomId(3), Instant::now());
    room_with(&mut chat, t0, room, &[1]);
    chat.handle_message(
        t0,
        room,
        p(1),
        None,
        b"ephemeral",
        Some(Duration::from_secs(5)),
    )
    .unwrap();
    chat.handle_message(t0, room, p(1), None, b"lasting", None)
        .unwrap();
    drain(&mut chat);
    assert_eq!(chat.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    chat.handle_timeout(t0 + Duration::from_secs(5));
    let stats = chat.room_stats(room).unwrap();
    assert_eq!((stats.messages, stats.expired), (1, 1));
    chat.handle_join(t0 + Duration::from_secs(6), room, p(2))
        .unwrap();
    let got = drain(&mut chat);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message.body().as_str(), "lasting");
}

#[test]
fn global_budget_evicts_the_oldest_message_of_any_room() {
    let mut limits = relaxed();
    limits.global_max_bytes = 30;
    let mut chat = Chat::new(limits);
    let t0 = Instant::now();
    room_with(&mut chat, t0, RoomId(1), &[1]);
    room_with(&mut chat, t0, RoomId(2), &[2]);
    chat.handle_message(t0, RoomId(1), p(1), None, &[b'a'; 10], None)
        .unwrap();
    chat.handle_message(t0, RoomId(2), p(2), None, &[b'b'; 10], None)
        .unwrap();
    chat.handle_message(t0, RoomId(2), p(2), None, &[b'c'; 10], None)
        .unwrap();
    chat.handle_message(t0, RoomId(2), p(2), None, &[b'd'; 10], None)
        .unwrap();
    assert_eq!(chat.store().total_bytes(), 30);
    assert_eq!(chat.room_stats(RoomId(1)).unwrap().messages, 0);
    assert_eq!(chat.room_stats(RoomId(1)).unwrap().evicted, 1);
    assert_eq!(chat.room_stats(RoomId(2)).unwrap().messages, 3);
}

#[derive(Clone, Debug)]
enum Op {
    Join(u8, u8),
    Leave(u8, u8),
    Send {
        room: u8,
        from: u8,
        to: Option<u8>,
        len: u16,
        ttl: Option<u8>,
    },
    Tick(u16),
    End(u8),
    Open(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u8..3, 0u8..6).prop_map(|(r, p)| Op::Join(r, p)),
        1 => (0u8..3, 0u8..6).prop_map(|(r, p)| Op::Leave(r, p)),
        8 => (0u8..3, 0u8..6, proptest::option::of(0u8..6), 0u16..300, proptest::option::of(1u8..20))
            .prop_map(|(room, from, to, len, ttl)| Op::Send { room, from, to, len, ttl }),
        2 => (0u16..3000).prop_map(Op::Tick),
        1 => (0u8..3).prop_map(Op::End),
        1 => (0u8..3).prop_map(Op::Open),
    ]
}

fn small_limits() -> ChatLimits {
    let mut limits = ChatLimits::default();
    limits.room_max_messages = 7;
    limits.room_max_bytes = 900;
    limits.global_max_bytes = 1500;
    limits.rate_burst = 3;
    limits.rate_interval = Duration::from_millis(250);
    limits
}

/// Runs `ops`, checking after each that every bound holds and that no delivery ever reaches
/// a participant who may not see it. Returns weak handles to every message accepted, per room.
fn run(ops: &[Op], chat: &mut Chat, t0: Instant) -> Vec<(RoomId, Weak<ChatMessage>)> {
    let limits = small_limits();
    let mut now = t0;
    let mut seen = Vec::new();
    let mut present: std::collections::HashMap<(u8, u8), bool> = Default::default();
    for op in ops {
        match *op {
            Op::Open(r) => {
                let _ = chat.open_room(now, RoomId(r.into()), None);
            }
            Op::Join(r, who) => {
                if chat
                    .handle_join(now, RoomId(r.into()), p(who.into()))
                    .is_ok()
                {
                    present.insert((r, who), true);
                }
            }
            Op::Leave(r, who) => {
                let _ = chat.handle_leave(now, RoomId(r.into()), p(who.into()));
            }
            Op::Send {
                room,
                from,
                to,
                len,
                ttl,
            } => {
                let body = vec![b'x'; usize::from(len) + 1];
                let ttl = ttl.map(|s| Duration::from_millis(u64::from(s) * 100));
                let _ = chat.handle_message(
                    now,
                    RoomId(room.into()),
                    p(from.into()),
                    to.map(|t| p(t.into())),
                    &body,
                    ttl,
                );
            }
            Op::Tick(ms) => {
                now += Duration::from_millis(ms.into());
                chat.handle_timeout(now);
            }
            Op::End(r) => {
                let _ = chat.end_meeting(now, RoomId(r.into()));
            }
        }
        for d in drain(chat) {
            let m = &d.message;
            assert!(m.visible_to(d.to), "{:?} delivered to {:?}", m, d.to);
            if let Some(to) = m.to() {
                assert!(
                    d.to == to || d.to == m.from(),
                    "private message reached a third participant"
                );
            }
            seen.push((m.room(), Arc::downgrade(m)));
        }
        for r in 0..3u64 {
            if let Some(stats) = chat.room_stats(RoomId(r)) {
                assert!(stats.messages <= limits.room_max_messages);
                assert!(stats.bytes <= limits.room_max_bytes);
            }
        }
        assert!(chat.store().total_bytes() <= limits.global_max_bytes);
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Bounds always hold and private messages never reach a third participant (live or in a
    /// late joiner's backlog), under any sequence of joins, leaves, sends, ticks and ends.
    #[test]
    fn bounds_and_privacy_hold(ops in proptest::collection::vec(op(), 1..150)) {
        let t0 = Instant::now();
        let mut chat = Chat::new(small_limits());
        for r in 0..3 {
            chat.open_room(t0, RoomId(r), None).unwrap();
        }
        run(&ops, &mut chat, t0);
    }

    /// After a meeting ends nothing of it is reachable: not through the store, not through a
    /// pending delivery, and no message of it is still allocated anywhere.
    #[test]
    fn nothing_of_an_ended_meeting_is_reachable(ops in proptest::collection::vec(op(), 1..150)) {
        let t0 = Instant::now();
        let mut chat = Chat::new(small_limits());
        for r in 0..3 {
            chat.open_room(t0, RoomId(r), None).unwrap();
        }
        let seen = run(&ops, &mut chat, t0);
        let ended = RoomId(0);
        let _ = chat.end_meeting(t0 + Duration::from_secs(3600), ended);
        let mut left = 0;
        chat.store().visit(ended, &mut |_| left += 1);
        prop_assert_eq!(left, 0);
        prop_assert!(chat.room_stats(ended).is_none());
        prop_assert!(std::iter::from_fn(|| chat.poll_delivery()).all(|d| d.message.room() != ended));
        for (room, weak) in &seen {
            if *room == ended {
                prop_assert!(weak.upgrade().is_none(), "a message of the ended meeting is still alive");
            }
        }
    }

    /// However participants interleave their sends, each one's accepted messages between any
    /// two instants never exceed `burst + elapsed / interval`.
    #[test]
    fn rate_limit_holds_under_any_interleaving(
        sends in proptest::collection::vec((0u64..4, 0u64..400), 1..200),
    ) {
        let limits = small_limits();
        let mut chat = Chat::new(limits.clone());
        let (room, t0) = (RoomId(1), Instant::now());
        chat.open_room(t0, room, None).unwrap();
        for who in 0..4 {
            chat.handle_join(t0, room, p(who)).unwrap();
        }
        let mut now = t0;
        let mut accepted: Vec<Vec<Instant>> = vec![Vec::new(); 4];
        for (who, gap) in sends {
            now += Duration::from_millis(gap);
            if chat.handle_message(now, room, p(who), None, b"m", None).is_ok() {
                accepted[who as usize].push(now);
            }
            drain(&mut chat);
        }
        let iv = limits.rate_interval.as_millis() as u64;
        for times in &accepted {
            for (i, a) in times.iter().enumerate() {
                for (j, b) in times.iter().enumerate().skip(i) {
                    let allowed = u64::from(limits.rate_burst) + ((*b - *a).as_millis() as u64) / iv;
                    prop_assert!((j - i + 1) as u64 <= allowed);
                }
            }
        }
    }
}
