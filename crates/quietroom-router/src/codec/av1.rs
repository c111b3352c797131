//! AV1 (AOM "RTP Payload Format for AV1" §4.4): the aggregation header and the first OBU.

use quietroom_wire::Reader;

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
    let mut r = Reader::new(payload, "AV1 aggregation header");
    // |Z|Y| W |N|-|-|-|
    let aggregation = r.u8().ok()?;
    let continuation = aggregation & 0x80 != 0;
    let element_count = (aggregation >> 4) & 0x03;
    let new_sequence = aggregation & 0x08 != 0;
    if new_sequence {
        return Some(true);
    }
    if continuation {
        return Some(false);
    }
    // With W = 1 the only element has no length field; otherwise the first one has.
    if element_count != 1 {
        let len = leb128(&mut r)?;
        if len == 0 || len > u64::try_from(r.remaining()).ok()? {
            return Some(false);
        }
    }
    // OBU header: |F| type |X|S|R|
    let obu_header = r.u8().ok()?;
    Some(obu_header & 0x80 == 0 && (obu_header >> 3) & 0x0F == OBU_SEQUENCE_HEADER)
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
