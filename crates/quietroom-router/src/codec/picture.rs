//! The picture ID and TL0PICIDX of VP8 (RFC 7741 §4.2) and VP9 (RFC 9628 §4.2) payload
//! descriptors: where they sit in a payload, and rewriting them in place.
//!
//! Each simulcast layer numbers its pictures on its own, so a subscriber moved from one
//! layer to another would see these numbers jump. The router rewrites them per subscriber
//! ([`PictureMunger`](crate::munger::PictureMunger)) so that they stay continuous, as it does
//! for sequence numbers and timestamps; a receiver uses them to tell a lost picture from a
//! reordered one and to find a picture's references.

use quietroom_wire::Reader;

/// Where a payload descriptor carries its picture ID and TL0PICIDX, and what they hold.
///
/// ```
/// use quietroom_router::codec::{Codec, picture_fields};
///
/// // VP8: X, I with a 15-bit picture ID (0x1234), L with TL0PICIDX 7, then a frame tag.
/// let mut payload = [0x90, 0xC0, 0x92, 0x34, 0x07, 0x50];
/// let fields = picture_fields(Codec::Vp8, &payload).unwrap();
/// assert_eq!(fields.picture_id(), Some(0x1234));
/// assert_eq!(fields.tl0_pic_idx(), Some(7));
/// fields.write(&mut payload, 0x7FFF, 8);
/// assert_eq!(payload, [0x90, 0xC0, 0xFF, 0xFF, 0x08, 0x50]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PictureFields {
    picture_id: u16,
    tl0: u8,
    /// Where the picture ID field starts in the payload; 0 when there is none (a payload
    /// starts with the descriptor's first byte, never with one of these fields).
    picture_at: u8,
    /// Where TL0PICIDX is, 0 when there is none.
    tl0_at: u8,
    /// The temporal layer index (TID) in the low 3 bits; VP9's spatial layer index (SID)
    /// in the next 3; VP9's P ([`INTER_PICTURE`]) and D ([`INTER_LAYER`]) above them.
    temporal: u8,
    /// [`WIDE`], [`TEMPORAL`], [`SYNC`], [`START`], [`KEEP_GAPS`], [`SPATIAL`], [`END`].
    flags: u8,
}

/// The picture ID is 15 bits wide (M set) rather than 7.
const WIDE: u8 = 1;
/// The descriptor has a temporal layer index.
const TEMPORAL: u8 = 2;
/// Layer sync (VP8's Y) or switching up point (VP9's U).
const SYNC: u8 = 4;
/// The packet starts a frame (VP8: S with partition 0; VP9: B).
const START: u8 = 8;
/// Pictures left out keep their picture IDs (VP9).
const KEEP_GAPS: u8 = 16;
/// The descriptor has a spatial layer index (VP9 with layer indices).
const SPATIAL: u8 = 32;
/// The packet ends a frame (VP9's E: the last packet of a layer frame).
const END: u8 = 64;
/// In `temporal`: the frame is predicted from an earlier picture (VP9's P).
const INTER_PICTURE: u8 = 0x40;
/// In `temporal`: the layer frame is predicted from the lower spatial layer of its own
/// picture (VP9's D).
const INTER_LAYER: u8 = 0x80;

impl PictureFields {
    /// The picture ID (7 or 15 bits), if the descriptor has one.
    #[inline]
    pub fn picture_id(&self) -> Option<u16> {
        (self.picture_at != 0).then_some(self.picture_id)
    }

    /// Whether the picture ID is 15 bits wide (M set) rather than 7.
    #[inline]
    pub fn wide_picture_id(&self) -> bool {
        self.picture_at != 0 && self.flags & WIDE != 0
    }

    /// The TL0PICIDX (the running index of base temporal layer pictures), if present.
    #[inline]
    pub fn tl0_pic_idx(&self) -> Option<u8> {
        (self.tl0_at != 0).then_some(self.tl0)
    }

    /// The temporal layer index (TID), if the descriptor has one: 0 for the base layer.
    #[inline]
    pub fn temporal_id(&self) -> Option<u8> {
        (self.flags & TEMPORAL != 0).then_some(self.temporal & 0x07)
    }

