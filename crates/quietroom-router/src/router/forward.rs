//! The forward path: decrypt once, then rewrite and encrypt for each subscriber.

use std::time::Instant;

use quietroom_srtp::MediaCrypto;

use std::collections::VecDeque;

use super::participants::Participants;
use super::{
    Kind, POOL_LIMIT, ParticipantId, Router, RouterError, RouterEvent, RouterStats, SENT_HISTORY,
    TrackId, Transmit,
};
use crate::codec::is_keyframe;
use crate::rtp::{self, RtpHeader};

impl<C: MediaCrypto> Router<C> {
    /// Handles an SRTP packet `from` a participant: decrypts it in place and forwards it to
    /// every subscriber of its track that receives its layer.
    ///
    /// # Errors
    ///
    /// Decryption failures, malformed packets and unknown streams; the packet is dropped and
    /// nothing changes.
    pub fn handle_rtp(
        &mut self,
        now: Instant,
        from: ParticipantId,
        packet: &mut [u8],
    ) -> Result<(), RouterError> {
        let result = self.forward(now, from, packet);
        if result.is_err() {
            self.stats.dropped += 1;
        }
        result
    }

    fn forward(
        &mut self,
        now: Instant,
        from: ParticipantId,
        packet: &mut [u8],
    ) -> Result<(), RouterError> {
        let publisher = self
            .participants
            .get_mut(&from)
            .ok_or(RouterError::Unknown("participant"))?;
        let len = publisher.crypto.unprotect_rtp(packet)?;
        let packet = &packet[..len];
        let header = RtpHeader::parse(packet)?;
        let (track_id, index) = self.locate(from, &header, packet)?;
        self.stats.received += 1;
        if self.next_report.is_none() {
            self.next_report = Some(now + self.config.report_interval);
        }
        let transport_seq = self
            .tracks
            .get(&track_id)
            .and_then(|t| t.config.extensions.transport_cc)
            .and_then(|id| header.extension(packet, id))
            .and_then(rtp::transport_sequence);
        if let (Some(seq), Some(p)) = (transport_seq, self.participants.get_mut(&from)) {
            p.twcc.record(seq, now);
        }
        let Router {
            tracks,
            participants,
            transmits,
            events,
            pool,
            stats,
            speaker,
            config,
            egress,
            ..
        } = self;
        let Some(track) = tracks.get_mut(&track_id) else {
            return Err(RouterError::Unknown("track"));
        };
        let layer = &mut track.layers[index];
        layer.stats.record(now, header.sequence, header.timestamp);
        let clock_rate = track.config.clock_rate;
        let keyframe = match track.config.kind {
            Kind::Video => {
                if let Some(cache) = layer.cache.as_mut() {
                    cache.insert(header.sequence, packet, now);
                }
                let keyframe = is_keyframe(track.config.codec, header.payload(packet));
                if keyframe {
                    layer.keyframe_pending = false;
                }
                keyframe
            }
            Kind::Audio => {
                if let Some(level) = track
                    .config
                    .extensions
                    .audio_level
                    .and_then(|id| header.extension(packet, id))
                    .and_then(rtp::audio_level)
                {
                    speaker.record(now, from, level);
                }
                false
            }
        };
        let source = header.ssrc;
        let spatial = layer.spatial;
        // The subscriber's own transport-wide sequence number replaces the publisher's, when
        // the packet carries one (the extension id is the same on both legs).
        let transport_cc = track
            .config
            .extensions
            .transport_cc
            .filter(|&id| header.extension(packet, id).is_some_and(|v| v.len() == 2));
        // Subscribers go in chunks of [`EGRESS_CHUNK`], two passes each: rewrite into each
        // one's buffer, then encrypt the chunk. Keeping the crypto pass apart from the
        // per-subscriber bookkeeping keeps the key schedules in cache, and a chunk's buffers
        // still fit in L1 when they are encrypted (measured: `benches/router.rs`).
        egress.clear();
        let first = transmits.len();
        let mut failed = false;
        for s in &mut track.subscribers {
            let sub = &mut s.sub;
            if keyframe && sub.target == Some(index) && sub.current != Some(index) {
                sub.munger.switch_to(source, now);
                sub.current = Some(index);
                events.push_back(RouterEvent::LayerSwitched {
                    subscriber: s.id,
                    track: track_id,
                    spatial,
                });
            }
            if sub.paused || sub.current != Some(index) {
                continue;
            }
            let Ok(rewrite) =
                sub.munger
                    .map(source, header.sequence, header.timestamp, now, clock_rate)
            else {
                continue;
            };
            let mut buf = pool
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(config.max_packet + 64));
            buf.clear();
            buf.extend_from_slice(packet);
            let rewritten = rtp::set_sequence(&mut buf, rewrite.sequence)
                .and_then(|()| rtp::set_timestamp(&mut buf, rewrite.timestamp))
                .and_then(|()| rtp::set_ssrc(&mut buf, sub.munger.out_ssrc()));
            if rewritten.is_err() {
                // Unreachable for a packet that parsed; dropped rather than sent half-done.
                stats.dropped += 1;
                recycle_into(pool, buf);
                continue;
            }
            if let Some(id) = transport_cc
                && let Some(p) = participants.at_mut(s.slot)
            {
                let seq = p.twcc_out_seq;
                if rtp::set_extension(&mut buf, &header, id, &seq.to_be_bytes()).is_ok() {
                    p.twcc_sent[usize::from(seq) % SENT_HISTORY] = Some((seq, now, len));
                    p.twcc_out_seq = seq.wrapping_add(1);
                }
            }
            sub.last_timestamps = Some((header.timestamp, rewrite.timestamp));
            sub.packets_sent = sub.packets_sent.wrapping_add(1);
            sub.octets_sent = sub.octets_sent.wrapping_add(header.payload_len as u32);
            egress.push(s.slot);
            transmits.push_back(Transmit {
                to: s.id,
                rtcp: false,
                data: buf,
            });
            if egress.len() == EGRESS_CHUNK {
                failed |= protect_chunk(participants, transmits, egress, len, stats);
            }
        }
        failed |= protect_chunk(participants, transmits, egress, len, stats);
        if failed {
            let mut i = first;
            while i < transmits.len() {
                if transmits[i].data.is_empty() {
                    if let Some(t) = transmits.remove(i) {
                        recycle_into(pool, t.data);
                    }
                } else {
                    i += 1;
                }
            }
        }
        Ok(())
    }

    /// The track and layer of an incoming packet, learning the SSRC of a layer from its RID
    /// header extension the first time it is seen.
    fn locate(
        &mut self,
        from: ParticipantId,
        header: &RtpHeader,
        packet: &[u8],
    ) -> Result<(TrackId, usize), RouterError> {
        if let Some(found) = self.by_ssrc.get(&(from, header.ssrc)) {
            return Ok(*found);
        }
        let Router {
            participants,
            tracks,
            by_ssrc,
            ..
        } = self;
        let published = participants
            .get(&from)
            .map_or(&[][..], |p| &p.published[..]);
        for &track_id in published {
            let Some(track) = tracks.get_mut(&track_id) else {
                continue;
            };
            let Some(rid) = track
                .config
                .extensions
                .rid
                .and_then(|id| header.extension(packet, id))
                .and_then(rtp::sdes_item)
            else {
                continue;
            };
            if let Some(index) = track
                .layers
                .iter()
                .position(|l| l.ssrc.is_none() && l.rid.as_deref() == Some(rid))
            {
                track.layers[index].ssrc = Some(header.ssrc);
                by_ssrc.insert((from, header.ssrc), (track_id, index));
                return Ok((track_id, index));
            }
        }
        Err(RouterError::Unknown(
            "stream (SSRC not signaled, no matching RID)",
        ))
    }
}

