//! VP9 (RFC 9628 §4.2): the payload descriptor.

use quietroom_wire::Reader;

use super::picture::PictureFields;

/// Whether `payload` starts a VP9 keyframe: B (start of a frame) set, P (inter-picture
/// predicted) clear and, when layer indices are present, spatial layer 0.
pub(super) fn is_keyframe(payload: &[u8]) -> bool {
    inspect(payload).0
}

/// [`is_keyframe`] and the descriptor's picture fields, from one read of it.
pub(super) fn inspect(payload: &[u8]) -> (bool, Option<PictureFields>) {
    let Some(d) = descriptor(payload) else {
        return (false, None);
    };
    let predicted = d.first & 0x40 != 0;
    let begin = d.first & 0x08 != 0;
    let spatial_id = d.fields.and_then(|f| f.spatial_id()).unwrap_or(0);
    // The descriptor must be followed by something for this to be a packet of a frame.
    let key = !predicted && begin && spatial_id == 0 && payload.len() > d.len;
    (key, d.fields)
}

/// The start of a VP9 payload descriptor, up to the layer indices.
struct Descriptor {
    /// |I|P|L|F|B|E|V|Z|
    first: u8,
    /// The picture ID, TL0PICIDX and layer indices, when it has any of them.
    fields: Option<PictureFields>,
    /// Bytes read: up to and including the layer indices (and TL0PICIDX).
    len: usize,
}

fn descriptor(payload: &[u8]) -> Option<Descriptor> {
    // |I|P|L|F|B|E|V|Z|
    let mut r = Reader::new(payload, "VP9 payload descriptor");
    let first = r.u8().ok()?;
    let mut fields = PictureFields::default();
    fields.set_keeps_gaps();
    if first & 0x80 != 0 {
        // |M| PICTURE ID |, with M a second byte of a 15-bit picture ID.
        fields.read_picture_id(&mut r)?;
    }
    if first & 0x20 != 0 {
        // | TID |U| SID |D|, then TL0PICIDX in non-flexible mode (F clear).
        let indices = r.u8().ok()?;
        fields.set_temporal(indices >> 5, indices & 0x10 != 0);
        fields.set_spatial((indices >> 1) & 0x07, indices & 0x01 != 0);
        if first & 0x10 == 0 {
            fields.read_tl0_pic_idx(&mut r)?;
        }
    }
    if first & 0x40 != 0 {
        fields.set_inter_picture();
    }
    if first & 0x08 != 0 {
        fields.set_frame_start();
    }
    if first & 0x04 != 0 {
        fields.set_frame_end();
    }
    Some(Descriptor {
        first,
        fields: fields.any(),
        len: r.pos(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scalability structure for one 640x480 layer (V=1), then an uncompressed header of a key
    /// frame (frame marker, profile 0, sync code 49 83 42).
    const SS_AND_KEY: [u8; 13] = [
        0x18, 0x02, 0x80, 0x01, 0xE0, 0x01, 0x04, 0x01, 0x82, 0x49, 0x83, 0x42, 0x00,
    ];
    /// Uncompressed header of an inter frame.
    const INTER: [u8; 4] = [0x86, 0x00, 0x40, 0x92];

    #[test]
    fn keyframes() {
        // I (15-bit picture ID), B, V.
        let mut p = vec![0x8A, 0x80, 0x01];
        p.extend_from_slice(&SS_AND_KEY);
        assert!(is_keyframe(&p));
        // I, L (SID 0, TID 0, D=0), non-flexible with TL0PICIDX, B.
        assert!(is_keyframe(&[
            0xA8, 0x80, 0x01, 0x00, 0x07, 0x82, 0x49, 0x83, 0x42
        ]));
        // Minimal: only B.
        assert!(is_keyframe(&[0x08, 0x82, 0x49, 0x83, 0x42]));
        // Flexible mode, L with SID 0.
        assert!(is_keyframe(&[0xB8, 0x12, 0x00, 0x82, 0x49, 0x83, 0x42]));
    }

    #[test]
    fn not_keyframes() {
        // P set: inter-picture predicted.
        let mut p = vec![0xC8, 0x80, 0x02];
        p.extend_from_slice(&INTER);
        assert!(!is_keyframe(&p));
        // B clear: a middle packet of a key frame.
        assert!(!is_keyframe(&[0x80, 0x80, 0x01, 0x11, 0x22]));
        // A higher spatial layer (SID 1, D=1) of a key picture starts no decodable frame alone.
        assert!(!is_keyframe(&[0xA8, 0x80, 0x01, 0x03, 0x07, 0x82, 0x49]));
        // Descriptor only.
        assert!(!is_keyframe(&[0x08]));
    }

    #[test]
    fn spatial_layers_and_frame_ends() {
        // Flexible mode as libwebrtc sends SVC: I (15 bits), L, F, B, E; TID 1, U, SID 2,
        // D; one P_DIFF.
        let (key, f) = inspect(&[0xBC, 0x81, 0x23, 0x35, 0x02, 0x11]);
        let f = f.unwrap();
        assert!(!key);
        assert_eq!(
            (f.picture_id(), f.spatial_id(), f.temporal_id()),
            (Some(0x123), Some(2), Some(1))
        );
        assert!(f.frame_start() && f.frame_end() && f.layer_sync());
        assert!(!f.inter_picture() && f.inter_layer());
        // P, and D on SID 1: an inter picture's upper layer predicted from the lower.
        let (_, f) = inspect(&[0xFC, 0x81, 0x23, 0x23, 0x02, 0x11]);
        let f = f.unwrap();
        assert_eq!((f.spatial_id(), f.temporal_id()), (Some(1), Some(1)));
        assert!(f.inter_picture() && f.inter_layer());
        // Without layer indices: no spatial layer; E clear.
        let (_, f) = inspect(&[0x88, 0x81, 0x23, 0x11]);
        let f = f.unwrap();
        assert_eq!((f.spatial_id(), f.temporal_id()), (None, None));
        assert!(f.frame_start() && !f.frame_end());
    }

    #[test]
    fn truncated_descriptors_are_not_keyframes() {
        let p = [0xA8, 0x80, 0x01, 0x00, 0x07, 0x82];
        for end in 0..6 {
            assert!(!is_keyframe(&p[..end]), "truncated at {end}");
        }
        assert!(is_keyframe(&p));
    }
}
