//! Per (subscriber, track) sequence-number and timestamp rewriting.
//!
//! A subscriber sees one RTP stream per track (one SSRC, one sequence space, one clock) even
//! though the router feeds it from different simulcast layers over time and leaves some
//! packets out. A [`Munger`] turns each forwarded packet's (layer SSRC, sequence, timestamp)
//! into the subscriber's (sequence, timestamp) so that:
//!
//! * sequence numbers stay continuous across layer switches and across packets the router
//!   chose not to forward ([`Munger::skip`]), while gaps the publisher's own stream had (loss)
//!   are kept so the subscriber can NACK them;
//! * a reordered packet gets the sequence number it would have had in order, even one of the
//!   layer just switched away from (a resend of a packet lost before the switch);
//! * timestamps never move backwards across a switch;
//! * a NACKed output sequence number can be traced back to the input packet
//!   ([`Munger::input_for`]) so the router can answer it from the publisher's
//!   [`PacketCache`](crate::cache::PacketCache).
//!
//! # How it works
//!
//! The approach is the one of mediasoup's `SeqManager` and LiveKit's `rtpmunger`: per layer
//! segment (from one switch to the next) output = input + offset, for sequence numbers and
//! timestamps alike (wrapping). A switch re-anchors both offsets on the first packet of the new
//! layer: its output sequence number is the one after the last output, its output timestamp the
//! last output timestamp plus the wall-clock time elapsed since, in RTP units. A skipped
//! in-order packet decrements the sequence offset for everything after it (mediasoup's "drop",
//! LiveKit's "packet dropped").
//!
//! Like LiveKit's map of offset ranges, the munger keeps the *changes* of the mapping rather
//! than a record per packet: a short list of offset changes (one per anchor and one per skip
//! of the newest packet, each with the output and input number it starts at), and a ring,
//! indexed by output sequence number, of the exceptions to "forwarded in order": numbers
//! reserved for packets lost or late, numbers filled late, and numbers given up by a skip.
//! From these it places late packets, detects duplicates, bounds how late a packet may be
//! (the last [`HISTORY`] sequence numbers, or what [`Munger::with_history`] chose), and
//! answers [`Munger::input_for`] and [`Munger::sent`] for NACKs.
//!
//! An in-order packet writes nothing outside the munger itself. With hundreds of subscribers
//! that matters: a record per packet per subscriber (what this munger kept before) touches a
//! cache line not in cache every few packets for each of them, which cost the router more than
//! all its other bookkeeping (`benches/router.rs`). Everything is allocated by
//! [`Munger::new`]; nothing on the per-packet path allocates, and the work per packet is
//! constant except after an input gap, where the numbers of the missing packets (at most the
//! history) are reserved, and for late packets, which look up the offset changes.

mod changes;
mod picture;
#[cfg(test)]
mod tests;

use changes::{Exception, Fate, Offsets};

pub use picture::{PictureMunger, PictureRewrite};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rtp::timestamp_after;

/// How many recent sequence numbers a [`Munger`] made by [`Munger::new`] remembers: a packet
/// later than this many sequence numbers behind the newest of its layer is dropped as
/// [`Drop::TooOld`], and [`Munger::sent`] answers for the last this many output sequence
/// numbers. [`Munger::with_history`] chooses another size.
pub const HISTORY: usize = 1024;

/// The smallest and largest history [`Munger::with_history`] accepts.
pub const HISTORY_RANGE: std::ops::RangeInclusive<usize> = 16..=16_384;

/// Sequence-number distances below this are "newer" (RFC 3550 style half-range comparison).
const HALF: u16 = 0x8000;

/// The largest timestamp step a switch inserts (about 3.3 hours at 90 kHz): larger steps
/// would make the new timestamp look older than the last one to a receiver comparing
/// timestamps modulo 2^32.
const MAX_TS_STEP: u32 = 0x3FFF_FFFF;

/// Where unwrapped output numbers start, so that small steps back never underflow.
const FIRST_EXT: u64 = 1 << 40;

