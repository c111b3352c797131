//! Frame codec tests: known bytes, round trips, truncation, malformed input.

use proptest::prelude::*;

use super::*;
use crate::{MessageBody, RoomId};

const ALL_CODES: [RejectCode; 9] = [
    RejectCode::TooLarge,
    RejectCode::Empty,
    RejectCode::InvalidUtf8,
    RejectCode::RateLimited,
    RejectCode::NotInRoom,
    RejectCode::RecipientNotPresent,
    RejectCode::UnknownRoom,
    RejectCode::BudgetExhausted,
    RejectCode::Other,
];

const ALL_REASONS: [EndReason; 3] = [
    EndReason::Explicit,
    EndReason::LastParticipantLeft,
    EndReason::EndTimeReached,
];

fn encode(frame: &Frame<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(&mut out).unwrap();
    assert_eq!(out.len(), frame.encoded_len(), "{frame:?}");
    out
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What `frame` decodes back to after encoding: durations in whole milliseconds (TTL and
/// retry-after rounded up, the TTL to at least 1 ms, the age rounded down), saturated.
fn on_the_wire(frame: Frame<'_>) -> Frame<'_> {
    let ceil = |d: Duration| ms(u64::from(millis_ceil(d)));
    match frame {
        Frame::Send { to, ttl, body } => Frame::Send {
            to,
            ttl: ttl.map(|d| ceil(d).max(ms(1))),
            body,
        },
        Frame::Deliver {
            id,
            from,
            to,
            age,
            body,
        } => Frame::Deliver {
            id,
            from,
            to,
            age: ms(u64::from(millis_floor(age))),
            body,
        },
        Frame::Rejected { code, retry_after } => Frame::Rejected {
            code,
            retry_after: ceil(retry_after),
        },
        other => other,
    }
}

/// One valid frame of each shape, for the byte-level tests.
fn samples() -> Vec<Vec<u8>> {
    [
        Frame::Send {
            to: None,
            ttl: None,
            body: "hello, room",
        },
        Frame::Send {
            to: Some(ParticipantId(9)),
            ttl: Some(ms(30_000)),
            body: "psst ✓",
        },
        Frame::Send {
            to: None,
            ttl: None,
            body: "",
        },
        Frame::Deliver {
            id: MessageId(1),
            from: ParticipantId(2),
            to: None,
            age: ms(5),
            body: "hi all",
        },
        Frame::Deliver {
            id: MessageId(u64::MAX),
            from: ParticipantId(2),
            to: Some(ParticipantId(3)),
            age: ms(0),
            body: "just you 😀",
        },
        Frame::Rejected {
            code: RejectCode::RateLimited,
            retry_after: ms(250),
        },
        Frame::Ended {
            reason: EndReason::EndTimeReached,
        },
    ]
    .iter()
    .map(encode)
    .collect()
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..5_000_000_000).prop_map(Duration::from_nanos),
        any::<u32>().prop_map(|n| ms(u64::from(n))),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

fn participant() -> impl Strategy<Value = ParticipantId> {
    any::<u64>().prop_map(ParticipantId)
}

/// Frames whose body is owned by the strategy; `as_frame` borrows it.
#[derive(Clone, Debug)]
enum Owned {
    Send(Option<ParticipantId>, Option<Duration>, String),
    Deliver(
        MessageId,
        ParticipantId,
        Option<ParticipantId>,
        Duration,
        String,
    ),
    Rejected(RejectCode, Duration),
    Ended(EndReason),
}

impl Owned {
    fn as_frame(&self) -> Frame<'_> {
        match self {
            Owned::Send(to, ttl, body) => Frame::Send {
                to: *to,
                ttl: *ttl,
                body,
            },
            Owned::Deliver(id, from, to, age, body) => Frame::Deliver {
                id: *id,
                from: *from,
                to: *to,
                age: *age,
                body,
            },
            Owned::Rejected(code, retry_after) => Frame::Rejected {
                code: *code,
                retry_after: *retry_after,
            },
            Owned::Ended(reason) => Frame::Ended { reason: *reason },
        }
    }
}

fn frame() -> impl Strategy<Value = Owned> {
    let body = "(?s).{0,300}";
    prop_oneof![
        (
            proptest::option::of(participant()),
            proptest::option::of(duration()),
            body
        )
            .prop_map(|(to, ttl, body)| Owned::Send(to, ttl, body)),
        (
            any::<u64>(),
            participant(),
            proptest::option::of(participant()),
            duration(),
            body
        )
            .prop_map(|(id, from, to, age, body)| Owned::Deliver(
                MessageId(id),
                from,
                to,
                age,
                body
            )),
        (proptest::sample::select(&ALL_CODES[..]), duration())
            .prop_map(|(code, retry)| Owned::Rejected(code, retry)),
        proptest::sample::select(&ALL_REASONS[..]).prop_map(Owned::Ended),
    ]
}

/// Arbitrary bytes: some entirely random, some behind a valid version and frame type, and
/// some valid frames with a few bytes overwritten (which often still decode).
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    const TYPES: [u8; 4] = [TYPE_SEND, TYPE_DELIVER, TYPE_REJECTED, TYPE_ENDED];
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..48),
        1 => (
            proptest::sample::select(&TYPES[..]),
            proptest::collection::vec(any::<u8>(), 0..48)
        )
            .prop_map(|(t, tail)| [&[VERSION, t][..], &tail].concat()),
        3 => (
            frame(),
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
        )
            .prop_map(|(owned, edits)| {
                let mut bytes = encode(&owned.as_frame());
                for (at, value) in edits {
                    let i = at.index(bytes.len());
                    bytes[i] = value;
                }
                bytes
            }),
    ]
}

