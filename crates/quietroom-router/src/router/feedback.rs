//! RTCP: feedback from participants (NACK, PLI/FIR, REMB, sender reports) and the reports and
//! feedback the router generates on its timers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use quietroom_srtp::MediaCrypto;

use super::{
    Participant, ParticipantId, ROUTER_SSRC, Router, RouterError, RouterEvent, SENT_HISTORY,
    Transmit,
};

/// How fast a congestion cap rises while the transport-wide CC feedback is clear: this
/// fraction of itself per second (GCC's multiplicative increase is 8 %).
const CAP_GROWTH_PER_SECOND: f64 = 0.08;
use crate::codec::{Codec, PictureFields, picture_fields};
use crate::munger::PictureRewrite;
use crate::nack::NackGenerator;
use crate::rtcp::{self, Feedback, PathSignal};

/// The round trip assumed until one is measured.
const DEFAULT_RTT: Duration = Duration::from_millis(100);
/// NACKs for the same packet at most this often, however short the round trip.
const MIN_NACK_INTERVAL: Duration = Duration::from_millis(10);
use crate::rtp;

impl<C: MediaCrypto> Router<C> {
    /// Handles an SRTCP packet `from` a participant: decrypts it in place, parses the compound
    /// packet with webrtc-rs's `rtc-rtcp`, and acts on each part. Nothing a participant sends
    /// in RTCP is passed through to another participant as it is: NACKs are answered from the
    /// cache, keyframe requests are aggregated toward the publisher, bandwidth feedback steers
    /// layer selection, sender reports are translated, and everything else (SDES, BYE, APP,
    /// XR…) is dropped.
    ///
    /// # Errors
    ///
    /// Decryption failures and malformed RTCP; the packet is dropped.
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        from: ParticipantId,
        packet: &mut [u8],
    ) -> Result<(), RouterError> {
        let participant = self
            .participants
            .get_mut(&from)
            .ok_or(RouterError::Unknown("participant"))?;
        let len = match participant.crypto.unprotect_rtcp(packet) {
            Ok(len) => len,
            Err(e) => {
                self.stats.dropped += 1;
                return Err(e.into());
            }
        };
        let feedback = match rtcp::parse_compound(&packet[..len]) {
            Ok(f) => f,
            Err(e) => {
                self.stats.dropped += 1;
                return Err(e);
            }
        };
        for item in feedback {
            match item {
                Feedback::Nack {
                    media_ssrc, lost, ..
                } => self.answer_nack(now, from, media_ssrc, &lost),
                Feedback::Pli { media_ssrc, .. } => {
                    self.forward_keyframe_request(now, from, media_ssrc)
                }
                Feedback::Fir { entries, .. } => {
                    for (ssrc, _) in entries {
                        self.forward_keyframe_request(now, from, ssrc);
                    }
                }
                Feedback::Remb { bitrate_bps, .. } => {
                    if let Some(p) = self.participants.get_mut(&from) {
                        p.bandwidth.on_remb(now, bitrate_bps);
                    }
                    self.update_estimate(now, from);
                }
                fb @ Feedback::TransportCc { .. } => {
                    if let Some(p) = self.participants.get_mut(&from) {
                        let sent = &p.twcc_sent;
                        let lookup = |seq: u16| {
                            sent[usize::from(seq) % SENT_HISTORY]
                                .filter(|(s, _, _)| *s == seq)
                                .map(|(_, at, bytes)| (at, bytes))
                        };
                        p.bandwidth.on_twcc_feedback(now, &fb, &lookup);
                    }
                    self.update_estimate(now, from);
                }
                Feedback::SenderReport {
                    ssrc,
                    ntp_time,
                    rtp_time,
                    reports,
                    ..
                } => {
                    self.record_sender_report(now, from, ssrc, ntp_time, rtp_time);
                    self.measure_rtt(now, from, &reports);
                }
                Feedback::ReceiverReport { reports, .. } => self.measure_rtt(now, from, &reports),
                _ => {}
            }
        }
        Ok(())
    }

    /// Re-selects `participant`'s layers from its REMB and transport-wide CC feedback.
    ///
    /// The transport-wide estimate is derived from what was acknowledged, so it only tracks
    /// the rate already sent: it sets a cap when the feedback shows congestion (loss above
    /// 10 % or growing queuing delay), the cap holds while loss is 2–10 %, and it rises by
    /// [`CAP_GROWTH_PER_SECOND`] of itself a second while the feedback is clear, and at once
    /// to what the path just delivered — so a subscriber moved down by a congestion episode
    /// climbs back a layer at a time, each step a test of the path, as GCC's increase does.
    /// Padding probes (`router/probe.rs`) show the room above what is forwarded. Without a
    /// cap, REMB decides; without either, the estimate last given stays.
    fn update_estimate(&mut self, now: Instant, participant: ParticipantId) {
        let Some(p) = self.participants.get_mut(&participant) else {
            return;
        };
        p.congestion_cap = match (p.bandwidth.path_signal(), p.congestion_cap) {
            // The estimator's cut (relative to its estimate for a loss, to the acknowledged
            // rate for delay); never above a cap already in force.
            (Some(PathSignal::Congested), held) => p.bandwidth.twcc_estimate_bps().map(|bps| {
                let bps = held.map_or(bps, |(cap, _)| cap.min(bps));
                (bps, now)
            }),
            (Some(PathSignal::Clear), Some((cap, since))) => {
                let secs = now.saturating_duration_since(since).as_secs_f64();
                let grown = cap as f64 * (1.0 + CAP_GROWTH_PER_SECOND * secs);
                // What the path just delivered cleanly (a probe's padding included) it can
                // carry.
                let delivered = p.bandwidth.acked_bitrate_bps().unwrap_or(0);
                Some(((grown.min(u64::MAX as f64) as u64).max(delivered), now))
            }
            (_, held) => held,
        };
        let remb = p.bandwidth.remb_bps();
        let cap = p.congestion_cap.map(|(bps, _)| bps);
        let estimate = match (remb, cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(bps) = estimate {
            self.set_bandwidth_estimate(now, participant, bps);
        }
        self.consider_probe(now, participant);
    }

    /// A subscriber asked for a keyframe of the stream it receives as `out_ssrc`.
    fn forward_keyframe_request(&mut self, now: Instant, subscriber: ParticipantId, out_ssrc: u32) {
        let found = self.participants.get(&subscriber).and_then(|p| {
            p.subscribed.iter().find_map(|track| {
                let t = self.tracks.get(track)?;
                let s = t.subscribers.iter().find(|s| s.id == subscriber)?;
                if s.sub.munger.out_ssrc() != out_ssrc {
                    return None;
                }
                s.sub.target.or(s.sub.current).map(|layer| (*track, layer))
            })
        });
        if let Some((track, layer)) = found {
            self.request_keyframe(now, track, layer);
        }
    }

    /// Resends what a subscriber lost, from the publisher's packet cache, with the sequence
    /// number and timestamp it was first sent with: at most [`RouterConfig::max_resends`]
    /// times per packet and not faster than the round-trip time allows.
    ///
    /// [`RouterConfig::max_resends`]: super::RouterConfig::max_resends
    fn answer_nack(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        out_ssrc: u32,
        lost: &[u16],
    ) {
        let Router {
            participants,
            tracks,
            transmits,
            pool,
            stats,
            config,
            ..
        } = self;
        let Some(p) = participants.get_mut(&subscriber) else {
            return;
        };
        let Some(track_id) = p.subscribed.iter().copied().find(|t| {
            tracks
                .get(t)
                .and_then(|t| t.subscribers.iter().find(|s| s.id == subscriber))
                .is_some_and(|s| s.sub.munger.out_ssrc() == out_ssrc)
        }) else {
            return;
        };
        let Some(track) = tracks.get_mut(&track_id) else {
            return;
        };
        let super::Track {
            layers,
            subscribers,
            config: track_config,
            ..
        } = track;
        let codec = track_config.codec;
        let Some(sub) = subscribers
            .iter_mut()
            .find(|s| s.id == subscriber)
            .map(|s| &mut s.sub)
        else {
            return;
        };
        // Paced by the measured round-trip time; 100 ms until one is known.
        let rtt = p.rtt.unwrap_or(Duration::from_millis(100));
        for &seq in lost {
            // What went out under `seq`, or the packet its number was kept for.
            let Some(sent) = sub.munger.for_nack(seq) else {
                // A number filled with padding: the filler again, over RTX (on the media
                // SSRC its SRTP index would be a replay), made from the packet left out (from
                // the cache) as the first was.
                let left_out = sub.munger.filled(seq).and_then(|left_out| {
                    let layer = layers.iter().find(|l| l.ssrc == Some(left_out.ssrc))?;
                    let original = layer.cache.as_ref()?.get(left_out.sequence, now)?;
                    rtp::RtpHeader::parse(original).ok()
                });
                if let Some(left_out) = left_out.filter(|_| sub.rtx.is_some()) {
                    let filler = super::forward::filler(sub, seq, &left_out);
                    let again = Forwarded {
                        sequence: seq,
                        timestamp_offset: 0,
                        ssrc: out_ssrc,
                        picture: None,
                        marker: false,
                    };
                    let twcc = track_config
                        .extensions
                        .transport_cc
                        .map(|id| (id, p.twcc_out_seq));
                    let mut original = pool.pop().unwrap_or_default();
                    let mut buf = pool.pop().unwrap_or_default();
                    let written = filler.write(&mut original).map(|len| {
                        original.truncate(len);
                        resend(
                            &original,
                            &again,
                            &mut sub.rtx,
                            twcc,
                            &mut buf,
                            &mut p.crypto,
                        )
                    });
                    super::forward::recycle_into(pool, original);
                    match written {
                        Ok(Ok(numbered)) => {
                            let len = buf.len();
                            queue_resend(p, subscriber, buf, twcc, numbered, len, now, transmits);
                            stats.gap_fillers += 1;
                        }
                        _ => super::forward::recycle_into(pool, buf),
                    }
                }
                continue;
            };
            let in_seq = sent.sequence;
            let Some(cache) = layers
                .iter_mut()
                .find(|l| l.ssrc == Some(sent.ssrc))
                .and_then(|l| l.cache.as_mut())
            else {
                continue;
            };
            // The picture numbers the original went out with; a packet whose numbers are no
            // longer known is not resent rather than resent with wrong ones.
            let picture = match cache
                .get(in_seq, now)
                .map(|original| original_picture(codec, original))
            {
                None => continue,
                Some(None) => None,
                Some(Some((fields, timestamp))) => match sub.picture.for_resend(sent.ssrc, &fields)
                {
                    Some(rewrite) => Some((fields, rewrite, timestamp)),
                    None => continue,
                },
            };
            if !cache.allow_resend(in_seq, now, rtt, config.max_resends) {
                continue;
            }
            let Some(original) = cache.get(in_seq, now) else {
                continue;
            };
            let mut buf = pool.pop().unwrap_or_default();
            let marker = picture.is_some_and(|(f, _, timestamp)| sub.ends_picture(&f, timestamp));
            let picture = picture.map(|(f, rewrite, _)| (f, rewrite));
            let first = Forwarded {
                sequence: seq,
                timestamp_offset: sent.timestamp_offset,
                ssrc: out_ssrc,
                picture,
                marker,
            };
            let twcc = track_config
                .extensions
                .transport_cc
                .map(|id| (id, p.twcc_out_seq));
            match resend(
                original,
                &first,
                &mut sub.rtx,
                twcc,
                &mut buf,
                &mut p.crypto,
            ) {
                Ok(numbered) => {
                    let len = original.len();
                    queue_resend(p, subscriber, buf, twcc, numbered, len, now, transmits);
                    stats.retransmitted += 1;
                }
                Err(_) => stats.dropped += 1,
            }
        }
    }

    /// RTT from report blocks about our sender reports: now − (when the SR whose NTP middle
    /// bits are LSR was sent) − DLSR.
    fn measure_rtt(&mut self, now: Instant, from: ParticipantId, reports: &[rtcp::ReportBlock]) {
        let Some(p) = self.participants.get_mut(&from) else {
            return;
        };
        for block in reports {
            if block.last_sr == 0 {
                continue;
            }
            let Some((_, sent)) = p
                .sr_sent
                .iter()
                .flatten()
                .find(|(lsr, _)| *lsr == block.last_sr)
            else {
                continue;
            };
            let held =
                Duration::from_nanos(u64::from(block.delay_since_last_sr) * 1_000_000_000 / 65_536);
            if let Some(rtt) = now.saturating_duration_since(*sent).checked_sub(held) {
                p.rtt = Some(rtt.max(Duration::from_millis(1)));
            }
        }
    }

    fn record_sender_report(
        &mut self,
        now: Instant,
        from: ParticipantId,
        ssrc: u32,
        ntp: u64,
        rtp_time: u32,
    ) {
        if let Some(stream) = self.by_ssrc.get(&(from, ssrc)).copied()
            && !stream.rtx
            && let Some(l) = self
                .tracks
                .get_mut(&stream.track)
                .and_then(|t| t.layers.get_mut(stream.layer))
        {
            l.sr.on_sender_report(now, ntp);
            l.last_sr = Some((ntp, rtp_time));
        }
    }

    /// Runs what is due at `now`: active-speaker evaluation, transport-wide CC feedback, and
    /// every
    /// [`RouterConfig::report_interval`] receiver reports to publishers and translated sender
    /// reports to subscribers. Calling it early or often is harmless.
    ///
    /// [`RouterConfig::report_interval`]: super::RouterConfig::report_interval
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(speaker) = self.speaker.evaluate(now) {
            self.events.push_back(RouterEvent::ActiveSpeaker {
                participant: speaker,
            });
        }
        self.send_transport_feedback(now);
        self.send_probes(now);
        self.announce_layer_demand(now);
        self.send_pending_keyframe_requests(now);
        self.send_publisher_nacks(now);
        let due = self.next_report.is_none_or(|t| now >= t);
        if !due {
            return;
        }
        self.next_report = Some(now + self.config.report_interval);
        self.send_receiver_reports(now);
        self.send_sender_reports(now);
        // Layers a publisher stopped sending are noticed here, once per report interval.
        let tracks: Vec<super::TrackId> = self.tracks.keys().copied().collect();
        self.reselect(now, &tracks);
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    #[must_use = "reports and speaker detection run only when handle_timeout is called"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let twcc = self
            .participants
            .values()
            .filter_map(|p| p.twcc.poll_timeout())
            .min();
        let probes = self
            .participants
            .values()
            .filter_map(|p| p.prober.poll_timeout())
            .min();
        let interval = self.config.keyframe_request_interval;
        let keyframes = self
            .tracks
            .values()
            .flat_map(|t| &t.layers)
            .filter_map(|l| {
                let held = l
                    .last_keyframe_request
                    .filter(|_| l.keyframe_pending)
                    .map(|at| at + interval);
                held.into_iter().chain(l.keyframe_retry_at).min()
            })
            .min();
        let nacks = self
            .tracks
            .values()
            .flat_map(|t| &t.layers)
            .filter_map(|l| l.nack.as_ref().and_then(NackGenerator::next_due))
            .min();
        [
            self.next_report,
            self.speaker.next_evaluation(),
            twcc,
            probes,
            keyframes,
            nacks,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// NACKs to publishers for what their uplinks lost and is due to be asked for (again).
    fn send_publisher_nacks(&mut self, now: Instant) {
        let due: Vec<(super::TrackId, usize)> = self
            .tracks
            .iter()
            .flat_map(|(id, t)| {
                t.layers.iter().enumerate().filter_map(move |(i, l)| {
                    let due = l.nack.as_ref().and_then(NackGenerator::next_due);
                    due.is_some_and(|at| at <= now).then_some((*id, i))
                })
            })
            .collect();
        for (track, layer) in due {
            self.nack_publisher(now, track, layer);
        }
    }

    /// Sends the publisher of `track` a NACK for what `layer` is missing and is due, if
    /// anything: new losses at once, then once per round trip (the publisher's, when the
    /// router measured it, else 100 ms), [`RouterConfig::publisher_nack_retries`] times.
    ///
    /// [`RouterConfig::publisher_nack_retries`]: super::RouterConfig::publisher_nack_retries
    pub(super) fn nack_publisher(&mut self, now: Instant, track: super::TrackId, layer: usize) {
        let retries = self.config.publisher_nack_retries;
        let Some(t) = self.tracks.get_mut(&track) else {
            return;
        };
        let publisher = t.publisher;
        let rtt = self
            .participants
            .get(&publisher)
            .and_then(|p| p.rtt)
            .unwrap_or(DEFAULT_RTT)
            .max(MIN_NACK_INTERVAL);
        let Some(l) = t.layers.get_mut(layer) else {
            return;
        };
        let (Some(media_ssrc), Some(nack)) = (l.ssrc, l.nack.as_mut()) else {
            return;
        };
        let mut lost = std::mem::take(&mut self.nack_scratch);
        lost.clear();
        nack.poll_due(now, rtt, retries, &mut lost);
        if !lost.is_empty() {
            let mut buf = self.pool.pop().unwrap_or_default();
            buf.clear();
            if rtcp::build::nack(ROUTER_SSRC, media_ssrc, &lost, &mut buf).is_ok() {
                self.stats.publisher_nacks += 1;
                self.send_rtcp(publisher, buf);
            }
        }
        self.nack_scratch = lost;
    }

    /// Sends the keyframe requests the throttle held back, once it allows, and asks again
    /// for the keyframe of a layer a subscriber still waits to switch to, every
    /// [`RouterConfig::keyframe_retry_interval`](super::RouterConfig::keyframe_retry_interval).
    fn send_pending_keyframe_requests(&mut self, now: Instant) {
        let interval = self.config.keyframe_request_interval;
        // (track, layer, whether to ask now): a held-back request once the throttle allows,
        // and a retry while a subscriber waits; a retry nobody waits for any more lapses.
        let due: Vec<(super::TrackId, usize, bool)> = self
            .tracks
            .iter()
            .flat_map(|(id, t)| {
                t.layers.iter().enumerate().filter_map(move |(i, l)| {
                    let held = l.keyframe_pending
                        && l.last_keyframe_request
                            .is_none_or(|at| now.saturating_duration_since(at) >= interval);
                    let retry = l.keyframe_retry_at.is_some_and(|at| at <= now);
                    (held || retry).then(|| (*id, i, held || awaited(t, i)))
                })
            })
            .collect();
        for (track, layer, ask) in due {
            if ask {
                self.request_keyframe(now, track, layer);
            } else if let Some(l) = self
                .tracks
                .get_mut(&track)
                .and_then(|t| t.layers.get_mut(layer))
            {
                l.keyframe_retry_at = None;
            }
        }
    }

    /// Transport-wide CC feedback (draft-holmer-rmcat-transport-wide-cc-extensions) to each
    /// participant whose packets carry the transport-wide sequence number, so its sender-side
    /// congestion control can work.
    fn send_transport_feedback(&mut self, now: Instant) {
        let mut out = Vec::new();
        for (id, p) in self.participants.iter_mut() {
            let media_ssrc = p
                .published
                .first()
                .and_then(|t| self.tracks.get(t))
                .and_then(|t| t.layers.first())
                .and_then(|l| l.ssrc)
                .unwrap_or(0);
            loop {
                let mut buf = Vec::new();
                match p.twcc.poll_feedback(now, ROUTER_SSRC, media_ssrc, &mut buf) {
                    Ok(true) => out.push((*id, buf)),
                    _ => break,
                }
            }
        }
        for (to, buf) in out {
            self.send_rtcp(to, buf);
        }
    }

    fn send_receiver_reports(&mut self, now: Instant) {
        let mut out = Vec::new();
        for track in self.tracks.values_mut() {
            for layer in &mut track.layers {
                let Some(ssrc) = layer.ssrc else { continue };
                if layer.stats.packets_received() == 0 {
                    continue;
                }
                let (lsr, dlsr) = layer.sr.lsr_dlsr(now);
                let block = layer.stats.report_block(ssrc, lsr, dlsr);
                let mut buf = Vec::new();
                if rtcp::build::receiver_report(ROUTER_SSRC, &[block], &mut buf).is_ok() {
                    out.push((track.publisher, buf));
                }
            }
        }
        for (to, buf) in out {
            self.send_rtcp(to, buf);
        }
    }

    /// Sender reports for what each subscriber receives: the publisher's NTP↔RTP mapping,
    /// moved to the subscriber's output timestamps.
    fn send_sender_reports(&mut self, now: Instant) {
        let mut out = Vec::new();
        for track in self.tracks.values() {
            for super::Subscriber { id, sub, .. } in &track.subscribers {
                let Some(layer) = sub.current else {
                    continue;
                };
                let Some(((ntp, rtp_time), (in_ts, out_ts))) = track
                    .layers
                    .get(layer)
                    .and_then(|l| l.last_sr)
                    .zip(sub.last_timestamps)
                else {
                    continue;
                };
                let translated = rtp_time.wrapping_add(out_ts.wrapping_sub(in_ts));
                let mut buf = Vec::new();
                let report = rtcp::build::sender_report(
                    sub.munger.out_ssrc(),
                    ntp,
                    translated,
                    sub.packets_sent,
                    sub.octets_sent,
                    &[],
                    &mut buf,
                );
                if report.is_ok() {
                    out.push((*id, buf, ((ntp >> 16) & 0xFFFF_FFFF) as u32));
                }
            }
        }
        for (to, buf, middle) in out {
            if let Some(p) = self.participants.get_mut(&to) {
                let oldest = p
                    .sr_sent
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| e.map(|(_, at)| at))
                    .map_or(0, |(i, _)| i);
                p.sr_sent[oldest] = Some((middle, now));
            }
            self.send_rtcp(to, buf);
        }
    }
}

