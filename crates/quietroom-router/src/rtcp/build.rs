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
mod tests;
