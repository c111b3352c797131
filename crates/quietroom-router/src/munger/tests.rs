//! Unit tests and property tests of the munger.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{Drop, HISTORY, Munger, Rewrite};

const CLOCK: u32 = 90_000;

fn ms(t0: Instant, n: u64) -> Instant {
    t0 + Duration::from_millis(n)
}

#[test]
fn nothing_is_forwarded_before_a_switch() {
    let t0 = Instant::now();
    let mut m = Munger::new(7);
    assert_eq!(m.out_ssrc(), 7);
    assert_eq!(m.current_source(), None);
    assert_eq!(m.map(1, 10, 100, t0, CLOCK), Err(Drop::NotSelected));
    assert_eq!(m.skip(1, 10), None);
    assert_eq!(m.input_for(10), None);
}

#[test]
fn first_packet_keeps_its_numbers_or_the_chosen_start() {
    let t0 = Instant::now();
    let mut m = Munger::new(7);
    m.switch_to(1, t0);
    assert_eq!(m.current_source(), Some(1));
    assert_eq!(
        m.map(1, 500, 9000, t0, CLOCK),
        Ok(Rewrite {
            sequence: 500,
            timestamp: 9000
        })
    );
    let mut m = Munger::with_start(7, 65_535, u32::MAX);
    m.switch_to(1, t0);
    assert_eq!(
        m.map(1, 500, 9000, t0, CLOCK),
        Ok(Rewrite {
            sequence: 65_535,
            timestamp: u32::MAX
        })
    );
    assert_eq!(
        m.map(1, 501, 9001, t0, CLOCK),
        Ok(Rewrite {
            sequence: 0,
            timestamp: 0
        })
    );
}

#[test]
fn switch_continues_sequence_and_moves_timestamp_by_elapsed_time() {
    let t0 = Instant::now();
    let mut m = Munger::new(7);
    m.switch_to(1, t0);
    assert_eq!(m.map(1, 100, 1000, t0, CLOCK).unwrap().sequence, 100);
    assert_eq!(
        m.map(1, 101, 4000, ms(t0, 10), CLOCK).unwrap().sequence,
        101
    );
    assert_eq!(
        m.map(2, 7000, 50, ms(t0, 20), CLOCK),
        Err(Drop::NotSelected)
    );
    m.switch_to(2, ms(t0, 30));
    assert_eq!(
        m.map(1, 102, 7000, ms(t0, 30), CLOCK),
        Err(Drop::NotSelected)
    );
    // 30 ms after the last forwarded timestamp: 2700 ticks at 90 kHz.
    assert_eq!(
        m.map(2, 7001, 60, ms(t0, 40), CLOCK),
        Ok(Rewrite {
            sequence: 102,
            timestamp: 4000 + 2700
        })
    );
    // Older than the switch point.
    assert_eq!(m.map(2, 7000, 50, ms(t0, 41), CLOCK), Err(Drop::TooOld));
    assert_eq!(
        m.map(2, 7002, 3060, ms(t0, 42), CLOCK),
        Ok(Rewrite {
            sequence: 103,
            timestamp: 4000 + 2700 + 3000
        })
    );
    // No time elapsed: the timestamp still moves by one.
    m.switch_to(1, ms(t0, 42));
    let r = m.map(1, 110, 0, ms(t0, 42), CLOCK).unwrap();
    assert_eq!(r.sequence, 104);
    assert_eq!(r.timestamp, 4000 + 2700 + 3000 + 1);
    assert_eq!(m.input_for(104), Some((1, 110)));
    assert_eq!(m.input_for(103), Some((2, 7002)));
    assert_eq!(m.input_for(101), Some((1, 101)));
    assert_eq!(m.input_for(105), None);
}

