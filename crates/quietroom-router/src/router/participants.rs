//! The participant table: a slab, so that a track's subscribers can hold a participant's
//! slot and the forward path reaches each subscriber's crypto without a hash lookup.

use super::{IdMap, Participant, ParticipantId};

/// Participants by id, stored in slots that stay put while the participant is present.
pub(super) struct Participants<C> {
    slots: Vec<Option<(ParticipantId, Participant<C>)>>,
    free: Vec<usize>,
    index: IdMap<ParticipantId, usize>,
}

impl<C> Participants<C> {
    pub(super) fn new() -> Self {
        Participants {
            slots: Vec::new(),
            free: Vec::new(),
            index: IdMap::default(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    pub(super) fn contains_key(&self, id: &ParticipantId) -> bool {
        self.index.contains_key(id)
    }

    /// The slot of `id`.
    pub(super) fn slot(&self, id: &ParticipantId) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub(super) fn get(&self, id: &ParticipantId) -> Option<&Participant<C>> {
        let slot = *self.index.get(id)?;
        self.slots.get(slot)?.as_ref().map(|(_, p)| p)
    }

    pub(super) fn get_mut(&mut self, id: &ParticipantId) -> Option<&mut Participant<C>> {
        let slot = *self.index.get(id)?;
        self.at_mut(slot)
    }

    /// The participant in `slot`.
    #[inline]
    pub(super) fn at_mut(&mut self, slot: usize) -> Option<&mut Participant<C>> {
        self.slots.get_mut(slot)?.as_mut().map(|(_, p)| p)
    }

    /// Adds a participant that is not present; returns its slot.
    pub(super) fn insert(&mut self, id: ParticipantId, participant: Participant<C>) -> usize {
        debug_assert!(!self.index.contains_key(&id));
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(s) = self.slots.get_mut(slot) {
                    *s = Some((id, participant));
                }
                slot
            }
            None => {
                self.slots.push(Some((id, participant)));
                self.slots.len() - 1
            }
        };
        self.index.insert(id, slot);
        slot
    }

    pub(super) fn remove(&mut self, id: &ParticipantId) -> Option<Participant<C>> {
        let slot = self.index.remove(id)?;
        let (_, participant) = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(participant)
    }

    pub(super) fn iter_mut(
        &mut self,
    ) -> impl Iterator<Item = (&ParticipantId, &mut Participant<C>)> {
        self.slots.iter_mut().flatten().map(|(id, p)| (&*id, p))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Participant<C>> {
        self.slots.iter().flatten().map(|(_, p)| p)
    }
}
