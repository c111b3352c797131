//! Zeroisation, checked rather than trusted: every message body of a meeting is observed all
//! zeros in its own buffer just before that buffer is freed.

use std::time::{Duration, Instant};

use crate::body::probe;
use crate::{Chat, ChatLimits, ParticipantId, RoomId};

#[test]
fn meeting_end_wipes_every_body_before_free() {
    // Only 4 kept: some are evicted on the way, and they must be wiped too.
    let limits = ChatLimits {
        room_max_messages: 4,
        ..ChatLimits::default()
    };
    let mut chat = Chat::new(limits);
    let (room, a, b) = (RoomId(1), ParticipantId(1), ParticipantId(2));
    let t0 = Instant::now();
    chat.open_room(t0, room, None).unwrap();
    chat.handle_join(t0, room, a).unwrap();
    chat.handle_join(t0, room, b).unwrap();

    probe::start();
    let texts: Vec<String> = (0..6).map(|i| format!("secret number {i}")).collect();
    let mut addresses = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let now = t0 + Duration::from_secs(i as u64);
        chat.handle_message(now, room, a, None, text.as_bytes(), None)
            .unwrap();
        // Deliveries are sent and dropped, as a transport would.
        while let Some(d) = chat.poll_delivery() {
            addresses.push(d.message.body().as_str().as_ptr() as usize);
        }
    }
    chat.end_meeting(t0 + Duration::from_secs(10), room)
        .unwrap();
    let seen = probe::take();

    assert_eq!(seen.len(), texts.len(), "every body was dropped");
    for ((addr, buffer), text) in seen.iter().zip(&texts) {
        assert!(
            addresses.contains(addr),
            "observed the message's own buffer"
        );
        assert_eq!(buffer.len(), text.len());
        assert!(buffer.iter().all(|&b| b == 0), "wiped before free");
    }
}
