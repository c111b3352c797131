//! H.264 (RFC 6184 §5.6–5.8): single NAL unit packets, STAP-A and FU-A.

use quietroom_wire::Reader;

/// NAL unit type of a sequence parameter set.
const SPS: u8 = 7;
/// Single-time aggregation packet A.
const STAP_A: u8 = 24;
/// Fragmentation unit A.
const FU_A: u8 = 28;

/// Whether `payload` starts an H.264 keyframe: a single SPS NAL unit, a STAP-A aggregating
/// one, or the first FU-A fragment (S bit) of one.
///
/// A WebRTC sender puts the SPS and PPS in band just before each IDR picture (libwebrtc's
/// receiver asks for a keyframe when they are missing), so the SPS is where a keyframe
/// starts, as mediasoup, Galene and ex_webrtc take it. An IDR slice is not: a subscriber
/// switched there misses them and would decode the new layer's picture with the old layer's
/// SPS and PPS (the same ids, another resolution). The Chromium H.264 test switched there
/// when the packet with the SPS reached the router late, after the IDR's first slice. Nor is
/// a later slice of an IDR picture split into several slices.
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
                if nal.first().is_some_and(|&h| h & 0x1F == SPS) {
                    return Some(true);
                }
            }
            Some(false)
        }
        FU_A => {
            // FU header: |S|E|R| Type |
            let fu = r.u8().ok()?;
            Some(fu & 0x80 != 0 && fu & 0x1F == SPS)
        }
        other => Some(other == SPS),
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
        assert!(is_keyframe(&SPS_NAL));
        // An IDR slice without the SPS before it is no place to start.
        assert!(!is_keyframe(&IDR_NAL));
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
        assert!(is_keyframe(&stap_a(&[&PPS_NAL, &SPS_NAL])));
        assert!(!is_keyframe(&stap_a(&[&PPS_NAL, &IDR_NAL])));
        assert!(!is_keyframe(&stap_a(&[&PPS_NAL, &SLICE_NAL])));
        assert!(!is_keyframe(&stap_a(&[])));
    }

    #[test]
    fn fu_a_fragments() {
        // FU indicator (NRI 3, type 28), FU header S=1 type 7: the start of an SPS.
        assert!(is_keyframe(&[0x7C, 0x87, 0x42, 0xC0]));
        // Its middle and end fragments.
        assert!(!is_keyframe(&[0x7C, 0x07, 0x42, 0xC0]));
        assert!(!is_keyframe(&[0x7C, 0x47, 0x42, 0xC0]));
        // The start of an IDR slice, and of a non-IDR slice.
        assert!(!is_keyframe(&[0x7C, 0x85, 0x88, 0x84, 0x00]));
        assert!(!is_keyframe(&[0x5C, 0x81, 0x9A, 0x02]));
        // Truncated: no FU header.
        assert!(!is_keyframe(&[0x7C]));
    }

    #[test]
    fn truncated_stap_a_is_not_a_keyframe() {
        let p = stap_a(&[&PPS_NAL, &SPS_NAL]);
        // The SPS's header byte is at 1 + 2 + 4 + 2.
        for end in 0..9 {
            assert!(!is_keyframe(&p[..end]), "truncated at {end}");
        }
        assert!(is_keyframe(&p));
        // A size running past the end ends the scan.
        assert!(!is_keyframe(&[0x78, 0x00, 0x40, 0x67, 0x42]));
        assert!(!is_keyframe(&[0x78, 0x00]));
    }
}
