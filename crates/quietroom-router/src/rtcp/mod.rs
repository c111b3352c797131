//! RTCP for the router: the router's view of incoming compound RTCP ([`parse`]), builders for
//! the RTCP the router sends ([`build`]), receiver-side statistics for report blocks
//! ([`receive_stats`]), transport-wide congestion control feedback generation ([`twcc`]), and a
//! bandwidth estimate for choosing simulcast layers ([`bandwidth`]) with its delay-based
//! overuse detector ([`delay`]).
//!
//! Wire encoding and decoding go through webrtc-rs's `rtc-rtcp` so the bytes are exactly
//! webrtc-rs's. Everything here is sans-IO: time is passed in as [`std::time::Instant`] and
//! never read, and every structure is bounded.

pub mod bandwidth;
pub mod build;
pub mod delay;
pub mod parse;
pub mod receive_stats;
pub mod twcc;

pub use bandwidth::{BandwidthEstimate, PathSignal};
pub use delay::{DelayDetector, DelayState};
pub use parse::{Feedback, ReportBlock, parse_compound};
pub use receive_stats::{ReceiveStats, SrInfo};
pub use twcc::{TwccFeedback, TwccRecorder};