/// How many offset changes (switches, and skips of packets not yet passed) a [`Munger`]
/// remembers: with fewer than this within its history, it answers for the whole history.
pub const OFFSETS_CAP: usize = 64;

/// How many deselected layers a [`Munger`] remembers the newest packet of.
const RECENT: usize = 4;

/// What to write into a forwarded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// The RTP sequence number the subscriber sees.
    pub sequence: u16,
    /// The RTP timestamp the subscriber sees.
    pub timestamp: u32,
}

/// Why a packet is not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// From a layer this subscriber is not on (save a late packet of the
    /// [previous layer](Munger::previous_source) filling its reserved number), or from the
    /// selected layer but arrived before the switch to it ([`Munger::switch_to`]) — or no
    /// layer is selected yet.
    NotSelected,
    /// From the selected layer but older than its switch point (the first packet mapped after
    /// the switch), or more than [`HISTORY`] sequence numbers behind the newest packet of the
    /// layer, or 2^15 or more ahead of it (indistinguishable from very old). Or a late packet
    /// of the [previous layer](Munger::previous_source) whose timestamp is newer than the
    /// last that layer had forwarded: [`Munger::skip`] then returns its number for padding.
    TooOld,
    /// A duplicate of a packet already forwarded, or of one already [skipped](Munger::skip).
    Duplicate,
}

/// What was forwarded under an output sequence number ([`Munger::sent`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The layer SSRC it came from.
    pub ssrc: u32,
    /// Its input sequence number.
    pub sequence: u16,
    /// Output timestamp = the input packet's timestamp + this (wrapping).
    pub timestamp_offset: u32,
}

/// The layer switched away from last, kept so that its late packets can still fill the
/// numbers reserved for them ([`Munger::previous_source`]).
#[derive(Clone, Copy, Debug)]
struct Previous {
    seg: Segment,
    /// Past this unwrapped output number, every number it reserved has left the history.
    until_ext: u64,
    /// The newest output timestamp when it was switched away from: a late packet must not
    /// be newer, or its timestamp would go past the next layer's first one.
    last_ts: Option<u32>,
}

/// The selected layer and its offsets.
#[derive(Clone, Copy, Debug)]
struct Segment {
    /// The selected layer's SSRC.
    source: u32,
    /// Counts anchors, to tell this segment's [`Offsets`] from older ones.
    id: u32,
    /// Whether the first packet after the switch has fixed the offsets.
    anchored: bool,
    /// Whether the layer was selected again while anchored: its next packet re-anchors it
    /// only if it cannot be placed.
    resync: bool,
    /// The newest input sequence number seen (forwarded or skipped) since the anchor.
    head: u16,
    /// How far `head` has moved since the anchor (saturating).
    advanced: u32,
    /// `head` unwrapped within the segment.
    head_ext: u64,
    /// Output sequence number = input + `seq_offset` for the next in-order packet.
    seq_offset: u16,
    /// Output timestamp = input + `ts_offset`.
    ts_offset: u32,
}

/// Rewrites the packets of one track for one subscriber so that it sees one continuous
/// stream whatever simulcast layer feeds it. See the [module documentation](self).
///
/// Memory, allocated when it is made: 8 bytes per history entry (the exception ring), 8 KiB
/// with [`Munger::new`]'s [`HISTORY`], and 2 KiB for the last [`OFFSETS_CAP`] offset changes
/// (one per switch, and one per [`skip`](Munger::skip) of the newest packet). An in-order
/// packet writes nothing outside the munger itself: the ring is written only on loss, late
/// packets and skips of older packets.
pub struct Munger {
    out_ssrc: u32,
    /// The ring length minus one (the length is a power of two).
    mask: u16,
    segment: Option<Segment>,
    /// The layer switched away from last, while numbers it reserved are within the history.
    previous: Option<Previous>,
    /// Anchors so far.
    anchors: u32,
    /// When the pending switch was requested.
    switched_at: Option<Instant>,
    /// The output sequence number the next in-order packet gets (`None` before the first).
    next_out: Option<u16>,
    /// `next_out` unwrapped: it only moves by small steps, so the unwrapping is exact.
    next_ext: u64,
    /// The output timestamp of the very first packet (`None`: the input's own).
    start_ts: Option<u32>,
    /// The newest output timestamp forwarded, and when.
    last_ts: Option<(u32, Instant)>,
    /// The newest input sequence number of recently deselected layers, so that a layer
    /// selected again never forwards a packet it may have forwarded before.
    recent: [Option<(u32, u16)>; RECENT],
    /// Offset changes, oldest first, pruned once past the history.
    offsets: VecDeque<Offsets>,
    exceptions: Box<[Exception]>,
}

