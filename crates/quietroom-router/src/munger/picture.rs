//! Per (subscriber, track) picture ID and TL0PICIDX rewriting for VP8 and VP9: see
//! [`PictureMunger`].

use crate::codec::PictureFields;

/// Changes of the offsets remembered (at layer changes, and where pictures were left out),
/// for late packets and retransmissions. A retransmission of a picture forwarded before the
/// oldest of them is not answered.
const CHANGES: usize = 32;

/// `last_has` and `anchored` bits: which of the two fields.
const PICTURE_ID: u8 = 1;
const TL0: u8 = 2;

/// Which of the two fields `fields` has ([`PICTURE_ID`], [`TL0`]).
#[inline]
fn present(fields: &PictureFields) -> u8 {
    (u8::from(fields.picture_id().is_some()) * PICTURE_ID)
        | (u8::from(fields.tl0_pic_idx().is_some()) * TL0)
}

/// The picture ID's modulus minus one: 15 or 7 bits.
#[inline]
fn mask(wide: bool) -> u16 {
    if wide { 0x7FFF } else { 0x7F }
}

/// How far picture ID `a` is ahead of `b`, in the field's width; `None` if it is behind.
#[inline]
fn ahead(a: u16, b: u16, wide: bool) -> Option<u16> {
    let mask = mask(wide);
    let d = a.wrapping_sub(b) & mask;
    (d <= mask / 2).then_some(d)
}

/// From input picture ID `from` of layer `source` on, output = input + these offsets (until
/// the next change).
#[derive(Clone, Copy, Debug, Default)]
struct Change {
    valid: bool,
    source: u32,
    from: u16,
    id_offset: u16,
    tl0_offset: u8,
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
/// * a VP8 picture the router leaves out (a temporal layer above what the subscriber gets,
///   [`PictureMunger::skip`]) takes no number: the pictures after it move down by one, as
///   mediasoup's and LiveKit's VP8 handling do, so the subscriber sees no gap where nothing
///   was lost. A VP9 picture left out keeps its number and leaves a gap
///   ([`PictureFields::keeps_gaps`]): VP9 references pictures by picture ID difference;
/// * when the forwarded layer changes, the offsets are chosen so that the new layer's first
///   picture — the keyframe the router switched on — follows the last picture forwarded
///   (picture ID + 1, TL0PICIDX + 1);
/// * the last 32 changes of the offsets are remembered, so a late packet and a
///   retransmission ([`PictureMunger::for_resend`]) carry the numbers of their picture.
///   In steady state a packet writes nothing outside the munger's own few fields.
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
/// assert_eq!(m.map(0x10, &p100).picture_id, 100);
/// assert_eq!(m.map(0x10, &p101).picture_id, 101);
/// // The subscriber moves to layer 0x20, whose keyframe is its picture 5000, TL0PICIDX 40.
/// let key = picture_fields(Codec::Vp8, &[0x90, 0xC0, 0x93, 0x88, 40]).unwrap();
/// let out = m.map(0x20, &key);
/// assert_eq!((out.picture_id, out.tl0_pic_idx), (102, 9));
/// ```
#[derive(Clone, Debug)]
pub struct PictureMunger {
    /// The layer forwarded now.
    source: Option<u32>,
    /// Output = input + these for the current layer's pictures from `newest_in` on (the
    /// picture ID in 15 bits).
    id_offset: u16,
    tl0_offset: u8,
    /// Which offsets are fixed for the current layer: each by its first packet that has the
    /// field.
    anchored: u8,
    /// The newest input picture ID of the current layer, forwarded or left out.
    newest_in: Option<u16>,
    /// The newest picture forwarded: its output picture ID and TL0PICIDX, and which of these
    /// it has had (the newest value of each is kept).
    last: PictureRewrite,
    last_has: u8,
    /// Whether a picture was forwarded since the newest change: if not, a picture left out
    /// amends that change instead of adding one.
    forwarded_since_change: bool,
    /// Where the newest change starts (a copy, so that a packet reads nothing outside the
    /// munger's own fields).
    newest_change_from: u16,
    /// Offset changes, the newest at `newest_change`.
    changes: Box<[Change; CHANGES]>,
    newest_change: usize,
}

impl Default for PictureMunger {
    fn default() -> Self {
        PictureMunger {
            source: None,
            id_offset: 0,
            tl0_offset: 0,
            anchored: 0,
            newest_in: None,
            last: PictureRewrite::default(),
            last_has: 0,
            forwarded_since_change: false,
            newest_change_from: 0,
            changes: Box::new([Change::default(); CHANGES]),
            newest_change: 0,
        }
    }
}

impl PictureMunger {
    /// Nothing forwarded yet: the first layer keeps its own numbers.
    pub fn new() -> Self {
        PictureMunger::default()
    }

