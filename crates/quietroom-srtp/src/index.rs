//! SRTP packet index estimation: the rollover counter (RFC 3711 §3.3.1 and Appendix A).

/// The largest SRTP packet index (2^48 − 1).
pub(crate) const MAX_SRTP_INDEX: u64 = (1 << 48) - 1;

/// Guesses the 48-bit index of a packet with sequence number `seq`, given the newest index seen
/// on the stream so far (`None` for the first packet, which starts with rollover counter 0).
///
/// The guess is the index closest to `top` whose low 16 bits are `seq`, so it survives a
/// sequence-number wrap and reordering of up to 2^15 packets either way. It never goes below
/// rollover 0. The result may exceed [`MAX_SRTP_INDEX`] when the rollover counter would
/// overflow; callers refuse such packets.
pub(crate) fn estimate_index(top: Option<u64>, seq: u16) -> u64 {
    let Some(top) = top else {
        return u64::from(seq);
    };
    let roc = top >> 16;
    let s_l = (top & 0xFFFF) as u16;
    let v = if s_l < 0x8000 {
        if seq > s_l && seq - s_l > 0x8000 {
            roc.saturating_sub(1)
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq {
        roc + 1
    } else {
        roc
    };
    (v << 16) | u64::from(seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_forward_and_back() {
        assert_eq!(estimate_index(None, 65535), 65535);
        assert_eq!(estimate_index(Some(65535), 0), 65536);
        assert_eq!(estimate_index(Some(65536), 65535), 65535);
        assert_eq!(estimate_index(Some(3 << 16 | 10), 65000), 2 << 16 | 65000);
        // Rollover 0 never goes negative.
        assert_eq!(estimate_index(Some(10), 65000), 65000);
    }

    proptest! {
        /// Any true index within 2^15 − 1 of the newest is recovered from its 16 low bits.
        #[test]
        fn recovers_true_index(top in (1u64 << 16)..MAX_SRTP_INDEX - (1 << 16), delta in -32767i64..=32767) {
            let truth = (top as i64 + delta) as u64;
            prop_assert_eq!(estimate_index(Some(top), (truth & 0xFFFF) as u16), truth);
        }
    }
}