impl std::fmt::Debug for Munger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Munger")
            .field("out_ssrc", &self.out_ssrc)
            .field("segment", &self.segment)
            .field("next_out", &self.next_out)
            .field("last_ts", &self.last_ts.map(|(ts, _)| ts))
            .finish_non_exhaustive()
    }
}

impl Munger {
    /// `out_ssrc` is what the subscriber sees for this track whatever layer feeds it.
    ///
    /// The first packet forwarded keeps its own sequence number and timestamp; use
    /// [`Munger::with_start`] to choose them.
    pub fn new(out_ssrc: u32) -> Self {
        Munger::with_history(out_ssrc, HISTORY)
    }

    /// Like [`Munger::new`] with a history of `history` sequence numbers instead of
    /// [`HISTORY`], rounded up to a power of two and kept within [`HISTORY_RANGE`].
    pub fn with_history(out_ssrc: u32, history: usize) -> Self {
        let history = history
            .clamp(*HISTORY_RANGE.start(), *HISTORY_RANGE.end())
            .next_power_of_two();
        let empty = Exception {
            // Slot i is never asked about output i + 2^32 · k before it is written.
            out: u32::MAX,
            fate: Fate::Skipped,
        };
        Munger {
            out_ssrc,
            mask: u16::try_from(history - 1).unwrap_or(u16::MAX),
            segment: None,
            previous: None,
            anchors: 0,
            switched_at: None,
            next_out: None,
            next_ext: 0,
            start_ts: None,
            last_ts: None,
            recent: [None; RECENT],
            offsets: VecDeque::with_capacity(OFFSETS_CAP),
            exceptions: vec![empty; history].into_boxed_slice(),
        }
    }

    /// Like [`Munger::new`], but the first packet forwarded gets output sequence number
    /// `sequence` and timestamp `timestamp` (e.g. random ones, so a subscriber learns nothing
    /// from them about the publisher's stream).
    pub fn with_start(out_ssrc: u32, sequence: u16, timestamp: u32) -> Self {
        let mut munger = Munger::new(out_ssrc);
        munger.set_next_out(sequence);
        munger.start_ts = Some(timestamp);
        munger
    }

    /// The SSRC the subscriber sees for this track.
    pub fn out_ssrc(&self) -> u32 {
        self.out_ssrc
    }

    /// How many sequence numbers it remembers (a power of two).
    pub fn history(&self) -> usize {
        usize::from(self.mask) + 1
    }

    /// The layer selected by the last [`Munger::switch_to`], if any (even if none of its
    /// packets has been mapped yet).
    pub fn current_source(&self) -> Option<u32> {
        self.segment.map(|s| s.source)
    }

    /// The layer selected before the current one, while numbers it reserved (for its packets
    /// lost or late when the switch came) are within the history.
    ///
    /// A late packet of that layer — typically the publisher's resend of a packet its uplink
    /// lost just before the switch — still belongs where it was reserved: [`Munger::map`]
    /// gives it that number (the subscriber would otherwise see a hole it can only NACK,
    /// and no resend ever fills), and [`Munger::skip`] returns it for padding. Its packets
    /// newer than the switch, and those whose number is not reserved, stay
    /// [`Drop::NotSelected`] and [`Drop::Duplicate`]. So the router passes a packet of a
    /// layer the subscriber is not on to the munger only when [`Munger::late_of_previous`]
    /// says it may fill a number.
    #[inline]
    pub fn previous_source(&self) -> Option<u32> {
        self.previous
            .filter(|p| self.next_ext <= p.until_ext)
            .map(|p| p.seg.source)
    }

