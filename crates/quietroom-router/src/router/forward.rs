//! The forward path: decrypt once, then rewrite and encrypt for each subscriber.

use std::time::Instant;

use quietroom_srtp::MediaCrypto;

use std::collections::VecDeque;

use super::participants::Participants;
use super::route::{self, Route};
use super::{
    Kind, POOL_LIMIT, Participant, ParticipantId, Router, RouterConfig, RouterError, RouterEvent,
    RouterStats, StreamRef, Subscriber, Subscription, TrackConfig, TrackId, Transmit,
};
use crate::codec::{PictureFields, TemporalUnit, inspect_in_unit};
use crate::munger::{PictureRewrite, Rewrite};
use crate::nack::Arrival;
use crate::rtp::{self, Padding, RtpHeader};

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
        let packet = &mut packet[..len];
        let header = RtpHeader::parse(packet)?;
        let (stream, learned) = self.locate(from, &header, packet)?;
        if learned && !stream.rtx {
            self.layer_learned(now, stream, header.ssrc);
        }
        // Every packet that arrived counts for the publisher's congestion control, bandwidth
        // probes (RTX padding) included: left out of the feedback they would read as lost.
        if let Some(seq) = self
            .tracks
            .get(&stream.track)
            .and_then(|t| t.config.extensions.transport_cc)
            .and_then(|id| header.extension(packet, id))
            .and_then(rtp::transport_sequence)
            && let Some(p) = self.participants.get_mut(&from)
        {
            p.twcc.record(seq, now);
        }
        let (track_id, index) = (stream.track, stream.layer);
        let (packet, header) = if stream.rtx {
            match self.unwrap_rtx(stream, &header, packet)? {
                Some(start) => {
                    let packet = &packet[start..];
                    (packet, RtpHeader::parse(packet)?)
                }
                // Padding only (a bandwidth probe), or nothing to repair yet.
                None => return Ok(()),
            }
        } else {
            (&packet[..], header)
        };
        self.stats.received += 1;
        if self.next_report.is_none() {
            self.next_report = Some(now + self.config.report_interval);
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
        let mut sink = Sink {
            participants,
            transmits,
            pool,
            stats,
            egress,
        };
        let Some(track) = tracks.get_mut(&track_id) else {
            return Err(RouterError::Unknown("track"));
        };
        let rtx_negotiated = track.config.rtx_payload_type.is_some();
        let layer = &mut track.layers[index];
        layer.stats.record(now, header.sequence, header.timestamp);
        let resumed = !layer.active(now);
        layer.last_arrival = Some(now);
        let mut uplink = Arrival::Old;
        if config.publisher_nack_retries > 0
            && (layer.rtx_ssrc.is_some() || rtx_negotiated)
            && let Some(nack) = layer.nack.as_mut()
        {
            uplink = nack.on_packet(now, header.sequence);
        }
        if !stream.rtx {
            layer.media_pt = Some(header.payload_type);
        }
        if header.payload_len == 0 {
            // Padding only (a bandwidth probe on the media SSRC): not forwarded, and each
            // subscriber's sequence numbers close over it (a late one's number, also of the
            // layer the subscriber just left, is filled with padding).
            let transport_cc = track.config.extensions.transport_cc;
            for s in &mut track.subscribers {
                if (s.sub.current == Some(index)
                    || s.sub.munger.late_of_previous(header.ssrc, header.sequence))
                    && let Some(sequence) = s.sub.munger.skip(header.ssrc, header.sequence)
                {
                    sink.fill(s, sequence, &header, transport_cc, now);
                }
            }
            self.after_arrival(now, track_id, index, uplink, resumed);
            return Ok(());
        }
        let clock_rate = track.config.clock_rate;
        let mut picture = None;
        let mut spatial_changed = false;
        let keyframe = match track.config.kind {
            Kind::Video => {
                let keyframe;
                (keyframe, picture) = inspect_in_unit(
                    track.config.codec,
                    &header,
                    header.payload(packet),
                    &mut layer.av1_unit,
                );
                if let Some(tid) = picture.and_then(|f| f.temporal_id()) {
                    layer.temporal_layers = layer.temporal_layers.max(tid.saturating_add(1));
                }
                if let Some(sid) = picture.and_then(|f| f.spatial_id())
                    && !stream.rtx
                {
                    // A spatial layer started or stopped: subscribers choose again.
                    spatial_changed = layer.svc.record(now, sid, header.payload_len);
                    if let Some(fields) = &picture {
                        layer.svc.observe(fields, header.timestamp);
                    }
                }
                if let Some(cache) = layer.cache.as_mut() {
                    cache.insert(header.sequence, packet, now);
                }
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
        // Subscribers go in chunks of [`EGRESS_CHUNK`], two passes each: the bookkeeping
        // (layer switches, the munger, counters) for the chunk, then for each of its
        // subscribers the copy, rewrite and encryption. Keeping the bookkeeping apart keeps the
        // crypto loop as tight as the bare protect loop it is measured against, with each
        // buffer written just before it is encrypted (`benches/router.rs`).
        let out = Outgoing::new(packet, &header, picture, &track.config, config, now);
        let svc = layer.svc.mode_for(header.timestamp);
        let view = route::Packet::new(index, &header, picture, keyframe, svc, clock_rate, now);
        let mut switched = false;
        sink.egress.clear();
        for s in &mut track.subscribers {
            let sub = &mut s.sub;
            let switch = keyframe && sub.target == Some(index) && sub.current != Some(index);
            if switch {
                sub.munger.switch_to(source, now);
                sub.current = Some(index);
                sub.temporal_history.clear();
                sub.svc_history.clear();
                // A keyframe: an SVC stream's spatial layers can all start here.
                sub.current_svc = sub.target_svc;
                events.push_back(RouterEvent::LayerSwitched {
                    subscriber: s.id,
                    track: track_id,
                    spatial,
                });
            }
            let route = sub.route(&view);
            if switch && matches!(route, Route::Send(..)) {
                // Anchored on this keyframe: what of the layer came before it goes next.
                sub.catching_up = true;
                switched = true;
            }
            sink.take(&out, s, route);
        }
        out.send(&mut sink);
        if switched {
            let header_sequence = header.sequence;
            self.catch_up(now, track_id, index, header_sequence);
        }
        self.after_arrival(now, track_id, index, uplink, resumed);
        if spatial_changed {
            // Each subscriber's steps are the spatial layers sending now.
            let ids: Vec<ParticipantId> = self
                .tracks
                .get(&track_id)
                .map(|t| t.subscribers.iter().map(|s| s.id).collect())
                .unwrap_or_default();
            for id in ids {
                self.select_layers(now, id);
            }
        }
        Ok(())
    }

    /// After subscribers switched to layer `index` of `track_id` on its packet `sequence` (a
    /// keyframe's first packet), forwards to them what of the layer arrived before that
    /// packet and follows it in sequence: the rest of a keyframe whose first packet the
    /// uplink lost and the publisher resent after the rest. Without this the rest would
    /// reach them only when they NACK it, a round trip later. It goes up to the newest
    /// packet of the layer, at most [`CATCH_UP_LIMIT`] numbers on; a number not in the
    /// layer's cache stays reserved for its resend. The munger keeps it exact: a packet
    /// already forwarded is a duplicate.
    fn catch_up(&mut self, now: Instant, track_id: TrackId, index: usize, sequence: u16) {
        let Router {
            tracks,
            participants,
            transmits,
            pool,
            stats,
            config,
            egress,
            ..
        } = self;
        let Some(track) = tracks.get_mut(&track_id) else {
            return;
        };
        let Some(layer) = track.layers.get(index) else {
            return;
        };
        let mut sink = Sink {
            participants,
            transmits,
            pool,
            stats,
            egress,
        };
        let mut scratch = sink.pool.pop().unwrap_or_default();
        // The AV1 temporal units of what is caught up, in sequence order (`codec::av1`).
        let mut unit = TemporalUnit::default();
        // Up to the newest packet of the layer received so far.
        let ahead = layer
            .stats
            .extended_highest_sequence()
            .map_or(0, |h| (h as u16).wrapping_sub(sequence));
        let ahead = if ahead < 0x8000 { ahead } else { 0 };
        for k in 1..=ahead.min(CATCH_UP_LIMIT) {
            let Some(cached) = layer
                .cache
                .as_ref()
                .and_then(|c| c.get(sequence.wrapping_add(k), now))
            else {
                // Lost (or not kept): its number stays reserved, for its resend.
                continue;
            };
            scratch.clear();
            scratch.extend_from_slice(cached);
            let Ok(header) = RtpHeader::parse(&scratch) else {
                continue;
            };
            let (_, picture) = inspect_in_unit(
                track.config.codec,
                &header,
                header.payload(&scratch),
                &mut unit,
            );
            let out = Outgoing::new(&scratch, &header, picture, &track.config, config, now);
            let clock_rate = track.config.clock_rate;
            let svc = layer.svc.mode_for(header.timestamp);
            let view = route::Packet::new(index, &header, picture, false, svc, clock_rate, now);
            sink.egress.clear();
            for s in track.subscribers.iter_mut().filter(|s| s.sub.catching_up) {
                let route = s.sub.route(&view);
                sink.stats.caught_up += u64::from(matches!(route, Route::Send(..)));
                sink.take(&out, s, route);
            }
            out.send(&mut sink);
        }
        recycle_into(sink.pool, scratch);
        for s in &mut track.subscribers {
            s.sub.catching_up = false;
        }
    }

    /// What a packet's arrival on layer `index` of `track_id` calls for once it is handled:
    /// repair of the publisher's uplink, and a new selection when the layer (re)started.
    fn after_arrival(
        &mut self,
        now: Instant,
        track_id: TrackId,
        index: usize,
        uplink: Arrival,
        resumed: bool,
    ) {
        match uplink {
            Arrival::Gap => self.nack_publisher(now, track_id, index),
            Arrival::TooManyLost => self.request_keyframe(now, track_id, index),
            _ => {}
        }
        if resumed {
            // A layer (re)started: subscribers may move up to it.
            self.reselect(now, &[track_id]);
        }
    }

    /// Catches up with a layer whose SSRC was just learned (RID or MID): audio subscribers,
    /// who forward from the first packet, start their mapping on it, and a keyframe request
    /// subscribers made before it was seen goes out now.
    fn layer_learned(&mut self, now: Instant, stream: StreamRef, ssrc: u32) {
        let Some(track) = self.tracks.get_mut(&stream.track) else {
            return;
        };
        if track.config.kind == Kind::Audio {
            for s in &mut track.subscribers {
                let sub = &mut s.sub;
                if sub.current == Some(stream.layer) && sub.munger.current_source().is_none() {
                    sub.munger.switch_to(ssrc, now);
                }
            }
        }
        let held = track
            .layers
            .get(stream.layer)
            .is_some_and(|l| l.keyframe_pending);
        if held {
            self.request_keyframe(now, stream.track, stream.layer);
        }
    }

    /// Unwraps an RTX packet (RFC 4588) of `stream` in place: the header moves 2 bytes on,
    /// over the original sequence number, and gets back the layer's SSRC, payload type and
    /// that sequence number. Returns where the unwrapped packet starts, or `None` for RTX
    /// padding (no original sequence number) and before the layer's first media packet.
    fn unwrap_rtx(
        &self,
        stream: StreamRef,
        header: &RtpHeader,
        packet: &mut [u8],
    ) -> Result<Option<usize>, RouterError> {
        let media = self
            .tracks
            .get(&stream.track)
            .and_then(|t| t.layers.get(stream.layer))
            .and_then(|l| l.ssrc.zip(l.media_pt));
        let Some((ssrc, payload_type)) = media else {
            return Ok(None);
        };
        let Some(&[o0, o1]) = header.payload(packet).first_chunk::<2>() else {
            return Ok(None);
        };
        packet.copy_within(..header.payload_offset, 2);
        let unwrapped = packet.get_mut(2..).ok_or(RouterError::Truncated {
            what: "RTX packet",
            need: 2,
            have: 0,
        })?;
        rtp::set_sequence(unwrapped, u16::from_be_bytes([o0, o1]))?;
        rtp::set_ssrc(unwrapped, ssrc)?;
        rtp::set_payload_type(unwrapped, payload_type)?;
        Ok(Some(2))
    }

    /// The track and layer of an incoming packet, learning the SSRC of a layer from its MID
    /// and RID header extensions the first time it is seen (then `true` comes back with it).
    fn locate(
        &mut self,
        from: ParticipantId,
        header: &RtpHeader,
        packet: &[u8],
    ) -> Result<(StreamRef, bool), RouterError> {
        if let Some(found) = self.by_ssrc.get(&(from, header.ssrc)) {
            return Ok((*found, false));
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
            let extensions = track.config.extensions;
            let item = |id: Option<u8>| {
                id.and_then(|id| header.extension(packet, id))
                    .and_then(rtp::sdes_item)
            };
            // MID (RFC 8843) names the track: a packet of another m-line is not this one's.
            let mid = item(extensions.mid);
            let mid_matches = match (mid, track.config.mid.as_deref()) {
                (Some(got), Some(want)) if got != want => continue,
                (Some(_), Some(_)) => true,
                _ => false,
            };
            let rtx_pt = track.config.rtx_payload_type == Some(header.payload_type);
            // An RTX stream names the layer it repairs by repaired-RID, or, for a track of
            // one unnamed layer, by MID and the RTX payload type.
            let repairs = match item(extensions.repaired_rid) {
                Some(rid) => track
                    .layers
                    .iter()
                    .position(|l| l.rtx_ssrc.is_none() && l.rid.as_deref() == Some(rid)),
                None if mid_matches && rtx_pt && track.layers.len() == 1 => track
                    .layers
                    .iter()
                    .position(|l| l.rtx_ssrc.is_none() && l.rid.is_none()),
                None => None,
            };
            if let Some(layer) = repairs {
                track.layers[layer].rtx_ssrc = Some(header.ssrc);
                let stream = StreamRef {
                    track: track_id,
                    layer,
                    rtx: true,
                };
                by_ssrc.insert((from, header.ssrc), stream);
                return Ok((stream, true));
            }
            // A media stream names its layer by RID, or is a track's only unnamed layer,
            // found by MID.
            let layer = match item(extensions.rid) {
                Some(rid) => track
                    .layers
                    .iter()
                    .position(|l| l.ssrc.is_none() && l.rid.as_deref() == Some(rid)),
                None if mid_matches && !rtx_pt && track.layers.len() == 1 => track
                    .layers
                    .iter()
                    .position(|l| l.ssrc.is_none() && l.rid.is_none()),
                None => None,
            };
            if let Some(index) = layer {
                track.layers[index].ssrc = Some(header.ssrc);
                let stream = StreamRef {
                    track: track_id,
                    layer: index,
                    rtx: false,
                };
                by_ssrc.insert((from, header.ssrc), stream);
                return Ok((stream, true));
            }
        }
        Err(RouterError::Unknown(
            "stream (SSRC not signaled, no matching MID or RID)",
        ))
    }
}

/// Writes `padding` (with the participant's next transport-wide sequence number when
/// `transport_cc` names the extension), protects it with `p`'s session and queues it to `to`.
/// `false` if it could not be written or protected; the buffer then goes back to the pool.
pub(super) fn send_padding<C: MediaCrypto>(
    p: &mut Participant<C>,
    to: ParticipantId,
    mut padding: Padding,
    transport_cc: Option<u8>,
    now: Instant,
    pool: &mut Vec<Vec<u8>>,
    transmits: &mut VecDeque<Transmit>,
) -> bool {
    let twcc = p.twcc_out_seq;
    padding.transport_cc = transport_cc.map(|id| (id, twcc));
    let mut buf = pool.pop().unwrap_or_default();
    let protected = padding.write(&mut buf).ok().and_then(|len| {
        buf.resize(len + p.crypto.rtp_overhead(), 0);
        p.crypto.protect_rtp(&mut buf, len).ok().map(|n| (len, n))
    });
    let Some((len, n)) = protected else {
        recycle_into(pool, buf);
        return false;
    };
    buf.truncate(n);
    if transport_cc.is_some() {
        p.record_twcc_sent(twcc, now, len);
    }
    transmits.push_back(Transmit {
        to,
        rtcp: false,
        data: buf,
    });
    true
}

/// The padding-only packet that fills output sequence number `sequence` of a subscription
/// on its media SSRC, where [`Munger::skip`] left the number unused for the packet with
/// `header`: a receiver counts a padding packet as received and assembles frames around it
/// (libwebrtc fills with its own padding the same way), so the subscriber neither asks for
/// it again and again nor counts it as lost. Its payload type and timestamp are those of the
/// packet left out (the timestamp as the subscriber's stream has it), so that a resend of it
/// is the same packet.
///
/// [`Munger::skip`]: crate::munger::Munger::skip
pub(super) fn filler(sub: &Subscription, sequence: u16, header: &RtpHeader) -> Padding {
    let timestamp = sub
        .munger
        .filled(sequence)
        .map(|left_out| header.timestamp.wrapping_add(left_out.timestamp_offset))
        .or(sub.last_timestamps.map(|(_, out)| out))
        .unwrap_or(0);
    Padding {
        ssrc: sub.munger.out_ssrc(),
        payload_type: header.payload_type,
        sequence,
        timestamp,
        transport_cc: None,
        padding: 1,
    }
}

/// Returns a buffer to the pool, up to its limit.
pub(super) fn recycle_into(pool: &mut Vec<Vec<u8>>, buf: Vec<u8>) {
    if pool.len() < POOL_LIMIT {
        pool.push(buf);
    }
}

/// Zeros to append for the crypto's overhead (SRTP's largest is a 16-byte tag).
const TAG_ROOM: [u8; 32] = [0; 32];

/// The most packets [`Router::catch_up`] forwards after a switch (a large keyframe's worth).
const CATCH_UP_LIMIT: u16 = 512;

/// Subscribers whose bookkeeping is done before their packets are built.
pub(super) const EGRESS_CHUNK: usize = 16;

/// One subscriber's copy of the packet being forwarded, before it is built.
pub(super) struct Egress {
    /// The subscriber's participant slot.
    slot: usize,
    to: ParticipantId,
    /// The SSRC, sequence number and timestamp it gets.
    ssrc: u32,
    rewrite: Rewrite,
    /// Its picture ID and TL0PICIDX (VP8, VP9), when the packet has them.
    picture: PictureRewrite,
    /// Set the RTP marker: it ends the picture for this subscriber (SVC, `router/svc.rs`).
    marker: bool,
}

/// Where the copies of a packet go: the chunk of copies being built, the participants'
/// sessions that protect them, the transmit queue, the buffer pool and the counters.
struct Sink<'a, C> {
    participants: &'a mut Participants<C>,
    transmits: &'a mut VecDeque<Transmit>,
    pool: &'a mut Vec<Vec<u8>>,
    stats: &'a mut RouterStats,
    egress: &'a mut Vec<Egress>,
}