#[test]
fn reordering_loss_and_duplicates() {
    let t0 = Instant::now();
    let mut m = Munger::new(7);
    m.switch_to(1, t0);
    assert_eq!(m.map(1, 65_534, 0, t0, CLOCK).unwrap().sequence, 65_534);
    // 65_535 and 0 are late, 1 is lost.
    assert_eq!(m.map(1, 2, 0, t0, CLOCK).unwrap().sequence, 2);
    assert_eq!(m.input_for(1), Some((1, 1)), "reserved for the lost packet");
    assert_eq!(m.map(1, 0, 0, t0, CLOCK).unwrap().sequence, 0);
    assert_eq!(m.map(1, 0, 0, t0, CLOCK), Err(Drop::Duplicate));
    assert_eq!(m.map(1, 2, 0, t0, CLOCK), Err(Drop::Duplicate));
    assert_eq!(m.map(1, 65_535, 0, t0, CLOCK).unwrap().sequence, 65_535);
    assert_eq!(m.map(1, 65_533, 0, t0, CLOCK), Err(Drop::TooOld));
    // Far ahead: a jump of 2^15 or more looks old.
    assert_eq!(m.map(1, 2 + 0x8000, 0, t0, CLOCK), Err(Drop::TooOld));
    // A packet more than HISTORY behind is too old to place.
    let head = 2 + HISTORY as u16 + 5;
    assert_eq!(m.map(1, head, 0, t0, CLOCK).unwrap().sequence, head);
    assert_eq!(m.map(1, 3, 0, t0, CLOCK), Err(Drop::TooOld));
    assert_eq!(
        m.map(1, head - 10, 0, t0, CLOCK).unwrap().sequence,
        head - 10
    );
}

#[test]
fn history_is_a_power_of_two_within_range() {
    assert_eq!(Munger::new(1).history(), HISTORY);
    assert_eq!(Munger::with_history(1, 500).history(), 512);
    assert_eq!(Munger::with_history(1, 0).history(), 16);
    assert_eq!(Munger::with_history(1, usize::MAX).history(), 16_384);
    // The exception ring's slots are 8 bytes, as the type's documentation says.
    assert_eq!(std::mem::size_of::<super::Exception>(), 8);
}

#[test]
fn sent_repeats_the_timestamp_and_not_reserved_numbers() {
    let t0 = Instant::now();
    let mut m = Munger::with_start(7, 500, 9_000);
    m.switch_to(1, t0);
    let a = m.map(1, 10, 1_000, t0, CLOCK).expect("anchor");
    // 11 is lost: its number is reserved, answers `input_for`, but was never sent.
    let c = m.map(1, 12, 7_000, t0, CLOCK).expect("in order");
    let sent = m.sent(a.sequence).expect("sent");
    assert_eq!((sent.ssrc, sent.sequence), (1, 10));
    assert_eq!(1_000u32.wrapping_add(sent.timestamp_offset), a.timestamp);
    assert_eq!(m.input_for(501), Some((1, 11)));
    assert_eq!(m.sent(501), None);
    // A NACK for it may still be answered, from the cache, if 11 is there.
    assert_eq!(
        m.for_nack(501).map(|s| (s.sequence, s.timestamp_offset)),
        Some((11, sent.timestamp_offset))
    );
    let late = m.map(1, 11, 4_000, t0, CLOCK).expect("late");
    assert_eq!(late.sequence, 501);
    assert_eq!(m.sent(501).map(|s| s.sequence), Some(11));
    assert_eq!(m.sent(c.sequence).map(|s| s.sequence), Some(12));
}

#[test]
fn skip_contract() {
    let t0 = Instant::now();
    let mut m = Munger::new(7);
    m.switch_to(1, t0);
    assert_eq!(m.map(1, 10, 0, t0, CLOCK).unwrap().sequence, 10);
    // Skip of a packet not mapped: it takes no number.
    assert_eq!(m.skip(1, 11), None);
    assert_eq!(m.map(1, 11, 0, t0, CLOCK), Err(Drop::Duplicate));
    assert_eq!(m.map(1, 12, 0, t0, CLOCK).unwrap().sequence, 11);
    // Skip of the head just mapped: its number goes to the next packet.
    assert_eq!(m.map(1, 13, 0, t0, CLOCK).unwrap().sequence, 12);
    assert_eq!(m.skip(1, 13), None);
    assert_eq!(m.input_for(12), None);
    assert_eq!(m.skip(1, 13), None); // idempotent
    assert_eq!(m.map(1, 14, 0, t0, CLOCK).unwrap().sequence, 12);
    assert_eq!(m.input_for(12), Some((1, 14)));
    // A gap then a skip: the late packet keeps the number reserved before the skip.
    assert_eq!(m.skip(1, 17), None);
    assert_eq!(m.map(1, 18, 0, t0, CLOCK).unwrap().sequence, 15);
    assert_eq!(m.map(1, 16, 0, t0, CLOCK).unwrap().sequence, 14);
    // Skip of a late packet: its reserved number stays unused, and is returned for the
    // caller to fill; once only.
    assert_eq!(m.input_for(13), Some((1, 15)));
    assert_eq!(m.skip(1, 15), Some(13));
    assert_eq!(m.input_for(13), None);
    assert_eq!(m.skip(1, 15), None);
    assert_eq!(m.map(1, 15, 0, t0, CLOCK), Err(Drop::Duplicate));
    // Other layers and pending switches are ignored.
    assert_eq!(m.skip(2, 19), None);
    m.switch_to(2, t0);
    assert_eq!(m.skip(2, 100), None);
    assert_eq!(m.map(2, 100, 0, t0, CLOCK).unwrap().sequence, 16);
}