    /// Whether packet `sequence` of layer `source_ssrc` is newer than every packet of that
    /// layer seen since it was selected (or the first since): where the router may change
    /// what it forwards of the layer (its temporal or SVC spatial layers), not at a late
    /// packet, whose frame was decided before.
    pub fn is_newest(&self, source_ssrc: u32, sequence: u16) -> bool {
        self.segment.is_some_and(|seg| {
            let ahead = sequence.wrapping_sub(seg.head);
            seg.source == source_ssrc && (!seg.anchored || (ahead != 0 && ahead < HALF))
        })
    }

    /// Whether packet `sequence` of layer `source_ssrc` is of the
    /// [previous layer](Munger::previous_source), between its switch point and the last
    /// packet of it seen before the switch away: only such a packet can fill a number
    /// reserved for it. A cheap test, for the router to leave the others out before any
    /// other work.
    #[inline]
    pub fn late_of_previous(&self, source_ssrc: u32, sequence: u16) -> bool {
        self.previous.is_some_and(|p| {
            let behind = p.seg.head.wrapping_sub(sequence);
            p.seg.source == source_ssrc
                && self.next_ext <= p.until_ext
                && u32::from(behind) <= p.seg.advanced
                && usize::from(behind) < self.history()
        })
    }

    /// Makes `source_ssrc` (a simulcast layer) the stream forwarded from now on.
    ///
    /// Call it when a keyframe of that layer arrives (the router decides when), before mapping
    /// that keyframe's first packet. From then on packets of other layers are
    /// [`Drop::NotSelected`]; the next packet of `source_ssrc` passed to [`Munger::map`] is the
    /// *switch point*: it continues the output sequence with no gap, and its output timestamp
    /// is the last output timestamp plus the time elapsed since that was forwarded (measured to
    /// the later of `now` and the switch point's arrival), in RTP units and at least 1. Packets
    /// of the layer older than the switch point are then [`Drop::TooOld`]. If the layer was
    /// selected before (one of the last few deselected), a packet not newer than the newest
    /// one seen in that earlier selection (within [`HISTORY`]) cannot be the switch point
    /// either: it is [`Drop::TooOld`], so no packet is forwarded twice under two numbers.
    ///
    /// Calling it for the layer already selected changes nothing if the layer's next packet
    /// is within [`HISTORY`] of the newest one, ahead or behind; otherwise (the
    /// publisher jumped its sequence numbers, e.g. after a restart) that packet re-anchors the
    /// layer as above. So the router may call it on every keyframe of the selected layer.
    pub fn switch_to(&mut self, source_ssrc: u32, now: Instant) {
        self.switched_at = Some(now);
        if let Some(seg) = self.segment.as_mut()
            && seg.source == source_ssrc
            && seg.anchored
        {
            seg.resync = true;
            return;
        }
        if let Some(seg) = self.segment
            && seg.anchored
        {
            self.remember(seg.source, seg.head);
            self.previous = Some(Previous {
                seg,
                until_ext: self.next_ext + self.history() as u64,
                last_ts: self.last_ts.map(|(ts, _)| ts),
            });
        }
        if self.previous.is_some_and(|p| p.seg.source == source_ssrc) {
            // Selected again: its packets are judged by the new segment.
            self.previous = None;
        }
        self.segment = Some(Segment {
            source: source_ssrc,
            id: self.anchors,
            head_ext: FIRST_EXT,
            anchored: false,
            resync: false,
            head: 0,
            advanced: 0,
            seq_offset: 0,
            ts_offset: 0,
        });
    }

