//! The router fed arbitrary packet sequences from a publisher and a subscriber, as RTP and
//! RTCP, with time advancing and the subscriber's bandwidth estimate, preferences and
//! priorities changing (two video subscriptions share its estimate). The first byte picks the
//! video codec (VP8, VP9 — whose one-layer track may carry SVC spatial layers — H.264 or
//! AV1). Media crypto is a pass-through here so that the fuzzer reaches the router's own
//! parsing instead of stopping at SRTP authentication.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use quietroom_router::codec::Codec;
use quietroom_router::{ExtensionIds, Kind, LayerConfig, ParticipantId, Router, RouterConfig, TrackConfig, TrackId};
use quietroom_srtp::{Error, MediaCrypto};

/// Media "crypto" that leaves packets as they are.
struct Plain;

impl MediaCrypto for Plain {
    fn protect_rtp(&mut self, _buf: &mut [u8], len: usize) -> Result<usize, Error> {
        Ok(len)
    }
    fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        Ok(buf.len())
    }
    fn protect_rtcp(&mut self, _buf: &mut [u8], len: usize) -> Result<usize, Error> {
        Ok(len)
    }
    fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        Ok(buf.len())
    }
    fn rtp_overhead(&self) -> usize {
        0
    }
    fn rtcp_overhead(&self) -> usize {
        0
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let codec = [Codec::Vp8, Codec::Vp9, Codec::H264, Codec::Av1][usize::from(pick % 4)];
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let (publisher, subscriber) = (ParticipantId(1), ParticipantId(2));
    let _ = router.add_participant(publisher, Plain);
    let _ = router.add_participant(subscriber, Plain);
    let layer = |ssrc: u32, spatial: u8| LayerConfig { ssrc: Some(ssrc), rid: Some(format!("r{spatial}")), spatial, bitrate_bps: 100_000 * (u64::from(spatial) + 1), rtx_ssrc: (spatial == 0).then_some(ssrc + 1) };
    let video = TrackConfig {
        kind: Kind::Video,
        codec,
        clock_rate: 90_000,
        layers: vec![layer(0x100, 0), layer(0x200, 1), LayerConfig { ssrc: None, ..layer(0, 2) }],
        extensions: ExtensionIds { audio_level: None, transport_cc: Some(3), rid: Some(4), repaired_rid: Some(5), mid: Some(6) },
        rtx_payload_type: Some(97),
        mid: Some("0".to_owned()),
    };
    let audio = TrackConfig {
        kind: Kind::Audio,
        codec: Codec::Opus,
        clock_rate: 48_000,
        layers: vec![layer(0xA00, 0)],
        extensions: ExtensionIds { audio_level: Some(1), transport_cc: Some(3), rid: None, repaired_rid: None, mid: None },
        rtx_payload_type: None,
        mid: None,
    };
    // A second video track of one layer, so the subscriber's estimate is divided.
    let screen = TrackConfig {
        layers: vec![layer(0x400, 0)],
        mid: Some("3".to_owned()),
        ..video.clone()
    };
    let _ = router.publish(publisher, TrackId(1), video);
    let _ = router.publish(publisher, TrackId(2), audio);
    let _ = router.publish(publisher, TrackId(3), screen);
    let _ = router.subscribe(t0, subscriber, TrackId(1), 0xB00);
    let _ = router.subscribe(t0, subscriber, TrackId(2), 0xB01);
    let _ = router.subscribe(t0, subscriber, TrackId(3), 0xB03);
    let _ = router.set_rtx(subscriber, TrackId(1), 0xB02, 97);
    let mut now = t0;
    let mut rest = data;
    let mut buf = [0u8; 512];
    while let [selector, len, tail @ ..] = rest {
        let (packet, next) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = next;
        now += Duration::from_millis(u64::from(selector >> 2) * 7);
        let buf = &mut buf[..packet.len()];
        buf.copy_from_slice(packet);
        let _ = match selector & 3 {
            0 => router.handle_rtp(now, publisher, buf),
            1 => router.handle_rtcp(now, subscriber, buf),
            2 => router.handle_rtcp(now, publisher, buf),
            _ => {
                router.set_bandwidth_estimate(now, subscriber, u64::from(*len) * 20_000);
                // The subscriber's preferences and priorities, from the same byte.
                router.set_max_temporal_layer(now, subscriber, TrackId(1), len % 4);
                let track = TrackId(1 + 2 * u64::from(len & 1));
                router.set_preferences(now, subscriber, track, (len >> 1) % 4, *len == 255);
                router.set_priority(now, subscriber, track, len >> 6);
                Ok(())
            }
        };
        router.handle_timeout(now);
        while let Some(t) = router.poll_transmit() {
            router.recycle(t.data);
        }
        while router.poll_event().is_some() {}
    }
});
