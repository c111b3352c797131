//! A subscriber's client: decrypts, tracks sequence numbers, NACKs, PLIs and REMBs.

use super::*;

// ---------------------------------------------------------------------------------------------
// A subscriber's client.

#[derive(Clone, Copy, Debug)]
pub(crate) struct RxPacket {
    pub(crate) timestamp: u32,
    pub(crate) vp8: Vp8Marker,
    pub(crate) arrival: Instant,
    pub(crate) primary: u32,
    pub(crate) rtx: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Missing {
    pub(crate) since: Instant,
    pub(crate) next_nack: Instant,
    pub(crate) nacks: u32,
}

#[derive(Default)]
pub(crate) struct VideoRx {
    pub(crate) highest: Option<i64>,
    pub(crate) packets: BTreeMap<i64, RxPacket>,
    pub(crate) missing: BTreeMap<i64, Missing>,
    /// Gaps given up on (then a PLI was sent).
    pub(crate) unrecovered: u64,
    pub(crate) last_pli: Option<Instant>,
    pub(crate) rtx_packets: u64,
    pub(crate) rtx_timestamp_mismatch: u64,
}

pub(crate) struct Subscriber {
    pub(crate) id: ParticipantId,
    pub(crate) session: SrtpSession,
    pub(crate) video_ssrc: u32,
    pub(crate) rtx_ssrc: u32,
    pub(crate) audio_ssrc: u32,
    /// The downlink cap this client reports with REMB, if it does.
    pub(crate) remb_bps: Option<u64>,
    pub(crate) next_remb: Option<Instant>,
    pub(crate) ended: bool,
    pub(crate) video: VideoRx,
    pub(crate) audio_seqs: Vec<u16>,
    pub(crate) foreign_ssrc: u64,
    pub(crate) decrypt_errors: u64,
    pub(crate) sender_reports: u64,
    /// The newest (capture time, timestamp) received on the video and audio SSRCs, to check
    /// that translated sender reports map capture time to the timestamps actually received.
    pub(crate) last_video: Option<(Duration, u32)>,
    pub(crate) last_audio: Option<(Duration, u32)>,
    /// The largest disagreement seen between a sender report and the media, in seconds.
    pub(crate) sr_max_error: f64,
    pub(crate) nacks_sent: u64,
    /// The highest temporal layer the router should send it (what the test asked for).
    pub(crate) max_temporal: u8,
    pub(crate) plis_sent: u64,
    pub(crate) rembs_sent: u64,
    /// What the router sent (read from the clear SRTP header before the downlink).
    pub(crate) forwarded_video: Vec<u16>,
    pub(crate) forwarded_rtx: u64,
    pub(crate) forwarded_audio: u64,
    /// Transport-wide CC (when the room uses it): arrivals recorded, feedback to send.
    pub(crate) twcc: Option<quietroom_router::rtcp::TwccRecorder>,
    /// Padding-only packets received on the RTX stream (the router's bandwidth probes).
    pub(crate) padding_packets: u64,
}

impl Subscriber {
    pub(crate) fn new(id: ParticipantId, session: SrtpSession) -> Self {
        let base = 0x5000_0000 + (id.0 as u32) * 16;
        Subscriber {
            id,
            session,
            video_ssrc: base,
            rtx_ssrc: base + 1,
            audio_ssrc: base + 2,
            remb_bps: None,
            next_remb: None,
            ended: false,
            video: VideoRx::default(),
            audio_seqs: Vec::new(),
            foreign_ssrc: 0,
            decrypt_errors: 0,
            sender_reports: 0,
            last_video: None,
            last_audio: None,
            sr_max_error: 0.0,
            nacks_sent: 0,
            max_temporal: u8::MAX,
            plis_sent: 0,
            rembs_sent: 0,
            forwarded_video: Vec::new(),
            forwarded_rtx: 0,
            forwarded_audio: 0,
            twcc: None,
            padding_packets: 0,
        }
    }

    pub(crate) fn set_cap(&mut self, now: Instant, bps: u64) {
        self.remb_bps = Some(bps);
        self.next_remb = Some(now);
    }

