//! Dividing one participant's bandwidth estimate among its video subscriptions (what is left
//! of it after the audio it receives, `Router::plan_video`).
//!
//! Every subscription not paused first gets its floor, the lowest layer the publisher sends,
//! whether or not it fits: a subscriber that cannot afford it still gets something. What is
//! left then goes in steps, one spatial layer at a time: subscriptions of a higher priority
//! first ([`Router::set_priority`]), and among equals in turns, one step each per round, so
//! that a gallery of thumbnails and one large speaker view share an estimate by what each
//! asked for rather than evenly. A step to a layer above the one forwarded costs the
//! upgrade headroom on top of its bitrate (the hysteresis of layer selection).
//!
//! [`Router::set_priority`]: super::Router::set_priority

/// What one video subscription may take, for [`allocate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Choice<S = usize> {
    /// The layers it may take, lowest first, as (what to forward, bits per second it
    /// costs): `S` names a step for the caller (a layer index, or a layer and how many of its
    /// spatial layers). The first is its floor. Never empty.
    pub(super) steps: Vec<(S, u64)>,
    /// Higher is served first.
    pub(super) priority: u8,
}

/// How a budget was divided among [`Choice`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Allocation {
    /// Per choice, the index of the step it gets.
    pub(super) level: Vec<usize>,
    /// What the steps taken cost together, in bits per second.
    pub(super) used: u64,
    /// What the floors cost together: when above the budget, every subscription is left on
    /// its floor, with a proportional share of the budget for its temporal layers.
    pub(super) floors: u64,
}

impl Allocation {
    /// The share of `budget` choice `i` gets for its temporal layers when the floors do not
    /// all fit (its floor's cost, scaled down to the budget); `None` when they fit.
    pub(super) fn thinned_share<S>(
        &self,
        choices: &[Choice<S>],
        i: usize,
        budget: u64,
    ) -> Option<u64> {
        if self.floors <= budget {
            return None;
        }
        let floor = choices.get(i)?.steps.first()?.1;
        let share = u128::from(floor) * u128::from(budget) / u128::from(self.floors.max(1));
        Some(u64::try_from(share).unwrap_or(u64::MAX))
    }

    /// The smallest budget at which one more step would be taken (with `extra(i)`, what
    /// choice `i` could take beyond its steps, such as all its temporal layers, as the cost
    /// its current step would then have); `None` if every choice has all it wants.
    pub(super) fn next_goal<S>(
        &self,
        choices: &[Choice<S>],
        extra: impl Fn(usize) -> Option<u64>,
    ) -> Option<u64> {
        choices
            .iter()
            .zip(&self.level)
            .enumerate()
            .filter_map(|(i, (c, &level))| {
                let current = c.steps.get(level)?.1;
                let next = match c.steps.get(level + 1) {
                    Some(&(_, cost)) => cost,
                    None => extra(i)?,
                };
                Some(self.used.saturating_sub(current).saturating_add(next))
            })
            .min()
    }
}

