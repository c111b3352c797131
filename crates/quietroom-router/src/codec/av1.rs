//! AV1 (AOM "RTP Payload Format for AV1" §4.4): the aggregation header and the first OBU,
//! whose extension header (AV1 §5.3.3) carries the temporal layer of a layered stream
//! (`L1T3`), and the temporal unit a packet belongs to ([`TemporalUnit`]).

use quietroom_wire::Reader;

use super::PictureFields;

/// OBU type of a sequence header.
const OBU_SEQUENCE_HEADER: u8 = 1;

/// Whether `payload` starts an AV1 keyframe: the aggregation header's N bit (first packet of
/// a coded video sequence), or a first OBU element that starts a sequence header (Z clear).
pub(super) fn is_keyframe(payload: &[u8]) -> bool {
    keyframe(payload).unwrap_or(false)
}

/// Reads an unsigned LEB128 value of at most 8 bytes (AV1 `leb128()`), `None` if truncated or
/// longer.
fn leb128(r: &mut Reader<'_>) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..8 {
        let byte = r.u8().ok()?;
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn keyframe(payload: &[u8]) -> Option<bool> {
    let (aggregation, first) = first_obu(payload)?;
    if aggregation & 0x08 != 0 {
        // N: the first packet of a coded video sequence.
        return Some(true);
    }
    let Some(obu) = first else {
        return Some(false);
    };
    Some((obu.header >> 3) & 0x0F == OBU_SEQUENCE_HEADER)
}

/// [`is_keyframe`], and the temporal layer (TID) of the OBU the packet starts with when it
/// has an extension header (a keyframe's packet starts with a sequence header, which has
/// none: it counts as TID 0), as picture fields with only a temporal layer.
pub(super) fn inspect(payload: &[u8]) -> (bool, Option<PictureFields>) {
    let key = is_keyframe(payload);
    let tid = first_obu(payload)
        .and_then(|(_, first)| first)
        .and_then(|obu| obu.extension)
        .map(|extension| extension >> 5)
        .or(key.then_some(0));
    (key, tid.map(|tid| PictureFields::temporal_only(tid, false)))
}

/// An OBU's header `|F| type |X|S|R|`, and its extension header `|TID|SID|-|` when X is set.
struct Obu {
    header: u8,
    extension: Option<u8>,
}

/// The aggregation header `|Z|Y| W |N|-|-|-|`, and the OBU the first element starts, when it
/// starts one (Z clear) and that OBU's header is well formed.
fn first_obu(payload: &[u8]) -> Option<(u8, Option<Obu>)> {
    let mut r = Reader::new(payload, "AV1 aggregation header");
    let aggregation = r.u8().ok()?;
    if aggregation & 0x80 != 0 {
        // Z: the first element continues an OBU of the previous packet.
        return Some((aggregation, None));
    }
    // With W = 1 the only element has no length field; otherwise the first one has.
    if (aggregation >> 4) & 0x03 != 1 {
        let Some(len) = leb128(&mut r) else {
            return Some((aggregation, None));
        };
        if len == 0 || len > u64::try_from(r.remaining()).ok()? {
            return Some((aggregation, None));
        }
    }
    // OBU header: |F| type |X|S|R|, then with X the extension |TID|SID|-|.
    let Ok(obu_header) = r.u8() else {
        return Some((aggregation, None));
    };
    if obu_header & 0x80 != 0 {
        return Some((aggregation, None));
    }
    let extension = if obu_header & 0x04 != 0 {
        r.u8().ok()
    } else {
        None
    };
    Some((
        aggregation,
        Some(Obu {
            header: obu_header,
            extension,
        }),
    ))
}

/// How many of a layer's latest temporal units are remembered, for their late packets.
const UNITS: usize = 4;

/// The temporal units (one RTP timestamp each) a layer's packets belong to, so that each unit
/// is kept or left out whole: only a packet that starts an OBU carries the temporal layer,
/// and a unit's later packets continue its OBUs. The latest [`UNITS`] are remembered, so
/// that a packet arriving after the next unit started still goes by its own unit.
#[derive(Debug, Default)]
pub(crate) struct TemporalUnit {
    /// (timestamp, temporal layer from the unit's first packet seen, `None`: not known),
    /// the newest at `newest`.
    units: [Option<(u32, Option<u8>)>; UNITS],
    newest: usize,
}

impl TemporalUnit {
    /// The picture fields a packet with `timestamp` goes by, given its own (`own`, from
    /// [`inspect`]): the first packet seen of a newer unit starts it, with its own temporal
    /// layer; later packets of a remembered unit take that unit's layer; a packet of an
    /// older unit keeps its own.
    pub(crate) fn fields(
        &mut self,
        timestamp: u32,
        own: Option<PictureFields>,
    ) -> Option<PictureFields> {
        if let Some((_, tid)) = self.units.iter().flatten().find(|(t, _)| *t == timestamp) {
            return tid.map(|tid| PictureFields::temporal_only(tid, false));
        }
        let newer =
            self.units[self.newest].is_none_or(|(t, _)| crate::rtp::timestamp_after(timestamp, t));
        if !newer {
            return own;
        }
        let tid = own.and_then(|f| f.temporal_id());
        self.newest = (self.newest + 1) % UNITS;
        self.units[self.newest] = Some((timestamp, tid));
        tid.map(|tid| PictureFields::temporal_only(tid, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequence header OBU (type 1, no size field) for main profile 1280x720.
    const SEQUENCE_HEADER: [u8; 12] = [
        0x08, 0x00, 0x00, 0x00, 0x42, 0xA7, 0xBF, 0xE4, 0x60, 0x0D, 0x00, 0x40,
    ];
    /// Frame OBU (type 6) header and the start of its data.
    const FRAME: [u8; 5] = [0x30, 0x10, 0x02, 0xAF, 0x11];

    #[test]
    fn new_coded_video_sequence() {
        // Z=0, Y=0, W=1, N=1: first packet of a key frame.
        let mut p = vec![0x18];
        p.extend_from_slice(&SEQUENCE_HEADER);
        assert!(is_keyframe(&p));
        // W=2 with a length-prefixed first element.
        let mut p = vec![0x28, 0x0C];
        p.extend_from_slice(&SEQUENCE_HEADER);
        p.extend_from_slice(&FRAME);
        assert!(is_keyframe(&p));
        // N alone decides, whatever follows.
        assert!(is_keyframe(&[0x08]));
    }

    #[test]
    fn sequence_header_first_without_n() {
        let mut p = vec![0x10];
        p.extend_from_slice(&SEQUENCE_HEADER);
        assert!(is_keyframe(&p));
        // W=0: every element is length-prefixed; a two-byte LEB128 length.
        let mut p = vec![0x00, 0x8C, 0x00];
        p.extend_from_slice(&SEQUENCE_HEADER);
        assert!(is_keyframe(&p));
    }

    #[test]
    fn delta_frames_and_continuations() {
        let mut p = vec![0x10];
        p.extend_from_slice(&FRAME);
        assert!(!is_keyframe(&p));
        // Z=1: the first element continues an OBU from the previous packet, even if its bytes
        // look like a sequence header.
        let mut p = vec![0x90];
        p.extend_from_slice(&SEQUENCE_HEADER);
        assert!(!is_keyframe(&p));
        // Y=1 (last element continues in the next packet) does not matter.
        let mut p = vec![0x50];
        p.extend_from_slice(&FRAME);
        assert!(!is_keyframe(&p));
    }

    #[test]
    fn temporal_layers_come_from_the_first_obus_extension_header() {
        // A frame OBU with an extension header (X): TID 2, SID 0.
        let frame_t2 = [0x10, 0x34, 0x40, 0x10, 0x02];
        assert_eq!(inspect(&frame_t2).1.and_then(|f| f.temporal_id()), Some(2));
        // Without X: unknown; a keyframe's sequence header: TID 0.
        let mut p = vec![0x10];
        p.extend_from_slice(&FRAME);
        assert_eq!(inspect(&p).1, None);
        let mut p = vec![0x18];
        p.extend_from_slice(&SEQUENCE_HEADER);
        assert_eq!(
            inspect(&p),
            (true, Some(PictureFields::temporal_only(0, false)))
        );
        // A continuation has no OBU header of its own.
        assert_eq!(inspect(&[0x90, 0x34, 0x40]).1, None);
        // Truncated after X.
        assert_eq!(inspect(&[0x10, 0x34]).1, None);
    }

    #[test]
    fn a_temporal_unit_keeps_the_layer_of_its_first_packet() {
        let mut unit = TemporalUnit::default();
        let t2 = Some(PictureFields::temporal_only(2, false));
        // The unit's first packet starts it; a continuation of it takes its layer.
        let first = unit.fields(3000, t2).unwrap();
        assert!(first.frame_start() && first.temporal_id() == Some(2));
        let next = unit.fields(3000, None).unwrap();
        assert!(!next.frame_start() && next.temporal_id() == Some(2));
        // An older unit's late packet keeps its own; the current unit is unchanged.
        assert_eq!(unit.fields(0, None), None);
        assert_eq!(
            unit.fields(3000, None).and_then(|f| f.temporal_id()),
            Some(2)
        );
        // A unit whose first packet seen is a continuation: unknown, for the whole unit.
        assert_eq!(unit.fields(6000, None), None);
        assert_eq!(
            unit.fields(6000, Some(PictureFields::temporal_only(0, false))),
            None
        );
        // A late packet of a unit before the newest still takes its unit's layer.
        let t0 = Some(PictureFields::temporal_only(0, false));
        assert!(unit.fields(9000, t0).is_some_and(|f| f.frame_start()));
        let late = unit.fields(3000, None).unwrap();
        assert!(!late.frame_start() && late.temporal_id() == Some(2));
        // Four units on, it is forgotten.
        for ts in [12_000, 15_000, 18_000] {
            unit.fields(ts, t0);
        }
        assert_eq!(unit.fields(3000, None), None);
    }

    #[test]
    fn malformed_lengths_and_truncation() {
        // Zero-length first element.
        assert!(!is_keyframe(&[0x20, 0x00, 0x08, 0x00]));
        // First element longer than the packet.
        assert!(!is_keyframe(&[0x20, 0x20, 0x08, 0x00]));
        // LEB128 that never ends.
        assert!(!is_keyframe(&[
            0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01
        ]));
        assert!(!is_keyframe(&[0x00, 0x80]));
        // No OBU header.
        assert!(!is_keyframe(&[0x10]));
        // Forbidden bit set.
        assert!(!is_keyframe(&[0x10, 0x88, 0x00]));
    }
}
