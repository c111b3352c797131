//! TURN ChannelData decoding and stream framing on arbitrary bytes.
//!
//! Neither may panic. A message that parses encodes back to the bytes it occupied (with zero
//! padding over streams, whose padding content is not checked), and parses again to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quietroom_turn::stun::{ChannelData, is_channel_data, stream_frame_len};

fuzz_target!(|data: &[u8]| {
    let frame = stream_frame_len(data);
    for padded in [false, true] {
        let Ok((cd, used)) = ChannelData::parse(data, padded) else {
            continue;
        };
        assert!(is_channel_data(data));
        assert!(used <= data.len());
        if padded {
            assert_eq!(frame, Ok(Some(used)));
        }
        let mut out = Vec::with_capacity(used);
        ChannelData::encode(cd.channel, cd.data, padded, &mut out);
        assert_eq!(out.len(), used);
        let unpadded = 4 + cd.data.len();
        assert_eq!(out[..unpadded], data[..unpadded]);
        assert!(out[unpadded..].iter().all(|&b| b == 0));
        assert_eq!(ChannelData::parse(&out, padded), Ok((cd, used)));
    }
});