#[test]
fn late_packet_of_the_previous_layer_fills_its_number() {
    let t0 = Instant::now();
    let mut m = Munger::with_history(7, 16);
    m.switch_to(1, t0);
    assert_eq!(m.map(1, 10, 900, t0, CLOCK).unwrap().sequence, 10);
    // 11 and 12 lost upstream: their numbers are kept for them.
    assert_eq!(m.map(1, 13, 1800, t0, CLOCK).unwrap().sequence, 13);
    m.switch_to(2, ms(t0, 10));
    assert_eq!(m.previous_source(), Some(1));
    assert_eq!(m.map(2, 500, 0, ms(t0, 10), CLOCK).unwrap().sequence, 14);
    // Layer 1's packets after the switch stay out.
    assert!(!m.late_of_previous(1, 14));
    assert_eq!(
        m.map(1, 14, 2700, ms(t0, 11), CLOCK),
        Err(Drop::NotSelected)
    );
    // Its resends fill 11 (with layer 1's timestamp offset) and 12 (skipped: its number is
    // returned for padding), once each.
    assert!(m.late_of_previous(1, 11));
    let late = m.map(1, 11, 1800, ms(t0, 12), CLOCK).unwrap();
    assert_eq!((late.sequence, late.timestamp), (11, 1800));
    assert_eq!(m.map(1, 11, 1800, ms(t0, 12), CLOCK), Err(Drop::Duplicate));
    assert_eq!(m.input_for(11), Some((1, 11)));
    assert_eq!(m.sent(11).map(|s| s.sequence), Some(11));
    assert_eq!(m.skip(1, 12), Some(12));
    assert_eq!(m.skip(1, 12), None);
    assert_eq!(m.map(1, 12, 1800, ms(t0, 12), CLOCK), Err(Drop::Duplicate));
    // What was forwarded before the switch is not forwarded again.
    assert_eq!(m.map(1, 10, 900, ms(t0, 12), CLOCK), Err(Drop::Duplicate));
    assert_eq!(m.skip(1, 13), None);
    // The new layer goes on undisturbed, and the later timestamp holds.
    let next = m.map(2, 501, 3000, ms(t0, 43), CLOCK).unwrap();
    assert_eq!(next.sequence, 15);
    // Once every number the previous layer reserved has left the history, it is forgotten.
    for seq in 502..=515 {
        assert!(m.map(2, seq, 3000, ms(t0, 50), CLOCK).is_ok());
    }
    assert_eq!(m.previous_source(), Some(1));
    assert!(m.map(2, 516, 3000, ms(t0, 50), CLOCK).is_ok());
    assert_eq!(m.previous_source(), None);
    assert!(!m.late_of_previous(1, 12));
    // A layer selected again is not its own previous layer.
    m.switch_to(1, ms(t0, 60));
    assert_eq!(m.previous_source(), Some(2));
    m.switch_to(2, ms(t0, 60));
    assert_eq!(m.previous_source(), None);
}

