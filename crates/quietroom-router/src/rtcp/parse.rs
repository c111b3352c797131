//! Parsing incoming compound RTCP into the router's view, [`Feedback`].
//!
//! Each packet of the compound is framed here first (version 2, its length within the input) and
//! only then handed, on its own, to webrtc-rs's `rtc-rtcp` decoder. The framing pass is what
//! keeps `rtc-rtcp` away from inputs it cannot take: it computes `length * 4` and
//! `4 * (length + 1)` in `u16` for FIR and transport-cc packets, which overflows (a panic with
//! overflow checks on) for packets of 64 KiB and more, so inputs longer than
//! [`MAX_COMPOUND_LEN`] are refused before it sees them.
//!
//! Memory is bounded by the input: NACK lists are capped at [`MAX_NACK_LOST`] per packet and the
//! transport-cc statuses of one compound at [`MAX_TWCC_STATUSES`].

use bytes::Bytes;
use rtc_rtcp::goodbye::Goodbye;
use rtc_rtcp::packet::Packet;
use rtc_rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc_rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc_rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc_rtcp::receiver_report::ReceiverReport;
use rtc_rtcp::reception_report::ReceptionReport;
use rtc_rtcp::sender_report::SenderReport;
use rtc_rtcp::transport_feedbacks::transport_layer_cc::{
    PacketStatusChunk, SymbolTypeTcc, TransportLayerCc,
};
use rtc_rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;

use crate::RouterError;

/// The longest compound RTCP input [`parse_compound`] accepts: the largest UDP payload. Longer
/// inputs cannot come off the wire and would let `rtc-rtcp` overflow its `u16` length arithmetic.
pub const MAX_COMPOUND_LEN: usize = u16::MAX as usize;

/// At most this many lost sequence numbers are kept from one NACK packet (each NACK pair names
/// at most 17); the rest are dropped.
pub const MAX_NACK_LOST: usize = 1024;

/// At most this many transport-cc packet statuses are expanded from one compound; a compound
/// announcing more is refused. (A run-length chunk of two bytes can announce 8191 statuses, so
/// the expansion must be bounded separately from the input length.)
pub const MAX_TWCC_STATUSES: usize = 1 << 15;

/// RTCP common header length in bytes.
const HEADER_LEN: usize = 4;

/// One reception report block (RFC 3550 §6.4.1), as carried in SR and RR packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// SSRC of the source this block reports on.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256 units.
    pub fraction_lost: u8,
    /// Cumulative number of packets lost: the raw 24-bit field, a two's-complement signed value
    /// (`0xFF_FFFF` is -1). Builders refuse values above `0xFF_FFFF`.
    pub total_lost: u32,
    /// Extended highest sequence number received (cycles in the upper 16 bits).
    pub highest_sequence: u32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from the source (LSR).
    pub last_sr: u32,
    /// Delay since that SR was received, in 1/65536 s (DLSR).
    pub delay_since_last_sr: u32,
}

impl From<&ReceptionReport> for ReportBlock {
    fn from(r: &ReceptionReport) -> Self {
        ReportBlock {
            ssrc: r.ssrc,
            fraction_lost: r.fraction_lost,
            total_lost: r.total_lost,
            highest_sequence: r.last_sequence_number,
            jitter: r.jitter,
            last_sr: r.last_sender_report,
            delay_since_last_sr: r.delay,
        }
    }
}

impl From<&ReportBlock> for ReceptionReport {
    fn from(b: &ReportBlock) -> Self {
        ReceptionReport {
            ssrc: b.ssrc,
            fraction_lost: b.fraction_lost,
            total_lost: b.total_lost,
            last_sequence_number: b.highest_sequence,
            jitter: b.jitter,
            last_sender_report: b.last_sr,
            delay: b.delay_since_last_sr,
        }
    }
}

