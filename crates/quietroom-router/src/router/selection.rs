//! Layer selection: which simulcast layer, and how many of its temporal layers, each video
//! subscription gets — from what the subscriber asked for (highest spatial layer, paused,
//! highest temporal layer) and from its bandwidth estimate, with hysteresis.

use std::time::Instant;

use quietroom_srtp::MediaCrypto;

use super::allocation::{Allocation, Choice, allocate};
use super::{Kind, Layer, ParticipantId, Router, Subscription, Track, TrackId};

/// The share of a spatial layer's bitrate its lowest temporal layers take, in percent:
/// `TEMPORAL_SHARE[n - 1][t]` for layers 0..=t of n (libwebrtc's default VP8 rate split).
const TEMPORAL_SHARE: [[u64; 4]; 4] = [
    [100, 100, 100, 100],
    [60, 100, 100, 100],
    [40, 60, 100, 100],
    [25, 40, 60, 100],
];

/// The highest temporal layer of `layer` that fits in `share` bits/s, with the same
/// hysteresis as spatial layers: moving above `current` needs `headroom` percent. `u8::MAX`
/// (all) when the layer has fewer than two temporal layers; at least the base layer.
fn temporal_fit(layer: &Layer, share: u64, current: u8, headroom: u64) -> u8 {
    let n = usize::from(layer.temporal_layers.min(4));
    if n < 2 {
        return u8::MAX;
    }
    let shares = &TEMPORAL_SHARE[n - 1];
    (1..n)
        .rev()
        .find(|&t| {
            let need = layer.bitrate_bps.saturating_mul(shares[t]) / 100;
            let need = if t > usize::from(current) {
                need.saturating_mul(headroom) / 100
            } else {
                need
            };
            need <= share
        })
        .map_or(0, |t| if t + 1 == n { u8::MAX } else { t as u8 })
}

/// What a step of a subscription's [`Choice`] forwards: a layer, and of an SVC layer (one
/// stream with several spatial layers, `router/svc.rs`) its spatial layers up to `svc`
/// (`u8::MAX`: all of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Step {
    pub(super) layer: usize,
    pub(super) svc: u8,
}

/// What `sub` may take of a track's `layers` at `now`, for [`allocate`]: its floor (the
/// lowest layer the publisher sends), then each higher layer it wants that is sent, by
/// spatial index; an SVC layer is one step per spatial layer in it up to the subscriber's
/// highest. A step above the one forwarded costs `headroom` percent of its bitrate.
fn choice(layers: &[Layer], sub: &Subscription, now: Instant, headroom: u64) -> Choice<Step> {
    let current = sub.current.or(sub.target).unwrap_or(0);
    let above =
        |step: Step| step.layer > current || (step.layer == current && step.svc > sub.current_svc);
    let cost = |step: Step, need: u64| {
        if above(step) {
            need.saturating_mul(headroom) / 100
        } else {
            need
        }
    };
    // Only layers the publisher is sending, once it sends any: an upper layer a browser
    // paused must not hold a subscriber waiting for its keyframe.
    let sent_layer = super::sent_now(layers, now);
    let sent = |i: &usize| sent_layer(&layers[*i]);
    // Never below the lowest layer sent: a subscriber that cannot afford it still gets
    // something, and congestion control upstream will catch up.
    let floor = (0..layers.len())
        .filter(sent)
        .min_by_key(|&i| layers[i].spatial)
        .unwrap_or(0);
    let floor_spatial = layers.get(floor).map_or(0, |l| l.spatial);
    let mut ups: Vec<usize> = (0..layers.len())
        .filter(sent)
        .filter(|&i| layers[i].spatial > floor_spatial && layers[i].spatial <= sub.max_spatial)
        .collect();
    ups.sort_by_key(|&i| layers[i].spatial);
    let mut steps = Vec::with_capacity(ups.len() + 1);
    for i in std::iter::once(floor).chain(ups) {
        let Some(l) = layers.get(i) else { continue };
        let n = l.svc.count();
        if n > 1 {
            // The spatial layers sending (an encoder short of bitrate stops its top one), or
            // the lowest when none of those the subscriber may take is.
            let wanted = 0..n.min(sub.max_spatial.saturating_add(1));
            let mut sids: Vec<u8> = wanted.filter(|&s| l.svc.sending(s)).collect();
            if sids.is_empty() {
                sids.push(0);
            }
            for sid in sids {
                let svc = if sid + 1 == n { u8::MAX } else { sid };
                let step = Step { layer: i, svc };
                steps.push((step, cost(step, l.svc.cost(sid, l.bitrate_bps))));
            }
        } else {
            let step = Step {
                layer: i,
                svc: u8::MAX,
            };
            steps.push((step, cost(step, l.bitrate_bps)));
        }
    }
    Choice {
        steps,
        priority: sub.priority,
    }
}

