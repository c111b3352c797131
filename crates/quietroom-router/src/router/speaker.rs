//! Active-speaker detection from the RFC 6464 audio level header extension.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::ParticipantId;

/// Loudness (127 − level, so larger is louder) below which a participant counts as silent:
/// quieter than −60 dBov.
const SILENCE: u32 = 127 - 60;
/// Intervals in a row a participant must be loudest before becoming the active speaker
/// (hysteresis against flapping).
const CONFIRMATIONS: u8 = 2;

#[derive(Default)]
struct Accumulator {
    loudness_sum: u32,
    packets: u32,
}

/// Averages each participant's audio level over an interval and names the loudest one,
/// with hysteresis.
pub(super) struct SpeakerDetector {
    interval: Duration,
    window_start: Option<Instant>,
    levels: HashMap<ParticipantId, Accumulator>,
    current: Option<ParticipantId>,
    candidate: Option<(ParticipantId, u8)>,
}

impl SpeakerDetector {
    pub(super) fn new(interval: Duration) -> Self {
        SpeakerDetector {
            interval,
            window_start: None,
            levels: HashMap::new(),
            current: None,
            candidate: None,
        }
    }

    /// Records one audio packet's level: `(voice activity, level in −dBov)`.
    pub(super) fn record(
        &mut self,
        now: Instant,
        participant: ParticipantId,
        (voice, level): (bool, u8),
    ) {
        self.window_start.get_or_insert(now);
        let entry = self.levels.entry(participant).or_default();
        let loudness = if voice {
            127u32.saturating_sub(u32::from(level.min(127)))
        } else {
            0
        };
        entry.loudness_sum = entry.loudness_sum.saturating_add(loudness);
        entry.packets = entry.packets.saturating_add(1);
    }

    /// When the current interval ends.
    pub(super) fn next_evaluation(&self) -> Option<Instant> {
        self.window_start.map(|t| t + self.interval)
    }

    /// Closes the interval if it is over; returns a newly confirmed active speaker.
    pub(super) fn evaluate(&mut self, now: Instant) -> Option<ParticipantId> {
        let start = self.window_start?;
        if now.saturating_duration_since(start) < self.interval {
            return None;
        }
        self.window_start = None;
        let loudest = self
            .levels
            .iter()
            .filter(|(_, a)| a.packets > 0)
            .map(|(p, a)| (a.loudness_sum / a.packets, *p))
            .filter(|(loudness, _)| *loudness >= SILENCE)
            .max();
        self.levels.clear();
        let (_, loudest) = loudest?;
        if Some(loudest) == self.current {
            self.candidate = None;
            return None;
        }
        let confirmations = match self.candidate {
            Some((p, n)) if p == loudest => n + 1,
            _ => 1,
        };
        if confirmations >= CONFIRMATIONS {
            self.current = Some(loudest);
            self.candidate = None;
            Some(loudest)
        } else {
            self.candidate = Some((loudest, confirmations));
            None
        }
    }

    /// Forgets a participant who left.
    pub(super) fn forget(&mut self, participant: ParticipantId) {
        self.levels.remove(&participant);
        if self.current == Some(participant) {
            self.current = None;
        }
        if self.candidate.is_some_and(|(p, _)| p == participant) {
            self.candidate = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loudest_sustained_speaker_wins() {
        let t0 = Instant::now();
        let iv = Duration::from_millis(300);
        let mut d = SpeakerDetector::new(iv);
        let (a, b) = (ParticipantId(1), ParticipantId(2));
        let mut now = t0;
        let mut changes = Vec::new();
        for round in 0..6 {
            for _ in 0..10 {
                d.record(now, a, (true, if round < 3 { 20 } else { 70 }));
                d.record(now, b, (true, if round < 3 { 70 } else { 10 }));
            }
            now += iv;
            if let Some(p) = d.evaluate(now) {
                changes.push((round, p));
            }
        }
        assert_eq!(changes, vec![(1, a), (4, b)]);
    }

    #[test]
    fn silence_names_nobody() {
        let t0 = Instant::now();
        let mut d = SpeakerDetector::new(Duration::from_millis(100));
        for i in 0..5 {
            d.record(t0, ParticipantId(1), (false, 127));
            assert_eq!(d.evaluate(t0 + Duration::from_millis(100 * (i + 1))), None);
        }
    }
}