    /// Maps an incoming packet of layer `source_ssrc` with RTP `sequence` and `timestamp`,
    /// arrived at `now` on a clock of `clock_rate` Hz, to what the subscriber sees, or says why
    /// it is not forwarded.
    ///
    /// Within the selected layer, after the switch point, output sequence = input sequence +
    /// offset, where the offset only changes by [`Munger::skip`]: a reordered packet gets the
    /// number it would have had in order, a gap in the input stays a gap in the output, and
    /// in-order packets get consecutive numbers (modulo 2^16). No output sequence number is
    /// given to two different input packets (within the last 2^15). A packet of the
    /// [previous layer](Munger::previous_source) is mapped only into a number reserved for
    /// it. An `Ok` packet counts as
    /// forwarded: if the router then decides not to send it, it must call [`Munger::skip`].
    #[inline]
    pub fn map(
        &mut self,
        source_ssrc: u32,
        sequence: u16,
        timestamp: u32,
        now: Instant,
        clock_rate: u32,
    ) -> Result<Rewrite, Drop> {
        // The common case, small enough to inline: the next packet of the selected layer,
        // in order, after the anchor. The same steps as `map_other`'s, on the munger's fields
        // in place: the head moves on by one and the output follows it.
        if let Some(seg) = self.segment.as_mut()
            && seg.source == source_ssrc
            && seg.anchored
            && !seg.resync
            && sequence.wrapping_sub(seg.head) == 1
        {
            // `advance` by one, with no gap to reserve numbers for.
            seg.head = sequence;
            seg.head_ext += 1;
            seg.advanced = seg.advanced.saturating_add(1);
            let out = sequence.wrapping_add(seg.seq_offset);
            let ts_offset = seg.ts_offset;
            self.set_next_out(out.wrapping_add(1));
            return Ok(self.forwarded(out, timestamp.wrapping_add(ts_offset), now));
        }
        self.map_other(source_ssrc, sequence, timestamp, now, clock_rate)
    }

    /// [`Munger::map`] for the rest: the first packet after a switch, a gap, a late or
    /// duplicate packet, another layer.
    #[inline(never)]
    fn map_other(
        &mut self,
        source_ssrc: u32,
        sequence: u16,
        timestamp: u32,
        now: Instant,
        clock_rate: u32,
    ) -> Result<Rewrite, Drop> {
        let Some(mut seg) = self.segment else {
            return Err(Drop::NotSelected);
        };
        if seg.source != source_ssrc {
            let (out, ts) =
                self.fill_previous(source_ssrc, sequence, timestamp, Fate::FilledLate)?;
            return Ok(self.forwarded(out, ts, now));
        }
        if seg.resync {
            seg.resync = false;
            seg.anchored = placeable(&seg, sequence, self.history());
        }
        let out = if !seg.anchored {
            if let Some(i) = self
                .recent
                .iter()
                .position(|r| r.is_some_and(|(s, _)| s == source_ssrc))
            {
                if let Some(Some((_, head))) = self.recent.get(i)
                    && usize::from(head.wrapping_sub(sequence)) < self.history()
                {
                    return Err(Drop::TooOld);
                }
                if let Some(r) = self.recent.get_mut(i) {
                    *r = None;
                }
            }
            let out = self.next_out.unwrap_or(sequence);
            let target_ts = match self.last_ts {
                Some((last, at)) => {
                    let until = self.switched_at.map_or(now, |s| s.max(now));
                    let step = rtp_units(until.saturating_duration_since(at), clock_rate);
                    last.wrapping_add(step.max(1))
                }
                None => self.start_ts.unwrap_or(timestamp),
            };
            self.anchors = self.anchors.wrapping_add(1);
            seg.id = self.anchors;
            seg.anchored = true;
            seg.head = sequence;
            seg.head_ext = FIRST_EXT;
            seg.advanced = 0;
            seg.seq_offset = out.wrapping_sub(sequence);
            seg.ts_offset = target_ts.wrapping_sub(timestamp);
            self.set_next_out(out);
            self.push_offsets(&seg, FIRST_EXT, false);
            self.set_next_out(out.wrapping_add(1));
            out
        } else {
            let ahead = sequence.wrapping_sub(seg.head);
            if ahead == 0 {
                return Err(Drop::Duplicate);
            }
            if ahead < HALF {
                self.advance(&mut seg, sequence, ahead);
                let out = sequence.wrapping_add(seg.seq_offset);
                self.set_next_out(out.wrapping_add(1));
                out
            } else {
                let (out, ext) = self.late_output(&seg, sequence)?;
                match self.exception(ext) {
                    Some(Fate::Expected) => {
                        self.set_exception(ext, Fate::FilledLate);
                        out
                    }
                    // Forwarded in order, filled late, or skipped.
                    _ => return Err(Drop::Duplicate),
                }
            }
        };
        self.segment = Some(seg);
        Ok(self.forwarded(out, timestamp.wrapping_add(seg.ts_offset), now))
    }

