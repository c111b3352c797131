use proptest::prelude::*;

use super::*;
use crate::codec::{Codec, picture_fields};

/// A libwebrtc-shaped VP8 descriptor: X, I (15 bits), L, T.
fn vp8(picture_id: u16, tl0: u8) -> PictureFields {
    let [hi, lo] = (0x8000 | picture_id).to_be_bytes();
    picture_fields(Codec::Vp8, &[0x90, 0xE0, hi, lo, tl0, 0x20, 0x50]).unwrap()
}

/// A VP8 descriptor with a 7-bit picture ID and no TL0PICIDX.
fn vp8_narrow(picture_id: u8) -> PictureFields {
    picture_fields(Codec::Vp8, &[0x90, 0x80, picture_id & 0x7F, 0x50]).unwrap()
}

/// A libwebrtc-shaped VP9 descriptor in flexible mode: I (15 bits), P, L (TID, U, SID 0),
/// F, B, then one P_DIFF.
fn vp9(picture_id: u16, tid: u8, p_diff: u8) -> PictureFields {
    let [hi, lo] = (0x8000 | picture_id).to_be_bytes();
    picture_fields(Codec::Vp9, &[0xF8, hi, lo, tid << 5, p_diff << 1, 0x86]).unwrap()
}

fn ids(r: PictureRewrite) -> (u16, u8) {
    (r.picture_id, r.tl0_pic_idx)
}

#[test]
fn first_layer_keeps_its_numbers() {
    let mut m = PictureMunger::new();
    assert_eq!(ids(m.map(1, &vp8(7000, 3))), (7000, 3));
    assert_eq!(ids(m.map(1, &vp8(7000, 3))), (7000, 3), "same picture");
    assert_eq!(ids(m.map(1, &vp8(7001, 4))), (7001, 4));
    // A gap in the layer's own numbering (a picture lost upstream) stays a gap.
    assert_eq!(ids(m.map(1, &vp8(7003, 6))), (7003, 6));
}

#[test]
fn a_layer_change_continues_the_numbering() {
    let mut m = PictureMunger::new();
    m.map(1, &vp8(0x7FFE, 255));
    // Layer 2's keyframe, far away in both numberings: it follows, wrapping both fields.
    assert_eq!(ids(m.map(2, &vp8(12, 90))), (0x7FFF, 0));
    assert_eq!(ids(m.map(2, &vp8(13, 91))), (0, 1));
    // Back to layer 1: a new offset, not the old one.
    assert_eq!(ids(m.map(1, &vp8(20, 30))), (1, 2));
    assert_eq!(ids(m.map(1, &vp8(21, 31))), (2, 3));
}

#[test]
fn late_packets_get_the_numbers_of_their_picture() {
    let mut m = PictureMunger::new();
    m.map(1, &vp8(50, 5));
    m.map(1, &vp8(52, 7));
    // Picture 51 arrives late: its own numbers, and the newest stays 52.
    assert_eq!(ids(m.map(1, &vp8(51, 6))), (51, 6));
    assert_eq!(ids(m.map(2, &vp8(900, 77))), (53, 8));
    // A late packet of layer 1 after the change is not forwarded by the router (the munger
    // drops it), but its picture's numbers are still known for a resend.
    assert_eq!(m.for_resend(1, &vp8(52, 7)).map(ids), Some((52, 7)));
}

#[test]
fn left_out_pictures_take_no_number() {
    let mut m = PictureMunger::new();
    // libwebrtc's three temporal layers (TIDs 0, 2, 1, 2): the subscriber gets TID 0 and 1.
    assert_eq!(ids(m.map(1, &vp8(100, 10))), (100, 10));
    m.skip(1, &vp8(101, 10));
    m.skip(1, &vp8(101, 10)); // its second packet: still one picture
    assert_eq!(ids(m.map(1, &vp8(102, 10))), (101, 10));
    m.skip(1, &vp8(103, 10));
    assert_eq!(ids(m.map(1, &vp8(104, 11))), (102, 11));
    // A late packet of picture 102 keeps the number it got before 103 was left out.
    assert_eq!(ids(m.map(1, &vp8(102, 10))), (101, 10));
    // A late packet of a left-out picture changes nothing.
    m.skip(1, &vp8(101, 10));
    assert_eq!(ids(m.map(1, &vp8(105, 11))), (103, 11));
    // Resends carry what their picture got.
    assert_eq!(m.for_resend(1, &vp8(102, 10)).map(ids), Some((101, 10)));
    assert_eq!(m.for_resend(1, &vp8(104, 11)).map(ids), Some((102, 11)));
    // A layer change continues from the last picture forwarded.
    assert_eq!(ids(m.map(2, &vp8(7, 200))), (104, 12));
    // Skipping on a layer that is not the current one does nothing.
    m.skip(1, &vp8(106, 11));
    assert_eq!(ids(m.map(2, &vp8(8, 201))), (105, 13));
}

