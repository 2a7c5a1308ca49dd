//! A member's way from its current assignment to its target, as Kafka's
//! `CurrentAssignmentBuilder` walks it:
//! - a member with partitions to give up keeps its epoch and gets its assignment minus them
//!   (`UNREVOKED_PARTITIONS`) until a heartbeat reports owned partitions without them;
//! - then it moves to the target epoch with the target partitions that nobody else holds;
//!   partitions another member still holds (assigned or pending revocation) come later
//!   (`UNRELEASED_PARTITIONS`), once released.

use std::collections::BTreeSet;

use gregor_protocol::primitives::Uuid;

use super::Parts;

/// Where a member stands in its reconciliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberState {
    /// At the target epoch with all its target partitions.
    Stable,
    /// Waiting for the member to revoke partitions.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions other members still hold.
    UnreleasedPartitions,
}

/// A member's assignment state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Progress {
    pub state: MemberState,
    pub epoch: i32,
    pub previous_epoch: i32,
    pub assigned: Parts,
    pub pending_revocation: Parts,
}

impl Progress {
    /// A member that has just joined: epoch 0, nothing assigned.
    pub fn new() -> Progress {
        Progress {
            state: MemberState::Stable,
            epoch: 0,
            previous_epoch: 0,
            assigned: Parts::new(),
            pending_revocation: Parts::new(),
        }
    }

    /// Whether the member is stable at `target_epoch`.
    pub fn is_reconciled_to(&self, target_epoch: i32) -> bool {
        self.state == MemberState::Stable && self.epoch == target_epoch
    }

    fn with(&self, state: MemberState, epoch: i32, assigned: Parts, pending: Parts) -> Progress {
        Progress {
            state,
            // Kafka's `updateMemberEpoch`: the previous epoch is the one the member had.
            previous_epoch: self.epoch,
            epoch,
            assigned,
            pending_revocation: pending,
        }
    }
}

/// What the reconciliation looks at besides the member.
pub(crate) struct Target<'a> {
    pub epoch: i32,
    pub partitions: &'a Parts,
    /// The topics the member subscribes to (by id); target partitions of other topics are
    /// treated as not targeted.
    pub subscribed: &'a BTreeSet<Uuid>,
    /// Whether the subscription changed in this heartbeat (unsubscribed partitions are then
    /// dropped from a member already at the target epoch).
    pub subscription_changed: bool,
}

/// The member's next state. `owned` is what the heartbeat reported (`None`: not reported);
/// `held_by_other(topic, partition)` tells whether another member holds a partition.
pub(crate) fn reconcile(
    m: &Progress,
    target: &Target<'_>,
    owned: Option<&Parts>,
    held_by_other: &dyn Fn(Uuid, i32) -> bool,
) -> Progress {
    match m.state {
        MemberState::Stable if m.epoch != target.epoch => next(m, target, owned, held_by_other),
        MemberState::Stable if target.subscription_changed => drop_unsubscribed(m, target, owned),
        MemberState::Stable => m.clone(),
        MemberState::UnrevokedPartitions => {
            if owns_any(owned, &m.pending_revocation) {
                if target.subscription_changed {
                    drop_unsubscribed(m, target, owned)
                } else {
                    m.clone()
                }
            } else {
                next(m, target, owned, held_by_other)
            }
        }
        MemberState::UnreleasedPartitions => next(m, target, owned, held_by_other),
    }
}

/// Whether the reported partitions include any of `revoking` (not reported: assume so).
fn owns_any(owned: Option<&Parts>, revoking: &Parts) -> bool {
    let Some(owned) = owned else { return true };
    owned.iter().any(|(t, ps)| {
        revoking
            .get(t)
            .is_some_and(|r| ps.iter().any(|p| r.contains(p)))
    })
}

/// Kafka's `updateCurrentAssignment`: drops unsubscribed topics without a new epoch.
fn drop_unsubscribed(m: &Progress, target: &Target<'_>, owned: Option<&Parts>) -> Progress {
    let mut assigned = m.assigned.clone();
    let mut pending = m.pending_revocation.clone();
    let mut removed = false;
    if target.subscribed.is_empty() && m.pending_revocation.is_empty() {
        removed = !assigned.is_empty();
        pending = std::mem::take(&mut assigned);
    } else {
        for (t, ps) in &m.assigned {
            if !target.subscribed.contains(t) {
                removed = true;
                assigned.remove(t);
                pending.entry(*t).or_default().extend(ps.iter().copied());
            }
        }
    }
    if !removed {
        return m.clone();
    }
    if !pending.is_empty() && owns_any(owned, &pending) {
        m.with(MemberState::UnrevokedPartitions, m.epoch, assigned, pending)
    } else {
        m.with(m.state, m.epoch, assigned, m.pending_revocation.clone())
    }
}