    /// A packet goes out as `sequence` with timestamp `ts` at `now`: the newest output
    /// timestamp moves on if `ts` is newer.
    #[inline]
    fn forwarded(&mut self, sequence: u16, ts: u32, now: Instant) -> Rewrite {
        if self
            .last_ts
            .is_none_or(|(last, _)| timestamp_after(ts, last))
        {
            self.last_ts = Some((ts, now));
        }
        Rewrite {
            sequence,
            timestamp: ts,
        }
    }

    /// Leaves out a packet of the selected layer that the router decided not to forward (e.g.
    /// a padding-only packet, or a temporal layer above the subscriber's).
    ///
    /// The exact contract, by where `sequence` stands relative to the newest packet of the
    /// layer seen since the switch point (the *head*):
    ///
    /// * **newer than the head** (the packet was not passed to [`Munger::map`]): it becomes the
    ///   head and takes no output sequence number — the next in-order packet gets the number it
    ///   would have had (the output closes the gap; later packets shift down by one);
    /// * **the head itself**, just returned `Ok` by [`Munger::map`]: its output sequence number
    ///   is taken back and given to the next in-order packet; the router must not send it;
    /// * **older than the head** (a reordered packet, mapped or not): it is marked as skipped so
    ///   a copy is not forwarded later, but its output sequence number was reserved when a newer
    ///   packet passed it and stays unused; [`Munger::input_for`] no longer answers for it.
    ///   `skip` returns that number: the caller fills it with a padding-only packet, or the
    ///   subscriber sees it as lost and asks for it again and again. (This is what a packet
    ///   lost upstream and resent late leaves behind when its temporal layer is one the
    ///   subscriber does not get.)
    ///
    /// A late packet of the [previous layer](Munger::previous_source) whose number is still
    /// reserved is marked skipped too, and its number returned. It does nothing (and returns
    /// `None`) for another layer, before the switch point has been mapped, for a packet
    /// already skipped, or for one too old to place.
    #[must_use = "an output sequence number left unused needs a padding packet, or the \
                  subscriber waits for it"]
    pub fn skip(&mut self, source_ssrc: u32, sequence: u16) -> Option<u16> {
        let mut seg = self.segment?;
        if seg.source != source_ssrc {
            return self
                .fill_previous(source_ssrc, sequence, 0, Fate::Skipped)
                .ok()
                .map(|(out, _)| out);
        }
        if !seg.anchored || (seg.resync && !placeable(&seg, sequence, self.history())) {
            return None;
        }
        let ahead = sequence.wrapping_sub(seg.head);
        if ahead != 0 && ahead < HALF {
            // Newer than the head: it takes no number, and later packets shift down by one.
            self.advance(&mut seg, sequence, ahead);
            let out = sequence.wrapping_add(seg.seq_offset);
            seg.seq_offset = seg.seq_offset.wrapping_sub(1);
            self.set_next_out(out);
            self.push_offsets(&seg, seg.head_ext + 1, true);
        } else if ahead == 0 {
            // The head, just mapped: its number goes to the next in-order packet.
            let Ok((out, ext)) = self.late_output(&seg, sequence) else {
                return None;
            };
            if self.exception(ext) == Some(Fate::Skipped) {
                return None;
            }
            seg.seq_offset = seg.seq_offset.wrapping_sub(1);
            self.set_next_out(out);
            self.push_offsets(&seg, seg.head_ext + 1, true);
        } else {
            // Older: its number stays unused, for the caller to fill.
            let Ok((out, ext)) = self.late_output(&seg, sequence) else {
                return None;
            };
            if self.exception(ext) == Some(Fate::Skipped) {
                return None;
            }
            self.set_exception(ext, Fate::Skipped);
            return Some(out);
        }
        self.segment = Some(seg);
        None
    }