/// How one participant's estimate divides among its video subscriptions
/// ([`Router::plan_video`]).
pub(super) struct VideoPlan {
    /// The video subscriptions not paused, and what each may take.
    pub(super) tracks: Vec<TrackId>,
    pub(super) choices: Vec<Choice<Step>>,
    pub(super) allocation: Allocation,
    /// What the estimate leaves for video (all of it without an estimate), and the audio
    /// taken off it first, in bits per second.
    budget: u64,
    pub(super) audio_bps: u64,
    /// 100 plus the upgrade headroom, in percent.
    pub(super) headroom: u64,
}

impl VideoPlan {
    /// The layer (index into the track's layers) subscription `i` gets.
    pub(super) fn layer(&self, i: usize) -> usize {
        self.step(i).layer
    }

    /// What subscription `i` gets: its layer, and of an SVC layer its spatial layers.
    pub(super) fn step(&self, i: usize) -> Step {
        self.choices[i].steps[self.allocation.level[i]].0
    }

    /// Subscription `i`'s share for its temporal layers when the floors do not all fit.
    fn thinned_share(&self, i: usize) -> Option<u64> {
        self.allocation.thinned_share(&self.choices, i, self.budget)
    }
}

impl<C: MediaCrypto> Router<C> {
    /// What `subscriber` asked for: the highest spatial layer it wants, and whether it paused
    /// the track.
    pub fn set_preferences(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        track: TrackId,
        max_spatial: u8,
        paused: bool,
    ) {
        self.update_subscription(now, subscriber, track, |sub| {
            sub.max_spatial = max_spatial;
            sub.paused = paused;
        });
    }

    /// How `subscriber`'s bandwidth estimate favours its subscription to `track` when it
    /// cannot carry everything it asked for: higher is served first (0, the default, last).
    /// Subscriptions of equal priority move up in turns, a layer at a time; a subscription
    /// asking for little (a thumbnail's lowest layer) leaves the rest to the others.
    pub fn set_priority(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        track: TrackId,
        priority: u8,
    ) {
        self.update_subscription(now, subscriber, track, |sub| sub.priority = priority);
    }

    /// The highest temporal layer (VP8/VP9 TID) `subscriber` wants of `track`: 0 for the base
    /// layer only (the lowest frame rate), `u8::MAX` (the default) for all. The router moves
    /// to it at the next frame it can switch on: down at the start of any frame, up at the
    /// start of a base-layer or layer-sync frame. Packets of higher layers are left out with
    /// the sequence numbers closed up. The bandwidth estimate may hold the subscriber lower.
    pub fn set_max_temporal_layer(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        track: TrackId,
        max_temporal: u8,
    ) {
        self.update_subscription(now, subscriber, track, |sub| {
            sub.max_temporal = max_temporal;
            sub.target_temporal = sub.target_temporal.min(max_temporal);
        });
    }

    /// Changes what `subscriber` asked for of `track`, then selects its layers again.
    fn update_subscription(
        &mut self,
        now: Instant,
        subscriber: ParticipantId,
        track: TrackId,
        change: impl FnOnce(&mut Subscription),
    ) {
        if let Some(sub) = self
            .tracks
            .get_mut(&track)
            .and_then(|t| t.subscriber_mut(subscriber))
        {
            change(sub);
        }
        self.select_layers(now, subscriber);
    }

    /// Sets the bandwidth estimate for what the router sends `participant` (from REMB or
    /// transport-wide CC feedback, or from the application) and re-selects layers.
    pub fn set_bandwidth_estimate(&mut self, now: Instant, participant: ParticipantId, bps: u64) {
        if let Some(p) = self.participants.get_mut(&participant) {
            p.estimate_bps = Some(bps);
        }
        self.select_layers(now, participant);
    }

    /// Re-selects layers for the subscribers of `tracks` that a layer starting or stopping
    /// concerns: those with a bandwidth estimate (they may move up to a layer that started),
    /// and those whose target layer stopped. Without an estimate a subscriber otherwise stays
    /// where it started, on the lowest layer. Each participant is re-selected once, however
    /// many of the tracks it subscribes to (selection covers all its subscriptions).
    pub(super) fn reselect(&mut self, now: Instant, tracks: &[TrackId]) {
        let mut concerned: Vec<ParticipantId> = Vec::new();
        for t in tracks.iter().filter_map(|id| self.tracks.get(id)) {
            if t.config.kind != Kind::Video {
                continue;
            }
            concerned.extend(
                t.subscribers
                    .iter()
                    .filter(|s| {
                        let estimated = self
                            .participants
                            .get(&s.id)
                            .is_some_and(|p| p.estimate_bps.is_some());
                        let stopped = s
                            .sub
                            .target
                            .and_then(|i| t.layers.get(i))
                            .is_some_and(|l| !l.active(now));
                        estimated || stopped
                    })
                    .map(|s| s.id),
            );
        }
        concerned.sort_unstable();
        concerned.dedup();
        for id in concerned {
            self.select_layers(now, id);
        }
    }

