//! The command line of `rebalance`: which clients and rebalance protocols, how large a group,
//! how fast the load, and the presets (`--quick`, `--large`).

use std::time::Duration;

use super::member::MemberKind;
use crate::{BenchError, Result};

/// The usage text.
pub const USAGE: &str = "\
usage: rebalance [--quick | --large] [--clients gregor,librdkafka,java]
                 [--protocols range,cooperative-sticky,consumer,consumer/range]
                 [--members N] [--partitions N] [--rounds N] [--cycles N] [--interval-ms N]
                 [--heartbeat-ms N] [--session-ms N] [--steady-secs N] [--settle-secs N]

  --protocols     classic assignors by name (range, cooperative-sticky, roundrobin, sticky), and
                  KIP-848's consumer protocol: consumer (= consumer/uniform) or consumer/range
                  (the broker's assignor); --assignors is the same flag
  --members       the group before a join (a join goes N -> N+1, a leave N+1 -> N); default 3
  --heartbeat-ms  the classic members' heartbeat.interval.ms, and the broker's
                  group.consumer.heartbeat.interval.ms for KIP-848 members; default 1000
  --session-ms    likewise session.timeout.ms / group.consumer.session.timeout.ms; default 10000
  --quick         one cycle per group
  --large         10 members, 900 partitions, one record per partition every 100 ms, Java
                  only, cooperative-sticky and consumer, one cycle, 300 s to settle (the flags
                  after it still apply)";

/// How a group rebalances.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// The classic protocol (JoinGroup/SyncGroup), the members' own assignor by protocol name
    /// (`range`, `cooperative-sticky`, ...) in `partition.assignment.strategy`; heartbeat and
    /// session set by each member.
    Classic(String),
    /// KIP-848's consumer protocol (`group.protocol=consumer`): the broker assigns with this
    /// assignor (`group.remote.assignor`: `uniform`, `range`) and sets the heartbeat interval
    /// and the session timeout.
    Consumer(String),
}

impl Protocol {
    /// Parses a name of the command line: `consumer` (KIP-848, `uniform`), `consumer/NAME`
    /// (KIP-848, the broker's assignor `NAME`), or a classic assignor's name.
    pub fn parse(name: &str) -> Option<Protocol> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        if name == "consumer" {
            return Some(Protocol::Consumer("uniform".into()));
        }
        match name.strip_prefix("consumer/") {
            Some("") => None,
            Some(remote) => Some(Protocol::Consumer(remote.to_owned())),
            None => Some(Protocol::Classic(name.to_owned())),
        }
    }

    /// Its name in the tables (and on the command line).
    pub fn name(&self) -> String {
        match self {
            Protocol::Classic(assignor) => assignor.clone(),
            Protocol::Consumer(remote) => format!("consumer/{remote}"),
        }
    }

    /// Whether this is KIP-848's consumer protocol.
    pub fn is_consumer(&self) -> bool {
        matches!(self, Protocol::Consumer(_))
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The clients, in the order each round runs them.
    pub clients: Vec<MemberKind>,
    /// The rebalance protocols.
    pub protocols: Vec<Protocol>,
    /// Members of the group before a join.
    pub members: usize,
    /// Rounds: each runs every protocol and client once, in turn.
    pub rounds: usize,
    /// Join-then-leave cycles per group.
    pub cycles: usize,
    /// Partitions of the topic.
    pub partitions: i32,
    /// The producer's interval (one record per partition each).
    pub interval: Duration,
    /// `heartbeat.interval.ms` of every classic member, and the broker's
    /// `group.consumer.heartbeat.interval.ms` for KIP-848 members.
    pub heartbeat: Duration,
    /// `session.timeout.ms` of every classic member, and the broker's
    /// `group.consumer.session.timeout.ms` for KIP-848 members.
    pub session: Duration,
    /// The quiet window after a group settled (before the next change; also the window of the
    /// steady gap).
    pub steady: Duration,
    /// How long a group may take to settle before the run fails.
    pub settle: Duration,
}

impl Options {
    /// The default run.
    pub fn full() -> Options {
        Options {
            clients: MemberKind::ALL.to_vec(),
            protocols: ["range", "cooperative-sticky", "consumer"]
                .into_iter()
                .filter_map(Protocol::parse)
                .collect(),
            members: 3,
            rounds: 1,
            cycles: 3,
            partitions: 12,
            interval: Duration::from_millis(20),
            heartbeat: Duration::from_millis(1000),
            session: Duration::from_secs(10),
            steady: Duration::from_secs(2),
            settle: Duration::from_secs(60),
        }
    }

    /// One cycle per group.
    pub fn quick() -> Options {
        Options {
            cycles: 1,
            ..Options::full()
        }
    }