    /// Reverse map for NACKs: which input (source SSRC, sequence number) produced output
    /// `sequence`, or would have produced it — a number reserved for an input packet that was
    /// lost or is late also answers, so the router can resend it from the publisher's cache.
    /// `None` for numbers more than [`history`](Self::history) behind the newest output, not
    /// yet used, or given up by [`Munger::skip`].
    pub fn input_for(&self, sequence: u16) -> Option<(u32, u16)> {
        self.lookup(sequence)
            .map(|(sent, _)| (sent.ssrc, sent.sequence))
    }

    /// What was forwarded under output `sequence`: what a retransmission must repeat. `None`
    /// where [`input_for`](Self::input_for) is, and for numbers reserved for a packet never
    /// forwarded.
    pub fn sent(&self, sequence: u16) -> Option<Sent> {
        self.lookup(sequence)
            .filter(|&(_, fate)| fate != Some(Fate::Expected))
            .map(|(sent, _)| sent)
    }

    /// What a NACK for output `sequence` can be answered with: what [`sent`](Self::sent)
    /// says, or, for a number reserved for a packet not forwarded, that packet (the router
    /// resends it if its cache has it). A reserved number whose packet reached the router
    /// only stays unfilled when the packet came before the switch point it belongs after: a
    /// layer switch on a keyframe whose first packet was lost upstream and resent late, after
    /// the rest of the keyframe. `None` where [`input_for`](Self::input_for) is `None`.
    pub fn for_nack(&self, sequence: u16) -> Option<Sent> {
        self.lookup(sequence).map(|(sent, _)| sent)
    }

    /// For output `sequence`, filled with a padding-only packet (its number was kept for a
    /// packet that was then left out: [`Munger::skip`] returned it), that packet. A NACK for
    /// it is answered with the filler again: a receiver that finds frames by sequence number
    /// alone (AV1 without a dependency descriptor, H.264) waits for the gap to close.
    pub fn filled(&self, sequence: u16) -> Option<Sent> {
        self.given(sequence)
            .filter(|&(_, fate)| fate == Some(Fate::Skipped))
            .map(|(sent, _)| sent)
    }

    /// The output number (and unwrapped) of `sequence`, which is not newer than the head of
    /// `seg`, if it can be placed (after the switch point, within the history, not skipped
    /// without a number).
    fn late_output(&self, seg: &Segment, sequence: u16) -> Result<(u16, u64), Drop> {
        let behind = seg.head.wrapping_sub(sequence);
        if usize::from(behind) >= self.history() || u32::from(behind) > seg.advanced {
            return Err(Drop::TooOld);
        }
        let at = seg.head_ext.saturating_sub(u64::from(behind));
        let mut offset = None;
        for e in self
            .offsets
            .iter()
            .rev()
            .skip_while(|e| e.segment != seg.id)
            .take_while(|e| e.segment == seg.id)
        {
            if e.skipped && e.first_in == at + 1 {
                return Err(Drop::Duplicate);
            }
            // The entry applies if it starts at or before `sequence` (an entry may start just
            // after the head, when the head was skipped).
            if offset.is_none() && e.first_in <= at {
                offset = Some(e.seq_offset);
            }
        }
        let out = sequence.wrapping_add(offset.ok_or(Drop::TooOld)?);
        let next = self.next_out.ok_or(Drop::TooOld)?;
        let back = next.wrapping_sub(out);
        if back == 0 || back >= HALF {
            // Not given out: only a packet skipped without a number lands here.
            return Err(Drop::Duplicate);
        }
        if usize::from(back) > self.history() {
            // Left the history (only a packet of the previous layer gets this far).
            return Err(Drop::TooOld);
        }
        let ext = self
            .next_ext
            .checked_sub(u64::from(back))
            .ok_or(Drop::TooOld)?;
        Ok((out, ext))
    }