/// Kafka's `computeNextAssignment`.
fn next(
    m: &Progress,
    target: &Target<'_>,
    owned: Option<&Parts>,
    held_by_other: &dyn Fn(Uuid, i32) -> bool,
) -> Progress {
    let empty = BTreeSet::new();
    let topics: BTreeSet<Uuid> = target
        .partitions
        .keys()
        .chain(m.assigned.keys())
        .copied()
        .collect();
    let mut assigned = Parts::new();
    let mut revoking = Parts::new();
    let mut to_assign = Parts::new();
    let mut unreleased = false;
    for t in topics {
        let wanted = if target.subscribed.contains(&t) {
            target.partitions.get(&t).unwrap_or(&empty)
        } else {
            &empty
        };
        let current = m.assigned.get(&t).unwrap_or(&empty);
        let keep: BTreeSet<i32> = current.intersection(wanted).copied().collect();
        let give_up: BTreeSet<i32> = current.difference(&keep).copied().collect();
        let mut add: BTreeSet<i32> = wanted.difference(&keep).copied().collect();
        let own_pending = m.pending_revocation.get(&t);
        let before = add.len();
        add.retain(|p| !held_by_other(t, *p) || own_pending.is_some_and(|r| r.contains(p)));
        unreleased |= add.len() != before;
        if !keep.is_empty() {
            assigned.insert(t, keep);
        }
        if !give_up.is_empty() {
            revoking.insert(t, give_up);
        }
        if !add.is_empty() {
            to_assign.insert(t, add);
        }
    }
    if !revoking.is_empty() && owns_any(owned, &revoking) {
        return m.with(
            MemberState::UnrevokedPartitions,
            m.epoch,
            assigned,
            revoking,
        );
    }
    for (t, ps) in to_assign {
        assigned.entry(t).or_default().extend(ps);
    }
    let state = if unreleased {
        MemberState::UnreleasedPartitions
    } else {
        MemberState::Stable
    };
    m.with(state, target.epoch, assigned, Parts::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Uuid = Uuid([7; 16]);

    fn parts(ps: &[i32]) -> Parts {
        if ps.is_empty() {
            return Parts::new();
        }
        [(T, ps.iter().copied().collect())].into_iter().collect()
    }

    fn stable(epoch: i32, ps: &[i32]) -> Progress {
        Progress {
            state: MemberState::Stable,
            epoch,
            previous_epoch: epoch - 1,
            assigned: parts(ps),
            pending_revocation: Parts::new(),
        }
    }

    fn target<'a>(epoch: i32, ps: &'a Parts, subscribed: &'a BTreeSet<Uuid>) -> Target<'a> {
        Target {
            epoch,
            partitions: ps,
            subscribed,
            subscription_changed: false,
        }
    }

    #[test]
    fn revocation_first_then_the_new_epoch() {
        let subscribed = BTreeSet::from([T]);
        let wanted = parts(&[0, 1]);
        let free = |_: Uuid, _: i32| false;
        let m = stable(1, &[0, 1, 2, 3]);
        // Owned partitions not reported: the member must revoke 2 and 3 at epoch 1.
        let r = reconcile(&m, &target(2, &wanted, &subscribed), None, &free);
        assert_eq!(r.state, MemberState::UnrevokedPartitions);
        assert_eq!(
            (r.epoch, r.assigned.clone(), r.pending_revocation.clone()),
            (1, parts(&[0, 1]), parts(&[2, 3]))
        );
        // Still reporting 2: no progress.
        let still = parts(&[0, 1, 2]);
        assert_eq!(
            reconcile(&r, &target(2, &wanted, &subscribed), Some(&still), &free),
            r
        );
        // Revoked: epoch 2, stable.
        let done = reconcile(
            &r,
            &target(2, &wanted, &subscribed),
            Some(&parts(&[0, 1])),
            &free,
        );
        assert_eq!(done.state, MemberState::Stable);
        assert_eq!(
            (done.epoch, done.previous_epoch, done.assigned),
            (2, 1, parts(&[0, 1]))
        );
    }

    #[test]
    fn unreleased_partitions_come_once_released() {
        let subscribed = BTreeSet::from([T]);
        let wanted = parts(&[2, 3]);
        let m = Progress::new();
        let held = |_: Uuid, p: i32| p == 3;
        let r = reconcile(
            &m,
            &target(2, &wanted, &subscribed),
            Some(&Parts::new()),
            &held,
        );
        assert_eq!(r.state, MemberState::UnreleasedPartitions);
        assert_eq!((r.epoch, r.assigned.clone()), (2, parts(&[2])));
        let free = |_: Uuid, _: i32| false;
        let r = reconcile(&r, &target(2, &wanted, &subscribed), None, &free);
        assert_eq!(r.state, MemberState::Stable);
        assert_eq!(r.assigned, parts(&[2, 3]));
    }

    #[test]
    fn reporting_without_the_revoked_partitions_skips_the_revocation_step() {
        let subscribed = BTreeSet::from([T]);
        let wanted = parts(&[0]);
        let free = |_: Uuid, _: i32| false;
        let r = reconcile(
            &stable(1, &[0, 1]),
            &target(2, &wanted, &subscribed),
            Some(&parts(&[0])),
            &free,
        );
        assert_eq!(
            (r.state, r.epoch, r.assigned),
            (MemberState::Stable, 2, parts(&[0]))
        );
    }

    #[test]
    fn an_unsubscribed_topic_is_revoked_at_the_same_epoch() {
        let subscribed = BTreeSet::new();
        let wanted = parts(&[0, 1]);
        let free = |_: Uuid, _: i32| false;
        let mut t = target(1, &wanted, &subscribed);
        t.subscription_changed = true;
        let r = reconcile(&stable(1, &[0, 1]), &t, Some(&parts(&[0, 1])), &free);
        assert_eq!((r.state, r.epoch), (MemberState::UnrevokedPartitions, 1));
        assert!(r.assigned.is_empty());
        assert_eq!(r.pending_revocation, parts(&[0, 1]));
    }
}