    /// VP9's spatial layer index (SID), if the descriptor has layer indices: 0 for the base
    /// layer. Within one SSRC (SVC), a picture is one layer frame per spatial layer, lowest
    /// first, all with the picture's ID.
    #[inline]
    pub fn spatial_id(&self) -> Option<u8> {
        (self.flags & SPATIAL != 0).then_some((self.temporal >> 3) & 0x07)
    }

    /// VP9's P: the frame is predicted from an earlier picture (not a key picture's).
    #[inline]
    pub fn inter_picture(&self) -> bool {
        self.temporal & INTER_PICTURE != 0
    }

    /// VP9's D: the layer frame is predicted from the lower spatial layer of its own
    /// picture. In libwebrtc's `KEY` modes only a key picture's upper layers are.
    #[inline]
    pub fn inter_layer(&self) -> bool {
        self.temporal & INTER_LAYER != 0
    }

    /// Whether the packet ends a frame: VP9's E, set on the last packet of each layer frame
    /// (the RTP marker marks only the end of the whole picture). False for VP8.
    #[inline]
    pub fn frame_end(&self) -> bool {
        self.flags & END != 0
    }

    /// Whether the picture depends only on the base temporal layer (VP8's layer sync bit Y,
    /// VP9's switching up point U): a receiver can start on this temporal layer here.
    #[inline]
    pub fn layer_sync(&self) -> bool {
        self.flags & SYNC != 0
    }

    /// Whether the packet starts a frame (VP8: S set with partition index 0; VP9: B set).
    #[inline]
    pub fn frame_start(&self) -> bool {
        self.flags & START != 0
    }

    /// Whether a picture the router leaves out must keep its picture ID, leaving a gap, rather
    /// than give it up to the pictures after it. True for VP9, whose references are picture
    /// ID differences: P_DIFF in flexible mode (what libwebrtc sends), the scalability
    /// structure's differences in non-flexible mode. Closing the gap would make those point
    /// at other pictures. A VP9 receiver tracks missing pictures per temporal layer, so a gap
    /// left by an upper layer holds up no picture below it. False for VP8, whose receivers
    /// wait for every picture ID they have not seen before a picture of an upper temporal
    /// layer.
    #[inline]
    pub fn keeps_gaps(&self) -> bool {
        self.flags & KEEP_GAPS != 0
    }

    /// Writes `picture_id` (its low 7 or 15 bits, the field's width) and `tl0_pic_idx` into
    /// the fields of `payload`, the payload these fields were read from (or a copy of it).
    /// A field the descriptor does not have is left alone, as is a payload too short.
    #[inline]
    pub fn write(&self, payload: &mut [u8], picture_id: u16, tl0_pic_idx: u8) {
        let at = usize::from(self.picture_at);
        if at != 0 {
            if self.flags & WIDE != 0 {
                if let Some(field) = payload.get_mut(at..at + 2) {
                    field.copy_from_slice(&(0x8000 | (picture_id & 0x7FFF)).to_be_bytes());
                }
            } else if let Some(field) = payload.get_mut(at) {
                *field = (picture_id & 0x7F) as u8;
            }
        }
        let at = usize::from(self.tl0_at);
        if at != 0
            && let Some(field) = payload.get_mut(at)
        {
            *field = tl0_pic_idx;
        }
    }

    /// Reads `|M| PictureID |` (and the second byte when M is set) at the reader's position,
    /// which is within the first bytes of a descriptor (not its first).
    pub(super) fn read_picture_id(&mut self, r: &mut Reader<'_>) -> Option<()> {
        let at = u8::try_from(r.pos()).ok().filter(|&at| at != 0)?;
        let first = r.u8().ok()?;
        self.picture_id = if first & 0x80 != 0 {
            self.flags |= WIDE;
            u16::from_be_bytes([first & 0x7F, r.u8().ok()?])
        } else {
            u16::from(first)
        };
        self.picture_at = at;
        Some(())
    }

