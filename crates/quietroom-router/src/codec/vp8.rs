//! VP8 (RFC 7741 §4.2–4.3): the payload descriptor, then the VP8 payload header.

use quietroom_wire::Reader;

use super::picture::PictureFields;

/// Whether `payload` starts a VP8 keyframe: the descriptor's S bit is set with partition
/// index 0 (start of partition 0, i.e. of the frame) and the VP8 payload header's P bit (bit
/// 0 of its first byte, the inverse key frame flag) is 0.
pub(super) fn is_keyframe(payload: &[u8]) -> bool {
    inspect(payload).0
}

/// [`is_keyframe`] and the descriptor's picture fields, from one read of it.
pub(super) fn inspect(payload: &[u8]) -> (bool, Option<PictureFields>) {
    let Some((b0, fields, len)) = descriptor(payload) else {
        return (false, None);
    };
    let start = b0 & 0x10 != 0 && b0 & 0x07 == 0;
    // VP8 payload header: |Size0|H| VER |P|.
    let key = start && payload.get(len).is_some_and(|header| header & 0x01 == 0);
    (key, fields)
}

/// Reads the payload descriptor: its first byte, its picture fields (`None` when it has
/// neither) and its length.
fn descriptor(payload: &[u8]) -> Option<(u8, Option<PictureFields>, usize)> {
    // |X|R|N|S|R| PID |
    let mut r = Reader::new(payload, "VP8 payload descriptor");
    let b0 = r.u8().ok()?;
    let mut fields = PictureFields::default();
    if b0 & 0x80 != 0 {
        // X: |I|L|T|K| RSV |
        let x = r.u8().ok()?;
        if x & 0x80 != 0 {
            // I: |M| PictureID |, with M a second byte of a 15-bit picture ID.
            fields.read_picture_id(&mut r)?;
        }
        if x & 0x40 != 0 {
            // L: TL0PICIDX.
            fields.read_tl0_pic_idx(&mut r)?;
        }
        if x & 0x30 != 0 {
            // T or K: |TID|Y| KEYIDX |; TID and Y mean something only with T.
            let tid = r.u8().ok()?;
            if x & 0x20 != 0 {
                fields.set_temporal(tid >> 6, tid & 0x20 != 0);
            }
        }
    }
    if b0 & 0x10 != 0 && b0 & 0x07 == 0 {
        fields.set_frame_start();
    }
    Some((b0, fields.any(), r.pos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VP8 key frame header: frame tag (P=0, version 0, show_frame, first partition size),
    /// start code 9d 01 2a, 640x480.
    const KEY: [u8; 10] = [0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01];
    /// VP8 interframe header (P=1).
    const DELTA: [u8; 6] = [0x31, 0x0B, 0x00, 0x94, 0x02, 0x11];

    fn with(descriptor: &[u8], frame: &[u8]) -> Vec<u8> {
        [descriptor, frame].concat()
    }

    #[test]
    fn keyframes_with_every_descriptor_shape() {
        // Minimal descriptor: S=1, PID=0.
        assert!(is_keyframe(&with(&[0x10], &KEY)));
        // X, I with 15-bit picture ID (as libwebrtc sends), L, T and K.
        assert!(is_keyframe(&with(
            &[0x90, 0xF0, 0x81, 0x23, 0x05, 0x40],
            &KEY
        )));
        // X, I with 7-bit picture ID.
        assert!(is_keyframe(&with(&[0x90, 0x80, 0x12], &KEY)));
        // X with only T.
        assert!(is_keyframe(&with(&[0x90, 0x20, 0x20], &KEY)));
        // N (non-reference) does not matter for the key-frame decision.
        assert!(is_keyframe(&with(&[0xB0, 0x80, 0x12], &KEY)));
    }

    #[test]
    fn delta_frames_and_continuations_are_not_keyframes() {
        assert!(!is_keyframe(&with(&[0x90, 0x80, 0x81, 0x24], &DELTA)));
        assert!(!is_keyframe(&with(&[0x10], &DELTA)));
        // Continuation packet of a key frame: S=0.
        assert!(!is_keyframe(&with(
            &[0x80, 0x80, 0x81, 0x23],
            &[0x00, 0x11, 0x22]
        )));
        // S=1 but partition 1.
        assert!(!is_keyframe(&with(&[0x11], &KEY)));
    }

    #[test]
    fn truncated_descriptors_are_not_keyframes() {
        let full = with(&[0x90, 0xF0, 0x81, 0x23, 0x05, 0x40], &KEY);
        for end in 0..=6 {
            assert!(!is_keyframe(&full[..end]), "truncated at {end}");
        }
        assert!(is_keyframe(&full[..7]));
    }
}