    /// The large group: 10 Java members on 900 partitions, classic cooperative-sticky against
    /// KIP-848, one cycle.
    pub fn large() -> Options {
        Options {
            clients: vec![MemberKind::Java],
            protocols: ["cooperative-sticky", "consumer"]
                .into_iter()
                .filter_map(Protocol::parse)
                .collect(),
            members: 10,
            cycles: 1,
            partitions: 900,
            interval: Duration::from_millis(100),
            settle: Duration::from_secs(300),
            ..Options::full()
        }
    }

    /// How long a member process lives at most: long enough for every cycle to take its
    /// longest settle.
    pub fn member_lifetime(&self) -> Duration {
        let changes = 2 * self.cycles as u32 + 2;
        Duration::from_secs(900).max(self.settle * changes + self.steady * changes)
    }

    /// Parses the arguments (without the program name).
    pub fn parse(args: &[String]) -> Result<Options> {
        let mut o = if args.iter().any(|a| a == "--large") {
            Options::large()
        } else if args.iter().any(|a| a == "--quick") {
            Options::quick()
        } else {
            Options::full()
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" | "--large" => continue,
                "-h" | "--help" => return Err(BenchError::Other(USAGE.into())),
                _ => {}
            }
            let v = it
                .next()
                .ok_or_else(|| BenchError::Other(format!("{a} needs a value\n{USAGE}")))?;
            let num = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| BenchError::Other(format!("bad number {v}")))
            };
            match a.as_str() {
                "--clients" => {
                    o.clients = v
                        .split(',')
                        .map(|s| {
                            MemberKind::parse(s)
                                .ok_or_else(|| BenchError::Other(format!("client {s}?")))
                        })
                        .collect::<Result<_>>()?
                }
                "--protocols" | "--assignors" => {
                    o.protocols = v
                        .split(',')
                        .map(|s| {
                            Protocol::parse(s)
                                .ok_or_else(|| BenchError::Other(format!("protocol {s:?}?")))
                        })
                        .collect::<Result<_>>()?
                }
                "--members" => o.members = num(v)?.clamp(1, 100) as usize,
                "--rounds" => o.rounds = num(v)?.max(1) as usize,
                "--cycles" => o.cycles = num(v)?.max(1) as usize,
                "--partitions" => o.partitions = num(v)?.clamp(2, 10_000) as i32,
                "--interval-ms" => o.interval = Duration::from_millis(num(v)?.max(1)),
                "--heartbeat-ms" => o.heartbeat = Duration::from_millis(num(v)?.max(1)),
                "--session-ms" => o.session = Duration::from_millis(num(v)?.max(1)),
                "--steady-secs" => o.steady = Duration::from_secs(num(v)?.max(1)),
                "--settle-secs" => o.settle = Duration::from_secs(num(v)?.max(1)),
                other => {
                    return Err(BenchError::Other(format!(
                        "unknown option {other}\n{USAGE}"
                    )));
                }
            }
        }
        if o.heartbeat >= o.session {
            return Err(BenchError::Other(
                "--heartbeat-ms must be below --session-ms".into(),
            ));
        }
        if (o.partitions as usize) <= o.members {
            return Err(BenchError::Other(
                "--partitions must be more than --members (every member of the larger group \
                 owns some)"
                    .into(),
            ));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn protocol_names_round_trip() {
        assert_eq!(
            Protocol::parse("consumer"),
            Some(Protocol::Consumer("uniform".into()))
        );
        assert_eq!(
            Protocol::parse("consumer/range"),
            Some(Protocol::Consumer("range".into()))
        );
        assert_eq!(
            Protocol::parse("range"),
            Some(Protocol::Classic("range".into()))
        );
        assert_eq!(Protocol::parse("consumer/"), None);
        assert_eq!(Protocol::parse(" "), None);
        for name in [
            "range",
            "cooperative-sticky",
            "consumer/uniform",
            "consumer/range",
        ] {
            assert_eq!(
                Protocol::parse(name).map(|p| p.name()).as_deref(),
                Some(name)
            );
        }
    }

    #[test]
    fn the_default_run_has_the_three_protocols_and_large_is_java_at_900() {
        let o = Options::parse(&[]).unwrap();
        assert_eq!(
            o.protocols.iter().map(Protocol::name).collect::<Vec<_>>(),
            ["range", "cooperative-sticky", "consumer/uniform"]
        );
        assert_eq!((o.members, o.partitions), (3, 12));
        let o = Options::parse(&args("--large --cycles 2")).unwrap();
        assert_eq!((o.members, o.partitions, o.cycles), (10, 900, 2));
        assert_eq!(o.clients, [MemberKind::Java]);
        assert!(o.member_lifetime() >= Duration::from_secs(6 * 300));
        let o = Options::parse(&args("--assignors consumer/range --members 5")).unwrap();
        assert_eq!(o.protocols, [Protocol::Consumer("range".into())]);
        assert_eq!(o.members, 5);
        assert!(Options::parse(&args("--members 12 --partitions 12")).is_err());
        assert!(Options::parse(&args("--protocols range,,consumer")).is_err());
    }
}
