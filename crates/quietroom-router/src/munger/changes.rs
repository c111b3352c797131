//! The munger's log of its mapping: where the offsets change (one entry per anchor and per
//! skip that takes a number back), and the ring of exceptions to "forwarded in order"
//! (numbers reserved for packets lost or late, filled late, or given up), indexed by output
//! sequence number. From these the munger places late packets and answers what an output
//! number carried; an in-order packet writes to neither.

use super::{Munger, OFFSETS_CAP, Segment, Sent};

/// What an output sequence number became, when that is not simply "forwarded in order".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// Reserved for an input packet not seen yet (lost or late).
    Expected,
    /// Forwarded late, into its reserved number.
    FilledLate,
    /// Given up by [`Munger::skip`]: never used.
    Skipped,
}

/// One slot of the exception ring, indexed by output sequence number.
#[derive(Clone, Copy, Debug)]
pub(super) struct Exception {
    /// The low 32 bits of the unwrapped output number this slot describes.
    pub(super) out: u32,
    pub(super) fate: Fate,
}

/// Where the mapping from input to output changes: at each anchor (a switch or a re-anchor)
/// and at each skip that takes a number back. From `first_out` on, output = input +
/// `seq_offset` and output timestamp = input timestamp + `ts_offset`, until the next entry.
#[derive(Clone, Copy, Debug)]
pub(super) struct Offsets {
    /// The unwrapped output number the entry starts at.
    pub(super) first_out: u64,
    /// The unwrapped input number it starts at (counted like [`Segment::head_ext`]).
    pub(super) first_in: u64,
    /// The segment (anchor) it belongs to.
    pub(super) segment: u32,
    /// The layer SSRC.
    pub(super) source: u32,
    pub(super) seq_offset: u16,
    pub(super) ts_offset: u32,
    /// The input skipped (without an output number) just before `first_in`, if that is why
    /// the entry exists.
    pub(super) skipped: bool,
}

impl Munger {
    /// The input and offsets output `sequence` stands for, and its fate, unless it is out of
    /// the history, not given out yet, or given up by [`Munger::skip`].
    pub(super) fn lookup(&self, sequence: u16) -> Option<(Sent, Option<Fate>)> {
        self.given(sequence)
            .filter(|&(_, fate)| fate != Some(Fate::Skipped))
    }

    /// The input packet output `sequence` was given to (as [`lookup`](Self::lookup)) and
    /// its fate, skipped ones included.
    pub(super) fn given(&self, sequence: u16) -> Option<(Sent, Option<Fate>)> {
        let (entry, ext) = self.entry_for(sequence)?;
        let sent = Sent {
            ssrc: entry.source,
            sequence: sequence.wrapping_sub(entry.seq_offset),
            timestamp_offset: entry.ts_offset,
        };
        Some((sent, self.exception(ext)))
    }

    /// The offsets in force at output `sequence` and the unwrapped number, if `sequence` has
    /// been given out and is within the history.
    pub(super) fn entry_for(&self, sequence: u16) -> Option<(&Offsets, u64)> {
        let next = self.next_out?;
        let behind = next.wrapping_sub(sequence);
        if behind == 0 || usize::from(behind) > self.history() {
            return None;
        }
        let ext = self.next_ext.checked_sub(u64::from(behind))?;
        let entry = self.offsets.iter().rev().find(|e| e.first_out <= ext)?;
        Some((entry, ext))
    }

    /// Records that the mapping changes from unwrapped input `first_in` of `seg` on (at the
    /// next output number), `skipped` if the input before it was skipped without a number,
    /// and forgets changes that have left the history.
    pub(super) fn push_offsets(&mut self, seg: &Segment, first_in: u64, skipped: bool) {
        // An entry is dropped once the next one starts two histories back: then no output
        // number it covers is within the history, nor any input number a late packet could
        // have (inputs are never closer together than their outputs).
        let keep = 2 * self.history() as u64;
        while self.offsets.len() >= 2
            && self
                .offsets
                .get(1)
                .is_some_and(|e| e.first_out.saturating_add(keep) <= self.next_ext)
        {
            self.offsets.pop_front();
        }
        if self.offsets.len() >= OFFSETS_CAP {
            // Many skips: the oldest change goes early. Outputs it covered then answer `None`
            // and late packets it covered are `TooOld` (entries only ever go from the front,
            // so nothing is answered wrongly).
            self.offsets.pop_front();
        }
        self.offsets.push_back(Offsets {
            first_out: self.next_ext,
            first_in,
            segment: seg.id,
            source: seg.source,
            seq_offset: seg.seq_offset,
            ts_offset: seg.ts_offset,
            skipped,
        });
    }

    pub(super) fn exception(&self, ext: u64) -> Option<Fate> {
        let slot = self.exceptions.get(usize::from(ext as u16 & self.mask))?;
        (slot.out == ext as u32).then_some(slot.fate)
    }

    pub(super) fn set_exception(&mut self, ext: u64, fate: Fate) {
        if let Some(slot) = self.exceptions.get_mut(usize::from(ext as u16 & self.mask)) {
            *slot = Exception {
                out: ext as u32,
                fate,
            };
        }
    }
}