/// Returns a buffer to the pool, up to its limit.
fn recycle_into(pool: &mut Vec<Vec<u8>>, buf: Vec<u8>) {
    if pool.len() < POOL_LIMIT {
        pool.push(buf);
    }
}

/// Subscribers whose packets are rewritten before the chunk is encrypted.
const EGRESS_CHUNK: usize = 16;

/// Encrypts the last `egress.len()` transmits, the RTP packets of `len` bytes just built (and
/// not yet grown by the crypto's overhead) for
/// the participants in those slots, and empties `egress`. A buffer that cannot be protected
/// is emptied, so plaintext can never leave in a transmit; returns whether that happened (the
/// caller removes the empty transmits).
fn protect_chunk<C: MediaCrypto>(
    participants: &mut Participants<C>,
    transmits: &mut VecDeque<Transmit>,
    egress: &mut Vec<usize>,
    len: usize,
    stats: &mut RouterStats,
) -> bool {
    let start = transmits.len().saturating_sub(egress.len());
    let mut failed = false;
    for (t, &slot) in transmits.range_mut(start..).zip(egress.iter()) {
        match participants.at_mut(slot).map(|p| {
            t.data.resize(len + p.crypto.rtp_overhead(), 0);
            p.crypto.protect_rtp(&mut t.data, len)
        }) {
            Some(Ok(n)) => {
                t.data.truncate(n);
                stats.forwarded += 1;
            }
            _ => {
                t.data.clear();
                stats.dropped += 1;
                failed = true;
            }
        }
    }
    egress.clear();
    failed
}
