//! Ephemeral meeting chat, end to end: two participants talk (one message privately), a late
//! joiner gets the backlog of this meeting only, a frame goes over the wire and back, and the
//! meeting ends — after which nothing of it can be reached.
//!
//! `cargo run --example chat`
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use quietroom::chat::frame::Frame;
use quietroom::chat::{Chat, ChatError, ChatEvent, ChatLimits, ParticipantId, RoomId};

fn name(p: ParticipantId) -> &'static str {
    match p.0 {
        1 => "ana",
        2 => "ben",
        3 => "cleo",
        _ => "?",
    }
}

/// What a server does with each delivery: encode it as a frame for that participant's socket.
/// Here the "socket" decodes it again and prints what the participant would see.
fn flush(chat: &mut Chat, now: Instant) {
    let mut wire = Vec::new();
    while let Some(d) = chat.poll_delivery() {
        wire.clear();
        Frame::deliver(&d.message, now)
            .encode(&mut wire)
            .expect("bodies fit a frame");
        if let Ok(Frame::Deliver { from, to, body, .. }) = Frame::decode(&wire) {
            let private = if to.is_some() { " (private)" } else { "" };
            println!(
                "  -> {:<4} sees {}{private}: {body:?}  [{} bytes on the wire]",
                name(d.to),
                name(from),
                wire.len()
            );
        }
    }
}

fn main() -> Result<(), ChatError> {
    let (ana, ben, cleo) = (ParticipantId(1), ParticipantId(2), ParticipantId(3));
    let room = RoomId(42);
    let mut chat = Chat::new(ChatLimits::default());

    // The embedding product's room token says the meeting ends in one hour.
    let mut now = Instant::now();
    chat.open_room(now, room, Some(now + Duration::from_secs(3600)))?;
    println!("meeting opened in {room}");
    chat.handle_join(now, room, ana)?;
    chat.handle_join(now, room, ben)?;
    println!("ana and ben joined");

    chat.handle_message(now, room, ana, None, "hi ben!".as_bytes(), None)?;
    flush(&mut chat, now);
    now += Duration::from_secs(2);
    chat.handle_message(
        now,
        room,
        ben,
        None,
        "hello ana, shall we start?".as_bytes(),
        None,
    )?;
    flush(&mut chat, now);
    now += Duration::from_secs(2);
    chat.handle_message(
        now,
        room,
        ana,
        Some(ben),
        "(the budget slide is wrong)".as_bytes(),
        None,
    )?;
    flush(&mut chat, now);

    // A client sends a frame; the server decodes it before handing it to the chat.
    let mut wire = Vec::new();
    Frame::Send {
        to: None,
        ttl: Some(Duration::from_secs(30)),
        body: "this one vanishes in 30 s",
    }
    .encode(&mut wire)
    .expect("fits");
    if let Ok(Frame::Send { to, ttl, body }) = Frame::decode(&wire) {
        now += Duration::from_secs(1);
        chat.handle_message(now, room, ben, to, body.as_bytes(), ttl)?;
        flush(&mut chat, now);
    }

    // Refusals are typed, and nothing is stored for them.
    match chat.handle_message(now, room, ben, None, &[0xFF, 0xFE], None) {
        Err(e) => println!("refused: {e}"),
        Ok(_) => unreachable!(),
    }

    now += Duration::from_secs(40);
    chat.handle_timeout(now);
    println!("40 s later the 30 s message has expired");
    println!("cleo joins late and gets this meeting's backlog (not ana's private note):");
    chat.handle_join(now, room, cleo)?;
    flush(&mut chat, now);
    let stats = chat.room_stats(room).expect("open");
    println!(
        "room holds {} messages, {} bytes, {} expired",
        stats.messages, stats.bytes, stats.expired
    );

    chat.end_meeting(now, room)?;
    if let Some(ChatEvent::MeetingEnded {
        reason,
        participants,
        wiped,
        ..
    }) = chat.poll_event()
    {
        println!(
            "meeting ended ({reason:?}): {wiped} messages wiped, {} participants notified",
            participants.len()
        );
    }
    match chat.handle_join(now, room, cleo) {
        Err(e) => println!("afterwards: {e}"),
        Ok(_) => unreachable!(),
    }
    Ok(())
}
