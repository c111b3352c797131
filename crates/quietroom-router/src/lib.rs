//! The SFU core for large rooms (work in progress).
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
    ExtensionIds, Kind, LayerConfig, ParticipantId, ROUTER_SSRC, Router, RouterConfig, RouterEvent,
    RouterStats, TrackConfig, TrackId, Transmit,
};