    /// Reads TL0PICIDX at the reader's position (not the descriptor's first byte).
    pub(super) fn read_tl0_pic_idx(&mut self, r: &mut Reader<'_>) -> Option<()> {
        let at = u8::try_from(r.pos()).ok().filter(|&at| at != 0)?;
        self.tl0 = r.u8().ok()?;
        self.tl0_at = at;
        Some(())
    }

    /// Records the temporal layer index and its sync (or switching up) bit.
    pub(super) fn set_temporal(&mut self, temporal_id: u8, sync: bool) {
        self.temporal = (self.temporal & !0x07) | (temporal_id & 0x07);
        self.flags |= TEMPORAL | if sync { SYNC } else { 0 };
    }

    /// Records VP9's spatial layer index (3 bits), and its D bit: the layer frame is
    /// predicted from the lower spatial layer of its picture.
    pub(super) fn set_spatial(&mut self, spatial_id: u8, inter_layer: bool) {
        self.temporal = (self.temporal & !0x38 & !INTER_LAYER)
            | ((spatial_id & 0x07) << 3)
            | if inter_layer { INTER_LAYER } else { 0 };
        self.flags |= SPATIAL;
    }

    /// Records VP9's P bit: the frame is predicted from an earlier picture.
    pub(super) fn set_inter_picture(&mut self) {
        self.temporal |= INTER_PICTURE;
    }

    /// Records that the packet ends a frame (VP9's E).
    pub(super) fn set_frame_end(&mut self) {
        self.flags |= END;
    }

    /// Records that pictures left out keep their picture IDs ([`PictureFields::keeps_gaps`]).
    pub(super) fn set_keeps_gaps(&mut self) {
        self.flags |= KEEP_GAPS;
    }

    /// Records that the packet starts a frame.
    pub(super) fn set_frame_start(&mut self) {
        self.flags |= START;
    }

    /// Fields with only a temporal layer `temporal_id` (AV1's, from an OBU extension
    /// header), starting a frame if `start`.
    pub(crate) fn temporal_only(temporal_id: u8, start: bool) -> Self {
        let mut fields = PictureFields::default();
        fields.set_temporal(temporal_id, false);
        if start {
            fields.set_frame_start();
        }
        fields
    }

    /// `Some(self)` if the descriptor has a picture ID, a TL0PICIDX or a temporal layer index.
    pub(super) fn any(self) -> Option<Self> {
        (self.picture_at != 0 || self.tl0_at != 0 || self.flags & TEMPORAL != 0).then_some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Codec, picture_fields};

    #[test]
    fn vp8_descriptor_shapes() {
        // X, I (15 bits), L, T/K: as libwebrtc sends.
        let f = picture_fields(Codec::Vp8, &[0x90, 0xF0, 0x81, 0x23, 0x05, 0x40, 0x50]).unwrap();
        assert_eq!(f.picture_id(), Some(0x0123));
        assert!(f.wide_picture_id());
        assert_eq!(f.tl0_pic_idx(), Some(5));
        // 7-bit picture ID, no TL0PICIDX.
        let f = picture_fields(Codec::Vp8, &[0x80, 0x80, 0x12, 0x31]).unwrap();
        assert_eq!((f.picture_id(), f.wide_picture_id()), (Some(0x12), false));
        assert_eq!(f.tl0_pic_idx(), None);
        // L without I.
        let f = picture_fields(Codec::Vp8, &[0x80, 0x60, 0x09, 0x20, 0x31]).unwrap();
        assert_eq!((f.picture_id(), f.tl0_pic_idx()), (None, Some(9)));
        // None of them: no X, or X with only K (KEYIDX; TID means nothing without T).
        assert_eq!(picture_fields(Codec::Vp8, &[0x10, 0x50]), None);
        assert_eq!(picture_fields(Codec::Vp8, &[0x90, 0x10, 0xE0, 0x50]), None);
    }

