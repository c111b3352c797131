//! Per (subscriber, track) picture ID and TL0PICIDX rewriting for VP8 and VP9: see
//! [`PictureMunger`].

use crate::codec::PictureFields;

/// Layer changes remembered for [`PictureMunger::for_resend`]: a retransmission of a packet
/// forwarded before the oldest of them is not answered.
const SEGMENTS: usize = 8;

/// A layer change: from output sequence number `first_out` on, layer `source` was forwarded
/// with these offsets.
#[derive(Clone, Copy, Debug)]
struct Segment {
    first_out: u16,
    source: u32,
    /// Output = input + these (the picture ID in 15 bits).
    picture_id: u16,
    tl0: u8,
    /// Which offsets are fixed ([`PICTURE_ID`], [`TL0`]): each by the first packet of the
    /// segment that has the field.
    anchored: u8,
}

/// What to write into a forwarded packet's picture ID and TL0PICIDX fields (see
/// [`PictureFields::write`](crate::codec::PictureFields::write)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PictureRewrite {
    /// The picture ID the subscriber sees (15 bits).
    pub picture_id: u16,
    /// The TL0PICIDX the subscriber sees.
    pub tl0_pic_idx: u8,
}

/// Rewrites the VP8/VP9 picture numbering of one track for one subscriber.
///
/// Each simulcast layer numbers its pictures on its own (RFC 7741 §4.2, RFC 9628 §4.2), so a
/// subscriber moved from one layer to another would see the picture ID and TL0PICIDX jump,
/// which a receiver reads as many lost pictures (or as old ones). A [`PictureMunger`] gives
/// the subscriber one continuous numbering, as mediasoup's VP8 and VP9 handlers and
/// LiveKit's VP8 munger do:
///
/// * within one layer, output = input + offset (15 bits for the picture ID, 8 for
///   TL0PICIDX), so the layer's own steps, gaps and reordering pass through unchanged;
/// * when the forwarded layer changes, the offsets are chosen so that the new layer's first
///   picture — the keyframe the router switched on — follows the last picture forwarded
///   (picture ID + 1, TL0PICIDX + 1);
/// * a retransmission gets the offsets that were in force when the original was forwarded
///   ([`PictureMunger::for_resend`]), so a resent packet carries the same numbers.
///
/// A field the descriptor has only 7 bits for is written modulo 2^7: continuity then holds
/// modulo 2^7, which is all such a receiver reads. A publisher that restarts its numbering on
/// the same SSRC keeps its offsets (the restart shows through, as it would without an SFU).
///
/// ```
/// use quietroom_router::codec::{Codec, picture_fields};
/// use quietroom_router::munger::PictureMunger;
///
/// let mut m = PictureMunger::new();
/// // Layer 0x10 forwards pictures 100 and 101 (15-bit picture ID, TL0PICIDX 7 and 8).
/// let p100 = picture_fields(Codec::Vp8, &[0x90, 0xC0, 0x80, 100, 7]).unwrap();
/// let p101 = picture_fields(Codec::Vp8, &[0x90, 0xC0, 0x80, 101, 8]).unwrap();
/// assert_eq!(m.map(0x10, 1, &p100).picture_id, 100);
/// assert_eq!(m.map(0x10, 2, &p101).picture_id, 101);
/// // The subscriber moves to layer 0x20, whose keyframe is its picture 5000, TL0PICIDX 40.
/// let key = picture_fields(Codec::Vp8, &[0x90, 0xC0, 0x93, 0x88, 40]).unwrap();
/// let out = m.map(0x20, 3, &key);
/// assert_eq!((out.picture_id, out.tl0_pic_idx), (102, 9));
/// ```
#[derive(Clone, Debug, Default)]
pub struct PictureMunger {
    /// The layer forwarded now and its offsets: with `last`, all a packet reads.
    current: Option<Segment>,
    /// The newest packet forwarded (by output sequence number): its output sequence number,
    /// picture ID and TL0PICIDX, and which of these two it has had ([`PICTURE_ID`],
    /// [`TL0`]; the newest value of each is kept).
    last_seq: u16,
    last_picture_id: u16,
    last_tl0: u8,
    last_has: u8,
    /// Whether anything was forwarded yet.
    started: bool,
    /// Layer changes for [`PictureMunger::for_resend`], the newest (a copy of `current`) at
    /// `newest`: apart, so that a subscription's forwarding state stays small.
    history: Box<[Option<Segment>; SEGMENTS]>,
    newest: usize,
}