#[test]
fn left_out_vp9_pictures_keep_their_numbers() {
    // Chromium's VP9 with three temporal layers: TID 0 references 4 pictures back, TID 1
    // two, TID 2 one (P_DIFF). The subscriber gets TID 0 only.
    let mut m = PictureMunger::new();
    assert!(vp9(500, 0, 4).keeps_gaps() && !vp8(500, 0).keeps_gaps());
    assert_eq!(m.map(1, &vp9(500, 0, 4)).picture_id, 500);
    for (id, tid, diff) in [(501, 2, 1), (502, 1, 2), (503, 2, 1)] {
        m.skip(1, &vp9(id, tid, diff));
    }
    // Picture 504 references 500 by P_DIFF 4: it must stay 4 ahead of it.
    assert_eq!(m.map(1, &vp9(504, 0, 4)).picture_id, 504);
    // On another layer, the keyframe follows the last picture forwarded, and the gaps of
    // that layer stay as they are too.
    assert_eq!(m.map(2, &vp9(9000, 0, 0)).picture_id, 505);
    m.skip(2, &vp9(9001, 2, 1));
    assert_eq!(m.map(2, &vp9(9002, 1, 2)).picture_id, 507);
    assert_eq!(m.for_resend(2, &vp9(9002, 1, 2)).map(ids), Some((507, 0)));
}

#[test]
fn narrow_picture_ids_are_continuous_modulo_128() {
    let mut m = PictureMunger::new();
    assert_eq!(m.map(1, &vp8_narrow(126)).picture_id & 0x7F, 126);
    assert_eq!(m.map(1, &vp8_narrow(127)).picture_id & 0x7F, 127);
    assert_eq!(m.map(1, &vp8_narrow(0)).picture_id & 0x7F, 0);
    m.skip(1, &vp8_narrow(1));
    assert_eq!(
        m.map(1, &vp8_narrow(2)).picture_id & 0x7F,
        1,
        "the 7-bit wrap is in order"
    );
    assert_eq!(m.map(2, &vp8_narrow(77)).picture_id & 0x7F, 2);
    let mut p = [0x90, 0x80, 77, 0x50];
    let out = m.map(2, &vp8_narrow(78));
    vp8_narrow(77).write(&mut p, out.picture_id, out.tl0_pic_idx);
    assert_eq!(p, [0x90, 0x80, 3, 0x50], "written in 7 bits, M clear");
}

#[test]
fn a_field_missing_at_the_change_is_anchored_when_it_appears() {
    let mut m = PictureMunger::new();
    m.map(1, &vp8(10, 1));
    // Layer 2 starts without TL0PICIDX, then has it.
    let no_tl0 = picture_fields(Codec::Vp8, &[0x90, 0x80, 0x80, 40, 0x50]).unwrap();
    assert_eq!(m.map(2, &no_tl0).picture_id, 11);
    assert_eq!(ids(m.map(2, &vp8(41, 200))), (12, 2));
}

#[test]
fn resends_before_the_remembered_changes_are_not_answered() {
    let mut m = PictureMunger::new();
    // Steady state, one layer and nothing left out: every picture stays answerable, across
    // the picture ID's wrap too.
    for id in 0..40_000u32 {
        m.map(1, &vp8((id & 0x7FFF) as u16, 0));
    }
    let newest = (39_999 & 0x7FFF) as u16;
    assert_eq!(
        m.for_resend(1, &vp8(newest - 900, 0)).map(|r| r.picture_id),
        Some(newest - 900)
    );
    // 40 changes: one picture in two left out.
    let mut m = PictureMunger::new();
    for id in 0..2000 {
        m.map(1, &vp8(id, 0));
    }
    for k in 0..40 {
        let id = 2000 + 2 * k;
        m.skip(1, &vp8(id, 0));
        assert_eq!(m.map(1, &vp8(id + 1, 0)).picture_id, 2000 + k);
    }
    assert_eq!(
        m.for_resend(1, &vp8(1999, 0)),
        None,
        "before the oldest change remembered"
    );
    assert_eq!(
        m.for_resend(1, &vp8(2017, 0)).map(|r| r.picture_id),
        Some(2008)
    );
    assert_eq!(
        m.for_resend(1, &vp8(2079, 0)).map(|r| r.picture_id),
        Some(2039)
    );
    assert_eq!(
        m.for_resend(2, &vp8(2079, 0)),
        None,
        "another layer's picture"
    );
}

