//! Chat frame decoding on arbitrary bytes.
//!
//! Decoding must never panic, and the encoding is canonical: a frame that decodes encodes
//! back to exactly the input, and that encoding decodes to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quietroom_chat::frame::Frame;

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = Frame::decode(data) else {
        return;
    };
    assert_eq!(frame.encoded_len(), data.len());
    let mut out = Vec::with_capacity(data.len());
    frame.encode(&mut out).expect("a decoded frame encodes");
    assert_eq!(out, data, "{frame:?} re-encodes differently");
    assert_eq!(Frame::decode(&out), Ok(frame));
});