proptest! {
    #[test]
    fn round_trip(owned in frame()) {
        let frame = owned.as_frame();
        let bytes = encode(&frame);
        let decoded = Frame::decode(&bytes).unwrap();
        prop_assert_eq!(decoded, on_the_wire(frame));
        // The decoded frame is canonical: it encodes to the same bytes.
        prop_assert_eq!(encode(&decoded), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_decode_canonically(data in bytes()) {
        if let Ok(frame) = Frame::decode(&data) {
            prop_assert_eq!(frame.encoded_len(), data.len());
            prop_assert_eq!(encode(&frame), data);
        }
    }

    #[test]
    fn every_prefix_of_a_valid_frame_is_truncated(owned in frame()) {
        let bytes = encode(&owned.as_frame());
        for cut in 0..bytes.len() {
            match Frame::decode(&bytes[..cut]) {
                Err(ChatError::Truncated { what, need, have }) => {
                    prop_assert_eq!(what, "chat frame");
                    prop_assert_eq!(have, cut);
                    prop_assert!(need > have && need <= bytes.len());
                }
                other => prop_assert!(false, "prefix {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn known_bytes_pin_the_layout() {
    let cases: Vec<(Vec<u8>, Frame<'_>)> = vec![
        (
            // Send, private to participant 7, TTL 60 s, "hi".
            [
                &[0x01, 0x01, 0x01][..],
                &[0, 0, 0, 0, 0, 0, 0, 7],
                &[0x00, 0x00, 0xEA, 0x60],
                &[0x00, 0x02],
                b"hi",
            ]
            .concat(),
            Frame::Send {
                to: Some(ParticipantId(7)),
                ttl: Some(ms(60_000)),
                body: "hi",
            },
        ),
        (
            // Send to the room, no TTL, empty body.
            vec![0x01, 0x01, 0x00, 0, 0, 0, 0, 0, 0],
            Frame::Send {
                to: None,
                ttl: None,
                body: "",
            },
        ),
        (
            // Deliver message 0x0102030405060708 from 42 to the room, 1 s old, "abc".
            [
                &[0x01, 0x81][..],
                &[1, 2, 3, 4, 5, 6, 7, 8],
                &[0, 0, 0, 0, 0, 0, 0, 42],
                &[0x00],
                &[0x00, 0x00, 0x03, 0xE8],
                &[0x00, 0x03],
                b"abc",
            ]
            .concat(),
            Frame::Deliver {
                id: MessageId(0x0102_0304_0506_0708),
                from: ParticipantId(42),
                to: None,
                age: ms(1000),
                body: "abc",
            },
        ),
        (
            // Deliver message 5 from 1 privately to 0xFFFF_FFFF_FFFF_FFFE, age max, "é".
            [
                &[0x01, 0x81][..],
                &[0, 0, 0, 0, 0, 0, 0, 5],
                &[0, 0, 0, 0, 0, 0, 0, 1],
                &[0x01],
                &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE],
                &[0xFF, 0xFF, 0xFF, 0xFF],
                &[0x00, 0x02, 0xC3, 0xA9],
            ]
            .concat(),
            Frame::Deliver {
                id: MessageId(5),
                from: ParticipantId(1),
                to: Some(ParticipantId(0xFFFF_FFFF_FFFF_FFFE)),
                age: ms(u64::from(u32::MAX)),
                body: "é",
            },
        ),
        (
            // Rejected: rate limited, retry after 500 ms.
            vec![0x01, 0x82, 0x04, 0x00, 0x00, 0x01, 0xF4],
            Frame::Rejected {
                code: RejectCode::RateLimited,
                retry_after: ms(500),
            },
        ),
        (
            // Rejected: other, no wait.
            vec![0x01, 0x82, 0xFF, 0, 0, 0, 0],
            Frame::Rejected {
                code: RejectCode::Other,
                retry_after: Duration::ZERO,
            },
        ),
        (
            // Ended: the last participant left.
            vec![0x01, 0x83, 0x01],
            Frame::Ended {
                reason: EndReason::LastParticipantLeft,
            },
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(Frame::decode(&bytes), Ok(expected), "{bytes:02X?}");
        assert_eq!(encode(&expected), bytes, "{expected:?}");
    }
}

#[test]
fn codes_and_reasons_map_to_their_bytes() {
    let bytes: Vec<u8> = ALL_CODES.iter().map(|c| c.as_u8()).collect();
    assert_eq!(bytes, [1, 2, 3, 4, 5, 6, 7, 8, 255]);
    for code in ALL_CODES {
        assert_eq!(RejectCode::from_u8(code.as_u8()), Ok(code));
        assert_eq!(u8::from(code), code as u8);
    }
    for reason in ALL_REASONS {
        assert_eq!(EndReason::from_u8(reason.as_u8()), Ok(reason));
        assert_eq!(u8::from(reason), reason as u8);
    }
    assert_eq!(ALL_REASONS.map(EndReason::as_u8), [0, 1, 2], "reason bytes");
}

#[test]
fn prefixes_of_the_samples_are_truncated_and_trailing_bytes_malformed() {
    for bytes in samples() {
        for cut in 0..bytes.len() {
            assert!(
                matches!(
                    Frame::decode(&bytes[..cut]),
                    Err(ChatError::Truncated { what: "chat frame", have, .. }) if have == cut
                ),
                "{:02X?}",
                &bytes[..cut]
            );
        }
        for extra in [0x00, 0x01, 0xFF] {
            let mut long = bytes.clone();
            long.push(extra);
            assert_eq!(
                Frame::decode(&long),
                Err(ChatError::Malformed {
                    what: "chat frame",
                    reason: "trailing bytes after the frame"
                })
            );
        }
    }
}

fn reason(bytes: &[u8]) -> &'static str {
    match Frame::decode(bytes) {
        Err(ChatError::Malformed {
            what: "chat frame",
            reason,
        }) => reason,
        other => panic!("{bytes:02X?}: {other:?}"),
    }
}

#[test]
fn bad_version_type_flags_codes_and_reasons_are_malformed() {
    for version in [0x00, 0x02, 0x81, 0xFF] {
        assert_eq!(reason(&[version, 0x83, 0x00]), "unsupported version");
        assert_eq!(reason(&[version]), "unsupported version");
    }
    for ty in [0x00, 0x02, 0x7F, 0x80, 0x84, 0xFF] {
        assert_eq!(
            reason(&[0x01, ty, 0, 0, 0, 0, 0, 0, 0]),
            "unknown frame type"
        );
    }
    for flags in [0x02, 0x03, 0x80, 0xFE, 0xFF] {
        let send = [
            0x01, 0x01, flags, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(reason(&send), "reserved flag bits set");
        let mut deliver = vec![0x01, 0x81];
        deliver.extend_from_slice(&[0; 16]);
        deliver.push(flags);
        deliver.extend_from_slice(&[0; 14]);
        assert_eq!(reason(&deliver), "reserved flag bits set");
    }
    for code in [0x00, 0x09, 0x80, 0xFE] {
        assert_eq!(
            reason(&[0x01, 0x82, code, 0, 0, 0, 0]),
            "unknown reject code"
        );
    }
    for end in [0x03, 0x80, 0xFF] {
        assert_eq!(reason(&[0x01, 0x83, end]), "unknown end reason");
    }
}

#[test]
fn invalid_utf8_body_is_refused() {
    let send = [0x01, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x03, b'o', b'k', 0xFF];
    assert_eq!(
        Frame::decode(&send),
        Err(ChatError::InvalidUtf8 { valid_up_to: 2 })
    );
    // A lone continuation byte, and a character cut short by body_len.
    let mut deliver = vec![0x01, 0x81];
    deliver.extend_from_slice(&[0; 17]);
    deliver.extend_from_slice(&[0, 0, 0, 0, 0x00, 0x02, 0x80, b'a']);
    assert_eq!(
        Frame::decode(&deliver),
        Err(ChatError::InvalidUtf8 { valid_up_to: 0 })
    );
    let cut = [0x01, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x01, 0xC3];
    assert_eq!(
        Frame::decode(&cut),
        Err(ChatError::InvalidUtf8 { valid_up_to: 0 })
    );
}

#[test]
fn debug_never_shows_the_body() {
    let send = Frame::Send {
        to: Some(ParticipantId(3)),
        ttl: None,
        body: "the vault code is 1234",
    };
    let shown = format!("{send:?} {send:#?}");
    assert!(!shown.contains("vault"), "{shown}");
    assert!(!shown.contains("1234"), "{shown}");
    assert!(shown.contains("22 bytes"), "{shown}");
    let deliver = Frame::Deliver {
        id: MessageId(1),
        from: ParticipantId(2),
        to: None,
        age: ms(3),
        body: "the vault code is 1234",
    };
    let shown = format!("{deliver:?} {deliver:#?}");
    assert!(!shown.contains("vault"), "{shown}");
    assert!(shown.contains("22 bytes"), "{shown}");
}

#[test]
fn body_over_u16_max_is_too_large_and_writes_nothing() {
    let big = "x".repeat(MAX_BODY_LEN + 1);
    let frames = [
        Frame::Send {
            to: None,
            ttl: None,
            body: &big,
        },
        Frame::Deliver {
            id: MessageId(1),
            from: ParticipantId(1),
            to: None,
            age: Duration::ZERO,
            body: &big,
        },
    ];
    for frame in frames {
        let mut out = vec![0xAA];
        assert_eq!(
            frame.encode(&mut out),
            Err(ChatError::TooLarge {
                len: MAX_BODY_LEN + 1,
                max: MAX_BODY_LEN
            })
        );
        assert_eq!(out, [0xAA]);
    }
    let max = Frame::Send {
        to: None,
        ttl: None,
        body: &big[..MAX_BODY_LEN],
    };
    let bytes = encode(&max);
    assert_eq!(&bytes[7..9], &[0xFF, 0xFF]);
    assert_eq!(Frame::decode(&bytes), Ok(max));
}

#[test]
fn encode_appends() {
    let mut out = vec![0xAA];
    let frame = Frame::Ended {
        reason: EndReason::Explicit,
    };
    frame.encode(&mut out).unwrap();
    assert_eq!(out, [0xAA, 0x01, 0x83, 0x00]);
}

#[test]
fn durations_round_and_saturate() {
    let ttl_ms = |ttl: Duration| {
        let bytes = encode(&Frame::Send {
            to: None,
            ttl: Some(ttl),
            body: "",
        });
        u32::from_be_bytes([bytes[3], bytes[4], bytes[5], bytes[6]])
    };
    assert_eq!(
        ttl_ms(Duration::ZERO),
        1,
        "a zero TTL must not become no TTL"
    );
    assert_eq!(ttl_ms(Duration::from_nanos(1)), 1);
    assert_eq!(ttl_ms(ms(1)), 1);
    assert_eq!(ttl_ms(ms(1) + Duration::from_nanos(1)), 2);
    assert_eq!(ttl_ms(ms(u64::from(u32::MAX))), u32::MAX);
    assert_eq!(ttl_ms(ms(u64::from(u32::MAX) + 1)), u32::MAX);
    assert_eq!(ttl_ms(Duration::MAX), u32::MAX);

    let age_ms = |age: Duration| {
        let bytes = encode(&Frame::Deliver {
            id: MessageId(0),
            from: ParticipantId(0),
            to: None,
            age,
            body: "",
        });
        u32::from_be_bytes([bytes[19], bytes[20], bytes[21], bytes[22]])
    };
    assert_eq!(age_ms(Duration::ZERO), 0);
    assert_eq!(age_ms(Duration::from_micros(1999)), 1);
    assert_eq!(age_ms(Duration::MAX), u32::MAX);

    let retry_ms = |retry_after: Duration| {
        let bytes = encode(&Frame::Rejected {
            code: RejectCode::RateLimited,
            retry_after,
        });
        u32::from_be_bytes([bytes[3], bytes[4], bytes[5], bytes[6]])
    };
    assert_eq!(retry_ms(Duration::ZERO), 0);
    assert_eq!(retry_ms(Duration::from_micros(1001)), 2);
    assert_eq!(retry_ms(Duration::MAX), u32::MAX);
}

#[test]
fn deliver_frame_from_a_message() {
    let sent = Instant::now();
    let message = ChatMessage::new(
        MessageId(17),
        RoomId(1),
        ParticipantId(2),
        Some(ParticipantId(3)),
        sent,
        None,
        MessageBody::from_utf8(b"on my way").unwrap(),
    );
    let later = sent + Duration::from_millis(1500);
    assert_eq!(
        Frame::deliver(&message, later),
        Frame::Deliver {
            id: MessageId(17),
            from: ParticipantId(2),
            to: Some(ParticipantId(3)),
            age: ms(1500),
            body: "on my way",
        }
    );
    // A clock reading from before the message was sent gives age zero, not a panic.
    let earlier = sent.checked_sub(ms(10)).unwrap_or(sent);
    assert!(matches!(
        Frame::deliver(&message, earlier),
        Frame::Deliver {
            age: Duration::ZERO,
            ..
        }
    ));
}

#[test]
fn rejections_for_errors() {
    let room = RoomId(1);
    let p = ParticipantId(2);
    let cases = [
        (ChatError::TooLarge { len: 9, max: 8 }, RejectCode::TooLarge),
        (ChatError::Empty, RejectCode::Empty),
        (
            ChatError::InvalidUtf8 { valid_up_to: 0 },
            RejectCode::InvalidUtf8,
        ),
        (
            ChatError::NotInRoom {
                room,
                participant: p,
            },
            RejectCode::NotInRoom,
        ),
        (
            ChatError::RecipientNotPresent { room, recipient: p },
            RejectCode::RecipientNotPresent,
        ),
        (ChatError::UnknownRoom(room), RejectCode::UnknownRoom),
        (
            ChatError::BudgetExhausted { budget: 1 },
            RejectCode::BudgetExhausted,
        ),
        (ChatError::RoomAlreadyOpen(room), RejectCode::Other),
        (ChatError::TooManyRooms { max: 1 }, RejectCode::Other),
        (ChatError::RoomFull { room, max: 1 }, RejectCode::Other),
        (
            ChatError::Truncated {
                what: "chat frame",
                need: 2,
                have: 1,
            },
            RejectCode::Other,
        ),
        (
            ChatError::Malformed {
                what: "chat frame",
                reason: "x",
            },
            RejectCode::Other,
        ),
    ];
    for (error, code) in cases {
        assert_eq!(RejectCode::for_error(&error), code, "{error:?}");
        assert_eq!(
            Frame::rejection(&error),
            Frame::Rejected {
                code,
                retry_after: Duration::ZERO
            }
        );
    }
    let limited = ChatError::RateLimited {
        participant: p,
        retry_after: ms(1234),
    };
    assert_eq!(
        Frame::rejection(&limited),
        Frame::Rejected {
            code: RejectCode::RateLimited,
            retry_after: ms(1234),
        }
    );
}

#[test]
fn truncated_converts_field_by_field() {
    let t = Truncated {
        what: "chat frame",
        need: 9,
        have: 3,
    };
    assert_eq!(
        ChatError::from(t),
        ChatError::Truncated {
            what: "chat frame",
            need: 9,
            have: 3
        }
    );
}