/// `last_has` and [`Segment::anchored`] bits.
const PICTURE_ID: u8 = 1;
const TL0: u8 = 2;

/// Which of the two fields `fields` has ([`PICTURE_ID`], [`TL0`]).
#[inline]
fn present(fields: &PictureFields) -> u8 {
    (u8::from(fields.picture_id().is_some()) * PICTURE_ID)
        | (u8::from(fields.tl0_pic_idx().is_some()) * TL0)
}

impl PictureMunger {
    /// Nothing forwarded yet: the first layer keeps its own numbers.
    pub fn new() -> Self {
        PictureMunger::default()
    }

    /// The numbers for a packet of layer `source` with `fields`, forwarded under output
    /// sequence number `out_sequence` (from [`Munger::map`](super::Munger::map)).
    #[inline]
    pub fn map(
        &mut self,
        source: u32,
        out_sequence: u16,
        fields: &PictureFields,
    ) -> PictureRewrite {
        let has = present(fields);
        let seg = match self.current {
            Some(seg) if seg.source == source && seg.anchored & has == has => seg,
            _ => self.anchor(source, out_sequence, fields),
        };
        let out = seg.apply(fields);
        if !self.started || out_sequence.wrapping_sub(self.last_seq).wrapping_sub(1) < 0x7FFF {
            self.started = true;
            self.last_seq = out_sequence;
            if has & PICTURE_ID != 0 {
                self.last_picture_id = out.picture_id;
            }
            if has & TL0 != 0 {
                self.last_tl0 = out.tl0_pic_idx;
            }
            self.last_has |= has;
        }
        out
    }

    /// A packet of another layer than the current one, or with a field the current layer's
    /// packets have not had yet: starts a segment for `source` if it is another layer, and
    /// fixes the offset of each field seen for the first time in the segment — the picture
    /// after the last one forwarded, or the layer's own number at the very start.
    #[cold]
    #[inline(never)]
    fn anchor(&mut self, source: u32, out_sequence: u16, fields: &PictureFields) -> Segment {
        let mut seg = match self.current {
            Some(seg) if seg.source == source => seg,
            _ => {
                self.newest = (self.newest + 1) % SEGMENTS;
                Segment {
                    first_out: out_sequence,
                    source,
                    picture_id: 0,
                    tl0: 0,
                    anchored: 0,
                }
            }
        };
        if seg.anchored & PICTURE_ID == 0
            && let Some(id) = fields.picture_id()
        {
            seg.anchored |= PICTURE_ID;
            if self.last_has & PICTURE_ID != 0 {
                seg.picture_id = self.last_picture_id.wrapping_add(1).wrapping_sub(id);
            }
        }
        if seg.anchored & TL0 == 0
            && let Some(idx) = fields.tl0_pic_idx()
        {
            seg.anchored |= TL0;
            if self.last_has & TL0 != 0 {
                seg.tl0 = self.last_tl0.wrapping_add(1).wrapping_sub(idx);
            }
        }
        self.current = Some(seg);
        self.history[self.newest] = Some(seg);
        seg
    }

    /// The numbers a retransmission of output sequence number `out_sequence` must carry: the
    /// ones its original got, from layer `source` with `fields`. `None` when that packet was
    /// forwarded before the last 8 layer changes (or under another layer), when
    /// the retransmission is better left out than sent with numbers that may be wrong.
    pub fn for_resend(
        &self,
        source: u32,
        out_sequence: u16,
        fields: &PictureFields,
    ) -> Option<PictureRewrite> {
        if !self.started {
            return None;
        }
        let last_seq = self.last_seq;
        // The newest layer change at or before `out_sequence` (which is not after the last
        // packet forwarded).
        let behind = last_seq.wrapping_sub(out_sequence);
        (0..SEGMENTS)
            .map(|back| (self.newest + SEGMENTS - back) % SEGMENTS)
            .map_while(|i| self.history[i])
            .find(|seg| last_seq.wrapping_sub(seg.first_out) >= behind)
            .filter(|seg| seg.source == source)
            .map(|seg| seg.apply(fields))
    }
}

impl Segment {
    #[inline]
    fn apply(&self, fields: &PictureFields) -> PictureRewrite {
        PictureRewrite {
            picture_id: fields
                .picture_id()
                .unwrap_or(0)
                .wrapping_add(self.picture_id)
                & 0x7FFF,
            tl0_pic_idx: fields.tl0_pic_idx().unwrap_or(0).wrapping_add(self.tl0),
        }
    }
}

#[cfg(test)]
mod tests;
