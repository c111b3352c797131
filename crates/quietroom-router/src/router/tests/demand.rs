//! Layer demand: the highest spatial layer any subscriber would take, announced for the
//! publisher's sake.

use super::*;

/// The `LayerDemand` events since the last call.
fn demands(router: &mut Router<SrtpSession>) -> Vec<(TrackId, Option<u8>)> {
    std::iter::from_fn(|| router.poll_event())
        .filter_map(|e| match e {
            RouterEvent::LayerDemand { track, max_spatial } => Some((track, max_spatial)),
            _ => None,
        })
        .collect()
}

#[test]
fn layer_demand_rises_at_once_and_falls_after_holding() {
    let t0 = Instant::now();
    let s = |ms: u64| t0 + Duration::from_millis(ms);
    let (mut router, alice, bob) = alice_to_bob(t0, video_track(&[0x100, 0x200, 0x300]));
    let carol = join(&mut router, 3);
    router.subscribe(t0, carol.id, TrackId(1), 0xCA0).unwrap();
    router
        .publish(alice.id, TrackId(2), audio_track(0xA00))
        .unwrap();
    router.subscribe(t0, bob.id, TrackId(2), 0xA0B).unwrap();
    let track = TrackId(1);

    // No estimate, no preference: the top layer. Audio tracks have no demand.
    router.handle_timeout(s(0));
    assert_eq!(demands(&mut router), vec![(track, Some(2))]);
    assert_eq!(router.layer_demand(track), Some(Some(2)));
    assert_eq!(router.layer_demand(TrackId(2)), None);

    // Bob wants the lowest layer, Carol the middle one: 1, once it has held for 5 s.
    router.set_preferences(s(10), bob.id, track, 0, false);
    router.set_preferences(s(10), carol.id, track, 1, false);
    router.handle_timeout(s(100));
    router.handle_timeout(s(4_000));
    assert_eq!(demands(&mut router), vec![]);
    router.handle_timeout(s(5_200));
    assert_eq!(demands(&mut router), vec![(track, Some(1))]);

    // A dip that does not hold is never announced.
    router.set_preferences(s(6_000), carol.id, track, 0, false);
    router.handle_timeout(s(6_100));
    router.set_preferences(s(7_000), carol.id, track, 1, false);
    router.handle_timeout(s(12_000));
    assert_eq!(demands(&mut router), vec![]);

    // Both pause: nothing wanted, after the hold.
    router.set_preferences(s(13_000), bob.id, track, 0, true);
    router.set_preferences(s(13_000), carol.id, track, 1, true);
    router.handle_timeout(s(13_100));
    router.handle_timeout(s(18_200));
    assert_eq!(demands(&mut router), vec![(track, None)]);

    // Bob wants everything again: the top layer, at once.
    router.set_preferences(s(19_000), bob.id, track, u8::MAX, false);
    router.handle_timeout(s(19_010));
    assert_eq!(demands(&mut router), vec![(track, Some(2))]);

    // An estimate that holds him lower does not lower the demand: he must be able to move
    // up when it rises.
    router.set_bandwidth_estimate(s(20_000), bob.id, 200_000);
    router.handle_timeout(s(20_100));
    router.handle_timeout(s(25_200));
    assert_eq!(demands(&mut router), vec![]);
    assert_eq!(router.layer_demand(track), Some(Some(2)));
}

#[test]
fn layer_demand_below_every_layer_is_the_lowest_layer() {
    // Spatial indices need not start at 0: a subscriber asking for less than the lowest
    // layer is forwarded the lowest (layer selection), so that is what it demands, never
    // an index the track does not have.
    let t0 = Instant::now();
    let mut config = video_track(&[0x100, 0x200]);
    for (layer, spatial) in config.layers.iter_mut().zip([1, 2]) {
        layer.spatial = spatial;
    }
    let (mut router, _alice, bob) = alice_to_bob(t0, config);
    let track = TrackId(1);
    router.handle_timeout(t0);
    assert_eq!(demands(&mut router), vec![(track, Some(2))]);

    router.set_preferences(t0, bob.id, track, 0, false);
    router.handle_timeout(t0 + Duration::from_millis(100));
    router.handle_timeout(t0 + Duration::from_millis(5_200));
    assert_eq!(demands(&mut router), vec![(track, Some(1))]);
    assert_eq!(router.layer_demand(track), Some(Some(1)));
}