    pub(crate) fn receive(&mut self, now: Instant, rtcp: bool, data: &mut [u8]) {
        if rtcp {
            let Ok(n) = self.session.unprotect_rtcp(data) else {
                self.decrypt_errors += 1;
                return;
            };
            for item in parse_compound(&data[..n]).unwrap() {
                match item {
                    Feedback::SenderReport {
                        ssrc,
                        ntp_time,
                        rtp_time,
                        ..
                    } => {
                        let (last, clock_rate) = if ssrc == self.video_ssrc {
                            (self.last_video, 90_000.0)
                        } else if ssrc == self.audio_ssrc {
                            (self.last_audio, 48_000.0)
                        } else {
                            panic!("sender report for a foreign SSRC {ssrc:#x}");
                        };
                        self.sender_reports += 1;
                        if let Some((captured, ts)) = last {
                            let sr_at = ntp_seconds(ntp_time);
                            let predicted =
                                f64::from(rtp_time) + (captured.as_secs_f64() - sr_at) * clock_rate;
                            let error =
                                f64::from(ts.wrapping_sub(predicted.round() as i64 as u32) as i32)
                                    / clock_rate;
                            self.sr_max_error = self.sr_max_error.max(error.abs());
                        }
                    }
                    other => panic!("unexpected RTCP to a subscriber: {other:?}"),
                }
            }
            return;
        }
        let Ok(n) = self.session.unprotect_rtp(data) else {
            self.decrypt_errors += 1;
            return;
        };
        let packet = Packet::unmarshal(&mut &data[..n]).unwrap();
        let h = &packet.header;
        if let (Some(recorder), Some(v)) = (self.twcc.as_mut(), h.get_extension(TWCC_ID)) {
            recorder.record(u16::from_be_bytes([v[0], v[1]]), now);
        }
        if h.ssrc == self.video_ssrc {
            assert_eq!(h.payload_type, VIDEO_PT);
            let frame = read_vp8(&packet.payload).frame;
            self.last_video = Some((Duration::from_nanos(frame * FRAME_NANOS), h.timestamp));
            self.on_video(now, h.sequence_number, h.timestamp, &packet.payload, false);
        } else if h.ssrc == self.rtx_ssrc {
            assert_eq!(h.payload_type, RTX_PT);
            if packet.payload.is_empty() {
                assert!(h.padding, "an empty RTX packet is padding");
                self.padding_packets += 1;
                return;
            }
            let osn = u16::from_be_bytes([packet.payload[0], packet.payload[1]]);
            self.video.rtx_packets += 1;
            self.on_video(now, osn, h.timestamp, &packet.payload[2..], true);
        } else if h.ssrc == self.audio_ssrc {
            assert_eq!(h.payload_type, AUDIO_PT);
            let n = u64::from_be_bytes(packet.payload[1..9].try_into().unwrap());
            self.last_audio = Some((Duration::from_millis(20 * n), h.timestamp));
            self.audio_seqs.push(h.sequence_number);
        } else {
            self.foreign_ssrc += 1;
        }
    }

    pub(crate) fn on_video(
        &mut self,
        now: Instant,
        seq: u16,
        timestamp: u32,
        payload: &[u8],
        rtx: bool,
    ) {
        let v = &mut self.video;
        let ext = extend_seq(v.highest, seq);
        let vp8 = read_vp8(payload);
        let entry = v.packets.entry(ext).or_insert(RxPacket {
            timestamp,
            vp8,
            arrival: now,
            primary: 0,
            rtx: 0,
        });
        if rtx {
            entry.rtx += 1;
        } else {
            entry.primary += 1;
        }
        if entry.timestamp != timestamp || entry.vp8 != vp8 {
            v.rtx_timestamp_mismatch += 1;
        }
        v.missing.remove(&ext);
        match v.highest {
            None => v.highest = Some(ext),
            Some(h) if ext > h => {
                // A gap: expect the missing ones (a huge jump is not worth NACKing).
                if ext - h < 512 {
                    for m in h + 1..ext {
                        if !v.packets.contains_key(&m) {
                            v.missing.insert(
                                m,
                                Missing {
                                    since: now,
                                    next_nack: now + NACK_DELAY,
                                    nacks: 0,
                                },
                            );
                        }
                    }
                }
                v.highest = Some(ext);
            }
            Some(_) => {}
        }
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        let missing = self
            .video
            .missing
            .values()
            .map(|m| {
                if m.nacks < MAX_NACKS {
                    m.next_nack.min(m.since + GIVE_UP)
                } else {
                    m.since + GIVE_UP
                }
            })
            .min();
        let twcc = self.twcc.as_ref().and_then(|r| r.poll_timeout());
        [missing, self.next_remb, twcc].into_iter().flatten().min()
    }