    /// The audio `participant` receives, in bits per second (each audio track's signaled
    /// bitrate): forwarded whatever the estimate, so it comes off the estimate first.
    fn audio_bps(&self, participant: ParticipantId) -> u64 {
        self.participants.get(&participant).map_or(0, |p| {
            p.subscribed
                .iter()
                .filter_map(|id| self.tracks.get(id))
                .filter(|t| t.config.kind == Kind::Audio)
                .filter_map(|t| t.layers.first())
                .map(|l| l.bitrate_bps)
                .fold(0, u64::saturating_add)
        })
    }

    /// How `participant`'s estimate divides among its video subscriptions at `now`
    /// ([`allocate`]), after the audio it receives: what selection applies and what probe
    /// goals are measured from.
    pub(super) fn plan_video(&self, now: Instant, participant: ParticipantId) -> VideoPlan {
        let headroom = 100 + self.config.upgrade_headroom_percent;
        let audio_bps = self.audio_bps(participant);
        let p = self.participants.get(&participant);
        let budget = p
            .and_then(|p| p.estimate_bps)
            .map_or(u64::MAX, |bps| bps.saturating_sub(audio_bps));
        // The video subscriptions not paused, each with what it may take, in the order they
        // were made.
        let (tracks, choices): (Vec<TrackId>, Vec<Choice<Step>>) = p
            .map(|p| &p.subscribed[..])
            .unwrap_or_default()
            .iter()
            .filter_map(|id| {
                let t = self
                    .tracks
                    .get(id)
                    .filter(|t| t.config.kind == Kind::Video)?;
                let sub = t.subscriber(participant).filter(|s| !s.paused)?;
                Some((*id, choice(&t.layers, sub, now, headroom)))
            })
            .unzip();
        let allocation = allocate(budget, &choices);
        VideoPlan {
            tracks,
            choices,
            allocation,
            budget,
            audio_bps,
            headroom,
        }
    }

    /// Chooses each video subscription's layer from the participant's bandwidth estimate
    /// and its preferences ([`Router::plan_video`]: floors first, then a layer at a time by
    /// priority and in turns), with hysteresis: moving up needs
    /// [`RouterConfig::upgrade_headroom_percent`] above the next layer's bitrate; moving down
    /// happens as soon as the current one no longer fits. When even the floors do not fit,
    /// each subscription gets fewer of its temporal layers, by its share of the estimate.
    ///
    /// [`RouterConfig::upgrade_headroom_percent`]: super::RouterConfig::upgrade_headroom_percent
    pub(super) fn select_layers(&mut self, now: Instant, participant: ParticipantId) {
        let Some(p) = self.participants.get(&participant) else {
            return;
        };
        let subscribed = p.subscribed.clone();
        let plan = self.plan_video(now, participant);
        let mut requests = Vec::new();
        for track in subscribed {
            let Some(t) = self.tracks.get_mut(&track) else {
                continue;
            };
            if t.config.kind != Kind::Video {
                continue;
            }
            let Track {
                layers,
                subscribers,
                ..
            } = t;
            let Some(sub) = subscribers
                .iter_mut()
                .find(|s| s.id == participant)
                .map(|s| &mut s.sub)
            else {
                continue;
            };
            let target = match plan.tracks.iter().position(|&id| id == track) {
                None => None,
                Some(i) => {
                    let step = plan.step(i);
                    let chosen = step.layer;
                    if sub.target_svc != step.svc {
                        sub.target_svc = step.svc;
                        // More spatial layers of the stream forwarded now start at a keyframe,
                        // and so does a lower one of a `KEY` mode stream (`router/svc.rs`).
                        let key_only = layers.get(chosen).is_some_and(|l| l.svc.mode().key_only);
                        if sub.current == Some(chosen) && (step.svc > sub.current_svc || key_only) {
                            requests.push((track, chosen));
                        }
                    }
                    // A subscriber that cannot afford even its floor gets fewer of its
                    // temporal layers (a lower frame rate) when it has them.
                    let temporal = match (plan.thinned_share(i), layers.get(chosen)) {
                        (Some(share), Some(layer)) => {
                            temporal_fit(layer, share, sub.target_temporal, plan.headroom)
                        }
                        _ => u8::MAX,
                    };
                    sub.target_temporal = temporal.min(sub.max_temporal);
                    Some(chosen)
                }
            };
            if target != sub.target {
                sub.target = target;
                if let Some(layer) = target
                    && sub.current != Some(layer)
                {
                    requests.push((track, layer));
                }
            }
        }
        for (track, layer) in requests {
            self.request_keyframe(now, track, layer);
        }
    }
}
