//! One group of the soak: its gregor member processes (`gregor-group-member`, started, stopped
//! gracefully and killed with SIGKILL as the schedule says), how far they have read between
//! them, and the audit of their logs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use gregor_testkit::kafka::group_peer::{
    AuditReport, GroupAudit, GroupPeer, MemberConfig, PeerEvent,
};

use super::chaos::Rng;

/// What became of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Running,
    Stopped,
    Killed,
}

#[derive(Debug)]
struct Slot {
    peer: GroupPeer,
    fate: Fate,
    /// How many of its events [`SoakGroup::behind`] has looked at.
    seen: usize,
}

/// How a group's members are started.
#[derive(Debug, Clone)]
pub struct GroupSetup {
    /// The group's name in messages (`A`, `B`).
    pub name: String,
    /// What kind of group it is, in words (`classic, cooperative-sticky`).
    pub kind: String,
    /// The members' consumer properties (`group.id` among them).
    pub properties: Vec<(String, String)>,
    /// The topic they subscribe to.
    pub topic: String,
    /// The bootstrap server (the proxy's).
    pub bootstrap: String,
    /// The member program.
    pub program: PathBuf,
    /// How long a member process lives at most.
    pub lifetime: Duration,
}

/// One group's member processes and what they did.
#[derive(Debug)]
pub struct SoakGroup {
    /// How its members are started.
    pub setup: GroupSetup,
    members: Vec<Slot>,
    /// Members started.
    pub joined: usize,
    /// Members stopped gracefully by the schedule (not counting the final stops).
    pub left: usize,
    /// Members killed.
    pub killed: usize,
    /// Per partition, one past the highest offset any member delivered.
    reached: BTreeMap<i32, i64>,
}

impl SoakGroup {
    /// A group with no member yet.
    pub fn new(setup: GroupSetup) -> SoakGroup {
        SoakGroup {
            setup,
            members: Vec::new(),
            joined: 0,
            left: 0,
            killed: 0,
            reached: BTreeMap::new(),
        }
    }

    /// Starts one more member (client id `soak-<group>-<n>`); returns its label.
    pub fn join(&mut self) -> String {
        let client_id = format!(
            "soak-{}-{}",
            self.setup.name.to_lowercase(),
            self.joined + 1
        );
        let mut properties: Vec<(&str, &str)> = self
            .setup
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        properties.push(("client.id", &client_id));
        let config = MemberConfig::new(&properties, &[self.setup.topic.as_str()])
            .with_timeout(self.setup.lifetime);
        let peer = GroupPeer::gregor(&self.setup.program, &self.setup.bootstrap, &config)
            .unwrap_or_else(|e| panic!("group {}: a member starts: {e}", self.setup.name));
        let label = peer.label().to_owned();
        self.members.push(Slot {
            peer,
            fate: Fate::Running,
            seen: 0,
        });
        self.joined += 1;
        label
    }

    /// How many members run.
    pub fn running(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.fate == Fate::Running)
            .count()
    }

    fn pick_running(&self, rng: &mut Rng) -> usize {
        let running: Vec<usize> = (0..self.members.len())
            .filter(|i| self.members[*i].fate == Fate::Running)
            .collect();
        assert!(
            !running.is_empty(),
            "group {}: nobody runs",
            self.setup.name
        );
        running[rng.below(running.len())]
    }

    /// Stops a running member (picked by `rng`) gracefully and waits until it has closed;
    /// returns its label. Panics if it fails to close.
    pub async fn stop_one(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_running(rng);
        let slot = &mut self.members[i];
        slot.fate = Fate::Stopped;
        if let Err(e) = slot.peer.stop_async().await {
            panic!(
                "group {}: a member did not stop gracefully: {e}",
                self.setup.name
            );
        }
        self.left += 1;
        self.members[i].peer.label().to_owned()
    }

    /// Kills a running member (picked by `rng`) with SIGKILL; returns its label.
    pub fn kill_one(&mut self, rng: &mut Rng) -> String {
        let i = self.pick_running(rng);
        let slot = &mut self.members[i];
        slot.fate = Fate::Killed;
        slot.peer.kill();
        self.killed += 1;
        self.members[i].peer.label().to_owned()
    }

    /// Panics (with the member's state) if a member the schedule did not end has exited.
    pub fn check_running(&self) {
        for slot in &self.members {
            if slot.fate == Fate::Running && !slot.peer.is_running() {
                panic!(
                    "group {}: {} exited by itself\n{}",
                    self.setup.name,
                    slot.peer.label(),
                    slot.peer.describe()
                );
            }
        }
    }

    /// How many records of `ends` (per partition) no member has reached yet (0: the highest
    /// offset of every partition was delivered).
    pub fn behind(&mut self, ends: &BTreeMap<i32, i64>) -> u64 {
        let reached = &mut self.reached;
        for slot in &mut self.members {
            let seen = slot.seen;
            slot.seen = slot.peer.with_events(|events| {
                for event in events.get(seen..).unwrap_or(&[]) {
                    if let PeerEvent::Records {
                        partition, last, ..
                    } = event
                    {
                        let end = reached.entry(*partition).or_default();
                        *end = (*end).max(last + 1);
                    }
                }
                events.len()
            });
        }
        ends.iter()
            .map(|(p, end)| (end - self.reached.get(p).copied().unwrap_or(0)).max(0) as u64)
            .sum()
    }

    /// Stops every running member gracefully, one after the other. Panics if one fails to.
    pub async fn stop_all(&mut self) {
        for slot in &mut self.members {
            if slot.fate == Fate::Running {
                slot.fate = Fate::Stopped;
                if let Err(e) = slot.peer.stop_async().await {
                    panic!(
                        "group {}: a member did not stop gracefully: {e}",
                        self.setup.name
                    );
                }
            }
        }
    }

    /// The audit of every member's log against what was produced.
    pub fn audit(&self, ends: &BTreeMap<i32, i64>) -> AuditReport {
        let produced = ends
            .iter()
            .map(|(p, end)| ((self.setup.topic.clone(), *p), *end))
            .collect();
        let mut audit = GroupAudit::new(produced);
        for slot in &self.members {
            slot.peer.with_events(|events| {
                audit.add_member(slot.peer.label(), events, slot.fate == Fate::Killed);
            });
        }
        audit.report()
    }

    /// Writes every member's log to `dir/<group>-<n>-<fate>.events`, one line per event.
    pub fn write_logs(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (i, slot) in self.members.iter().enumerate() {
            let text = slot
                .peer
                .with_events(|events| events.iter().map(|e| format!("{e}\n")).collect::<String>());
            let name = format!("{}-{}-{:?}.events", self.setup.name, i + 1, slot.fate);
            std::fs::write(dir.join(name.to_lowercase()), text)?;
        }
        Ok(())
    }

    /// Every member's state, for a failure message.
    pub fn describe(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("[{:?}] {}", m.fate, m.peer.describe()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
