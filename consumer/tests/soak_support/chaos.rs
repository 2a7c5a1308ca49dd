//! The soak's chaos schedule: a seeded random generator and the choice of the next action
//! under the soak's limits (a group keeps at least one member running, and has at most
//! [`MAX_MEMBERS`]).

use std::time::Duration;

/// The most members a group has running at once.
pub const MAX_MEMBERS: usize = 4;

/// The shortest and longest pause between two actions.
pub const PAUSE: (Duration, Duration) =
    (Duration::from_millis(2_000), Duration::from_millis(4_000));

/// SplitMix64: small, seedable, good enough to pick actions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator that repeats its numbers for the same seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A duration between `lo` and `hi`.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = hi.saturating_sub(lo).as_millis() as u64;
        lo + Duration::from_millis(self.next_u64() % (span + 1))
    }
}

/// What the schedule does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new member joins group `g`.
    Join(usize),
    /// A running member of group `g` stops gracefully (`stop`: commits, leaves).
    Stop(usize),
    /// A running member of group `g` is killed (SIGKILL: no commit, no leave).
    Kill(usize),
    /// Every connection through the proxy is cut (both groups' members reconnect).
    Cut,
}

/// The next action, given how many members each group has running: one of join, stop, kill
/// and cut (weighted 3:2:2:2), turned into a join where a group would fall below one running
/// member, and into a stop where it would grow past [`MAX_MEMBERS`].
pub fn choose(rng: &mut Rng, running: &[usize]) -> Action {
    let roll = rng.below(9);
    if roll >= 7 {
        return Action::Cut;
    }
    let g = rng.below(running.len());
    let n = running[g];
    match roll {
        0..=2 if n < MAX_MEMBERS => Action::Join(g),
        0..=2 => Action::Stop(g),
        _ if n < 2 => Action::Join(g),
        3 | 4 => Action::Stop(g),
        _ => Action::Kill(g),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(8).next_u64(), xs[0]);
        for _ in 0..100 {
            let d = a.between(PAUSE.0, PAUSE.1);
            assert!(PAUSE.0 <= d && d <= PAUSE.1);
        }
    }

    /// Applied over many steps, the choices keep every group between one and MAX_MEMBERS
    /// running members, and each kind of action happens.
    #[test]
    fn the_schedule_keeps_each_group_within_its_limits() {
        let mut rng = Rng::new(42);
        let mut running = vec![2usize, 2];
        let mut seen = [0usize; 4];
        for _ in 0..2_000 {
            match choose(&mut rng, &running) {
                Action::Join(g) => {
                    running[g] += 1;
                    seen[0] += 1;
                }
                Action::Stop(g) => {
                    running[g] -= 1;
                    seen[1] += 1;
                }
                Action::Kill(g) => {
                    running[g] -= 1;
                    seen[2] += 1;
                }
                Action::Cut => seen[3] += 1,
            }
            assert!(
                running.iter().all(|n| (1..=MAX_MEMBERS).contains(n)),
                "{running:?}"
            );
        }
        assert!(seen.iter().all(|n| *n > 100), "{seen:?}");
    }
}