    /// Runs the client's timers; returns plain RTCP packets to send.
    pub(crate) fn poll(&mut self, now: Instant) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        let v = &mut self.video;
        let mut lost = Vec::new();
        let mut gave_up = false;
        v.missing.retain(|seq, m| {
            if m.since + GIVE_UP <= now {
                gave_up = true;
                return false;
            }
            if m.nacks < MAX_NACKS && m.next_nack <= now {
                m.nacks += 1;
                m.next_nack = now + NACK_RETRY;
                lost.push(*seq as u16);
            }
            true
        });
        if !lost.is_empty() {
            let mut plain = Vec::new();
            build::nack(self.video_ssrc ^ 0xFFFF, self.video_ssrc, &lost, &mut plain).unwrap();
            self.nacks_sent += 1;
            out.push(plain);
        }
        if gave_up {
            v.unrecovered += 1;
            if v.last_pli.is_none_or(|at| now >= at + GIVE_UP) {
                v.last_pli = Some(now);
                let mut plain = Vec::new();
                build::pli(self.video_ssrc ^ 0xFFFF, self.video_ssrc, &mut plain).unwrap();
                self.plis_sent += 1;
                out.push(plain);
            }
        }
        if let (Some(at), Some(bps)) = (self.next_remb, self.remb_bps)
            && at <= now
        {
            self.next_remb = Some(now + REMB_INTERVAL);
            let mut plain = Vec::new();
            build::remb(
                self.video_ssrc ^ 0xFFFF,
                bps,
                &[self.video_ssrc],
                &mut plain,
            )
            .unwrap();
            self.rembs_sent += 1;
            out.push(plain);
        }
        if let Some(recorder) = self.twcc.as_mut() {
            loop {
                let mut plain = Vec::new();
                match recorder.poll_feedback(
                    now,
                    self.video_ssrc ^ 0xFFFF,
                    self.video_ssrc,
                    &mut plain,
                ) {
                    Ok(true) => out.push(plain),
                    _ => break,
                }
            }
        }
        out
    }

    /// Everything received on the video SSRC or recovered over RTX, in sequence order.
    pub(crate) fn video_in_order(&self) -> Vec<(i64, RxPacket)> {
        self.video.packets.iter().map(|(s, p)| (*s, *p)).collect()
    }

    /// Invariants of what the client received, whatever the network did.
    pub(crate) fn check_stream_invariants(&self) {
        let who = self.id;
        assert_eq!(self.decrypt_errors, 0, "{who:?}: decryption failures");
        assert_eq!(
            self.foreign_ssrc, 0,
            "{who:?}: packets on SSRCs not signaled"
        );
        assert!(
            self.sr_max_error < 0.005,
            "{who:?}: sender reports off by {} s",
            self.sr_max_error
        );
        assert_eq!(
            self.video.rtx_timestamp_mismatch, 0,
            "{who:?}: a resend differs from the original"
        );
        let packets = self.video_in_order();
        for (seq, p) in &packets {
            assert!(
                p.primary <= 1,
                "{who:?}: output sequence {seq} sent twice on the media SSRC"
            );
        }
        // Timestamps never go backwards in sequence order.
        for w in packets.windows(2) {
            let step = w[1].1.timestamp.wrapping_sub(w[0].1.timestamp);
            assert!(
                step < u32::MAX / 2,
                "{who:?}: timestamp goes back from seq {} to {}",
                w[0].0,
                w[1].0
            );
        }
        // The layer changes only on a keyframe (where both sides of a change are present).
        for w in packets.windows(2) {
            let ((s0, a), (s1, b)) = (w[0], w[1]);
            if s1 == s0 + 1 && a.vp8.layer != b.vp8.layer {
                assert!(
                    b.vp8.keyframe_start,
                    "{who:?}: layer {} -> {} at seq {s1} on a delta frame",
                    a.vp8.layer, b.vp8.layer
                );
            }
        }
        // Picture IDs and TL0PICIDX are continuous: each picture the subscriber gets has the
        // next picture ID, whether the router left pictures out before it (temporal layers)
        // or switched layers, and the next TL0PICIDX when it is a base-layer picture.
        for w in packets.windows(2) {
            let ((s0, a), (s1, b)) = (w[0], w[1]);
            if s1 != s0 + 1 {
                continue;
            }
            let (a, b) = (a.vp8, b.vp8);
            let (id, tl0) = if (a.layer, a.frame) == (b.layer, b.frame) {
                (a.picture_id, a.tl0_pic_idx)
            } else {
                (
                    (a.picture_id + 1) & 0x7FFF,
                    a.tl0_pic_idx.wrapping_add(u8::from(b.tid == 0)),
                )
            };
            assert_eq!(
                (b.picture_id, b.tl0_pic_idx),
                (id, tl0),
                "{who:?}: picture numbers from seq {s0} to {s1}: {a:?} then {b:?}"
            );
            assert!(
                b.tid <= self.max_temporal,
                "{who:?}: TID {} above {}",
                b.tid,
                self.max_temporal
            );
        }
        // Frames of one layer never go backwards.
        for w in packets.windows(2) {
            let (a, b) = (w[0].1.vp8, w[1].1.vp8);
            if a.layer == b.layer {
                assert!(
                    (b.frame, b.index) > (a.frame, a.index),
                    "{who:?}: {a:?} then {b:?}"
                );
            }
        }
        let mut audio = self.audio_seqs.clone();
        let n = audio.len();
        audio.sort_unstable();
        audio.dedup();
        assert_eq!(audio.len(), n, "{who:?}: duplicate audio sequence numbers");
    }
}
