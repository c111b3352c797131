//! Incoming compound RTCP on arbitrary bytes.
//!
//! `parse_compound` must never panic. Every packet it accepts that has a builder (everything
//! but `Feedback::Other`) is rebuilt on its own with `rtcp::build::feedback`, which must
//! succeed (except for an empty NACK, which the builder refuses), and the rebuilt bytes parse
//! again to the same value. NACK lists are compared as sets, since the builder re-packs them
//! into PID/BLP pairs (and may split them over several packets).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quietroom_router::rtcp::{Feedback, build, parse_compound};

fuzz_target!(|data: &[u8]| {
    let Ok(feedbacks) = parse_compound(data) else {
        return;
    };
    assert!(!feedbacks.is_empty());
    let mut out = Vec::new();
    for fb in &feedbacks {
        out.clear();
        let built = build::feedback(fb, &mut out);
        match fb {
            Feedback::Other { .. } => {
                assert!(built.is_err() && out.is_empty());
                continue;
            }
            Feedback::Nack { lost, .. } if lost.is_empty() => {
                assert!(built.is_err() && out.is_empty());
                continue;
            }
            _ => {}
        }
        let n = built.unwrap_or_else(|e| panic!("{fb:?} did not rebuild: {e}"));
        assert_eq!(n, out.len());
        let again =
            parse_compound(&out).unwrap_or_else(|e| panic!("{fb:?} rebuilt unparsable: {e}"));
        if let Feedback::Nack {
            sender_ssrc,
            media_ssrc,
            lost,
        } = fb
        {
            let mut got = Vec::new();
            for a in &again {
                match a {
                    Feedback::Nack {
                        sender_ssrc: s,
                        media_ssrc: m,
                        lost: l,
                    } if s == sender_ssrc && m == media_ssrc => got.extend_from_slice(l),
                    other => panic!("NACK {fb:?} came back as {other:?}"),
                }
            }
            let mut want = lost.clone();
            got.sort_unstable();
            got.dedup();
            want.sort_unstable();
            want.dedup();
            assert_eq!(got, want);
        } else {
            assert_eq!(again.len(), 1, "{fb:?} came back as {again:?}");
            assert_eq!(&again[0], fb);
        }
    }
});