/// Divides `budget` (bits per second) among `choices`: floors first, then steps by priority
/// and in turns among equal priorities, while they fit.
pub(super) fn allocate<S>(budget: u64, choices: &[Choice<S>]) -> Allocation {
    let cost = |i: usize, level: usize| choices[i].steps.get(level).map_or(0, |&(_, c)| c);
    let mut level = vec![0usize; choices.len()];
    let floors = (0..choices.len()).fold(0u64, |sum, i| sum.saturating_add(cost(i, 0)));
    let mut used = floors;
    let mut order: Vec<usize> = (0..choices.len()).collect();
    // Stable: equal priorities keep their order.
    order.sort_by_key(|&i| std::cmp::Reverse(choices[i].priority));
    for group in order.chunk_by(|&a, &b| choices[a].priority == choices[b].priority) {
        loop {
            let mut moved = false;
            for &i in group {
                let Some(&(_, next)) = choices[i].steps.get(level[i] + 1) else {
                    continue;
                };
                let after = used.saturating_sub(cost(i, level[i])).saturating_add(next);
                if after <= budget {
                    used = after;
                    level[i] += 1;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
    }
    Allocation {
        level,
        used,
        floors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A choice of three layers of these costs, starting at the floor.
    fn three(costs: [u64; 3], priority: u8) -> Choice {
        Choice {
            steps: costs.iter().enumerate().map(|(i, &c)| (i, c)).collect(),
            priority,
        }
    }

    #[test]
    fn one_subscription_gets_the_highest_step_that_fits() {
        let c = [three([150, 500, 1500], 0)];
        for (budget, want) in [(0, 0), (149, 0), (499, 0), (500, 1), (1499, 1), (1500, 2)] {
            let a = allocate(budget, &c);
            assert_eq!(a.level, vec![want], "budget {budget}");
        }
        assert_eq!(allocate(100, &c).thinned_share(&c, 0, 100), Some(100));
        assert_eq!(allocate(200, &c).thinned_share(&c, 0, 200), None);
    }

    #[test]
    fn a_gallery_and_a_speaker_share_by_what_each_asked_for() {
        // Nine thumbnails that want only the lowest layer and one speaker view that wants
        // everything, on 3 Mbit/s: an even split would give the speaker 300 kbit/s, the
        // lowest layer; the speaker takes what the thumbnails leave.
        let mut c: Vec<Choice> = (0..9)
            .map(|_| Choice {
                steps: vec![(0, 150_000)],
                priority: 0,
            })
            .collect();
        c.push(three([150_000, 500_000, 1_500_000], 0));
        let a = allocate(3_000_000, &c);
        assert_eq!(a.level[9], 2);
        assert_eq!(a.used, 9 * 150_000 + 1_500_000);
    }

    #[test]
    fn equals_take_turns_and_priority_goes_first() {
        let c = [three([100, 300, 900], 0), three([100, 300, 900], 0)];
        // 600: both to the middle (turns), not one to the top.
        assert_eq!(allocate(600, &c).level, vec![1, 1]);
        // 1200: the first to the top, the second stays (the top does not fit after).
        assert_eq!(allocate(1200, &c).level, vec![2, 1]);
        // Priority: the second, with priority, goes to the top before the first moves.
        let c = [three([100, 300, 900], 0), three([100, 300, 900], 1)];
        assert_eq!(allocate(1000, &c).level, vec![0, 2]);
        // What is left still goes to the lower priority when its step fits.
        assert_eq!(allocate(1200, &c).level, vec![1, 2]);
    }

    #[test]
    fn floors_that_do_not_fit_are_thinned_in_proportion() {
        let c = [three([100, 300, 900], 0), three([300, 600, 900], 0)];
        let a = allocate(200, &c);
        assert_eq!(a.level, vec![0, 0]);
        assert_eq!(a.floors, 400);
        assert_eq!(a.thinned_share(&c, 0, 200), Some(50));
        assert_eq!(a.thinned_share(&c, 1, 200), Some(150));
    }

    #[test]
    fn the_next_goal_is_the_cheapest_further_step() {
        let c = [
            three([100, 300, 900], 0),
            Choice {
                steps: vec![(0, 100)],
                priority: 0,
            },
        ];
        let a = allocate(450, &c);
        assert_eq!(a.level, vec![1, 0]);
        // The first's top step: what is used (400), less its middle step, plus its top.
        assert_eq!(a.next_goal(&c, |_| None), Some(1000));
        // The second could take its temporal layers at 250.
        assert_eq!(
            a.next_goal(&c, |i| (i == 1).then_some(250)),
            Some(400 - 100 + 250)
        );
        let full = allocate(10_000, &c);
        assert_eq!(full.next_goal(&c, |_| None), None);
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::*;

    fn choice() -> impl Strategy<Value = Choice> {
        (proptest::collection::vec(1u64..2_000_000, 1..4), 0u8..3).prop_map(
            |(mut costs, priority)| {
                costs.sort_unstable();
                Choice {
                    steps: costs.into_iter().enumerate().collect(),
                    priority,
                }
            },
        )
    }

    proptest! {
        /// Whatever the choices and the budget: every choice gets its floor, steps are only
        /// taken within the budget, nothing more fits once it is done, and a choice of
        /// higher priority is never left below a step it could have taken for what a lower
        /// one got beyond its floor.
        #[test]
        fn allocation_respects_the_budget_and_leaves_nothing_that_fits(
            choices in proptest::collection::vec(choice(), 0..8),
            budget in 0u64..10_000_000,
        ) {
            let a = allocate(budget, &choices);
            let cost = |i: usize| choices[i].steps[a.level[i]].1;
            let used: u64 = (0..choices.len()).map(cost).sum();
            prop_assert_eq!(used, a.used);
            if a.used > budget {
                prop_assert!(a.level.iter().all(|&l| l == 0));
                prop_assert_eq!(a.used, a.floors);
            }
            for (i, c) in choices.iter().enumerate() {
                if let Some(&(_, next)) = c.steps.get(a.level[i] + 1) {
                    prop_assert!(a.used - cost(i) + next > budget, "choice {i} could still move up");
                }
            }
            for (hi, h) in choices.iter().enumerate().filter(|_| a.floors <= budget) {
                let Some(&(_, next)) = h.steps.get(a.level[hi] + 1) else { continue };
                let need = next - cost(hi);
                let beyond_floors: u64 = choices
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.priority < h.priority)
                    .map(|(li, l)| cost(li) - l.steps[0].1)
                    .sum();
                prop_assert!(
                    budget.saturating_sub(a.used) + beyond_floors < need,
                    "priority {} choice {hi} left below a step lower priorities paid for",
                    h.priority
                );
            }
        }
    }
}
