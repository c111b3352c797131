//! One subscriber's decision about one packet of its track: forward it (with which
//! numbers), fill its number with padding, or leave it out. The bookkeeping pass of the
//! forward path, and of the catch-up after a layer switch.

use std::time::Instant;

use super::Subscription;
use super::layer_history::InForce;
use super::svc::Mode;
use crate::codec::PictureFields;
use crate::munger::{Drop, PictureRewrite, Rewrite};
use crate::rtp::RtpHeader;

/// The temporal layer of the packet being forwarded (VP8/VP9 TID), and whether a subscriber
/// may change its temporal layer here.
#[derive(Clone, Copy)]
pub(super) struct Temporal {
    id: u8,
    /// The packet starts a frame: the forwarded layer may move down.
    frame_start: bool,
    /// Layer sync (or switching up point): with a base-layer frame start, it may move up.
    sync: bool,
}

/// A decrypted packet of one layer, as every subscriber's decision reads it.
#[derive(Clone, Copy)]
pub(super) struct Packet<'a> {
    /// The layer's index in its track.
    pub(super) layer: usize,
    pub(super) header: &'a RtpHeader,
    /// Where its payload descriptor's picture numbers are (VP8, VP9).
    pub(super) picture: Option<PictureFields>,
    pub(super) temporal: Option<Temporal>,
    /// It starts a keyframe (where a subscriber may switch layers, and take on more
    /// spatial layers of an SVC stream).
    pub(super) keyframe: bool,
    /// How the layer's SVC stream is forwarded (`router/svc.rs`).
    pub(super) svc: Mode,
    pub(super) clock_rate: u32,
    pub(super) now: Instant,
}

impl<'a> Packet<'a> {
    /// `header` of layer `layer` (forwarded as `svc` says when it is an SVC stream), with
    /// `picture` its payload descriptor's fields.
    // Always inlined: it runs once per input packet, and with the SVC mode added it had
    // become a call (about 1% of the forward path's time in `benches/router.rs`).
    #[inline(always)]
    pub(super) fn new(
        layer: usize,
        header: &'a RtpHeader,
        picture: Option<PictureFields>,
        keyframe: bool,
        svc: Mode,
        clock_rate: u32,
        now: Instant,
    ) -> Self {
        let temporal = picture.and_then(|f| {
            f.temporal_id().map(|id| Temporal {
                id,
                // In an SVC stream, only the first layer frame of a picture starts it: its
                // layer frames share one TID, so a picture is kept or left out whole.
                frame_start: f.frame_start() && f.spatial_id().unwrap_or(0) == 0,
                sync: f.layer_sync(),
            })
        });
        Packet {
            layer,
            header,
            picture,
            temporal,
            keyframe,
            svc,
            clock_rate,
            now,
        }
    }
}

/// What a subscriber does with a packet.
pub(super) enum Route {
    /// Nothing: not its layer, paused, a duplicate, too old.
    Skip,
    /// Forward it with these numbers, and the RTP marker set if `true` (the last packet of
    /// the highest SVC spatial layer forwarded, which ends the picture for the subscriber).
    Send(Rewrite, PictureRewrite, bool),
    /// Left out, late: fill this output sequence number with a padding-only packet.
    Fill(u16),
}

