//! The SFU core for large rooms: a sans-IO router that decrypts each published RTP packet
//! once, routes it in memory and re-encrypts it for every subscriber. Media is never written
//! anywhere.
//!
//! - [`Router`] takes `(time, participant, packet)` — SRTP and SRTCP as they came off the
//!   wire — and gives back `(participant, packet)` [`Transmit`]s already protected for their
//!   recipient, timers and [`RouterEvent`]s. It has no sockets and never reads the clock.
//! - Each subscriber sees one continuous stream per track: its own SSRC, sequence numbers,
//!   timestamps and VP8/VP9 picture IDs ([`munger`]), across simulcast layer switches made
//!   on keyframes ([`codec`]), chosen from REMB and transport-wide-cc estimates with
//!   hysteresis, and with the VP8/VP9/AV1 temporal layers it asked for and can afford
//!   ([`Router::set_max_temporal_layer`]). A VP9 stream with its spatial layers in one SSRC
//!   (SVC) is thinned the same way: the layer frames up to the subscriber's spatial layer
//!   (full SVC, `L3T3`), or in a `KEY` mode (`L3T3_KEY`) a key picture up to it and then
//!   only its own layer's frames; the picture's end marked on the last frame it gets.
//! - Repair both ways: NACKs from subscribers are answered from a bounded cache ([`cache`])
//!   over RTX; what a publisher's uplink loses is NACKed ([`nack`]); keyframe requests are
//!   aggregated and throttled. RTCP is parsed with webrtc-rs's `rtc-rtcp` ([`rtcp`]) and
//!   never passed between participants.
//! - For the publisher: padding probes find room above a subscriber's congestion cap, and
//!   [`RouterEvent::LayerDemand`] says which simulcast layers anyone asked for, so the
//!   application can turn the others off at the publisher.
//! - The crypto is a seam: any [`MediaCrypto`](quietroom_srtp::MediaCrypto), by default a
//!   DTLS-SRTP [`SrtpSession`](quietroom_srtp::SrtpSession). The forward path allocates
//!   nothing per packet.
//!
//! `examples/sfu.rs` drives it from one UDP socket with real DTLS-SRTP handshakes.
//!
//! ```
//! use std::time::Instant;
//! use quietroom_router::codec::Codec;
//! use quietroom_router::{
//!     ExtensionIds, Kind, LayerConfig, ParticipantId, Router, RouterConfig, TrackConfig,
//!     TrackId,
//! };
//! use quietroom_srtp::{MediaCrypto, Profile, Role, SrtpConfig, SrtpSession};
//!
//! // In a server each key comes from that participant's DTLS-SRTP handshake.
//! let key = |n: u8| vec![n; 56];
//! let session = |n: u8, role| {
//!     SrtpSession::from_keying_material(Profile::AeadAes128Gcm, &key(n), role, SrtpConfig::default())
//! };
//! let (alice, bob) = (ParticipantId(1), ParticipantId(2));
//! let mut router = Router::new(RouterConfig::default());
//! router.add_participant(alice, session(1, Role::Server)?)?;
//! router.add_participant(bob, session(2, Role::Server)?)?;
//! let video = TrackConfig {
//!     kind: Kind::Video,
//!     codec: Codec::Vp8,
//!     clock_rate: 90_000,
//!     layers: vec![LayerConfig {
//!         ssrc: Some(0xA11CE),
//!         rid: None,
//!         spatial: 0,
//!         bitrate_bps: 1_000_000,
//!         rtx_ssrc: None,
//!     }],
//!     extensions: ExtensionIds::default(),
//!     rtx_payload_type: None,
//!     mid: None,
//! };
//! let now = Instant::now();
//! router.publish(alice, TrackId(1), video)?;
//! router.subscribe(now, bob, TrackId(1), 0xB0B)?;
//!
//! // Alice sends a VP8 keyframe packet, protected with her session.
//! let mut packet = vec![0x80, 96, 0, 1, 0, 0, 0, 0, 0x00, 0x0A, 0x11, 0xCE, 0x10, 0x00];
//! packet.resize(200, 0xAB);
//! let mut alice_side = session(1, Role::Client)?;
//! let len = packet.len();
//! packet.resize(len + alice_side.rtp_overhead(), 0);
//! let n = alice_side.protect_rtp(&mut packet, len)?;
//! router.handle_rtp(now, alice, &mut packet[..n])?;
//!
//! // Alice was asked for a keyframe (SRTCP) when Bob subscribed; Bob gets her packet under
//! // his own SSRC, encrypted for him.
//! let mut out: Vec<_> = std::iter::from_fn(|| router.poll_transmit()).collect();
//! assert!(out.iter().any(|t| t.to == alice && t.rtcp));
//! let mut t = out.pop().expect("forwarded to bob");
//! assert_eq!((t.to, t.rtcp), (bob, false));
//! let mut bob_side = session(2, Role::Client)?;
//! let len = bob_side.unprotect_rtp(&mut t.data)?;
//! assert_eq!(&t.data[8..12], &0xB0Bu32.to_be_bytes());
//! assert_eq!(&t.data[12..len], &packet[12..200]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What the application does around it
//!
//! - **Drive it**: hand it every SRTP/SRTCP datagram ([`Router::handle_rtp`],
//!   [`Router::handle_rtcp`]), send every [`Transmit`] ([`Router::poll_transmit`], then
//!   [`Router::recycle`] the buffer), and call [`Router::handle_timeout`] when
//!   [`Router::poll_timeout`] says.
//! - **Negotiate for bandwidth adaptation**: with RTX and the transport-wide sequence
//!   number extension toward each subscriber (the same extension id as the publisher's),
//!   the router reads the subscriber's transport-wide CC feedback, moves it between layers,
//!   and probes with padding on its RTX stream when a congestion cap holds it down. A
//!   subscriber's REMB is used too; [`Router::set_bandwidth_estimate`] gives an estimate the
//!   application has.
//! - **Act on the events** ([`Router::poll_event`]): [`RouterEvent::TrackEnded`] (tell the
//!   subscribers), [`RouterEvent::ActiveSpeaker`] (the UI, and perhaps a higher
//!   [`Router::set_priority`] for the speaker's video), [`RouterEvent::LayerDemand`]
//!   (turn the publisher's encodings above it off, e.g. `RTCRtpSender.setParameters`);
//!   [`RouterEvent::LayerSwitched`] is informational.
//! - **Pass on what subscribers ask for**: [`Router::set_preferences`] (highest spatial
//!   layer, paused) and [`Router::set_max_temporal_layer`], e.g. from the size of each video
//!   tile, and [`Router::set_priority`] (which tiles the estimate favours, e.g. the active
//!   speaker or a screen share); [`Router::subscription_state`], [`Router::layer_states`]
//!   and [`Router::downlink_state`] show the outcome.
#![forbid(unsafe_code)]

mod error;

pub mod cache;
pub mod codec;
pub mod munger;
pub mod nack;
mod router;
pub mod rtcp;
pub mod rtp;

pub use error::RouterError;
pub use router::{
    DownlinkState, ExtensionIds, Kind, LayerConfig, LayerState, ParticipantId, ROUTER_SSRC, Router,
    RouterConfig, RouterEvent, RouterStats, SubscriptionState, TrackConfig, TrackId, Transmit,
};
