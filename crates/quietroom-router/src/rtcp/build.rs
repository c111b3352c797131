//! Builders for the RTCP packets the router sends. Each appends one (or, for long NACK lists,
//! several) RTCP packets to a caller-owned `Vec<u8>`, marshalled with webrtc-rs's `rtc-rtcp`
//! types so the wire format is webrtc-rs's, and returns the number of bytes appended. On error
//! nothing is appended.

use rtc_rtcp::goodbye::Goodbye;
use rtc_rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
use rtc_rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc_rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc_rtcp::receiver_report::ReceiverReport;
use rtc_rtcp::reception_report::ReceptionReport;
use rtc_rtcp::sender_report::SenderReport;
use rtc_rtcp::transport_feedbacks::transport_layer_cc::{
    PacketStatusChunk, RecvDelta, RunLengthChunk, StatusChunkTypeTcc, StatusVectorChunk,
    SymbolSizeTypeTcc, SymbolTypeTcc, TYPE_TCC_DELTA_SCALE_FACTOR, TransportLayerCc,
};
use rtc_rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use rtc_shared::marshal::{Marshal, MarshalSize};

use super::parse::{Feedback, ReportBlock};
use super::twcc::TwccFeedback;
use crate::RouterError;

/// The largest single RTCP packet the builders produce (the RTCP length field is in 32-bit
/// words; the router never sends more than a UDP payload).
pub const MAX_PACKET_LEN: usize = u16::MAX as usize;

/// Report blocks per SR/RR (the five-bit count field).
const MAX_REPORTS: usize = 31;
/// NACK pairs per packet: `rtc-rtcp` refuses more than 253.
const MAX_NACK_PAIRS: usize = 253;
/// SSRCs per REMB (the eight-bit count field).
const MAX_REMB_SSRCS: usize = 255;
/// Largest 24-bit value.
const MAX_U24: u32 = 0xFF_FFFF;
/// Longest run a run-length chunk encodes (13 bits).
const MAX_RUN: usize = 0x1FFF;

fn malformed(what: &'static str, reason: &'static str) -> RouterError {
    RouterError::Malformed { what, reason }
}

/// Marshals `packet` onto the end of `out`; on error `out` is left as it was.
fn append<P: Marshal + MarshalSize>(packet: &P, out: &mut Vec<u8>) -> Result<usize, RouterError> {
    let size = packet.marshal_size();
    if size > MAX_PACKET_LEN {
        return Err(malformed("RTCP packet", "longer than 65535 bytes"));
    }
    let start = out.len();
    out.resize(start + size, 0);
    let written = match out.get_mut(start..) {
        Some(buf) => packet.marshal_to(buf),
        None => Ok(0),
    };
    match written {
        Ok(n) if n <= size => {
            out.truncate(start + n);
            Ok(n)
        }
        Ok(_) => {
            out.truncate(start);
            Err(RouterError::Rtcp("marshalled past its size".into()))
        }
        Err(e) => {
            out.truncate(start);
            Err(RouterError::Rtcp(e.to_string()))
        }
    }
}

fn reception_reports(reports: &[ReportBlock]) -> Result<Vec<ReceptionReport>, RouterError> {
    if reports.len() > MAX_REPORTS {
        return Err(malformed("RTCP report blocks", "more than 31"));
    }
    if reports.iter().any(|r| r.total_lost > MAX_U24) {
        return Err(malformed(
            "RTCP report block",
            "cumulative lost does not fit 24 bits",
        ));
    }
    Ok(reports.iter().map(ReceptionReport::from).collect())
}

/// Appends a sender report (RFC 3550 §6.4.1) with up to 31 report blocks.
pub fn sender_report(
    ssrc: u32,
    ntp_time: u64,
    rtp_time: u32,
    packet_count: u32,
    octet_count: u32,
    reports: &[ReportBlock],
    out: &mut Vec<u8>,
) -> Result<usize, RouterError> {
    let sr = SenderReport {
        ssrc,
        ntp_time,
        rtp_time,
        packet_count,
        octet_count,
        reports: reception_reports(reports)?,
        profile_extensions: Default::default(),
    };
    append(&sr, out)
}

/// Appends a receiver report (RFC 3550 §6.4.2) with up to 31 report blocks.
pub fn receiver_report(
    ssrc: u32,
    reports: &[ReportBlock],
    out: &mut Vec<u8>,
) -> Result<usize, RouterError> {
    let rr = ReceiverReport {
        ssrc,
        reports: reception_reports(reports)?,
        profile_extensions: Default::default(),
    };
    append(&rr, out)
}