impl Subscription {
    /// Decides what this subscription does with `p`, and does its bookkeeping: the munger's
    /// mapping, the picture numbers, the temporal layer, the sender-report counters.
    // Always inlined: it runs once per packet per subscriber, and as a call it cost the
    // forward path about 0.03 of its ratio to the limit (`benches/router.rs`).
    #[inline(always)]
    pub(super) fn route(&mut self, p: &Packet<'_>) -> Route {
        if self.paused {
            return Route::Skip;
        }
        let (source, sequence) = (p.header.ssrc, p.header.sequence);
        // A packet of the layer the subscriber just left goes on only into a number reserved
        // for it (a resend of what the uplink lost before the switch).
        let previous = self.current != Some(p.layer);
        if previous && !self.munger.late_of_previous(source, sequence) {
            return Route::Skip;
        }
        // Its picture numbers, for a packet of the previous layer: those of its picture.
        let resend_picture = match p.picture {
            Some(fields) if previous => self.picture.for_resend(source, &fields),
            _ => None,
        };
        let spatial = p.picture.and_then(|f| f.spatial_id());
        let left_out = match p.temporal {
            Some(t) if previous => t.id > self.current_temporal,
            Some(t) => !self.forwards(t, p),
            None => false,
        } || match spatial {
            Some(sid) if previous => sid > self.current_svc,
            Some(sid) => !self.forwards_spatial(sid, p),
            None => false,
        };
        if left_out || (previous && p.picture.is_some() && resend_picture.is_none()) {
            // A higher temporal layer than the subscriber gets: left out, and the sequence
            // numbers and picture IDs after it closed up (a late one's number is filled).
            if let Some(fields) = p.picture
                && !previous
            {
                self.picture.skip(source, &fields);
            }
            return self
                .munger
                .skip(source, sequence)
                .map_or(Route::Skip, Route::Fill);
        }
        let rewrite =
            match self
                .munger
                .map(source, sequence, p.header.timestamp, p.now, p.clock_rate)
            {
                Ok(rewrite) => rewrite,
                // A late packet of the previous layer newer than what it forwarded: its
                // number goes to padding.
                Err(Drop::TooOld) if previous => {
                    return self
                        .munger
                        .skip(source, sequence)
                        .map_or(Route::Skip, Route::Fill);
                }
                Err(_) => return Route::Skip,
            };
        let picture = match p.picture {
            Some(_) if previous => resend_picture.unwrap_or_default(),
            Some(fields) => self.picture.map(source, &fields),
            None => PictureRewrite::default(),
        };
        if !previous {
            self.last_timestamps = Some((p.header.timestamp, rewrite.timestamp));
        }
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self.octets_sent.wrapping_add(p.header.payload_len as u32);
        let marker = p
            .picture
            .is_some_and(|f| self.ends_picture(&f, p.header.timestamp));
        Route::Send(rewrite, picture, marker)
    }

    /// Whether a forwarded packet with `fields`, of the picture with `timestamp`, ends the
    /// picture for this subscriber, so that its copy (or resend) carries the RTP marker: the
    /// end of the highest SVC layer frame it gets of that picture (the publisher marks only
    /// the end of the whole picture).
    #[inline]
    pub(super) fn ends_picture(&self, fields: &PictureFields, timestamp: u32) -> bool {
        fields.frame_end()
            && fields.spatial_id().is_some_and(|sid| {
                sid == match self.svc_history.in_force(timestamp) {
                    InForce::Was(layers) => layers,
                    InForce::Now | InForce::Forgotten => self.current_svc,
                }
            })
    }

    /// Moves the forwarded SVC spatial layer towards the target where the packet allows it
    /// (the start of a picture newer than every packet seen), and says whether its layer
    /// frame (spatial layer `sid`) is forwarded: by the layers in force for its picture
    /// (`router/layer_history.rs`, `router/svc.rs`). The layers move up at a keyframe, down
    /// at the start of any picture (full SVC) or at a keyframe (`KEY` modes, where the
    /// subscriber has no lower layer's chain).
    #[inline]
    fn forwards_spatial(&mut self, sid: u8, p: &Packet<'_>) -> bool {
        let Some(fields) = p.picture else {
            return true;
        };
        let layers = match self.svc_history.in_force(p.header.timestamp) {
            InForce::Now => {
                if sid == 0
                    && self.target_svc != self.current_svc
                    && fields.frame_start()
                    && (p.keyframe || !p.svc.waits_for_keyframe(self.current_svc, self.target_svc))
                    && self.munger.is_newest(p.header.ssrc, p.header.sequence)
                {
                    self.svc_history.push(p.header.timestamp, self.current_svc);
                    self.current_svc = self.target_svc;
                }
                self.current_svc
            }
            InForce::Was(layers) => layers,
            InForce::Forgotten => return false,
        };
        p.svc.forwards(sid, &fields, layers)
    }

    /// Moves the forwarded temporal layer towards the target where the packet `p` allows it
    /// (the start of a frame newer than every packet seen), and says whether the packet is
    /// forwarded: by the layer in force for its frame, so that a frame is forwarded whole or
    /// left out whole (`router/layer_history.rs`).
    #[inline]
    fn forwards(&mut self, t: Temporal, p: &Packet<'_>) -> bool {
        let timestamp = p.header.timestamp;
        match self.temporal_history.in_force(timestamp) {
            InForce::Now => {}
            InForce::Was(layer) => return t.id <= layer,
            InForce::Forgotten => return false,
        }
        if t.frame_start && self.target_temporal != self.current_temporal {
            let up = self.target_temporal > self.current_temporal;
            if (!up || t.id == 0 || t.sync)
                && self.munger.is_newest(p.header.ssrc, p.header.sequence)
            {
                self.temporal_history.push(timestamp, self.current_temporal);
                self.current_temporal = self.target_temporal;
            }
        }
        t.id <= self.current_temporal
    }
}