    #[test]
    fn temporal_layers_and_frame_starts() {
        // X with only T: TID 2, Y set, start of partition 0.
        let f = picture_fields(Codec::Vp8, &[0x90, 0x20, 0xA0, 0x50]).unwrap();
        assert_eq!((f.picture_id(), f.tl0_pic_idx()), (None, None));
        assert_eq!(f.temporal_id(), Some(2));
        assert!(f.layer_sync() && f.frame_start());
        // libwebrtc's shape on a continuation packet: TID 1, no Y, S clear.
        let f = picture_fields(Codec::Vp8, &[0x80, 0xE0, 0x81, 0x23, 0x05, 0x40, 0x11]).unwrap();
        assert_eq!(f.temporal_id(), Some(1));
        assert!(!f.layer_sync() && !f.frame_start());
        // S set on a later partition does not start the frame.
        let f = picture_fields(Codec::Vp8, &[0x91, 0xE0, 0x81, 0x23, 0x05, 0x00, 0x11]).unwrap();
        assert_eq!(f.temporal_id(), Some(0));
        assert!(!f.frame_start());
        // No T: no temporal layer index, even with K.
        let f = picture_fields(Codec::Vp8, &[0x90, 0x90, 0x81, 0x23, 0xC0, 0x50]).unwrap();
        assert_eq!(f.temporal_id(), None);
        // VP9: TID 3, U set, B set.
        let f = picture_fields(Codec::Vp9, &[0xA8, 0x80, 0x01, 0x70, 0x07, 0x82]).unwrap();
        assert_eq!(f.temporal_id(), Some(3));
        assert!(f.layer_sync() && f.frame_start());
        // VP9 without L: no temporal layer index; B clear: not a start.
        let f = picture_fields(Codec::Vp9, &[0x80, 0x80, 0x01, 0x82]).unwrap();
        assert_eq!(f.temporal_id(), None);
        assert!(!f.frame_start());
    }

    #[test]
    fn vp9_descriptor_shapes() {
        // I (15 bits), L, non-flexible: TL0PICIDX after the layer indices.
        let f = picture_fields(Codec::Vp9, &[0xA8, 0x80, 0x01, 0x00, 0x07, 0x82]).unwrap();
        assert_eq!((f.picture_id(), f.tl0_pic_idx()), (Some(1), Some(7)));
        // Flexible mode: no TL0PICIDX.
        let f = picture_fields(Codec::Vp9, &[0xB8, 0x12, 0x00, 0x82]).unwrap();
        assert_eq!((f.picture_id(), f.tl0_pic_idx()), (Some(0x12), None));
        assert_eq!(picture_fields(Codec::Vp9, &[0x08, 0x82]), None);
    }

    #[test]
    fn other_codecs_and_truncation_have_none() {
        for codec in [Codec::H264, Codec::Av1, Codec::Opus, Codec::Other] {
            assert_eq!(picture_fields(codec, &[0x90, 0xC0, 0x92, 0x34, 0x07]), None);
        }
        let full = [0x90, 0xC0, 0x92, 0x34, 0x07];
        for end in 0..full.len() {
            assert_eq!(picture_fields(Codec::Vp8, &full[..end]), None, "{end}");
        }
        assert!(picture_fields(Codec::Vp8, &full).is_some());
    }

    #[test]
    fn writes_keep_the_field_width() {
        let mut p = [0x80, 0x80, 0x12, 0x31];
        let f = picture_fields(Codec::Vp8, &p).unwrap();
        f.write(&mut p, 0x1FF, 3);
        assert_eq!(
            p,
            [0x80, 0x80, 0x7F, 0x31],
            "7 bits, M stays clear, no TL0PICIDX"
        );
        let mut p = [0xA8, 0x80, 0x01, 0x00, 0x07, 0x82];
        let f = picture_fields(Codec::Vp9, &p).unwrap();
        f.write(&mut p, 0xFFFF, 0xFE);
        assert_eq!(p, [0xA8, 0xFF, 0xFF, 0x00, 0xFE, 0x82]);
        // A shorter buffer than the fields' positions: nothing written, no panic.
        let mut short = [0xA8];
        f.write(&mut short, 1, 1);
        assert_eq!(short, [0xA8]);
    }
}
