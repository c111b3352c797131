//! H.264 (RFC 6184 §5.6–5.8): single NAL unit packets, STAP-A and FU-A.

use quietroom_wire::Reader;

/// NAL unit type of an IDR slice.
const IDR: u8 = 5;
/// NAL unit type of a sequence parameter set.
const SPS: u8 = 7;
/// Single-time aggregation packet A.
const STAP_A: u8 = 24;
/// Fragmentation unit A.
const FU_A: u8 = 28;

/// Whether a NAL unit starts a keyframe, from its header byte and the first byte after it:
/// an SPS (browsers send the SPS and PPS just before each IDR picture), or the first slice of
/// an IDR picture (`first_mb_in_slice` = 0, the slice header's first field, `ue(v)`, which is
/// 0 exactly when its first bit is 1).
///
/// Encoders split a picture into several slices, each its own NAL unit (Chromium's OpenH264
/// makes each slice fit a packet): a later slice of an IDR picture is not a place to start,
/// since what went before it in the picture would be missing.
fn starts_keyframe(nal_type: u8, next: Option<u8>) -> bool {
    match nal_type {
        SPS => true,
        IDR => next.is_some_and(|b| b & 0x80 != 0),
        _ => false,
    }
}

/// Whether `payload` starts an H.264 keyframe: a single SPS or first-IDR-slice NAL unit, a
/// STAP-A aggregating one, or the first FU-A fragment (S bit) of one.
pub(super) fn is_keyframe(payload: &[u8]) -> bool {
    keyframe(payload).unwrap_or(false)
}

fn keyframe(payload: &[u8]) -> Option<bool> {
    let mut r = Reader::new(payload, "H.264 payload");
    // |F|NRI| Type |
    let nal_type = r.u8().ok()? & 0x1F;
    match nal_type {
        STAP_A => {
            // (size: u16, NAL unit)*
            while !r.is_empty() {
                let size = usize::from(r.u16().ok()?);
                let nal = r.take(size).ok()?;
                if let Some((&header, rest)) = nal.split_first()
                    && starts_keyframe(header & 0x1F, rest.first().copied())
                {
                    return Some(true);
                }
            }
            Some(false)
        }
        FU_A => {
            // FU header: |S|E|R| Type |, then the NAL unit's payload (its header byte is not
            // repeated).
            let fu = r.u8().ok()?;
            let next = r.u8().ok();
            Some(fu & 0x80 != 0 && starts_keyframe(fu & 0x1F, next))
        }
        other => Some(starts_keyframe(other, r.u8().ok())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Constrained baseline SPS (level 3.1) and PPS, as a browser sends them.
    const SPS_NAL: [u8; 13] = [
        0x67, 0x42, 0xC0, 0x1F, 0x8C, 0x8D, 0x40, 0x50, 0x1E, 0xD0, 0x0F, 0x08, 0x84,
    ];
    const PPS_NAL: [u8; 4] = [0x68, 0xCE, 0x3C, 0x80];
    const IDR_NAL: [u8; 6] = [0x65, 0x88, 0x84, 0x00, 0x33, 0xFF];
    const SLICE_NAL: [u8; 5] = [0x41, 0x9A, 0x02, 0x04, 0x5F];

    fn stap_a(nals: &[&[u8]]) -> Vec<u8> {
        let mut p = vec![0x78];
        for nal in nals {
            p.extend_from_slice(&(nal.len() as u16).to_be_bytes());
            p.extend_from_slice(nal);
        }
        p
    }

    #[test]
    fn single_nal_units() {
        assert!(is_keyframe(&IDR_NAL));
        // A later slice of the IDR picture (first_mb_in_slice = 1: bits 010).
        assert!(!is_keyframe(&[0x65, 0x48, 0x84, 0x00]));
        // An IDR NAL header with nothing after it.
        assert!(!is_keyframe(&[0x65]));
        assert!(is_keyframe(&SPS_NAL));
        assert!(!is_keyframe(&PPS_NAL));
        assert!(!is_keyframe(&SLICE_NAL));
        // SEI, access unit delimiter.
        assert!(!is_keyframe(&[0x06, 0x05, 0x10]));
        assert!(!is_keyframe(&[0x09, 0xF0]));
    }

    #[test]
    fn stap_a_with_parameter_sets_and_idr() {
        assert!(is_keyframe(&stap_a(&[&SPS_NAL, &PPS_NAL])));
        assert!(is_keyframe(&stap_a(&[&SPS_NAL, &PPS_NAL, &IDR_NAL])));
        assert!(is_keyframe(&stap_a(&[&PPS_NAL, &IDR_NAL])));
        assert!(!is_keyframe(&stap_a(&[&PPS_NAL, &SLICE_NAL])));
        assert!(!is_keyframe(&stap_a(&[])));
        // A later IDR slice, and an IDR NAL unit with no slice header, start nothing.
        assert!(!is_keyframe(&stap_a(&[&PPS_NAL, &[0x65, 0x48, 0x84]])));
        assert!(!is_keyframe(&stap_a(&[&PPS_NAL, &[0x65]])));
    }

    #[test]
    fn fu_a_fragments() {
        // FU indicator (NRI 3, type 28), FU header S=1 type 5, then slice data.
        assert!(is_keyframe(&[0x7C, 0x85, 0x88, 0x84, 0x00]));
        // Middle and end fragments of the IDR.
        assert!(!is_keyframe(&[0x7C, 0x05, 0x11, 0x22]));
        assert!(!is_keyframe(&[0x7C, 0x45, 0x11, 0x22]));
        // First fragment of a later slice of the IDR picture.
        assert!(!is_keyframe(&[0x7C, 0x85, 0x48, 0x84, 0x00]));
        // First fragment of an SPS, and an IDR start with no slice data.
        assert!(is_keyframe(&[0x7C, 0x87, 0x42, 0xC0]));
        assert!(!is_keyframe(&[0x7C, 0x85]));
        // Start of a non-IDR slice.
        assert!(!is_keyframe(&[0x5C, 0x81, 0x9A, 0x02]));
        // Truncated: no FU header.
        assert!(!is_keyframe(&[0x7C]));
    }

    #[test]
    fn truncated_stap_a_is_not_a_keyframe() {
        let p = stap_a(&[&PPS_NAL, &IDR_NAL]);
        // The IDR's header byte is at 1 + 2 + 4 + 2.
        for end in 0..9 {
            assert!(!is_keyframe(&p[..end]), "truncated at {end}");
        }
        // A size running past the end ends the scan.
        assert!(!is_keyframe(&[0x78, 0x00, 0x40, 0x65, 0x88]));
        assert!(!is_keyframe(&[0x78, 0x00]));
    }
}