impl<C: MediaCrypto> Sink<'_, C> {
    /// Acts on subscriber `s`'s decision about packet `out`: queues its copy (and builds
    /// the chunk once full), or sends the padding that fills its number.
    #[inline(always)]
    fn take(&mut self, out: &Outgoing<'_>, s: &Subscriber, route: Route) {
        match route {
            Route::Send(rewrite, picture, marker) => {
                self.egress.push(Egress {
                    slot: s.slot,
                    to: s.id,
                    ssrc: s.sub.munger.out_ssrc(),
                    rewrite,
                    picture,
                    marker,
                });
                if self.egress.len() == EGRESS_CHUNK {
                    out.send(self);
                }
            }
            Route::Fill(sequence) => {
                let twcc = out.padding_twcc;
                self.fill(s, sequence, out.header, twcc, out.now);
            }
            Route::Skip => {}
        }
    }

    /// Sends subscriber `s` the padding-only packet that fills its output number
    /// `sequence` ([`filler`]) for the packet with `header` it left out, with a
    /// transport-wide sequence number if `twcc` names the extension.
    fn fill(
        &mut self,
        s: &Subscriber,
        sequence: u16,
        header: &RtpHeader,
        twcc: Option<u8>,
        now: Instant,
    ) {
        if let Some(p) = self.participants.at_mut(s.slot) {
            let padding = filler(&s.sub, sequence, header);
            let sent = send_padding(p, s.id, padding, twcc, now, self.pool, self.transmits);
            self.stats.gap_fillers += u64::from(sent);
        }
    }
}

