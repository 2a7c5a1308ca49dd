//! Waiting on several members at once: until a condition holds for all their logs, or until
//! they own a set of partitions exactly once between them ([`splits_exactly`]).

use std::collections::BTreeSet;
use std::sync::MutexGuard;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{GroupPeer, GroupPeerError, LogState, POLL, Partition, PeerEvent, lock};

/// Waits until `pred` holds for the logs of `peers` (in the order given), looking every
/// 20 ms. Fails at once when a member's process ends that the test did not stop or kill, and
/// after `timeout`, describing every member.
pub fn wait_for_all(
    peers: &[&GroupPeer],
    timeout: Duration,
    mut pred: impl FnMut(&[&[PeerEvent]]) -> bool,
) -> Result<(), GroupPeerError> {
    let started = Instant::now();
    loop {
        if let Some(done) = check_all(peers, timeout, started, &mut pred) {
            return done;
        }
        std::thread::sleep(POLL);
    }
}

/// [`wait_for_all`] from an async test.
pub async fn until_all(
    peers: &[&GroupPeer],
    timeout: Duration,
    mut pred: impl FnMut(&[&[PeerEvent]]) -> bool,
) -> Result<(), GroupPeerError> {
    let started = Instant::now();
    loop {
        if let Some(done) = check_all(peers, timeout, started, &mut pred) {
            return done;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One look for [`wait_for_all`]: `Some` once it is decided.
fn check_all(
    peers: &[&GroupPeer],
    timeout: Duration,
    started: Instant,
    pred: &mut impl FnMut(&[&[PeerEvent]]) -> bool,
) -> Option<Result<(), GroupPeerError>> {
    let dead = {
        let states: Vec<MutexGuard<'_, LogState>> =
            peers.iter().map(|p| lock(&p.log.state)).collect();
        let logs: Vec<&[PeerEvent]> = states.iter().map(|s| s.events.as_slice()).collect();
        if pred(&logs) {
            return Some(Ok(()));
        }
        peers
            .iter()
            .zip(&states)
            .find(|(p, s)| s.ended && !p.ended_by_test.load(Ordering::Relaxed))
            .map(|(p, _)| *p)
    };
    if let Some(peer) = dead {
        return Some(Err(peer.exited()));
    }
    if started.elapsed() >= timeout {
        let labels: Vec<&str> = peers.iter().map(|p| p.label()).collect();
        let state: Vec<String> = peers.iter().map(|p| p.describe()).collect();
        return Some(Err(GroupPeerError::Timeout {
            what: format!("the awaited state of {}", labels.join(", ")),
            waited: timeout,
            state: state.join("\n"),
        }));
    }
    None
}

/// Whether the ownership sets in `owned` split `partitions` exactly: pairwise disjoint, their
/// union `partitions`, and (when there are at least as many partitions as members) each member
/// owning some.
pub fn splits_exactly(owned: &[BTreeSet<Partition>], partitions: &BTreeSet<Partition>) -> bool {
    let total: usize = owned.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<&Partition> = owned.iter().flatten().collect();
    let everyone = partitions.len() < owned.len() || owned.iter().all(|o| !o.is_empty());
    total == union.len() && union.len() == partitions.len() && everyone && {
        union.iter().all(|p| partitions.contains(*p))
    }
}

/// Waits until `peers` own `partitions` exactly once between them ([`splits_exactly`]: the
/// rebalance has settled, and each member has a share when there are enough partitions) and
/// returns what each owns.
pub fn wait_owned_exactly_once(
    peers: &[&GroupPeer],
    partitions: &BTreeSet<Partition>,
    timeout: Duration,
) -> Result<Vec<BTreeSet<Partition>>, GroupPeerError> {
    let mut split = Vec::new();
    wait_for_all(peers, timeout, |logs| {
        split = logs.iter().map(|l| GroupPeer::ownership(l)).collect();
        splits_exactly(&split, partitions)
    })?;
    Ok(split)
}

/// [`wait_owned_exactly_once`] from an async test.
pub async fn until_owned_exactly_once(
    peers: &[&GroupPeer],
    partitions: &BTreeSet<Partition>,
    timeout: Duration,
) -> Result<Vec<BTreeSet<Partition>>, GroupPeerError> {
    let mut split = Vec::new();
    until_all(peers, timeout, |logs| {
        split = logs.iter().map(|l| GroupPeer::ownership(l)).collect();
        splits_exactly(&split, partitions)
    })
    .await?;
    Ok(split)
}

/// The partitions `0..count` of `topic`, for [`wait_owned_exactly_once`].
pub fn partitions_of(topic: &str, count: i32) -> BTreeSet<Partition> {
    (0..count).map(|p| (topic.to_owned(), p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> Partition {
        (t.to_owned(), p)
    }

    #[test]
    fn a_split_is_exact_only_when_disjoint_complete_and_shared() {
        let all = partitions_of("t", 4);
        let set = |ps: &[i32]| ps.iter().map(|p| tp("t", *p)).collect::<BTreeSet<_>>();
        assert!(splits_exactly(&[set(&[0, 1]), set(&[2, 3])], &all));
        assert!(!splits_exactly(&[set(&[0, 1, 2]), set(&[2, 3])], &all));
        assert!(!splits_exactly(&[set(&[0, 1]), set(&[2])], &all));
        assert!(!splits_exactly(&[set(&[0, 1, 2, 3]), set(&[])], &all));
        assert!(splits_exactly(&[set(&[0, 1, 2, 3])], &all));
        let one = partitions_of("t", 1);
        assert!(splits_exactly(&[set(&[0]), set(&[])], &one));
    }
}
