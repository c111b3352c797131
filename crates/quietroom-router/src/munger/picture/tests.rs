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

fn ids(r: PictureRewrite) -> (u16, u8) {
    (r.picture_id, r.tl0_pic_idx)
}

#[test]
fn first_layer_keeps_its_numbers() {
    let mut m = PictureMunger::new();
    assert_eq!(ids(m.map(1, 500, &vp8(7000, 3))), (7000, 3));
    assert_eq!(ids(m.map(1, 501, &vp8(7000, 3))), (7000, 3), "same picture");
    assert_eq!(ids(m.map(1, 502, &vp8(7001, 4))), (7001, 4));
    // A gap in the layer's own numbering (a picture lost upstream) stays a gap.
    assert_eq!(ids(m.map(1, 505, &vp8(7003, 6))), (7003, 6));
}

#[test]
fn a_layer_change_continues_the_numbering() {
    let mut m = PictureMunger::new();
    m.map(1, 10, &vp8(0x7FFE, 255));
    // Layer 2's keyframe, far away in both numberings: it follows, wrapping both fields.
    assert_eq!(ids(m.map(2, 11, &vp8(12, 90))), (0x7FFF, 0));
    assert_eq!(ids(m.map(2, 12, &vp8(13, 91))), (0, 1));
    // Back to layer 1: a new offset, not the old one.
    assert_eq!(ids(m.map(1, 13, &vp8(20, 30))), (1, 2));
    assert_eq!(ids(m.map(1, 14, &vp8(21, 31))), (2, 3));
}

#[test]
fn a_late_packet_does_not_move_the_numbering_on() {
    let mut m = PictureMunger::new();
    m.map(1, 100, &vp8(50, 5));
    m.map(1, 102, &vp8(52, 7));
    // Output 101 arrives late: its own numbers, and the newest stays 52.
    assert_eq!(ids(m.map(1, 101, &vp8(51, 6))), (51, 6));
    assert_eq!(ids(m.map(2, 103, &vp8(900, 77))), (53, 8));
}

#[test]
fn narrow_picture_ids_are_continuous_modulo_128() {
    let mut m = PictureMunger::new();
    assert_eq!(m.map(1, 1, &vp8_narrow(126)).picture_id & 0x7F, 126);
    assert_eq!(m.map(1, 2, &vp8_narrow(127)).picture_id & 0x7F, 127);
    assert_eq!(m.map(1, 3, &vp8_narrow(0)).picture_id & 0x7F, 0);
    assert_eq!(m.map(2, 4, &vp8_narrow(77)).picture_id & 0x7F, 1);
    let mut p = [0x90, 0x80, 77, 0x50];
    let out = m.map(2, 5, &vp8_narrow(78));
    vp8_narrow(77).write(&mut p, out.picture_id, out.tl0_pic_idx);
    assert_eq!(p, [0x90, 0x80, 2, 0x50], "written in 7 bits, M clear");
}

#[test]
fn a_field_missing_at_the_change_is_anchored_when_it_appears() {
    let mut m = PictureMunger::new();
    m.map(1, 1, &vp8(10, 1));
    // Layer 2 starts without TL0PICIDX, then has it.
    let no_tl0 = picture_fields(Codec::Vp8, &[0x90, 0x80, 0x80, 40, 0x50]).unwrap();
    assert_eq!(m.map(2, 2, &no_tl0).picture_id, 11);
    assert_eq!(ids(m.map(2, 3, &vp8(41, 200))), (12, 2));
}

#[test]
fn resends_get_the_numbers_of_their_original() {
    let mut m = PictureMunger::new();
    m.map(1, 1000, &vp8(100, 10));
    m.map(1, 1001, &vp8(101, 11));
    m.map(2, 1002, &vp8(5000, 60));
    m.map(2, 1003, &vp8(5001, 61));
    m.map(1, 1004, &vp8(300, 40));
    assert_eq!(
        m.for_resend(1, 1001, &vp8(101, 11)).map(ids),
        Some((101, 11))
    );
    assert_eq!(
        m.for_resend(2, 1003, &vp8(5001, 61)).map(ids),
        Some((103, 13))
    );
    assert_eq!(
        m.for_resend(1, 1004, &vp8(300, 40)).map(ids),
        Some((104, 14))
    );
    // Under another layer than the one forwarded then: not answered.
    assert_eq!(m.for_resend(2, 1001, &vp8(101, 11)), None);
    // Before the first packet forwarded: not answered.
    assert_eq!(m.for_resend(1, 999, &vp8(99, 9)), None);
}

#[test]
fn resends_older_than_the_remembered_changes_are_not_answered() {
    let mut m = PictureMunger::new();
    for change in 0..(SEGMENTS as u16 + 2) {
        m.map(u32::from(change % 2), 100 + change, &vp8(change * 1000, 0));
    }
    assert_eq!(m.for_resend(0, 100, &vp8(0, 0)), None);
    let newest = 100 + SEGMENTS as u16 + 1;
    assert!(m.for_resend(1, newest, &vp8(9000, 0)).is_some());
}

proptest! {
    /// Whatever the layer changes, each layer's pictures being consecutive in its own
    /// numbering, the subscriber sees consecutive picture IDs and TL0PICIDX in output
    /// order, and a resend of any packet within the remembered changes repeats its numbers.
    #[test]
    fn numbering_stays_continuous(
        starts in proptest::collection::vec((any::<u16>(), any::<u8>()), 3),
        plan in proptest::collection::vec((0u32..3, 1usize..6), 1..20),
        first_out in any::<u16>(),
    ) {
        let mut m = PictureMunger::new();
        // Each layer's next picture, running even while it is not forwarded.
        let mut next: Vec<(u16, u8)> = starts.iter().map(|&(id, tl0)| (id & 0x7FFF, tl0)).collect();
        let mut out_seq = first_out;
        let mut last: Option<(u16, u8)> = None;
        let mut sent = Vec::new();
        for (layer, pictures) in plan {
            for _ in 0..pictures {
                for n in next.iter_mut() {
                    *n = ((n.0 + 1) & 0x7FFF, n.1.wrapping_add(1));
                }
                let (id, tl0) = next[layer as usize];
                let fields = vp8(id, tl0);
                let out = m.map(layer, out_seq, &fields);
                if let Some((lid, ltl0)) = last {
                    prop_assert_eq!(out.picture_id, (lid + 1) & 0x7FFF);
                    prop_assert_eq!(out.tl0_pic_idx, ltl0.wrapping_add(1));
                }
                last = Some((out.picture_id, out.tl0_pic_idx));
                sent.push((layer, out_seq, fields, out));
                out_seq = out_seq.wrapping_add(1);
            }
        }
        let changes = sent.windows(2).filter(|w| w[0].0 != w[1].0).count();
        for (i, &(layer, seq, fields, out)) in sent.iter().enumerate() {
            let changes_after = sent[i..].windows(2).filter(|w| w[0].0 != w[1].0).count();
            let resent = m.for_resend(layer, seq, &fields);
            if changes_after < SEGMENTS {
                prop_assert_eq!(resent, Some(out), "{} changes", changes);
            }
        }
    }
}