/// The decrypted packet being forwarded, and what every copy of it needs.
struct Outgoing<'a> {
    packet: &'a [u8],
    header: &'a RtpHeader,
    /// Where the payload descriptor's picture ID and TL0PICIDX are (VP8, VP9).
    picture: Option<PictureFields>,
    /// The transport-wide sequence number extension to renumber per subscriber.
    transport_cc: Option<u8>,
    /// The track's transport-wide extension, for the padding that fills a number.
    padding_twcc: Option<u8>,
    now: Instant,
    /// The capacity of a new buffer.
    capacity: usize,
}

impl<'a> Outgoing<'a> {
    /// Decrypted `packet` (parsed as `header`, with `picture` its payload descriptor's
    /// fields) of a track configured as `track`, for a router configured as `config`.
    #[inline]
    fn new(
        packet: &'a [u8],
        header: &'a RtpHeader,
        picture: Option<PictureFields>,
        track: &TrackConfig,
        config: &RouterConfig,
        now: Instant,
    ) -> Self {
        Outgoing {
            packet,
            header,
            picture,
            // The subscriber's own transport-wide sequence number replaces the publisher's,
            // when the packet carries one (the extension id is the same on both legs).
            transport_cc: track
                .extensions
                .transport_cc
                .filter(|&id| header.extension(packet, id).is_some_and(|v| v.len() == 2)),
            padding_twcc: track.extensions.transport_cc,
            now,
            capacity: config.max_packet + 64,
        }
    }

