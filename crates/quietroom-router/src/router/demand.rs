//! Layer demand: the highest spatial layer of each video track that any subscriber would
//! take, so that the application can pause the layers above it at the publisher (simulcast
//! encodings, or the spatial layers of an SVC stream).

use std::time::Instant;

use quietroom_srtp::MediaCrypto;

use super::{Kind, Router, RouterEvent, Track, TrackId};

/// What was announced for a track, and since when a lower demand has held.
#[derive(Debug, Default)]
pub(super) struct Demand {
    /// `None` before the first announcement.
    announced: Option<Option<u8>>,
    lower_since: Option<Instant>,
}

impl<C: MediaCrypto> Router<C> {
    /// The layer demand of `track` as last announced ([`RouterEvent::LayerDemand`]); `None`
    /// for an unknown or audio track, or before the first announcement.
    pub fn layer_demand(&self, track: TrackId) -> Option<Option<u8>> {
        self.tracks.get(&track).and_then(|t| t.demand.announced)
    }

    /// Announces the layer demand of every video track where it changed: a rise at once, a
    /// fall once it has held for [`RouterConfig::layer_demand_hold`].
    ///
    /// [`RouterConfig::layer_demand_hold`]: super::RouterConfig::layer_demand_hold
    pub(super) fn announce_layer_demand(&mut self, now: Instant) {
        let hold = self.config.layer_demand_hold;
        let Router { tracks, events, .. } = self;
        for (id, track) in tracks.iter_mut() {
            if track.config.kind != Kind::Video {
                continue;
            }
            let wanted = track.demand();
            let d = &mut track.demand;
            let announce = match d.announced {
                None => true,
                Some(current) if wanted > current => true,
                Some(current) if wanted < current => {
                    let since = *d.lower_since.get_or_insert(now);
                    now.saturating_duration_since(since) >= hold
                }
                Some(_) => {
                    d.lower_since = None;
                    false
                }
            };
            if announce {
                d.announced = Some(wanted);
                d.lower_since = None;
                events.push_back(RouterEvent::LayerDemand {
                    track: *id,
                    max_spatial: wanted,
                });
            }
        }
    }
}

impl Track {
    /// The highest spatial layer any subscriber asked for (its highest spatial layer, among
    /// those the track has, or the lowest layer when it asked for less than that, as layer
    /// selection then forwards the lowest), `None` when every subscriber paused it or there
    /// is none.
    /// Bandwidth estimates do not lower it: a subscriber held lower by its estimate must be
    /// able to move up when the estimate rises (and probes need the layer sent), and the
    /// publisher's own congestion control already sheds what its uplink cannot carry.
    fn demand(&self) -> Option<u8> {
        // An SVC stream (one layer carrying its spatial layers, `router/svc.rs`): the highest
        // spatial layer (SID) of those seen that any subscriber would take.
        if let [layer] = self.layers.as_slice()
            && let Some(top) = layer.svc.count().checked_sub(1).filter(|&top| top > 0)
        {
            return self
                .subscribers
                .iter()
                .filter(|s| !s.sub.paused)
                .map(|s| s.sub.max_spatial.min(top))
                .max();
        }
        let lowest = self.layers.iter().map(|l| l.spatial).min()?;
        self.subscribers
            .iter()
            .filter(|s| !s.sub.paused)
            .map(|s| {
                self.layers
                    .iter()
                    .map(|l| l.spatial)
                    .filter(|&spatial| spatial <= s.sub.max_spatial)
                    .max()
                    .unwrap_or(lowest)
            })
            .max()
    }
}