    /// Gives a late packet of the [previous layer](Munger::previous_source) `fate`
    /// ([`Fate::FilledLate`] or [`Fate::Skipped`]) if its number is still reserved: its
    /// output number and timestamp (from input `timestamp`). It is not filled
    /// ([`Drop::TooOld`]) if its timestamp would be newer than the previous layer's newest:
    /// the caller may [`skip`](Munger::skip) it, for padding.
    fn fill_previous(
        &mut self,
        source_ssrc: u32,
        sequence: u16,
        timestamp: u32,
        fate: Fate,
    ) -> Result<(u16, u32), Drop> {
        let Some(prev) = self
            .previous
            .filter(|_| self.late_of_previous(source_ssrc, sequence))
        else {
            return Err(Drop::NotSelected);
        };
        let (out, ext) = self.late_output(&prev.seg, sequence)?;
        // A skip also takes back a number just filled (the `map` then `skip` contract).
        let open = match self.exception(ext) {
            Some(Fate::Expected) => true,
            Some(Fate::FilledLate) => fate == Fate::Skipped,
            _ => false,
        };
        if !open {
            return Err(Drop::Duplicate);
        }
        let ts = timestamp.wrapping_add(prev.seg.ts_offset);
        if fate == Fate::FilledLate && prev.last_ts.is_some_and(|last| timestamp_after(ts, last)) {
            return Err(Drop::TooOld);
        }
        self.set_exception(ext, fate);
        Ok((out, ts))
    }

    /// Notes that layer `source` was deselected with `head` its newest input.
    fn remember(&mut self, source: u32, head: u16) {
        let slot = self
            .recent
            .iter()
            .position(|r| r.is_none_or(|(s, _)| s == source))
            .unwrap_or_else(|| {
                self.recent.rotate_left(1);
                RECENT - 1
            });
        if let Some(r) = self.recent.get_mut(slot) {
            *r = Some((source, head));
        }
    }

    /// Moves the head of `seg` to `sequence`, `ahead` (in 1..2^15) past it, reserving output
    /// numbers for the input numbers in between (the most recent `history - 1` of them).
    fn advance(&mut self, seg: &mut Segment, sequence: u16, ahead: u16) {
        let gap = ahead - 1;
        let fill = gap.min(self.mask);
        if fill > 0 {
            // The reserved numbers end just before `sequence`'s own.
            let own = sequence.wrapping_add(seg.seq_offset);
            let base = self.ext_of_next(own);
            for back in 1..=u64::from(fill) {
                self.set_exception(base - back, Fate::Expected);
            }
        }
        seg.head = sequence;
        seg.head_ext += u64::from(ahead);
        seg.advanced = seg.advanced.saturating_add(u32::from(ahead));
    }

    /// The unwrapped form of `out`, which is at or a little ahead of the next output number.
    fn ext_of_next(&self, out: u16) -> u64 {
        match self.next_out {
            Some(next) => self
                .next_ext
                .wrapping_add(i64::from(out.wrapping_sub(next) as i16) as u64),
            None => FIRST_EXT + u64::from(out),
        }
    }

    /// Moves the next output number to `out` (a small step either way), keeping it unwrapped.
    fn set_next_out(&mut self, out: u16) {
        self.next_ext = self.ext_of_next(out);
        self.next_out = Some(out);
    }
}

/// Whether `sequence` is close enough to the head of `seg` (within `history`, ahead or
/// behind) to be judged against the current anchor rather than re-anchor the layer.
fn placeable(seg: &Segment, sequence: u16, history: usize) -> bool {
    let ahead = sequence.wrapping_sub(seg.head);
    let behind = seg.head.wrapping_sub(sequence);
    usize::from(ahead) < history || usize::from(behind) < history
}

/// `elapsed` in units of a `clock_rate` Hz clock, capped at [`MAX_TS_STEP`].
fn rtp_units(elapsed: Duration, clock_rate: u32) -> u32 {
    let units = elapsed.as_nanos().saturating_mul(u128::from(clock_rate)) / 1_000_000_000;
    u32::try_from(units).map_or(MAX_TS_STEP, |u| u.min(MAX_TS_STEP))
}