/// One RTCP packet of a compound, as the router sees it.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum Feedback {
    /// Sender report (RFC 3550 §6.4.1). Profile-specific extensions are dropped.
    SenderReport {
        /// SSRC of the sender.
        ssrc: u32,
        /// 64-bit NTP timestamp of the report.
        ntp_time: u64,
        /// RTP timestamp corresponding to `ntp_time`.
        rtp_time: u32,
        /// Packets sent so far.
        packet_count: u32,
        /// Payload octets sent so far.
        octet_count: u32,
        /// Reception report blocks (at most 31).
        reports: Vec<ReportBlock>,
    },
    /// Receiver report (RFC 3550 §6.4.2). Profile-specific extensions are dropped.
    ReceiverReport {
        /// SSRC of the reporter.
        ssrc: u32,
        /// Reception report blocks (at most 31).
        reports: Vec<ReportBlock>,
    },
    /// Generic NACK (RFC 4585 §6.2.1).
    Nack {
        /// SSRC of the packet sender.
        sender_ssrc: u32,
        /// SSRC of the media source the losses are reported for.
        media_ssrc: u32,
        /// Lost sequence numbers, expanded from the PID/BLP pairs in packet order (each PID
        /// followed by its BLP bits in ascending order), at most [`MAX_NACK_LOST`].
        lost: Vec<u16>,
    },
    /// Picture loss indication (RFC 4585 §6.3.1).
    Pli {
        /// SSRC of the packet sender.
        sender_ssrc: u32,
        /// SSRC of the media source that should send a key frame.
        media_ssrc: u32,
    },
    /// Full intra request (RFC 5104 §4.3.1).
    Fir {
        /// SSRC of the packet sender.
        sender_ssrc: u32,
        /// `(media SSRC, command sequence number)` per FCI entry.
        entries: Vec<(u32, u8)>,
    },
    /// Receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb).
    Remb {
        /// SSRC of the packet sender.
        sender_ssrc: u32,
        /// The estimate in bits per second (saturating at `u64::MAX`).
        bitrate_bps: u64,
        /// SSRCs the estimate applies to.
        ssrcs: Vec<u32>,
    },
    /// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
    /// extensions-01).
    TransportCc {
        /// SSRC of the packet sender.
        sender_ssrc: u32,
        /// SSRC of the media source.
        media_ssrc: u32,
        /// Transport sequence number of the first status.
        base_sequence: u16,
        /// Reference time, in multiples of 64 ms (24 bits).
        reference_time: u32,
        /// Feedback packet count (wraps).
        fb_count: u8,
        /// Per packet: (transport seq, arrival delta in microseconds since reference, or None if not received)
        ///
        /// One entry per announced status, in sequence order starting at `base_sequence`.
        /// Arrival offsets are cumulative (each wire delta is relative to the previous received
        /// packet) and multiples of 250 µs. The reserved "received without delta" symbol is
        /// reported as `None`.
        packets: Vec<(u16, Option<i64>)>,
    },
    /// Goodbye (RFC 3550 §6.6). The reason text is dropped.
    Bye {
        /// SSRCs leaving.
        ssrcs: Vec<u32>,
    },
    /// Anything else (SDES, APP, XR, ...): type and subtype, kept so the router can decide to drop it.
    Other {
        /// RTCP packet type (second header byte).
        packet_type: u8,
        /// The five-bit count/FMT field of the header (the feedback message type for RTPFB and
        /// PSFB packets).
        format: u8,
    },
}

