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
    picture_id: Option<u16>,
    tl0: Option<u8>,
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
    /// Layer changes, the newest at `newest`.
    segments: [Option<Segment>; SEGMENTS],
    newest: usize,
    /// The output sequence number, picture ID and TL0PICIDX of the newest packet forwarded
    /// (by output sequence number).
    last: Option<(u16, Option<u16>, Option<u8>)>,
}

impl PictureMunger {
    /// Nothing forwarded yet: the first layer keeps its own numbers.
    pub fn new() -> Self {
        PictureMunger::default()
    }

    /// The numbers for a packet of layer `source` with `fields`, forwarded under output
    /// sequence number `out_sequence` (from [`Munger::map`](super::Munger::map)).
    pub fn map(
        &mut self,
        source: u32,
        out_sequence: u16,
        fields: &PictureFields,
    ) -> PictureRewrite {
        let in_id = fields.picture_id();
        let in_tl0 = fields.tl0_pic_idx();
        let mut seg = match self.segments[self.newest] {
            Some(seg) if seg.source == source => seg,
            _ => {
                let seg = Segment {
                    first_out: out_sequence,
                    source,
                    picture_id: None,
                    tl0: None,
                };
                self.newest = (self.newest + 1) % SEGMENTS;
                self.segments[self.newest] = Some(seg);
                seg
            }
        };
        // Each offset is fixed by the first packet of the layer that has the field: the
        // picture after the last one forwarded, or the layer's own number at the start.
        let (last_id, last_tl0) = self.last.map_or((None, None), |(_, id, tl0)| (id, tl0));
        if seg.picture_id.is_none()
            && let Some(id) = in_id
        {
            seg.picture_id = Some(last_id.map_or(0, |l| l.wrapping_add(1).wrapping_sub(id)));
        }
        if seg.tl0.is_none()
            && let Some(idx) = in_tl0
        {
            seg.tl0 = Some(last_tl0.map_or(0, |l| l.wrapping_add(1).wrapping_sub(idx)));
        }
        self.segments[self.newest] = Some(seg);
        let out = seg.apply(fields);
        let newer = self
            .last
            .is_none_or(|(seq, _, _)| out_sequence.wrapping_sub(seq).wrapping_sub(1) < 0x7FFF);
        if newer {
            self.last = Some((
                out_sequence,
                in_id.map(|_| out.picture_id).or(last_id),
                in_tl0.map(|_| out.tl0_pic_idx).or(last_tl0),
            ));
        }
        out
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
        let (last_seq, _, _) = self.last?;
        // The newest layer change at or before `out_sequence` (which is not after the last
        // packet forwarded).
        let behind = last_seq.wrapping_sub(out_sequence);
        (0..SEGMENTS)
            .map(|back| (self.newest + SEGMENTS - back) % SEGMENTS)
            .map_while(|i| self.segments[i])
            .find(|seg| last_seq.wrapping_sub(seg.first_out) >= behind)
            .filter(|seg| seg.source == source)
            .map(|seg| seg.apply(fields))
    }
}

impl Segment {
    fn apply(&self, fields: &PictureFields) -> PictureRewrite {
        PictureRewrite {
            picture_id: fields.picture_id().map_or(0, |id| {
                id.wrapping_add(self.picture_id.unwrap_or(0)) & 0x7FFF
            }),
            tl0_pic_idx: fields
                .tl0_pic_idx()
                .map_or(0, |idx| idx.wrapping_add(self.tl0.unwrap_or(0))),
        }
    }
}

#[cfg(test)]
mod tests;
