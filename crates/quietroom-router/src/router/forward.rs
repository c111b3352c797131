//! The forward path: decrypt once, then rewrite and encrypt for each subscriber.

use std::time::Instant;

use quietroom_srtp::MediaCrypto;

use super::{
    Kind, POOL_LIMIT, ParticipantId, Router, RouterError, RouterEvent, SENT_HISTORY, TrackId,
    Transmit,
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
        for subscriber in &track.subscribers {
            let Some(p) = participants.get_mut(subscriber) else {
                continue;
            };
            let Some(sub) = p.subscriptions.get_mut(&track_id) else {
                continue;
            };
            if keyframe && sub.target == Some(index) && sub.current != Some(index) {
                sub.munger.switch_to(source, now);
                sub.current = Some(index);
                events.push_back(RouterEvent::LayerSwitched {
                    subscriber: *subscriber,
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
            buf.resize(len + p.crypto.rtp_overhead(), 0);
            rtp::set_sequence(&mut buf, rewrite.sequence)?;
            rtp::set_timestamp(&mut buf, rewrite.timestamp)?;
            rtp::set_ssrc(&mut buf, sub.munger.out_ssrc())?;
            // A transport-wide sequence number of the subscriber's own, for its congestion
            // feedback (the extension id is the same on both legs).
            if let Some(id) = track.config.extensions.transport_cc
                && header.extension(packet, id).is_some_and(|v| v.len() == 2)
            {
                let seq = p.twcc_out_seq;
                if rtp::set_extension(&mut buf, &header, id, &seq.to_be_bytes()).is_ok() {
                    p.twcc_sent[usize::from(seq) % SENT_HISTORY] = Some((seq, now, len));
                    p.twcc_out_seq = seq.wrapping_add(1);
                }
            }
            let slot = usize::from(rewrite.sequence) % SENT_HISTORY;
            sub.sent[slot] = Some((rewrite.sequence, index, header.sequence, rewrite.timestamp));
            sub.last_timestamps = Some((header.timestamp, rewrite.timestamp));
            sub.packets_sent = sub.packets_sent.wrapping_add(1);
            sub.octets_sent = sub.octets_sent.wrapping_add(header.payload_len as u32);
            match p.crypto.protect_rtp(&mut buf, len) {
                Ok(n) => {
                    buf.truncate(n);
                    stats.forwarded += 1;
                    transmits.push_back(Transmit {
                        to: *subscriber,
                        rtcp: false,
                        data: buf,
                    });
                }
                Err(_) => {
                    stats.dropped += 1;
                    if pool.len() < POOL_LIMIT {
                        pool.push(buf);
                    }
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