/// What a packet was first forwarded to a subscriber with, which its retransmission repeats.
struct Forwarded {
    sequence: u16,
    /// Output timestamp = the original's + this (wrapping).
    timestamp_offset: u32,
    ssrc: u32,
    /// Where its picture ID and TL0PICIDX are (VP8, VP9), and what they were.
    picture: Option<(PictureFields, PictureRewrite)>,
    /// It ended the picture for this subscriber (the RTP marker the router set on the last
    /// layer frame it forwards of an SVC stream, `router/svc.rs`).
    marker: bool,
}

/// Builds the retransmission of `original` (plaintext, as received from the publisher) into
/// `buf`, protected for the subscriber: what it was `first` forwarded with, wrapped in RTX
/// when negotiated.
fn resend<C: MediaCrypto>(
    original: &[u8],
    first: &Forwarded,
    rtx: &mut Option<(u32, u8, u16)>,
    transport_cc: Option<(u8, u16)>,
    buf: &mut Vec<u8>,
    crypto: &mut C,
) -> Result<bool, RouterError> {
    let header = rtp::RtpHeader::parse(original)?;
    let out_ts = header.timestamp.wrapping_add(first.timestamp_offset);
    let len = match rtx {
        Some((rtx_ssrc, rtx_pt, next)) => {
            // The RTX packet (RFC 4588) is written straight from the cached original: the
            // header on the RTX stream's SSRC, payload type and sequence, then the 2-byte
            // original sequence number — the one this subscriber saw — before the payload.
            buf.clear();
            buf.resize(original.len() + 2 + crypto.rtp_overhead(), 0);
            let n = rtp::write_rtx(original, &header, *rtx_ssrc, *rtx_pt, *next, buf)?;
            *next = next.wrapping_add(1);
            rtp::set_timestamp(buf, out_ts)?;
            let osn = buf
                .get_mut(header.payload_offset..header.payload_offset + 2)
                .ok_or(RouterError::Truncated {
                    what: "RTX packet",
                    need: header.payload_offset + 2,
                    have: n,
                })?;
            osn.copy_from_slice(&first.sequence.to_be_bytes());
            n
        }
        None => {
            buf.clear();
            buf.extend_from_slice(original);
            rtp::set_stream_position(buf, first.sequence, out_ts, first.ssrc)?;
            original.len()
        }
    };
    if first.marker
        && let Some(b) = buf.get_mut(1)
    {
        *b |= 0x80;
    }
    if let Some((fields, rewrite)) = first.picture {
        // In an RTX packet the payload starts after the original sequence number.
        let at = header.payload_offset + if rtx.is_some() { 2 } else { 0 };
        if let Some(payload) = buf.get_mut(at..len) {
            fields.write(payload, rewrite.picture_id, rewrite.tl0_pic_idx);
        }
    }
    // The cached original carries the publisher's transport-wide sequence number: the
    // resend gets the subscriber's next one, or its feedback would report on numbers the
    // router never sent it (the header, extensions included, sits where it did in the
    // original, so `header` locates the element in `buf` too).
    let numbered = match transport_cc {
        Some((id, seq)) => buf.get_mut(..len).is_some_and(|packet| {
            rtp::set_extension(packet, &header, id, &seq.to_be_bytes()).is_ok()
        }),
        None => false,
    };
    buf.resize(len + crypto.rtp_overhead(), 0);
    let n = crypto.protect_rtp(buf, len)?;
    buf.truncate(n);
    Ok(numbered)
}