#[test]
fn reselecting_layers() {
    let t0 = Instant::now();
    let mut m = Munger::new(7);
    m.switch_to(1, t0);
    assert_eq!(m.map(1, 10, 0, t0, CLOCK).unwrap().sequence, 10);
    assert_eq!(m.map(1, 12, 0, t0, CLOCK).unwrap().sequence, 12);
    // The same layer again: nothing changes for nearby packets (11 still fits in).
    m.switch_to(1, t0);
    assert_eq!(m.map(1, 11, 0, t0, CLOCK).unwrap().sequence, 11);
    assert_eq!(m.map(1, 13, 0, t0, CLOCK).unwrap().sequence, 13);
    // Away and back: packets the layer had already passed cannot be the switch point.
    m.switch_to(2, t0);
    assert_eq!(m.map(2, 500, 0, t0, CLOCK).unwrap().sequence, 14);
    m.switch_to(1, t0);
    assert_eq!(m.map(1, 12, 0, t0, CLOCK), Err(Drop::TooOld));
    assert_eq!(m.map(1, 13, 0, t0, CLOCK), Err(Drop::TooOld));
    assert_eq!(m.map(1, 15, 0, t0, CLOCK).unwrap().sequence, 15);
    assert_eq!(m.map(1, 14, 0, t0, CLOCK), Err(Drop::TooOld));
    // A publisher restart far from the head re-anchors on the next switch_to.
    assert_eq!(m.map(1, 40_000, 0, t0, CLOCK), Err(Drop::TooOld));
    m.switch_to(1, t0);
    assert_eq!(m.map(1, 40_000, 0, t0, CLOCK).unwrap().sequence, 16);
    assert_eq!(m.map(1, 40_001, 0, t0, CLOCK).unwrap().sequence, 17);
    assert_eq!(m.map(1, 39_990, 0, t0, CLOCK), Err(Drop::TooOld));
}

#[test]
fn timestamp_step_is_capped_and_clock_rate_zero_is_safe() {
    let t0 = Instant::now();
    let mut m = Munger::new(7);
    m.switch_to(1, t0);
    assert_eq!(m.map(1, 1, 1000, t0, CLOCK).unwrap().timestamp, 1000);
    m.switch_to(2, t0);
    let later = t0 + Duration::from_secs(100_000);
    let r = m.map(2, 1, 5, later, CLOCK).unwrap();
    assert_eq!(r.timestamp, 1000 + super::MAX_TS_STEP);
    m.switch_to(1, later);
    let r2 = m.map(1, 2, 7, later + Duration::from_secs(1), 0).unwrap();
    assert_eq!(r2.timestamp, r.timestamp + 1);
}

/// One packet of a generated run.
#[derive(Clone, Copy, Debug)]
struct Pkt {
    layer: u32,
    seq: u16,
    ts: u32,
}

/// What the router does with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Map,
    /// Switch to the packet's layer, then map it.
    SwitchThenMap,
    /// Map, and if forwarded, skip it.
    MapThenSkip,
    /// Skip without mapping.
    Skip,
    /// Map a copy of an earlier packet again.
    Duplicate,
}

fn action(byte: u8) -> Action {
    match byte % 16 {
        0 => Action::SwitchThenMap,
        1 => Action::MapThenSkip,
        2 => Action::Skip,
        3 => Action::Duplicate,
        _ => Action::Map,
    }
}

/// A generated run: packets of up to 3 layers (consecutive sequence numbers from a random
/// start, timestamps non-decreasing with sequence numbers, 3 packets per frame), interleaved,
/// reordered within each layer by at most `max_jitter` places, with some losses.
#[derive(Clone, Debug)]
struct Run {
    arrivals: Vec<(Pkt, Action)>,
    all: Vec<Pkt>,
}

fn run_strategy(max_jitter: usize, loss: bool, actions: bool) -> impl Strategy<Value = Run> {
    let starts = prop::array::uniform3((any::<u16>(), any::<u32>()));
    let events = prop::collection::vec((0u32..3, 0..=max_jitter, any::<u8>(), any::<u8>()), 1..400);
    (starts, events).prop_map(move |(starts, events)| {
        let mut count = [0usize; 3];
        let mut keyed: [Vec<(usize, Pkt)>; 3] = Default::default();
        let mut all = Vec::new();
        for &(layer, jitter, _, _) in &events {
            let l = layer as usize;
            let k = count[l];
            count[l] += 1;
            let (seq0, ts0) = starts[l];
            let pkt = Pkt {
                layer: layer + 1,
                seq: seq0.wrapping_add(k as u16),
                ts: ts0.wrapping_add((k / 3) as u32 * 3000),
            };
            all.push(pkt);
            keyed[l].push((k + jitter, pkt));
        }
        for list in &mut keyed {
            list.sort_by_key(|&(key, _)| key);
            list.reverse();
        }
        let mut arrivals = Vec::new();
        for &(layer, _, lose, act) in &events {
            let Some((_, pkt)) = keyed[layer as usize].pop() else {
                continue;
            };
            if loss && lose < 16 {
                continue;
            }
            let a = if actions { action(act) } else { Action::Map };
            arrivals.push((pkt, a));
        }
        Run { arrivals, all }
    })
}

