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

/// Whether a NAL unit type starts a keyframe: an IDR slice, or the SPS that precedes it.
fn starts_keyframe(nal_type: u8) -> bool {
    matches!(nal_type, IDR | SPS)
}

/// Whether `payload` starts an H.264 keyframe: a single IDR or SPS NAL unit, a STAP-A
/// aggregating one, or the first FU-A fragment (S bit) of one.
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
                if nal.first().is_some_and(|&h| starts_keyframe(h & 0x1F)) {
                    return Some(true);
                }
            }
            Some(false)
        }
        FU_A => {
            // FU header: |S|E|R| Type |
            let fu = r.u8().ok()?;
            Some(fu & 0x80 != 0 && starts_keyframe(fu & 0x1F))
        }
        other => Some(starts_keyframe(other)),
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
    }

    #[test]
    fn fu_a_fragments() {
        // FU indicator (NRI 3, type 28), FU header S=1 type 5, then slice data.
        assert!(is_keyframe(&[0x7C, 0x85, 0x88, 0x84, 0x00]));
        // Middle and end fragments of the IDR.
        assert!(!is_keyframe(&[0x7C, 0x05, 0x11, 0x22]));
        assert!(!is_keyframe(&[0x7C, 0x45, 0x11, 0x22]));
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