proptest! {
    /// Whatever the layer changes and the pictures left out, each layer's pictures being
    /// consecutive in its own numbering, the subscriber sees consecutive picture IDs and
    /// TL0PICIDX for the pictures it gets, and a resend of any picture it got repeats that
    /// picture's numbers (or, before the remembered changes, is not answered).
    #[test]
    fn numbering_stays_continuous(
        starts in proptest::collection::vec((any::<u16>(), any::<u8>()), 3),
        plan in proptest::collection::vec((0u32..3, 1usize..6, any::<bool>()), 1..30),
    ) {
        let mut m = PictureMunger::new();
        // Each layer's next picture, running even while it is not forwarded.
        let mut next: Vec<(u16, u8)> = starts.iter().map(|&(id, tl0)| (id & 0x7FFF, tl0)).collect();
        let mut last: Option<(u16, u8)> = None;
        let mut sent = Vec::new();
        let mut layer_now = None;
        for (layer, pictures, leave_out_odd) in plan {
            for k in 0..pictures {
                // A layer change always starts on a forwarded picture (a keyframe); a picture
                // left out is of an upper temporal layer, which does not advance TL0PICIDX.
                let changes = layer_now != Some(layer);
                let left_out = leave_out_odd && k % 2 == 1 && !changes;
                for (i, n) in next.iter_mut().enumerate() {
                    let base = !(left_out && i == layer as usize);
                    *n = ((n.0 + 1) & 0x7FFF, n.1.wrapping_add(u8::from(base)));
                }
                let (id, tl0) = next[layer as usize];
                let fields = vp8(id, tl0);
                if left_out {
                    m.skip(layer, &fields);
                    continue;
                }
                layer_now = Some(layer);
                let out = m.map(layer, &fields);
                if let Some((lid, ltl0)) = last {
                    prop_assert_eq!(out.picture_id, (lid + 1) & 0x7FFF);
                    prop_assert_eq!(out.tl0_pic_idx, ltl0.wrapping_add(1));
                }
                last = Some((out.picture_id, out.tl0_pic_idx));
                sent.push((layer, fields, out));
            }
        }
        let n = sent.len();
        for (i, &(layer, fields, out)) in sent.iter().enumerate() {
            let resent = m.for_resend(layer, &fields);
            if let Some(r) = resent {
                prop_assert_eq!(r, out);
            }
            if i + 1 == n {
                prop_assert_eq!(resent, Some(out), "the newest picture is always known");
            }
        }
    }
}

proptest! {
    /// One layer, libwebrtc's three temporal layers (TIDs 0, 2, 1, 2), the subscriber getting
    /// TIDs 0 and 1, two packets per picture, and some packets arriving late (lost upstream
    /// and resent): pictures forwarded keep their order and never share a picture ID.
    #[test]
    fn late_packets_never_share_or_reorder_picture_ids(
        start in 0u16..0x7FFF,
        delays in proptest::collection::vec(prop_oneof![4 => Just(0usize), 1 => 1usize..12], 80),
    ) {
        let tid = |n: u16| [0u8, 2, 1, 2][usize::from(n % 4)];
        // (arrival key, picture) for each packet: a delayed packet arrives later.
        let mut arrivals: Vec<(usize, u16)> = (0..40u16)
            .flat_map(|n| [n, n])
            .enumerate()
            .map(|(i, n)| (2 * i + 2 * delays[i] + 1, n))
            .collect();
        arrivals.sort_by_key(|&(key, _)| key);
        let mut m = PictureMunger::new();
        let mut out: std::collections::HashMap<u16, u16> = std::collections::HashMap::new();
        // The first picture forwarded is where the subscriber starts (its keyframe); the
        // router forwards nothing from before it.
        let mut first = None;
        for (_, n) in arrivals {
            let id = (start + n) & 0x7FFF;
            let fields = vp8(id, (n / 4) as u8);
            if tid(n) == 2 {
                m.skip(1, &fields);
                continue;
            }
            if *first.get_or_insert(n) > n {
                continue;
            }
            let got = m.map(1, &fields).picture_id;
            if let Some(&before) = out.get(&n) {
                prop_assert_eq!(got, before, "picture {} renumbered", n);
            }
            out.insert(n, got);
        }
        let mut pictures: Vec<(u16, u16)> = out.into_iter().collect();
        pictures.sort_unstable();
        for w in pictures.windows(2) {
            let step = w[1].1.wrapping_sub(w[0].1) & 0x7FFF;
            prop_assert!(
                step != 0 && step < 0x4000,
                "pictures {} and {} got {} and {}",
                w[0].0, w[1].0, w[0].1, w[1].1
            );
        }
    }
}