/// Parses one compound RTCP packet (already SRTCP-unprotected) into [`Feedback`] values, one per
/// RTCP packet, in order.
///
/// Refuses (and returns nothing from) the whole compound if any packet is malformed: the input
/// is empty or longer than [`MAX_COMPOUND_LEN`], a packet's version is not 2, its length runs
/// past the input, `rtc-rtcp` cannot decode it ([`RouterError::Rtcp`]), or the compound
/// announces more than [`MAX_TWCC_STATUSES`] transport-cc statuses. Never panics.
pub fn parse_compound(bytes: &[u8]) -> Result<Vec<Feedback>, RouterError> {
    if bytes.len() > MAX_COMPOUND_LEN {
        return Err(RouterError::Malformed {
            what: "RTCP compound",
            reason: "longer than 65535 bytes",
        });
    }
    if bytes.is_empty() {
        return Err(RouterError::Truncated {
            what: "RTCP header",
            need: HEADER_LEN,
            have: 0,
        });
    }
    let whole = Bytes::copy_from_slice(bytes);
    let mut out = Vec::new();
    let mut twcc_budget = MAX_TWCC_STATUSES;
    let mut offset = 0;
    while let Some(rest) = bytes.get(offset..).filter(|r| !r.is_empty()) {
        let &[b0, packet_type, len_hi, len_lo, ..] = rest else {
            return Err(RouterError::Truncated {
                what: "RTCP header",
                need: HEADER_LEN,
                have: rest.len(),
            });
        };
        if b0 >> 6 != 2 {
            return Err(RouterError::Malformed {
                what: "RTCP header",
                reason: "version is not 2",
            });
        }
        let len = (usize::from(u16::from_be_bytes([len_hi, len_lo])) + 1) * 4;
        if len > rest.len() {
            return Err(RouterError::Truncated {
                what: "RTCP packet",
                need: len,
                have: rest.len(),
            });
        }
        if packet_type == 205 && b0 & 0x1f == 15 {
            // Transport-cc: refuse an over-budget status count before rtc-rtcp allocates a
            // delta slot for each announced status.
            if let Some(&[hi, lo]) = rest.get(..len).and_then(|p| p.get(14..16))
                && usize::from(u16::from_be_bytes([hi, lo])) > twcc_budget
            {
                return Err(twcc_over_budget());
            }
        }
        let end = offset + len;
        let mut one = whole.slice(offset..end);
        let packets = rtc_rtcp::packet::unmarshal(&mut one).map_err(rtcp_error)?;
        // Exactly one packet was framed; should `rtc-rtcp` leave bytes of it unread and decode
        // them as a second packet, only the first counts.
        let Some(packet) = packets.first() else {
            return Err(RouterError::Rtcp("no packet decoded".into()));
        };
        let raw = bytes.get(offset..end).unwrap_or_default();
        out.push(convert(
            packet.as_ref(),
            raw,
            packet_type,
            b0 & 0x1f,
            &mut twcc_budget,
        )?);
        offset = end;
    }
    Ok(out)
}

fn twcc_over_budget() -> RouterError {
    RouterError::Malformed {
        what: "RTCP transport-cc feedback",
        reason: "too many packet statuses in one compound",
    }
}

fn rtcp_error(e: rtc_shared::error::Error) -> RouterError {
    RouterError::Rtcp(e.to_string())
}

fn convert(
    packet: &dyn Packet,
    raw: &[u8],
    packet_type: u8,
    format: u8,
    twcc_budget: &mut usize,
) -> Result<Feedback, RouterError> {
    let any = packet.as_any();
    if let Some(sr) = any.downcast_ref::<SenderReport>() {
        return Ok(Feedback::SenderReport {
            ssrc: sr.ssrc,
            ntp_time: sr.ntp_time,
            rtp_time: sr.rtp_time,
            packet_count: sr.packet_count,
            octet_count: sr.octet_count,
            reports: sr.reports.iter().map(ReportBlock::from).collect(),
        });
    }
    if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
        return Ok(Feedback::ReceiverReport {
            ssrc: rr.ssrc,
            reports: rr.reports.iter().map(ReportBlock::from).collect(),
        });
    }
    if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
        let mut lost = Vec::with_capacity(nack.nacks.len().saturating_mul(2).min(MAX_NACK_LOST));
        'pairs: for pair in &nack.nacks {
            for seq in *pair {
                if lost.len() >= MAX_NACK_LOST {
                    break 'pairs;
                }
                lost.push(seq);
            }
        }
        return Ok(Feedback::Nack {
            sender_ssrc: nack.sender_ssrc,
            media_ssrc: nack.media_ssrc,
            lost,
        });
    }
    if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
        return Ok(Feedback::Pli {
            sender_ssrc: pli.sender_ssrc,
            media_ssrc: pli.media_ssrc,
        });
    }
    if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
        return Ok(Feedback::Fir {
            sender_ssrc: fir.sender_ssrc,
            entries: fir
                .fir
                .iter()
                .map(|e| (e.ssrc, e.sequence_number))
                .collect(),
        });
    }
    if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
        return Ok(Feedback::Remb {
            sender_ssrc: remb.sender_ssrc,
            bitrate_bps: remb_bitrate(raw),
            ssrcs: remb.ssrcs.clone(),
        });
    }
    if let Some(tcc) = any.downcast_ref::<TransportLayerCc>() {
        return Ok(Feedback::TransportCc {
            sender_ssrc: tcc.sender_ssrc,
            media_ssrc: tcc.media_ssrc,
            base_sequence: tcc.base_sequence_number,
            reference_time: tcc.reference_time,
            fb_count: tcc.fb_pkt_count,
            packets: expand_twcc(tcc, twcc_budget)?,
        });
    }
    if let Some(bye) = any.downcast_ref::<Goodbye>() {
        return Ok(Feedback::Bye {
            ssrcs: bye.sources.clone(),
        });
    }
    Ok(Feedback::Other {
        packet_type,
        format,
    })
}

