//! Finding a publisher's streams when SSRCs are not signaled: MID, RID, repaired-RID.

use super::*;

/// A track of `rids` layers, or of one unnamed layer, with no SSRC signaled: found by MID
/// (extension 3) and RID (extension 4).
fn unsignaled_track(kind: Kind, mid: &str, rids: &[&str]) -> TrackConfig {
    let layer = |i: usize, rid: Option<&str>| LayerConfig {
        ssrc: None,
        rid: rid.map(str::to_owned),
        spatial: i as u8,
        bitrate_bps: 100_000,
        rtx_ssrc: None,
    };
    let layers = if rids.is_empty() {
        vec![layer(0, None)]
    } else {
        rids.iter()
            .enumerate()
            .map(|(i, r)| layer(i, Some(r)))
            .collect()
    };
    TrackConfig {
        kind,
        codec: if kind == Kind::Audio {
            Codec::Opus
        } else {
            Codec::Vp8
        },
        clock_rate: if kind == Kind::Audio { 48_000 } else { 90_000 },
        layers,
        extensions: ExtensionIds {
            mid: Some(3),
            rid: Some(4),
            ..Default::default()
        },
        rtx_payload_type: Some(97),
        mid: Some(mid.to_owned()),
    }
}

fn with_items(mut header: Header, mid: Option<&'static str>, rid: Option<&'static str>) -> Header {
    for (id, value) in [(3, mid), (4, rid)] {
        if let Some(v) = value {
            header
                .set_extension(id, Bytes::from_static(v.as_bytes()))
                .unwrap();
        }
    }
    header
}

#[test]
fn mid_tells_apart_tracks_with_the_same_rids_and_finds_unnamed_layers() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig::default());
    let mut alice = join(&mut router, 1);
    let mut bob = join(&mut router, 2);
    // A camera and a screen share, both simulcast with the same RIDs, and a microphone: no
    // SSRC signaled for any of them.
    let camera = unsignaled_track(Kind::Video, "0", &["q", "h"]);
    let screen = unsignaled_track(Kind::Video, "1", &["q", "h"]);
    let mic = unsignaled_track(Kind::Audio, "2", &[]);
    router.publish(alice.id, TrackId(1), camera).unwrap();
    router.publish(alice.id, TrackId(2), screen).unwrap();
    router.publish(alice.id, TrackId(3), mic).unwrap();
    router.subscribe(t0, bob.id, TrackId(2), 0xB0B).unwrap();
    router.subscribe(t0, bob.id, TrackId(3), 0xB0A).unwrap();
    let _ = drain(&mut router);

    let send = |alice: &mut Client, router: &mut Router<SrtpSession>, h: Header, p: Vec<u8>| {
        alice.send_rtp(router, t0, h, p)
    };
    for seq in 0..3u16 {
        let camera = with_items(header(0x10, seq, 0), Some("0"), Some("q"));
        send(&mut alice, &mut router, camera, vp8(seq == 0, 0xC0)).unwrap();
        let screen = with_items(header(0x20, seq, 0), Some("1"), Some("q"));
        send(&mut alice, &mut router, screen, vp8(seq == 0, 0x5C)).unwrap();
        let mut mic = with_items(header(0x30, seq, 960 * u32::from(seq)), Some("2"), None);
        mic.payload_type = 111;
        send(&mut alice, &mut router, mic, vec![0x78; 40]).unwrap();
    }
    // An RTX packet of the screen's "q" layer, by its RTX payload type: it must carry a
    // repaired-RID to be placed (a simulcast track), so it is unknown here.
    let mut rtx = with_items(header(0x21, 0, 0), Some("1"), None);
    rtx.payload_type = 97;
    let err = send(&mut alice, &mut router, rtx, vec![0, 1, 2]).unwrap_err();
    assert!(matches!(err, RouterError::Unknown(_)), "{err:?}");
    // A one-layer video track's media and RTX, both by MID alone (the RTX by its payload
    // type): both are placed.
    let single = unsignaled_track(Kind::Video, "3", &[]);
    router.publish(alice.id, TrackId(4), single).unwrap();
    let media = with_items(header(0x50, 7, 0), Some("3"), None);
    send(&mut alice, &mut router, media, vp8(true, 0x33)).unwrap();
    let mut rtx = with_items(header(0x51, 0, 0), Some("3"), None);
    rtx.payload_type = 97;
    let mut original = 7u16.to_be_bytes().to_vec();
    original.extend(vp8(true, 0x33));
    send(&mut alice, &mut router, rtx, original).unwrap();
    let layers = router.layer_states(t0, TrackId(4));
    assert_eq!(
        (layers[0].ssrc, layers[0].rtx_ssrc),
        (Some(0x50), Some(0x51)),
        "both SSRCs learned, and shown"
    );
    // A MID nobody published.
    let stray = with_items(header(0x40, 0, 0), Some("9"), Some("q"));
    let err = send(&mut alice, &mut router, stray, vp8(true, 0)).unwrap_err();
    assert!(matches!(err, RouterError::Unknown(_)), "{err:?}");

    let out = drain(&mut router);
    let (packets, _) = bob.receive(&out);
    let video: Vec<&Packet> = packets.iter().filter(|p| p.header.ssrc == 0xB0B).collect();
    let audio: Vec<&Packet> = packets.iter().filter(|p| p.header.ssrc == 0xB0A).collect();
    assert_eq!(
        video.len(),
        3,
        "the screen share's layer q, not the camera's"
    );
    assert!(video.iter().all(|p| p.payload[4] == 0x5C));
    assert_eq!(audio.len(), 3, "the microphone, found by MID alone");
    assert_eq!(packets.len(), 6);
}