    /// Builds, protects and queues each subscriber's copy in `egress`, and empties it. A copy
    /// that cannot be protected is dropped (and counted); plaintext never reaches a transmit.
    fn send<C: MediaCrypto>(&self, sink: &mut Sink<'_, C>) {
        let Sink {
            participants,
            transmits,
            pool,
            stats,
            egress,
        } = sink;
        let len = self.packet.len();
        for e in egress.drain(..) {
            let Some(p) = participants.at_mut(e.slot) else {
                stats.dropped += 1;
                continue;
            };
            let mut buf = pool
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(self.capacity));
            buf.clear();
            buf.extend_from_slice(self.packet);
            let rewritten =
                rtp::set_stream_position(&mut buf, e.rewrite.sequence, e.rewrite.timestamp, e.ssrc)
                    .is_ok();
            if let Some(fields) = self.picture
                && let Some(payload) = buf.get_mut(self.header.payload_offset..)
            {
                fields.write(payload, e.picture.picture_id, e.picture.tl0_pic_idx);
            }
            if e.marker
                && let Some(b) = buf.get_mut(1)
            {
                *b |= 0x80;
            }
            if rewritten && let Some(id) = self.transport_cc {
                // The subscriber's own transport-wide sequence number, for its congestion
                // feedback.
                let seq = p.twcc_out_seq;
                if rtp::set_extension(&mut buf, self.header, id, &seq.to_be_bytes()).is_ok() {
                    p.record_twcc_sent(seq, self.now, len);
                }
            }
            // Room for the tag (zeros, as the crypto overwrites them).
            let overhead = p.crypto.rtp_overhead();
            match TAG_ROOM.get(..overhead) {
                Some(zeros) => buf.extend_from_slice(zeros),
                None => buf.resize(len + overhead, 0),
            }
            // (The error itself is not kept: building a `RouterError` per copy costs.)
            let protected = rewritten
                .then(|| p.crypto.protect_rtp(&mut buf, len).ok())
                .flatten();
            match protected {
                Some(n) => {
                    buf.truncate(n);
                    stats.forwarded += 1;
                    transmits.push_back(Transmit {
                        to: e.to,
                        rtcp: false,
                        data: buf,
                    });
                }
                None => {
                    // Unreachable for a packet that parsed and a working session.
                    stats.dropped += 1;
                    recycle_into(pool, buf);
                }
            }
        }
    }
}