/// Queues resend `data` to `to`, recording its transport-wide sequence number (of `twcc`,
/// with `len` bytes) as sent if [`resend`] `numbered` it.
#[allow(clippy::too_many_arguments)]
fn queue_resend<C: MediaCrypto>(
    p: &mut Participant<C>,
    to: ParticipantId,
    data: Vec<u8>,
    twcc: Option<(u8, u16)>,
    numbered: bool,
    len: usize,
    now: Instant,
    transmits: &mut VecDeque<Transmit>,
) {
    if numbered && let Some((_, seq)) = twcc {
        p.record_twcc_sent(seq, now, len);
    }
    transmits.push_back(Transmit {
        to,
        rtcp: false,
        data,
    });
}

/// Where the cached `original` packet's payload descriptor has its picture ID and TL0PICIDX,
/// and the packet's RTP timestamp (its picture's).
fn original_picture(codec: Codec, original: &[u8]) -> Option<(PictureFields, u32)> {
    let header = rtp::RtpHeader::parse(original).ok()?;
    picture_fields(codec, header.payload(original)).map(|f| (f, header.timestamp))
}

/// Whether a subscriber of `track` is waiting for a keyframe of its layer `layer`: to switch
/// to it (its target, not yet forwarded), or to change the SVC spatial layers it gets of it
/// (up, or in a `KEY` mode down too: `router/svc.rs`); and the subscription is not paused.
fn awaited(track: &super::Track, layer: usize) -> bool {
    let mode = track
        .layers
        .get(layer)
        .map(|l| l.svc.mode())
        .unwrap_or_default();
    track.subscribers.iter().any(|s| {
        let sub = &s.sub;
        let switching = sub.current != Some(layer);
        let svc =
            sub.current == Some(layer) && mode.waits_for_keyframe(sub.current_svc, sub.target_svc);
        !sub.paused && sub.target == Some(layer) && (switching || svc)
    })
}