    /// The numbers for a forwarded packet of layer `source` with `fields`.
    #[inline]
    pub fn map(&mut self, source: u32, fields: &PictureFields) -> PictureRewrite {
        // The common case, kept small enough to inline: a packet of the current layer with
        // the fields it had before, of the newest picture or a later one.
        if self.source == Some(source)
            && let (Some(id), Some(newest)) = (fields.picture_id(), self.newest_in)
        {
            let has = present(fields);
            let mask = mask(fields.wide_picture_id());
            let ahead = id.wrapping_sub(newest) & mask;
            let since_change = id.wrapping_sub(self.newest_change_from) & mask;
            if self.anchored & has == has && ahead <= mask / 2 && since_change <= mask / 4 {
                let out = self.apply(fields);
                if ahead != 0 {
                    self.forwarded(id, has, out);
                }
                return out;
            }
        }
        self.map_other(source, fields)
    }

    /// [`PictureMunger::map`] for the rest: another layer, a field seen for the first time,
    /// a late packet, the first picture, or the newest change about to leave the reach of
    /// the modular comparisons.
    #[inline(never)]
    fn map_other(&mut self, source: u32, fields: &PictureFields) -> PictureRewrite {
        let has = present(fields);
        if self.source != Some(source) || self.anchored & has != has {
            self.anchor(source, fields);
        }
        let Some(id) = fields.picture_id() else {
            let out = self.apply(fields);
            if has & TL0 != 0 {
                self.last.tl0_pic_idx = out.tl0_pic_idx;
                self.last_has |= TL0;
            }
            return out;
        };
        let wide = fields.wide_picture_id();
        match self.newest_in.map(|newest| ahead(id, newest, wide)) {
            // Another packet of the newest picture.
            Some(Some(0)) => self.apply(fields),
            // A late packet of an older picture: the offsets in force for it.
            Some(None) => match self.find(source, id, wide) {
                Some(c) => c.apply(fields),
                None => self.apply(fields),
            },
            // The next picture.
            _ => {
                // Keep the newest change within reach of the modular comparisons.
                if ahead(id, self.newest_change_from, wide).is_none_or(|d| d > mask(wide) / 4) {
                    self.push_change(source, id);
                }
                let out = self.apply(fields);
                self.forwarded(id, has, out);
                out
            }
        }
    }

    /// Picture `id`, with the fields `has` says, was forwarded as the newest, numbered `out`.
    #[inline]
    fn forwarded(&mut self, id: u16, has: u8, out: PictureRewrite) {
        self.newest_in = Some(id);
        self.forwarded_since_change = true;
        self.last.picture_id = out.picture_id;
        if has & TL0 != 0 {
            self.last.tl0_pic_idx = out.tl0_pic_idx;
        }
        self.last_has |= has;
    }

    /// A packet of layer `source` with `fields` that the router leaves out (a temporal layer
    /// the subscriber does not get): the first one seen of a new picture gives up that
    /// picture's number, so the next forwarded picture takes it. Nothing changes for a
    /// picture that [`keeps_gaps`](PictureFields::keeps_gaps) (VP9).
    #[inline]
    pub fn skip(&mut self, source: u32, fields: &PictureFields) {
        if self.source != Some(source) || self.anchored & PICTURE_ID == 0 || fields.keeps_gaps() {
            return;
        }
        let Some(id) = fields.picture_id() else {
            return;
        };
        let wide = fields.wide_picture_id();
        let step = match self.newest_in.map(|newest| ahead(id, newest, wide)) {
            Some(None | Some(0)) => return,
            Some(Some(d)) => d,
            None => 1,
        };
        self.newest_in = Some(id);
        self.id_offset = self.id_offset.wrapping_sub(1);
        if self.forwarded_since_change || step != 1 {
            // A new change from this picture on. (With pictures between the newest and this
            // one still to come, late, the newest change must keep its offset for them.)
            self.push_change(source, id);
        } else {
            // Only pictures left out since the newest change, and none missing: it can take
            // the new offset.
            self.changes[self.newest_change].id_offset = self.id_offset;
        }
    }

