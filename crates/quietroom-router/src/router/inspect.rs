//! Read-only views of the router's state, for an application's dashboards and logs and for
//! tests: what a subscription forwards and wants, what a track's layers are doing, and what
//! the router makes of a participant's downlink.

use std::time::Instant;

use quietroom_srtp::MediaCrypto;

use super::{ParticipantId, Router, TrackId};
use crate::rtcp::{DelayState, PathSignal};

/// What one subscription forwards now and what the router is moving it to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionState {
    /// The spatial index of the layer forwarded now (`None` before the first switch).
    pub current_spatial: Option<u8>,
    /// The spatial index of the layer selected, waiting for its keyframe if it differs from
    /// the current one (`None` while paused).
    pub target_spatial: Option<u8>,
    /// The highest temporal layer forwarded now, and the one selected (`u8::MAX`: all).
    pub current_temporal: u8,
    /// See [`current_temporal`](Self::current_temporal).
    pub target_temporal: u8,
    /// Of an SVC stream (VP9 spatial layers in one SSRC), the highest spatial layer forwarded
    /// now, and the one selected (`u8::MAX`: all).
    pub current_svc: u8,
    /// See [`current_svc`](Self::current_svc).
    pub target_svc: u8,
    /// What the subscriber asked for: its highest spatial layer, and whether it paused.
    pub max_spatial: u8,
    /// See [`max_spatial`](Self::max_spatial).
    pub paused: bool,
    /// How the subscriber's estimate favours this subscription ([`Router::set_priority`]).
    pub priority: u8,
    /// The subscriber's bandwidth estimate in use, in bits per second.
    pub estimate_bps: Option<u64>,
    /// Whether a padding probe to the subscriber is in progress.
    pub probing: bool,
}

/// What the router makes of the path to one participant: the estimates behind its layer
/// selection (REMB, transport-wide CC) and what the latest feedback said.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct DownlinkState {
    /// The estimate layer selection uses, in bits per second (what the application gave, or
    /// REMB and the congestion cap combined).
    pub estimate_bps: Option<u64>,
    /// The latest REMB, however old.
    pub remb_bps: Option<u64>,
    /// The cap transport-wide CC feedback put on the estimate after congestion; `None`
    /// when there is none.
    pub congestion_cap_bps: Option<u64>,
    /// What the latest transport-wide CC feedback said was delivered, by arrival time.
    pub acked_bps: Option<u64>,
    /// The loss fraction (0.0–1.0) of the latest complete loss window.
    pub loss_fraction: Option<f64>,
    /// What the latest transport-wide CC feedback said about the path.
    pub path_signal: Option<PathSignal>,
    /// What the delay-based detector makes of queuing delay.
    pub delay: DelayState,
    /// Whether a padding probe is in progress.
    pub probing: bool,
}

/// One layer of a published track, as the router sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LayerState {
    /// Its spatial index.
    pub spatial: u8,
    /// Its media SSRC, once signaled or learned.
    pub ssrc: Option<u32>,
    /// The SSRC of its RTX stream (RFC 4588), once signaled or learned from a repaired RID.
    pub rtx_ssrc: Option<u32>,
    /// Whether the publisher is sending it (a packet within the last 2 s).
    pub active: bool,
    /// Temporal layers seen in its payload descriptors (0 before any).
    pub temporal_layers: u8,
    /// Spatial layers seen within this one stream (VP9 SVC: highest SID + 1); 0 for a
    /// stream without spatial layer indices.
    pub spatial_layers: u8,
    /// Whether a keyframe request for it is held back by the throttle.
    pub keyframe_pending: bool,
}

impl<C: MediaCrypto> Router<C> {
    /// What `subscriber`'s subscription to `track` forwards and wants; `None` if there is
    /// no such subscription.
    pub fn subscription_state(
        &self,
        subscriber: ParticipantId,
        track: TrackId,
    ) -> Option<SubscriptionState> {
        let t = self.tracks.get(&track)?;
        let sub = t.subscriber(subscriber)?;
        let spatial = |i: Option<usize>| i.and_then(|i| t.layers.get(i)).map(|l| l.spatial);
        let p = self.participants.get(&subscriber)?;
        Some(SubscriptionState {
            current_spatial: spatial(sub.current),
            target_spatial: spatial(sub.target),
            current_temporal: sub.current_temporal,
            target_temporal: sub.target_temporal,
            current_svc: sub.current_svc,
            target_svc: sub.target_svc,
            max_spatial: sub.max_spatial,
            paused: sub.paused,
            priority: sub.priority,
            estimate_bps: p.estimate_bps,
            probing: p.prober.goal().is_some(),
        })
    }

    /// What the router makes of the path to `participant`; `None` for an unknown
    /// participant. Transport-wide CC figures stay `None` until its feedback arrives.
    pub fn downlink_state(&self, participant: ParticipantId) -> Option<DownlinkState> {
        let p = self.participants.get(&participant)?;
        Some(DownlinkState {
            estimate_bps: p.estimate_bps,
            remb_bps: p.bandwidth.remb_bps(),
            congestion_cap_bps: p.congestion_cap.map(|(bps, _)| bps),
            acked_bps: p.bandwidth.acked_bitrate_bps(),
            loss_fraction: p.bandwidth.loss_fraction(),
            path_signal: p.bandwidth.path_signal(),
            delay: p.bandwidth.delay_state(),
            probing: p.prober.goal().is_some(),
        })
    }

    /// The layers of `track` at `now`, in the order they were published; empty for an
    /// unknown track.
    pub fn layer_states(&self, now: Instant, track: TrackId) -> Vec<LayerState> {
        self.tracks.get(&track).map_or_else(Vec::new, |t| {
            t.layers
                .iter()
                .map(|l| LayerState {
                    spatial: l.spatial,
                    ssrc: l.ssrc,
                    rtx_ssrc: l.rtx_ssrc,
                    active: l.active(now),
                    temporal_layers: l.temporal_layers,
                    spatial_layers: l.svc.count(),
                    keyframe_pending: l.keyframe_pending,
                })
                .collect()
        })
    }
}