/// What a run produced.
#[derive(Debug, Default)]
struct Outcome {
    /// (output, input) of forwarded packets, in forwarding order.
    forwarded: Vec<(Rewrite, Pkt)>,
    skips: usize,
    /// Output numbers that skips left unused (for padding).
    fillers: Vec<u16>,
    /// Packets that arrived late for the layer switched away from
    /// ([`Munger::late_of_previous`]): any number reserved for one is filled or returned.
    late_of_previous: HashSet<(u32, u16)>,
}

fn drive(m: &mut Munger, run: &Run, switch_first: bool) -> Outcome {
    let t0 = Instant::now();
    let mut out = Outcome::default();
    let mut delivered: Vec<Pkt> = Vec::new();
    if switch_first && let Some((p, _)) = run.arrivals.first() {
        m.switch_to(p.layer, t0);
    }
    for (i, &(p, a)) in run.arrivals.iter().enumerate() {
        let now = ms(t0, 2 * i as u64);
        if a == Action::Duplicate
            && let Some(&copy) = delivered.get(i * 7 % delivered.len().max(1))
            && let Ok(r) = m.map(copy.layer, copy.seq, copy.ts, now, CLOCK)
        {
            out.forwarded.push((r, copy));
        }
        delivered.push(p);
        if a == Action::SwitchThenMap {
            m.switch_to(p.layer, now);
        }
        if m.late_of_previous(p.layer, p.seq) {
            out.late_of_previous.insert((p.layer, p.seq));
        }
        if a == Action::Skip {
            out.fillers.extend(m.skip(p.layer, p.seq));
            out.skips += 1;
            continue;
        }
        let late_of_previous = m.late_of_previous(p.layer, p.seq);
        let mapped = m.map(p.layer, p.seq, p.ts, now, CLOCK);
        if late_of_previous && mapped == Err(Drop::TooOld) {
            // As the router does: a number it will not fill goes to padding.
            out.fillers.extend(m.skip(p.layer, p.seq));
            out.skips += 1;
        }
        if let Ok(r) = mapped {
            if a == Action::MapThenSkip {
                out.fillers.extend(m.skip(p.layer, p.seq));
                out.skips += 1;
            } else {
                out.forwarded.push((r, p));
            }
        }
    }
    out
}

/// Output sequence numbers unwrapped around the first one.
fn unwrapped(out: &Outcome) -> Vec<i64> {
    let Some((first, _)) = out.forwarded.first() else {
        return Vec::new();
    };
    out.forwarded
        .iter()
        .map(|(r, _)| {
            i64::from(first.sequence) + i64::from(r.sequence.wrapping_sub(first.sequence) as i16)
        })
        .collect()
}

