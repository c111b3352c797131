//! Settings of the router and descriptions of published tracks.

use std::time::Duration;

use crate::codec::Codec;

/// Identifies a participant (a peer connection) of the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u64);

/// Identifies a published track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(pub u64);

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Audio: one layer, no keyframes, audio level drives active-speaker detection.
    Audio,
    /// Video: up to three simulcast layers, switched on keyframes.
    Video,
}

/// One simulcast layer (or the only encoding) of a published track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerConfig {
    /// The SSRC the publisher sends this layer with, when signaled; `None` to learn it from
    /// the RID header extension.
    pub ssrc: Option<u32>,
    /// The RID (RFC 8851) of this layer, if simulcast is negotiated with RIDs.
    pub rid: Option<String>,
    /// Spatial index: 0 is the lowest resolution.
    pub spatial: u8,
    /// The bitrate this layer needs, in bits per second, for layer selection. For an audio
    /// track, what its one layer takes off each subscriber's estimate before video is
    /// divided (e.g. 40 000 for Opus voice); 0 leaves the whole estimate to video.
    pub bitrate_bps: u64,
    /// The SSRC of the publisher's RTX stream (RFC 4588) for this layer, when signaled
    /// (`a=ssrc-group:FID`); with RID simulcast it is learned from the repaired-RID header
    /// extension. With RTX the router NACKs what the publisher's uplink lost
    /// ([`RouterConfig::publisher_nack_retries`]).
    pub rtx_ssrc: Option<u32>,
}

/// The RTP header extension ids negotiated for a track (RFC 8285), where present.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtensionIds {
    /// RFC 6464 audio level.
    pub audio_level: Option<u8>,
    /// Transport-wide congestion control sequence number. Set it on every track of a
    /// publisher whose session negotiated it (audio too): the router gives each copy the
    /// subscriber's own number in place of the publisher's, and a copy of a track without it
    /// would carry the publisher's number to the subscriber, whose feedback would then
    /// report on numbers the router never sent it. The subscriber must have negotiated the
    /// same id.
    pub transport_cc: Option<u8>,
    /// RID (RFC 8852).
    pub rid: Option<u8>,
    /// Repaired RID (RFC 8852): names the layer an RTX stream repairs.
    pub repaired_rid: Option<u8>,
    /// MID (RFC 8843): names the track (the m-line) a packet belongs to.
    pub mid: Option<u8>,
}

/// What a publisher announced for a track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackConfig {
    /// Audio or video.
    pub kind: Kind,
    /// The codec, for keyframe detection.
    pub codec: Codec,
    /// RTP clock rate (48 000 for Opus, 90 000 for video).
    pub clock_rate: u32,
    /// The layers, lowest first; one for audio or non-simulcast video, at most three.
    pub layers: Vec<LayerConfig>,
    /// Header extension ids.
    pub extensions: ExtensionIds,
    /// The track's MID (RFC 8843, `a=mid:`), when BUNDLE is negotiated with the MID header
    /// extension. With it, packets with unsignaled SSRCs are told apart by track (two
    /// simulcast tracks may use the same RIDs), and a track of one layer needs neither SSRC
    /// nor RID.
    pub mid: Option<String>,
    /// The payload type of the publisher's RTX streams (RFC 4588, `a=fmtp:N apt=…`), when
    /// RTX is negotiated. With it the router NACKs what the publisher's uplink lost even
    /// before it has seen an RTX stream (RID simulcast learns their SSRCs from the first
    /// retransmission); [`LayerConfig::rtx_ssrc`] alone also turns this on.
    pub rtx_payload_type: Option<u8>,
}

/// Bounds and timings of the router.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouterConfig {
    /// Most participants.
    pub max_participants: usize,
    /// Most tracks one participant publishes.
    pub max_tracks_per_participant: usize,
    /// Packets kept per video layer to answer NACKs.
    pub nack_cache_packets: usize,
    /// How long a packet stays answerable.
    pub nack_cache_age: Duration,
    /// Resends per packet at most.
    pub max_resends: u8,
    /// Keyframe requests sent to a publisher for one layer at most this often (subscribers'
    /// PLI/FIR are aggregated into one).
    pub keyframe_request_interval: Duration,
    /// While a subscriber waits for the keyframe of a layer it is to switch to, the request
    /// is repeated this often: the request or its keyframe may have been lost, or the
    /// publisher may have let it pass (mediasoup's keyframe request manager waits 1 s too).
    pub keyframe_retry_interval: Duration,
    /// How often receiver reports go to publishers and sender reports to subscribers.
    pub report_interval: Duration,
    /// How often transport-wide CC feedback goes to publishers.
    pub twcc_interval: Duration,
    /// How often the active speaker is re-evaluated.
    pub speaker_interval: Duration,
    /// Hysteresis for layer selection: move up only when the estimate exceeds the next
    /// layer's bitrate by this factor (percent above 100).
    pub upgrade_headroom_percent: u64,
    /// Largest RTP packet handled, in bytes (buffers are this size plus SRTP overhead).
    pub max_packet: usize,
    /// How many times a packet the publisher's uplink lost is NACKed (once at once, then
    /// once per round trip), for video layers with RTX; 0 turns publisher NACKs off. A gap
    /// larger than [`nack_cache_packets`](Self::nack_cache_packets) asks for a keyframe
    /// instead.
    pub publisher_nack_retries: u8,
    /// Probe for bandwidth above a subscriber's congestion cap with padding on its RTX
    /// stream, when the cap holds it below layers it wants (RTX and the transport-wide
    /// sequence number extension must be negotiated).
    pub bandwidth_probing: bool,
    /// How long a lower layer demand must hold before [`RouterEvent::LayerDemand`] announces
    /// it (a rise is announced at once): a publisher should not toggle its layers with every
    /// dip of a subscriber's estimate.
    ///
    /// [`RouterEvent::LayerDemand`]: super::RouterEvent::LayerDemand
    pub layer_demand_hold: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            max_participants: 1000,
            max_tracks_per_participant: 8,
            nack_cache_packets: 512,
            nack_cache_age: Duration::from_secs(2),
            max_resends: 3,
            keyframe_request_interval: Duration::from_millis(500),
            keyframe_retry_interval: Duration::from_secs(1),
            report_interval: Duration::from_secs(1),
            twcc_interval: Duration::from_millis(100),
            speaker_interval: Duration::from_millis(300),
            upgrade_headroom_percent: 20,
            max_packet: 1500,
            publisher_nack_retries: 10,
            bandwidth_probing: true,
            layer_demand_hold: Duration::from_secs(5),
        }
    }
}