/// The REMB bitrate straight from the packet bytes (6-bit exponent, 18-bit mantissa at offset
/// 17), saturating at `u64::MAX`. rtc-rtcp's own `f32` decoding turns a zero mantissa into
/// 2^23 (8.4 Mbit/s), so it is not used.
fn remb_bitrate(raw: &[u8]) -> u64 {
    let Some(&[b17, b18, b19]) = raw.get(17..20) else {
        return 0; // rtc-rtcp already refused anything this short
    };
    let exp = u32::from(b17 >> 2);
    let mantissa = u64::from(b17 & 3) << 16 | u64::from(b18) << 8 | u64::from(b19);
    if mantissa != 0 && exp > mantissa.leading_zeros() {
        u64::MAX
    } else {
        mantissa << exp
    }
}

/// Expands the status chunks and receive deltas of a transport-cc packet into one entry per
/// announced status.
fn expand_twcc(
    tcc: &TransportLayerCc,
    budget: &mut usize,
) -> Result<Vec<(u16, Option<i64>)>, RouterError> {
    let count = usize::from(tcc.packet_status_count);
    *budget = budget.checked_sub(count).ok_or_else(twcc_over_budget)?;
    let mut packets = Vec::with_capacity(count);
    let mut deltas = tcc.recv_deltas.iter();
    let mut arrival: i64 = 0;
    // `rtc-rtcp` decodes one delta per received symbol of every chunk it read, including the
    // padding symbols of a final status vector past the announced count, so deltas are
    // consumed for every symbol and entries are only emitted up to `count`.
    let mut status = |symbol: SymbolTypeTcc, packets: &mut Vec<(u16, Option<i64>)>| {
        let entry = match symbol {
            SymbolTypeTcc::PacketReceivedSmallDelta | SymbolTypeTcc::PacketReceivedLargeDelta => {
                deltas.next().map(|d| {
                    arrival = arrival.saturating_add(d.delta);
                    arrival
                })
            }
            SymbolTypeTcc::PacketNotReceived | SymbolTypeTcc::PacketReceivedWithoutDelta => None,
        };
        if packets.len() < count {
            let index = packets.len() as u16; // < count <= u16::MAX
            packets.push((tcc.base_sequence_number.wrapping_add(index), entry));
        }
    };
    for chunk in &tcc.packet_chunks {
        match chunk {
            PacketStatusChunk::RunLengthChunk(run) => {
                let n = usize::from(run.run_length).min(count - packets.len());
                for _ in 0..n {
                    status(run.packet_status_symbol, &mut packets);
                }
            }
            PacketStatusChunk::StatusVectorChunk(vector) => {
                for &symbol in &vector.symbol_list {
                    status(symbol, &mut packets);
                }
            }
        }
    }
    // `rtc-rtcp` only stops reading chunks once the count is covered; should it not have, the
    // missing statuses are reported as not received.
    while packets.len() < count {
        let index = packets.len() as u16;
        packets.push((tcc.base_sequence_number.wrapping_add(index), None));
    }
    Ok(packets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_webrtc_rs_reference_compound() {
        // The compound from rtc-rtcp's own packet test: RR, SDES, BYE, PLI, RRR.
        let data = [
            0x81, 0xc9, 0x0, 0x7, 0x90, 0x2f, 0x9e, 0x2e, 0xbc, 0x5e, 0x9a, 0x40, 0x0, 0x0, 0x0,
            0x0, 0x0, 0x0, 0x46, 0xe1, 0x0, 0x0, 0x1, 0x11, 0x9, 0xf3, 0x64, 0x32, 0x0, 0x2, 0x4a,
            0x79, 0x81, 0xca, 0x0, 0xc, 0x90, 0x2f, 0x9e, 0x2e, 0x1, 0x26, 0x7b, 0x39, 0x63, 0x30,
            0x30, 0x65, 0x62, 0x39, 0x32, 0x2d, 0x31, 0x61, 0x66, 0x62, 0x2d, 0x39, 0x64, 0x34,
            0x39, 0x2d, 0x61, 0x34, 0x37, 0x64, 0x2d, 0x39, 0x31, 0x66, 0x36, 0x34, 0x65, 0x65,
            0x65, 0x36, 0x39, 0x66, 0x35, 0x7d, 0x0, 0x0, 0x0, 0x0, 0x81, 0xcb, 0x0, 0x1, 0x90,
            0x2f, 0x9e, 0x2e, 0x81, 0xce, 0x0, 0x2, 0x90, 0x2f, 0x9e, 0x2e, 0x90, 0x2f, 0x9e, 0x2e,
            0x85, 0xcd, 0x0, 0x2, 0x90, 0x2f, 0x9e, 0x2e, 0x90, 0x2f, 0x9e, 0x2e,
        ];
        let got = parse_compound(&data).unwrap();
        assert_eq!(
            got,
            vec![
                Feedback::ReceiverReport {
                    ssrc: 0x902f9e2e,
                    reports: vec![ReportBlock {
                        ssrc: 0xbc5e9a40,
                        fraction_lost: 0,
                        total_lost: 0,
                        highest_sequence: 0x46e1,
                        jitter: 273,
                        last_sr: 0x9f36432,
                        delay_since_last_sr: 150137,
                    }],
                },
                Feedback::Other {
                    packet_type: 202,
                    format: 1
                },
                Feedback::Bye {
                    ssrcs: vec![0x902f9e2e]
                },
                Feedback::Pli {
                    sender_ssrc: 0x902f9e2e,
                    media_ssrc: 0x902f9e2e
                },
                Feedback::Other {
                    packet_type: 205,
                    format: 5
                },
            ]
        );
    }

    #[test]
    fn parses_firefox_transport_cc() {
        // From rtc-rtcp's tests: run-length and status-vector chunks with small deltas.
        let data = [
            143, 205, 0, 6, 65, 227, 184, 49, 118, 243, 78, 96, 42, 63, 0, 5, 12, 162, 166, 0, 32,
            5, 200, 4, 0, 4, 0, 0,
        ];
        let got = parse_compound(&data).unwrap();
        let Feedback::TransportCc {
            base_sequence,
            reference_time,
            fb_count,
            packets,
            ..
        } = &got[0]
        else {
            panic!("not transport-cc: {got:?}");
        };
        assert_eq!(*base_sequence, 0x2a3f);
        assert_eq!(*reference_time, 0x0ca2a6);
        assert_eq!(*fb_count, 0);
        assert_eq!(packets.len(), 5);
        // Run-length chunk 0x2005: five packets received with small deltas 200, 4, 0, 4, 0 ticks.
        let expected: Vec<(u16, Option<i64>)> = [200, 204, 204, 208, 208]
            .iter()
            .enumerate()
            .map(|(i, t)| (0x2a3f + i as u16, Some(t * 250)))
            .collect();
        assert_eq!(packets, &expected);
    }

    #[test]
    fn nack_expansion_is_capped() {
        // One NACK with 100 pairs of all-ones BLP: 1700 sequence numbers announced.
        let mut data = vec![0x81, 205, 0, 102, 0, 0, 0, 1, 0, 0, 0, 2];
        for i in 0..100u16 {
            data.extend_from_slice(&(i * 17).to_be_bytes());
            data.extend_from_slice(&[0xff, 0xff]);
        }
        let got = parse_compound(&data).unwrap();
        let Feedback::Nack { lost, .. } = &got[0] else {
            panic!("not a NACK");
        };
        assert_eq!(lost.len(), MAX_NACK_LOST);
        assert_eq!(lost[..3], [0, 1, 2]);
    }

    #[test]
    fn twcc_status_budget_is_enforced() {
        // A 20-byte transport-cc announcing 8191 lost packets with one run-length chunk; five of
        // them exceed the per-compound budget.
        let one = [
            0x8f, 205, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0x1f, 0xff, 0, 0, 0, 0, 0x1f, 0xff, 0, 0,
        ];
        let got = parse_compound(&one).unwrap();
        let Feedback::TransportCc { packets, .. } = &got[0] else {
            panic!("not transport-cc");
        };
        assert_eq!(packets.len(), 8191);
        assert!(packets.iter().all(|(_, a)| a.is_none()));
        // One announcing 65535 is refused before rtc-rtcp decodes it.
        let mut huge = one;
        huge[14..16].copy_from_slice(&[0xff, 0xff]);
        assert!(matches!(
            parse_compound(&huge),
            Err(RouterError::Malformed { .. })
        ));
        let many: Vec<u8> = one.iter().copied().cycle().take(one.len() * 5).collect();
        assert!(matches!(
            parse_compound(&many),
            Err(RouterError::Malformed { .. })
        ));
    }

    #[test]
    fn remb_zero_and_saturation() {
        let mut data = vec![
            0x8f, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, b'R', b'E', b'M', b'B', 0, 0, 0, 0,
        ];
        // rtc-rtcp itself decodes a zero mantissa as 2^23.
        assert_eq!(
            parse_compound(&data).unwrap(),
            vec![Feedback::Remb {
                sender_ssrc: 1,
                bitrate_bps: 0,
                ssrcs: vec![]
            }]
        );
        // Exponent 63, mantissa 0x3ffff: far beyond u64.
        data[17..20].copy_from_slice(&[0xff, 0xff, 0xff]);
        let got = parse_compound(&data).unwrap();
        assert!(matches!(
            got[0],
            Feedback::Remb {
                bitrate_bps: u64::MAX,
                ..
            }
        ));
        // Exponent 3, mantissa 0x12345.
        data[17..20].copy_from_slice(&[0x0d, 0x23, 0x45]);
        let got = parse_compound(&data).unwrap();
        assert!(matches!(
            got[0],
            Feedback::Remb {
                bitrate_bps: 0x91A28,
                ..
            }
        ));
    }

    #[test]
    fn framing_errors() {
        assert!(matches!(
            parse_compound(&[]),
            Err(RouterError::Truncated { .. })
        ));
        assert!(matches!(
            parse_compound(&[0x80, 200]),
            Err(RouterError::Truncated { .. })
        ));
        assert!(matches!(
            parse_compound(&[0x40, 201, 0, 1, 0, 0, 0, 0]),
            Err(RouterError::Malformed { .. })
        ));
        assert!(matches!(
            parse_compound(&[0x80, 201, 0, 2, 0, 0, 0, 0]),
            Err(RouterError::Truncated { need: 12, .. })
        ));
        // An SR too short for its fixed part.
        assert!(matches!(
            parse_compound(&[0x80, 200, 0, 1, 0, 0, 0, 0]),
            Err(RouterError::Rtcp(_))
        ));
        assert!(parse_compound(&vec![0x80; MAX_COMPOUND_LEN + 1]).is_err());
    }

    #[test]
    fn huge_fir_is_refused_without_panicking() {
        // A FIR whose length field is 16383 words (65536 bytes) would overflow rtc-rtcp's
        // `u16` arithmetic; it cannot fit in the accepted input length.
        let mut data = vec![0u8; 4 + 16383 * 4];
        data[..4].copy_from_slice(&[0x84, 206, 0x3f, 0xff]);
        assert!(parse_compound(&data).is_err());
        // And a transport-cc with length 0xffff likewise.
        let mut data = vec![0u8; 4 + 0xffff * 4];
        data[..4].copy_from_slice(&[0x8f, 205, 0xff, 0xff]);
        assert!(parse_compound(&data).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_compound(&data);
        }

        #[test]
        fn never_panics_on_framed_packets(
            packets in proptest::collection::vec(
                (0u8..32, 200u8..=207, proptest::collection::vec(any::<u8>(), 0..64)),
                1..6,
            )
        ) {
            // Valid framing (version 2, consistent length) with arbitrary bodies reaches every
            // rtc-rtcp decoder.
            let mut data = Vec::new();
            for (count, pt, mut body) in packets {
                body.truncate(body.len() / 4 * 4);
                data.push(0x80 | count);
                data.push(pt);
                data.extend_from_slice(&((body.len() / 4) as u16).to_be_bytes());
                data.extend_from_slice(&body);
            }
            let _ = parse_compound(&data);
        }
    }
}