    /// The numbers a retransmission of a packet of layer `source` with `fields` must carry:
    /// the ones its picture got. `None` when the offsets in force for it are no longer
    /// remembered (it was forwarded before the last 32 changes): the retransmission is better
    /// left out than sent with numbers that may be wrong.
    pub fn for_resend(&self, source: u32, fields: &PictureFields) -> Option<PictureRewrite> {
        match fields.picture_id() {
            Some(id) => self
                .find(source, id, fields.wide_picture_id())
                .map(|c| c.apply(fields)),
            // Neither field: nothing to rewrite, whatever the layer.
            None if fields.tl0_pic_idx().is_none() => Some(self.apply(fields)),
            // TL0PICIDX alone: it changes offset only with the layer.
            None => (self.source == Some(source)).then(|| self.apply(fields)),
        }
    }

    /// The newest change of `source` at or before input picture `id`.
    fn find(&self, source: u32, id: u16, wide: bool) -> Option<&Change> {
        (0..CHANGES)
            .map(|back| &self.changes[(self.newest_change + CHANGES - back) % CHANGES])
            .take_while(|c| c.valid)
            .find(|c| c.source == source && ahead(id, c.from, wide).is_some())
    }

    /// Records that from input picture `from` of `source` on, the current offsets apply.
    fn push_change(&mut self, source: u32, from: u16) {
        self.newest_change = (self.newest_change + 1) % CHANGES;
        self.changes[self.newest_change] = Change {
            valid: true,
            source,
            from,
            id_offset: self.id_offset,
            tl0_offset: self.tl0_offset,
        };
        self.newest_change_from = from;
        self.forwarded_since_change = false;
    }

    #[inline]
    fn apply(&self, fields: &PictureFields) -> PictureRewrite {
        Change {
            valid: true,
            source: 0,
            from: 0,
            id_offset: self.id_offset,
            tl0_offset: self.tl0_offset,
        }
        .apply(fields)
    }

    /// A packet of another layer than the current one, or with a field the current layer's
    /// packets have not had yet: moves to `source` if it is another layer, and fixes the
    /// offset of each field seen for the first time on the layer — the picture after the
    /// last one forwarded, or the layer's own number at the very start.
    #[cold]
    #[inline(never)]
    fn anchor(&mut self, source: u32, fields: &PictureFields) {
        if self.source != Some(source) {
            self.source = Some(source);
            self.anchored = 0;
            self.newest_in = None;
            self.id_offset = 0;
            self.tl0_offset = 0;
        }
        if self.anchored & PICTURE_ID == 0
            && let Some(id) = fields.picture_id()
        {
            self.anchored |= PICTURE_ID;
            if self.last_has & PICTURE_ID != 0 {
                self.id_offset = self.last.picture_id.wrapping_add(1).wrapping_sub(id);
            }
        }
        if self.anchored & TL0 == 0
            && let Some(idx) = fields.tl0_pic_idx()
        {
            self.anchored |= TL0;
            if self.last_has & TL0 != 0 {
                self.tl0_offset = self.last.tl0_pic_idx.wrapping_add(1).wrapping_sub(idx);
            }
        }
        // The offsets in force from this picture on (a change the next picture would make
        // anyway; late packets of the layer before it are not forwarded).
        match fields.picture_id() {
            Some(id) => self.push_change(source, id),
            None => self.forwarded_since_change = true,
        }
    }
}

impl Change {
    #[inline]
    fn apply(&self, fields: &PictureFields) -> PictureRewrite {
        PictureRewrite {
            picture_id: fields
                .picture_id()
                .unwrap_or(0)
                .wrapping_add(self.id_offset)
                & 0x7FFF,
            tl0_pic_idx: fields
                .tl0_pic_idx()
                .unwrap_or(0)
                .wrapping_add(self.tl0_offset),
        }
    }
}

#[cfg(test)]
mod tests;