/// Packs sequence numbers into NACK PID/BLP pairs, in the order given: a pair starts at a
/// sequence number and takes the following ones that lie 1..=16 after it (modulo 2^16, so a
/// pair can span the wrap); a duplicate of the PID is skipped; anything else starts a new pair.
pub fn nack_pairs(lost: &[u16]) -> Vec<NackPair> {
    let mut pairs: Vec<NackPair> = Vec::new();
    let mut current: Option<NackPair> = None;
    for &seq in lost {
        if let Some(pair) = current.as_mut() {
            let distance = seq.wrapping_sub(pair.packet_id);
            if distance == 0 {
                continue;
            }
            if distance <= 16 {
                pair.lost_packets |= 1 << (distance - 1);
                continue;
            }
            pairs.push(*pair);
        }
        current = Some(NackPair::new(seq));
    }
    pairs.extend(current);
    pairs
}

/// Appends generic NACKs (RFC 4585 §6.2.1) for the `lost` sequence numbers, packed with
/// [`nack_pairs`]. More than 253 pairs are split over several NACK packets. An empty list is
/// refused (a NACK needs at least one FCI entry).
pub fn nack(
    sender_ssrc: u32,
    media_ssrc: u32,
    lost: &[u16],
    out: &mut Vec<u8>,
) -> Result<usize, RouterError> {
    if lost.is_empty() {
        return Err(malformed("RTCP NACK", "no lost sequence numbers"));
    }
    let pairs = nack_pairs(lost);
    let start = out.len();
    let mut total = 0;
    for chunk in pairs.chunks(MAX_NACK_PAIRS) {
        let packet = TransportLayerNack {
            sender_ssrc,
            media_ssrc,
            nacks: chunk.to_vec(),
        };
        match append(&packet, out) {
            Ok(n) => total += n,
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    Ok(total)
}

/// Appends a picture loss indication (RFC 4585 §6.3.1).
pub fn pli(sender_ssrc: u32, media_ssrc: u32, out: &mut Vec<u8>) -> Result<usize, RouterError> {
    append(
        &PictureLossIndication {
            sender_ssrc,
            media_ssrc,
        },
        out,
    )
}

/// Appends a full intra request (RFC 5104 §4.3.1) for one media source with command sequence
/// number `seq_nr`.
pub fn fir(
    sender_ssrc: u32,
    media_ssrc: u32,
    seq_nr: u8,
    out: &mut Vec<u8>,
) -> Result<usize, RouterError> {
    fir_entries(sender_ssrc, &[(media_ssrc, seq_nr)], out)
}

/// Appends a full intra request with one FCI entry per `(media SSRC, sequence number)`; at
/// least one entry is needed. The header's media-source SSRC is 0 as RFC 5104 requires.
pub fn fir_entries(
    sender_ssrc: u32,
    entries: &[(u32, u8)],
    out: &mut Vec<u8>,
) -> Result<usize, RouterError> {
    if entries.is_empty() {
        return Err(malformed("RTCP FIR", "no entries"));
    }
    let packet = FullIntraRequest {
        sender_ssrc,
        media_ssrc: 0,
        fir: entries
            .iter()
            .map(|&(ssrc, sequence_number)| FirEntry {
                ssrc,
                sequence_number,
            })
            .collect(),
    };
    append(&packet, out)
}

/// `bps` rounded down to the 18 significant bits a REMB mantissa carries.
pub fn remb_round(bps: u64) -> u64 {
    let exp = (64 - bps.leading_zeros()).saturating_sub(18);
    (bps >> exp) << exp
}

/// Appends a REMB (draft-alvestrand-rmcat-remb) for up to 255 SSRCs. The wire format has an
/// 18-bit mantissa, so the encoded bitrate is `bitrate_bps` rounded down to 18 significant bits
/// ([`remb_round`]). `u64::MAX` (what [`parse_compound`](super::parse_compound) reports for
/// a REMB beyond `u64`) is sent as the largest value the wire format carries.
pub fn remb(
    sender_ssrc: u32,
    bitrate_bps: u64,
    ssrcs: &[u32],
    out: &mut Vec<u8>,
) -> Result<usize, RouterError> {
    if ssrcs.len() > MAX_REMB_SSRCS {
        return Err(malformed("RTCP REMB", "more than 255 SSRCs"));
    }
    let packet = ReceiverEstimatedMaximumBitrate {
        sender_ssrc,
        bitrate: if bitrate_bps == u64::MAX {
            // rtc-rtcp clamps to the largest wire value, which parses back as u64::MAX.
            f32::MAX
        } else {
            // Exact in f32 (18 significant bits), so rtc-rtcp encodes exactly this value.
            remb_round(bitrate_bps) as f32
        },
        ssrcs: ssrcs.to_vec(),
    };
    append(&packet, out)
}

/// Appends a goodbye (RFC 3550 §6.6) for up to 31 SSRCs, without a reason.
pub fn bye(ssrcs: &[u32], out: &mut Vec<u8>) -> Result<usize, RouterError> {
    if ssrcs.len() > MAX_REPORTS {
        return Err(malformed("RTCP BYE", "more than 31 SSRCs"));
    }
    append(
        &Goodbye {
            sources: ssrcs.to_vec(),
            reason: Default::default(),
        },
        out,
    )
}

/// Two-bit status symbol for one entry, and its delta in 250 µs ticks if received.
fn twcc_symbols(
    feedback: &TwccFeedback,
) -> Result<(Vec<SymbolTypeTcc>, Vec<RecvDelta>), RouterError> {
    let mut symbols = Vec::with_capacity(feedback.packets.len());
    let mut deltas = Vec::new();
    let mut previous_ticks: i64 = 0;
    for (i, &(seq, arrival)) in feedback.packets.iter().enumerate() {
        if seq != feedback.base_sequence.wrapping_add(i as u16) {
            return Err(malformed(
                "transport-cc feedback",
                "sequence numbers are not consecutive from the base",
            ));
        }
        let Some(arrival_us) = arrival else {
            symbols.push(SymbolTypeTcc::PacketNotReceived);
            continue;
        };
        let ticks = arrival_us.div_euclid(TYPE_TCC_DELTA_SCALE_FACTOR);
        let delta = ticks.saturating_sub(previous_ticks);
        previous_ticks = ticks;
        let symbol = if (0..=i64::from(u8::MAX)).contains(&delta) {
            SymbolTypeTcc::PacketReceivedSmallDelta
        } else if (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&delta) {
            SymbolTypeTcc::PacketReceivedLargeDelta
        } else {
            return Err(malformed(
                "transport-cc feedback",
                "arrival delta does not fit 16 bits of 250 us",
            ));
        };
        symbols.push(symbol);
        deltas.push(RecvDelta {
            type_tcc_packet: symbol,
            delta: delta * TYPE_TCC_DELTA_SCALE_FACTOR,
        });
    }
    Ok((symbols, deltas))
}

/// Encodes status symbols into packet status chunks: run-length chunks for runs of 14 or more
/// (or 7 or more large deltas, or a run to the end), otherwise a one-bit status vector when the
/// next 14 symbols are all "not received"/"small delta", otherwise a two-bit vector of 7.
fn twcc_chunks(symbols: &[SymbolTypeTcc]) -> Vec<PacketStatusChunk> {
    let mut chunks = Vec::new();
    let mut i = 0;
    while let Some(&first) = symbols.get(i) {
        let rest = symbols.get(i..).unwrap_or_default();
        let run = rest
            .iter()
            .take(MAX_RUN)
            .take_while(|&&s| s == first)
            .count();
        if run >= 14
            || (run >= 7 && first == SymbolTypeTcc::PacketReceivedLargeDelta)
            || run == rest.len()
        {
            chunks.push(PacketStatusChunk::RunLengthChunk(RunLengthChunk {
                type_tcc: StatusChunkTypeTcc::RunLengthChunk,
                packet_status_symbol: first,
                run_length: run as u16, // <= MAX_RUN
            }));
            i += run;
            continue;
        }
        let one_bit = rest.iter().take(14).all(|&s| {
            s == SymbolTypeTcc::PacketNotReceived || s == SymbolTypeTcc::PacketReceivedSmallDelta
        });
        let (size, width) = if one_bit {
            (SymbolSizeTypeTcc::OneBit, 14)
        } else {
            (SymbolSizeTypeTcc::TwoBit, 7)
        };
        let mut symbol_list: Vec<SymbolTypeTcc> = rest.iter().take(width).copied().collect();
        i += symbol_list.len();
        symbol_list.resize(width, SymbolTypeTcc::PacketNotReceived);
        chunks.push(PacketStatusChunk::StatusVectorChunk(StatusVectorChunk {
            type_tcc: StatusChunkTypeTcc::StatusVectorChunk,
            symbol_size: size,
            symbol_list,
        }));
    }
    chunks
}

/// Appends a transport-wide congestion control feedback packet built from `feedback`.
///
/// Entries must run consecutively from `base_sequence` (at most 65535 of them) and the
/// reference time must fit 24 bits. Arrival offsets are rounded down to 250 µs; consecutive
/// received packets must lie within ±8.19 s of each other (a large delta).
pub fn transport_cc(feedback: &TwccFeedback, out: &mut Vec<u8>) -> Result<usize, RouterError> {
    let count = u16::try_from(feedback.packets.len())
        .map_err(|_| malformed("transport-cc feedback", "more than 65535 statuses"))?;
    if feedback.reference_time > MAX_U24 {
        return Err(malformed(
            "transport-cc feedback",
            "reference time does not fit 24 bits",
        ));
    }
    let (symbols, recv_deltas) = twcc_symbols(feedback)?;
    let mut packet_chunks = twcc_chunks(&symbols);
    // rtc-rtcp's decoder wants at least one byte after the last status chunk (it checks
    // `pos + 2 >= total` before each chunk). With no deltas and an even number of chunks the
    // packet would end right after them, so a zero-length run-length chunk is added; it lies
    // past the announced count and decoders skip it.
    if recv_deltas.is_empty() && packet_chunks.len() % 2 == 0 {
        packet_chunks.push(PacketStatusChunk::RunLengthChunk(RunLengthChunk {
            type_tcc: StatusChunkTypeTcc::RunLengthChunk,
            packet_status_symbol: SymbolTypeTcc::PacketNotReceived,
            run_length: 0,
        }));
    }
    let packet = TransportLayerCc {
        sender_ssrc: feedback.sender_ssrc,
        media_ssrc: feedback.media_ssrc,
        base_sequence_number: feedback.base_sequence,
        packet_status_count: count,
        reference_time: feedback.reference_time,
        fb_pkt_count: feedback.fb_count,
        packet_chunks,
        recv_deltas,
    };
    append(&packet, out)
}

/// Appends the RTCP for one parsed [`Feedback`] with the builder for its kind (the inverse of
/// [`parse_compound`](super::parse_compound) for everything but [`Feedback::Other`], which has
/// no builder and is refused).
pub fn feedback(fb: &Feedback, out: &mut Vec<u8>) -> Result<usize, RouterError> {
    match fb {
        Feedback::SenderReport {
            ssrc,
            ntp_time,
            rtp_time,
            packet_count,
            octet_count,
            reports,
        } => sender_report(
            *ssrc,
            *ntp_time,
            *rtp_time,
            *packet_count,
            *octet_count,
            reports,
            out,
        ),
        Feedback::ReceiverReport { ssrc, reports } => receiver_report(*ssrc, reports, out),
        Feedback::Nack {
            sender_ssrc,
            media_ssrc,
            lost,
        } => nack(*sender_ssrc, *media_ssrc, lost, out),
        Feedback::Pli {
            sender_ssrc,
            media_ssrc,
        } => pli(*sender_ssrc, *media_ssrc, out),
        Feedback::Fir {
            sender_ssrc,
            entries,
        } => fir_entries(*sender_ssrc, entries, out),
        Feedback::Remb {
            sender_ssrc,
            bitrate_bps,
            ssrcs,
        } => remb(*sender_ssrc, *bitrate_bps, ssrcs, out),
        Feedback::TransportCc { .. } => match TwccFeedback::from_feedback(fb) {
            Some(twcc) => transport_cc(&twcc, out),
            None => Err(malformed("transport-cc feedback", "not transport-cc")),
        },
        Feedback::Bye { ssrcs } => bye(ssrcs, out),
        Feedback::Other { .. } => Err(malformed("RTCP packet", "no builder for this type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::parse_compound;
    use bytes::Bytes;
    use proptest::prelude::*;
    use rtc_shared::marshal::Unmarshal;

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 12,
            total_lost: 0xFF_FFFE,
            highest_sequence: 0x0001_0005,
            jitter: 77,
            last_sr: 0xdead_beef,
            delay_since_last_sr: 65536,
        }
    }

    fn round_trip(fb: &Feedback) -> Vec<Feedback> {
        let mut out = Vec::new();
        let n = feedback(fb, &mut out).unwrap();
        assert_eq!(n, out.len());
        assert_eq!(out.len() % 4, 0);
        parse_compound(&out).unwrap()
    }

    #[test]
    fn sr_rr_round_trip() {
        let sr = Feedback::SenderReport {
            ssrc: 1,
            ntp_time: 0x0123_4567_89ab_cdef,
            rtp_time: 90_000,
            packet_count: 10,
            octet_count: 12_000,
            reports: vec![block(2), block(3)],
        };
        assert_eq!(round_trip(&sr), vec![sr]);
        let rr = Feedback::ReceiverReport {
            ssrc: 9,
            reports: vec![block(2)],
        };
        assert_eq!(round_trip(&rr), vec![rr]);
        let rr = Feedback::ReceiverReport {
            ssrc: 9,
            reports: vec![],
        };
        assert_eq!(round_trip(&rr), vec![rr]);
    }

    #[test]
    fn report_limits() {
        let mut out = Vec::new();
        assert!(receiver_report(1, &[block(1); 32], &mut out).is_err());
        let mut bad = block(1);
        bad.total_lost = 0x100_0000;
        assert!(receiver_report(1, &[bad], &mut out).is_err());
        assert!(out.is_empty());
        assert!(receiver_report(1, &[block(1); 31], &mut out).is_ok());
    }

    #[test]
    fn sr_wire_matches_rtc_rtcp() {
        let mut out = Vec::new();
        sender_report(1, 2, 3, 4, 5, &[], &mut out).unwrap();
        assert_eq!(
            out,
            [
                0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0,
                0, 5
            ]
        );
    }

    #[test]
    fn nack_pairs_pack_across_wrap() {
        let pairs = nack_pairs(&[65534, 65535, 0, 1, 14, 15, 16]);
        assert_eq!(
            pairs,
            vec![
                // 65535, 0, 1 and 14 are 1, 2, 3 and 16 after 65534; 15 is 17 after it.
                NackPair {
                    packet_id: 65534,
                    lost_packets: 0b1000_0000_0000_0111,
                },
                NackPair {
                    packet_id: 15,
                    lost_packets: 0b1,
                },
            ]
        );
        assert_eq!(
            nack_pairs(&[5, 5, 4]),
            vec![NackPair::new(5), NackPair::new(4)]
        );
        assert!(nack_pairs(&[]).is_empty());
    }

    #[test]
    fn nack_round_trip_and_split() {
        let lost = vec![65530, 65531, 65535, 0, 3, 100, 117];
        let fb = Feedback::Nack {
            sender_ssrc: 1,
            media_ssrc: 2,
            lost: lost.clone(),
        };
        assert_eq!(round_trip(&fb), vec![fb]);

        // 600 isolated losses: 600 pairs over three packets.
        let lost: Vec<u16> = (0..600u16).map(|i| i.wrapping_mul(20)).collect();
        let mut out = Vec::new();
        nack(1, 2, &lost, &mut out).unwrap();
        let parsed = parse_compound(&out).unwrap();
        assert_eq!(parsed.len(), 3);
        let all: Vec<u16> = parsed
            .iter()
            .flat_map(|f| match f {
                Feedback::Nack { lost, .. } => lost.clone(),
                _ => panic!("not a NACK"),
            })
            .collect();
        assert_eq!(all, lost);
        assert!(nack(1, 2, &[], &mut out).is_err());
    }

    #[test]
    fn pli_fir_remb_bye_round_trip() {
        for fb in [
            Feedback::Pli {
                sender_ssrc: 1,
                media_ssrc: 2,
            },
            Feedback::Fir {
                sender_ssrc: 1,
                entries: vec![(2, 7), (3, 255)],
            },
            Feedback::Remb {
                sender_ssrc: 1,
                bitrate_bps: 1_500_000,
                ssrcs: vec![2, 3],
            },
            Feedback::Remb {
                sender_ssrc: 1,
                bitrate_bps: 0,
                ssrcs: vec![],
            },
            Feedback::Bye {
                ssrcs: vec![1, 2, 3],
            },
            Feedback::Bye { ssrcs: vec![] },
        ] {
            assert_eq!(round_trip(&fb), vec![fb]);
        }
        let mut out = Vec::new();
        fir(1, 2, 3, &mut out).unwrap();
        assert_eq!(
            parse_compound(&out).unwrap(),
            vec![Feedback::Fir {
                sender_ssrc: 1,
                entries: vec![(2, 3)]
            }]
        );
    }

    #[test]
    fn remb_rounds_to_18_bit_mantissa() {
        let mut out = Vec::new();
        remb(1, 123_456_789, &[], &mut out).unwrap();
        let Feedback::Remb { bitrate_bps, .. } = parse_compound(&out).unwrap()[0].clone() else {
            panic!("not REMB");
        };
        assert_eq!(bitrate_bps, remb_round(123_456_789));
        assert!(bitrate_bps <= 123_456_789);
        assert!(bitrate_bps > 123_456_789 - (123_456_789 >> 17));
        // Would round up through f32 if not rounded down first.
        out.clear();
        remb(1, 0x3FF_FFFF, &[], &mut out).unwrap();
        let Feedback::Remb { bitrate_bps, .. } = parse_compound(&out).unwrap()[0].clone() else {
            panic!("not REMB");
        };
        assert_eq!(bitrate_bps, 0x3FF_FF00);
        // Saturated values round-trip.
        out.clear();
        remb(1, u64::MAX, &[], &mut out).unwrap();
        assert_eq!(&out[16..20], &[0, 0xff, 0xff, 0xff]);
        assert!(matches!(
            parse_compound(&out).unwrap()[0],
            Feedback::Remb {
                bitrate_bps: u64::MAX,
                ..
            }
        ));
    }

    fn twcc(base: u16, packets: Vec<Option<i64>>) -> TwccFeedback {
        TwccFeedback {
            sender_ssrc: 1,
            media_ssrc: 2,
            base_sequence: base,
            reference_time: 0x12_3456,
            fb_count: 9,
            packets: packets
                .into_iter()
                .enumerate()
                .map(|(i, a)| (base.wrapping_add(i as u16), a))
                .collect(),
        }
    }

    fn twcc_round_trip(feedback: &TwccFeedback) {
        let mut out = Vec::new();
        transport_cc(feedback, &mut out).unwrap();
        // rtc-rtcp decodes it on its own...
        let tcc = TransportLayerCc::unmarshal(&mut Bytes::from(out.clone())).unwrap();
        assert_eq!(usize::from(tcc.packet_status_count), feedback.packets.len());
        // ...and the router's view matches.
        let parsed = parse_compound(&out).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(
            TwccFeedback::from_feedback(&parsed[0]).as_ref(),
            Some(feedback)
        );
    }

    #[test]
    fn transport_cc_round_trips() {
        // Small deltas in a run.
        twcc_round_trip(&twcc(10, (0..20).map(|i| Some(i * 1000)).collect()));
        // Mixed: losses, large and negative deltas, 1- and 2-bit vectors, across the wrap.
        twcc_round_trip(&twcc(
            65530,
            vec![
                Some(250),
                None,
                Some(500),
                Some(100_000),
                Some(50_000),
                None,
                None,
                Some(50_250),
                Some(50_250),
                Some(8_000_000),
            ],
        ));
        // All lost, with an even and an odd number of chunks.
        twcc_round_trip(&twcc(0, vec![None; 5]));
        twcc_round_trip(&twcc(0, vec![None, Some(0), None]));
        let alternating: Vec<Option<i64>> = (0..28).map(|i| (i % 2 == 0).then_some(0)).collect();
        twcc_round_trip(&twcc(0, alternating));
        // Two full run-length chunks and nothing else: needs the filler chunk.
        twcc_round_trip(&twcc(0, vec![None; 2 * MAX_RUN]));
        twcc_round_trip(&twcc(0, vec![None; 3 * MAX_RUN + 1]));
        // Long runs.
        twcc_round_trip(&twcc(100, vec![Some(0); 9000]));
        let mut sparse = vec![None; 20_000];
        sparse[0] = Some(0);
        sparse[19_999] = Some(1000);
        twcc_round_trip(&twcc(100, sparse));
        // Zero statuses.
        twcc_round_trip(&twcc(100, vec![]));
    }

    #[test]
    fn transport_cc_rejects_bad_input() {
        let mut out = Vec::new();
        let mut bad = twcc(0, vec![Some(0), Some(9_000_000)]);
        assert!(transport_cc(&bad, &mut out).is_err());
        bad = twcc(0, vec![Some(0)]);
        bad.reference_time = 1 << 24;
        assert!(transport_cc(&bad, &mut out).is_err());
        bad = twcc(0, vec![Some(0), Some(0)]);
        bad.packets[1].0 = 7;
        assert!(transport_cc(&bad, &mut out).is_err());
        assert!(out.is_empty());
    }

    prop_compose! {
        fn arb_block()(ssrc in any::<u32>(), fraction_lost in any::<u8>(), total_lost in 0u32..=0xFF_FFFF,
                       highest_sequence in any::<u32>(), jitter in any::<u32>(), last_sr in any::<u32>(),
                       delay_since_last_sr in any::<u32>()) -> ReportBlock {
            ReportBlock { ssrc, fraction_lost, total_lost, highest_sequence, jitter, last_sr, delay_since_last_sr }
        }
    }

    fn arb_feedback() -> impl Strategy<Value = Feedback> {
        prop_oneof![
            (
                any::<u32>(),
                any::<u64>(),
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                proptest::collection::vec(arb_block(), 0..=31)
            )
                .prop_map(
                    |(ssrc, ntp_time, rtp_time, packet_count, octet_count, reports)| {
                        Feedback::SenderReport {
                            ssrc,
                            ntp_time,
                            rtp_time,
                            packet_count,
                            octet_count,
                            reports,
                        }
                    }
                ),
            (any::<u32>(), proptest::collection::vec(arb_block(), 0..=31))
                .prop_map(|(ssrc, reports)| Feedback::ReceiverReport { ssrc, reports }),
            (any::<u32>(), any::<u32>()).prop_map(|(sender_ssrc, media_ssrc)| Feedback::Pli {
                sender_ssrc,
                media_ssrc
            }),
            (
                any::<u32>(),
                proptest::collection::vec((any::<u32>(), any::<u8>()), 1..8)
            )
                .prop_map(|(sender_ssrc, entries)| Feedback::Fir {
                    sender_ssrc,
                    entries
                }),
            (
                any::<u32>(),
                0u64..(1 << 18),
                0u32..40,
                proptest::collection::vec(any::<u32>(), 0..8)
            )
                .prop_map(|(sender_ssrc, m, e, ssrcs)| Feedback::Remb {
                    sender_ssrc,
                    bitrate_bps: m << e,
                    ssrcs
                }),
            proptest::collection::vec(any::<u32>(), 0..=31)
                .prop_map(|ssrcs| Feedback::Bye { ssrcs }),
            (
                any::<u32>(),
                any::<u32>(),
                any::<u16>(),
                0u32..=0xFF_FFFF,
                any::<u8>(),
                proptest::collection::vec(proptest::option::of(-400i64..4000), 0..200)
            )
                .prop_map(
                    |(sender_ssrc, media_ssrc, base_sequence, reference_time, fb_count, steps)| {
                        let mut t = 0i64;
                        let packets = steps
                            .into_iter()
                            .enumerate()
                            .map(|(i, step)| {
                                (
                                    base_sequence.wrapping_add(i as u16),
                                    step.map(|s| {
                                        t += s * 250;
                                        t
                                    }),
                                )
                            })
                            .collect();
                        Feedback::TransportCc {
                            sender_ssrc,
                            media_ssrc,
                            base_sequence,
                            reference_time,
                            fb_count,
                            packets,
                        }
                    }
                ),
        ]
    }

    proptest! {
        #[test]
        fn generated_compounds_round_trip(fbs in proptest::collection::vec(arb_feedback(), 1..6)) {
            let mut out = Vec::new();
            for fb in &fbs {
                feedback(fb, &mut out).unwrap();
            }
            prop_assert_eq!(parse_compound(&out).unwrap(), fbs);
        }

        #[test]
        fn generated_nacks_round_trip_as_sets(
            media in any::<u32>(),
            lost in proptest::collection::vec(any::<u16>(), 1..300),
        ) {
            let mut out = Vec::new();
            nack(1, media, &lost, &mut out).unwrap();
            let mut got: Vec<u16> = parse_compound(&out).unwrap().into_iter().flat_map(|f| match f {
                Feedback::Nack { lost, media_ssrc, .. } if media_ssrc == media => lost,
                _ => vec![],
            }).collect();
            let mut want = lost.clone();
            got.sort_unstable();
            got.dedup();
            want.sort_unstable();
            want.dedup();
            prop_assert_eq!(got, want);
        }
    }
}