fn check_common(m: &Munger, run: &Run, out: &Outcome) -> Result<(), TestCaseError> {
    // (c) No output sequence number twice, no input packet forwarded twice.
    let mut outs = HashSet::new();
    let mut ins = HashSet::new();
    for (r, p) in &out.forwarded {
        prop_assert!(outs.insert(r.sequence), "output {} twice", r.sequence);
        prop_assert!(ins.insert((p.layer, p.seq)), "input {:?} twice", p);
        prop_assert_eq!(m.input_for(r.sequence), Some((p.layer, p.seq)));
    }
    // (b) Timestamps, in output sequence order (a late packet of the previous layer goes
    // back into its place): a packet after a switch is never older than any packet before.
    let order = unwrapped(out);
    let mut by_sequence: Vec<(i64, (Rewrite, Pkt))> = order
        .iter()
        .copied()
        .zip(out.forwarded.iter().copied())
        .collect();
    by_sequence.sort_by_key(|&(ext, _)| ext);
    let by_sequence: Vec<(Rewrite, Pkt)> = by_sequence.into_iter().map(|(_, f)| f).collect();
    let mut segment = 0usize;
    let mut seg_of = Vec::new();
    let mut prev_layer = None;
    for (_, p) in &by_sequence {
        if prev_layer.is_some_and(|l| l != p.layer) {
            segment += 1;
        }
        prev_layer = Some(p.layer);
        seg_of.push(segment);
    }
    let mut newest_before: Option<u32> = None;
    let mut seg_newest: Option<u32> = None;
    let mut current = 0;
    for ((r, _), &s) in by_sequence.iter().zip(&seg_of) {
        if s != current {
            newest_before = match (newest_before, seg_newest) {
                (Some(a), Some(b)) => Some(if crate::rtp::timestamp_after(a, b) {
                    a
                } else {
                    b
                }),
                (a, b) => a.or(b),
            };
            seg_newest = None;
            current = s;
        }
        if let Some(before) = newest_before {
            prop_assert!(
                crate::rtp::timestamp_after(r.timestamp, before),
                "timestamp went back at a switch"
            );
        }
        seg_newest = Some(match seg_newest {
            Some(n) if crate::rtp::timestamp_after(n, r.timestamp) => n,
            _ => r.timestamp,
        });
    }
    // (a) Every hole in the sorted outputs is a number reserved for a generated input packet
    // that was never forwarded (lost, or late after a second switch), or one a skip of
    // a late packet gave up and returned for padding. No returned number was forwarded.
    for filler in &out.fillers {
        prop_assert!(!outs.contains(filler), "filler {} was forwarded", filler);
        prop_assert_eq!(m.input_for(*filler), None);
    }
    let mut sorted = unwrapped(out);
    sorted.sort_unstable();
    let generated: HashSet<(u32, u16)> = run.all.iter().map(|p| (p.layer, p.seq)).collect();
    let mut unexplained = 0usize;
    for w in sorted.windows(2) {
        for hole in w[0] + 1..w[1] {
            let hole = hole.rem_euclid(65_536) as u16;
            match m.input_for(hole) {
                Some(input) => {
                    prop_assert!(
                        generated.contains(&input),
                        "hole {} maps to {:?}",
                        hole,
                        input
                    );
                    prop_assert!(
                        !ins.contains(&input),
                        "hole {} maps to forwarded {:?}",
                        hole,
                        input
                    );
                    prop_assert!(
                        !out.late_of_previous.contains(&input),
                        "hole {} left for {:?}, which came late for the previous layer",
                        hole,
                        input
                    );
                }
                None => {
                    prop_assert!(out.fillers.contains(&hole), "hole {} unexplained", hole);
                    unexplained += 1;
                }
            }
        }
    }
    prop_assert!(
        unexplained <= out.skips,
        "{} holes, {} skips",
        unexplained,
        out.skips
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No loss, no reordering, any switches and skips: the output is exactly consecutive in
    /// forwarding order and timestamps never go back.
    #[test]
    fn in_order_output_is_consecutive(run in run_strategy(0, false, true)) {
        let mut m = Munger::new(99);
        let out = drive(&mut m, &run, false);
        for w in out.forwarded.windows(2) {
            prop_assert_eq!(w[1].0.sequence, w[0].0.sequence.wrapping_add(1));
            prop_assert!(!crate::rtp::timestamp_after(w[0].0.timestamp, w[1].0.timestamp));
        }
        check_common(&m, &run, &out)?;
    }

    /// Reordering within one selected layer (selected before its first packet), no loss: the
    /// multiset of outputs is exactly consecutive after sorting.
    #[test]
    fn reordered_single_layer_is_consecutive_when_sorted(run in run_strategy(12, false, false)) {
        let mut m = Munger::new(99);
        let out = drive(&mut m, &run, true);
        let mut sorted = unwrapped(&out);
        sorted.sort_unstable();
        for w in sorted.windows(2) {
            prop_assert_eq!(w[1], w[0] + 1);
        }
        check_common(&m, &run, &out)?;
    }

    /// Everything at once: loss, reordering, switches, skips and duplicates.
    #[test]
    fn any_interleaving_keeps_the_invariants(run in run_strategy(40, true, true)) {
        let mut m = Munger::new(99);
        let out = drive(&mut m, &run, false);
        check_common(&m, &run, &out)?;
    }

    /// Arbitrary calls never panic, and a forwarded packet can always be traced back.
    #[test]
    fn arbitrary_calls_never_panic(
        calls in prop::collection::vec((0u8..8, 0u32..3, any::<u16>(), any::<u32>(), 0u64..5000), 0..300),
        small in any::<bool>(),
    ) {
        let t0 = Instant::now();
        // A small history wraps its ring and drops offset changes within a run.
        let mut m = if small { Munger::with_history(1, 16) } else { Munger::new(1) };
        for (op, ssrc, seq, ts, at) in calls {
            let now = ms(t0, at);
            match op {
                0 => m.switch_to(ssrc, now),
                1 => {
                    if let Some(out) = m.skip(ssrc, seq) {
                        prop_assert_eq!(m.input_for(out), None);
                    }
                }
                _ => {
                    let seq = if op > 4 { seq % 64 } else { seq };
                    if let Ok(r) = m.map(ssrc, seq, ts, now, ssrc * 48_000) {
                        prop_assert_eq!(m.input_for(r.sequence), Some((ssrc, seq)));
                    }
                }
            }
            // A NACK is answered for exactly the numbers `input_for` names, with that input.
            prop_assert_eq!(
                m.for_nack(seq).map(|s| (s.ssrc, s.sequence)),
                m.input_for(seq)
            );
        }
    }

    /// Arbitrary calls in a small sequence space (so the output cannot wrap within a run)
    /// never give one output number to two inputs, except the number of a skipped packet.
    #[test]
    fn arbitrary_calls_never_reuse_outputs(
        calls in prop::collection::vec((0u8..8, 0u32..3, 0u16..256, any::<u32>(), 0u64..5000), 0..300),
        small in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut m = if small { Munger::with_history(1, 16) } else { Munger::new(1) };
        let mut seen: HashMap<u16, (u32, u16)> = HashMap::new();
        for (op, ssrc, seq, ts, at) in calls {
            let now = ms(t0, at);
            match op {
                0 => m.switch_to(ssrc, now),
                1 => {
                    // A skipped packet's number may be given to the next one.
                    let _ = m.skip(ssrc, seq);
                    seen.retain(|_, input| *input != (ssrc, seq));
                }
                _ => {
                    if let Ok(r) = m.map(ssrc, seq, ts, now, 90_000)
                        && let Some(prev) = seen.insert(r.sequence, (ssrc, seq))
                    {
                        prop_assert_eq!(prev, (ssrc, seq));
                    }
                }
            }
        }
    }

    /// The in-order fast path of [`Munger::map`] is the general path's in-order case: two
    /// mungers driven in lockstep, one through `map` and one through the general path alone,
    /// give the same result for every call and the same answers to the reverse lookups.
    #[test]
    fn fast_path_matches_the_general_path(
        calls in prop::collection::vec((0u8..10, 0u32..2, 0u16..6, any::<u32>(), 0u64..50), 0..400),
        small in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let history = if small { 16 } else { HISTORY };
        let (mut fast, mut general) =
            (Munger::with_history(1, history), Munger::with_history(1, history));
        let mut seq = [100u16, 60_000];
        let mut ts = [0u32, 7];
        let mut at = 0;
        for (op, layer, step, jump, dt) in calls {
            at += dt;
            let now = ms(t0, at);
            let l = layer as usize;
            let ssrc = layer + 1;
            match op {
                0 => {
                    fast.switch_to(ssrc, now);
                    general.switch_to(ssrc, now);
                }
                1 => {
                    prop_assert_eq!(fast.skip(ssrc, seq[l]), general.skip(ssrc, seq[l]));
                }
                _ => {
                    // Mostly the next packet; sometimes a gap, a repeat or a late one.
                    seq[l] = match step {
                        0 => seq[l],
                        1..=3 => seq[l].wrapping_add(1),
                        4 => seq[l].wrapping_add(2 + (jump % 40) as u16),
                        _ => seq[l].wrapping_sub(1 + (jump % 8) as u16),
                    };
                    ts[l] = ts[l].wrapping_add(jump % 4 * 1500);
                    let a = fast.map(ssrc, seq[l], ts[l], now, 90_000);
                    let b = general.map_other(ssrc, seq[l], ts[l], now, 90_000);
                    prop_assert_eq!(a, b);
                    if let Ok(r) = a {
                        prop_assert_eq!(fast.input_for(r.sequence), general.input_for(r.sequence));
                        prop_assert_eq!(fast.sent(r.sequence), general.sent(r.sequence));
                        prop_assert_eq!(fast.for_nack(r.sequence), general.for_nack(r.sequence));
                        prop_assert_eq!(
                            fast.input_for(r.sequence.wrapping_add(1)),
                            general.input_for(r.sequence.wrapping_add(1))
                        );
                    }
                }
            }
        }
    }
}
