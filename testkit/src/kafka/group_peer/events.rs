//! The member programs' line format: each line a member prints parsed into a [`PeerEvent`], and
//! printed back the same way ([the table](super#the-member-programs)).

use std::fmt;

/// A topic partition: the topic's name and the partition's index.
pub type Partition = (String, i32);

/// One line a member printed ([the table](super#the-member-programs)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// Subscribed, before the first poll.
    Ready,
    /// The rebalance listener was given these partitions (under a cooperative protocol, the
    /// ones added; under an eager one, the whole new assignment).
    Assigned(Vec<Partition>),
    /// The rebalance listener was asked to give these up (and, auto-commit off, their
    /// processed offsets were committed first).
    Revoked(Vec<Partition>),
    /// The rebalance listener was told these were lost (nothing committed).
    Lost(Vec<Partition>),
    /// Records of one partition from one poll, processed.
    Records {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The first record's offset.
        first: i64,
        /// The last record's offset.
        last: i64,
        /// How many records.
        count: usize,
        /// The member's group generation (-1 when the client does not tell: librdkafka).
        generation: i32,
        /// When the member had processed them, in milliseconds since the Unix epoch (its
        /// wall clock).
        at_ms: i64,
        /// Every offset, in order (`first..=last` unless the partition had gaps).
        offsets: Vec<i64>,
    },
    /// A synchronous commit of these next offsets (topic, partition, offset) succeeded.
    Committed(Vec<(String, i32, i64)>),
    /// A synchronous commit failed, with the client's message.
    CommitFailed(String),
    /// The consumer closed; the program exits 0.
    Closed,
    /// A fatal error; the program exits 1.
    Error(String),
    /// A line this module does not understand.
    Unknown(String),
}

impl PeerEvent {
    /// The event of one printed line (`Unknown` when it is none).
    pub fn parse(line: &str) -> PeerEvent {
        let line = line.trim_end();
        let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
        let parsed = match head {
            "ready" if rest.is_empty() => Some(PeerEvent::Ready),
            "closed" if rest.is_empty() => Some(PeerEvent::Closed),
            "assigned" => parse_pairs(rest).map(PeerEvent::Assigned),
            "revoked" => parse_pairs(rest).map(PeerEvent::Revoked),
            "lost" => parse_pairs(rest).map(PeerEvent::Lost),
            "records" => parse_records(rest),
            "committed" => parse_commits(rest).map(PeerEvent::Committed),
            "commit-failed" => Some(PeerEvent::CommitFailed(rest.to_owned())),
            "error" => Some(PeerEvent::Error(rest.to_owned())),
            _ => None,
        };
        parsed.unwrap_or_else(|| PeerEvent::Unknown(line.to_owned()))
    }
}

fn parse_pairs(rest: &str) -> Option<Vec<Partition>> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    if words.len() % 2 != 0 {
        return None;
    }
    words
        .chunks(2)
        .map(|w| Some((w[0].to_owned(), w[1].parse().ok()?)))
        .collect()
}

fn parse_commits(rest: &str) -> Option<Vec<(String, i32, i64)>> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    if words.len() % 3 != 0 {
        return None;
    }
    words
        .chunks(3)
        .map(|w| Some((w[0].to_owned(), w[1].parse().ok()?, w[2].parse().ok()?)))
        .collect()
}

fn parse_records(rest: &str) -> Option<PeerEvent> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let [
        topic,
        partition,
        first,
        last,
        count,
        generation,
        at_ms,
        listed @ ..,
    ] = &words[..]
    else {
        return None;
    };
    let (first, last, count): (i64, i64, usize) =
        (first.parse().ok()?, last.parse().ok()?, count.parse().ok()?);
    let offsets: Vec<i64> = if listed.is_empty() {
        (first..=last).collect()
    } else {
        listed
            .iter()
            .map(|o| o.parse().ok())
            .collect::<Option<_>>()?
    };
    if offsets.len() != count || offsets.first() != Some(&first) || offsets.last() != Some(&last) {
        return None;
    }
    Some(PeerEvent::Records {
        topic: (*topic).to_owned(),
        partition: partition.parse().ok()?,
        first,
        last,
        count,
        generation: generation.parse().ok()?,
        at_ms: at_ms.parse().ok()?,
        offsets,
    })
}

/// The event as the member printed it.
impl fmt::Display for PeerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs = |f: &mut fmt::Formatter<'_>, what: &str, ps: &[Partition]| {
            f.write_str(what)?;
            ps.iter().try_for_each(|(t, p)| write!(f, " {t} {p}"))
        };
        match self {
            PeerEvent::Ready => f.write_str("ready"),
            PeerEvent::Closed => f.write_str("closed"),
            PeerEvent::Assigned(ps) => pairs(f, "assigned", ps),
            PeerEvent::Revoked(ps) => pairs(f, "revoked", ps),
            PeerEvent::Lost(ps) => pairs(f, "lost", ps),
            PeerEvent::Records {
                topic,
                partition,
                first,
                last,
                count,
                generation,
                at_ms,
                offsets,
            } => {
                write!(
                    f,
                    "records {topic} {partition} {first} {last} {count} {generation} {at_ms}"
                )?;
                if usize::try_from(last - first + 1).ok() != Some(*count) {
                    offsets.iter().try_for_each(|o| write!(f, " {o}"))?;
                }
                Ok(())
            }
            PeerEvent::Committed(cs) => {
                f.write_str("committed")?;
                cs.iter()
                    .try_for_each(|(t, p, o)| write!(f, " {t} {p} {o}"))
            }
            PeerEvent::CommitFailed(m) => write!(f, "commit-failed {m}"),
            PeerEvent::Error(m) => write!(f, "error {m}"),
            PeerEvent::Unknown(line) => f.write_str(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> Partition {
        (t.to_owned(), p)
    }

    #[test]
    fn every_line_parses_and_prints_back() {
        let lines = [
            "ready",
            "assigned t 0 t 1 u-2 5",
            "assigned",
            "revoked t 1",
            "lost t 0",
            "records t 3 10 14 5 7 1700000000123",
            "records t 3 10 20 3 -1 1700000000123 10 15 20",
            "committed t 3 15 u 0 2",
            "commit-failed CommitFailedException: the group rebalanced",
            "closed",
            "error org.apache.kafka.common.KafkaException: boom",
        ];
        for line in lines {
            let event = PeerEvent::parse(line);
            assert!(!matches!(event, PeerEvent::Unknown(_)), "{line}");
            assert_eq!(event.to_string(), line);
        }
        assert_eq!(
            PeerEvent::parse("assigned t 0 u-2 5"),
            PeerEvent::Assigned(vec![tp("t", 0), tp("u-2", 5)])
        );
        let PeerEvent::Records { offsets, .. } = PeerEvent::parse("records t 3 10 12 3 7 1") else {
            panic!("records");
        };
        assert_eq!(offsets, [10, 11, 12]);
    }

    #[test]
    fn malformed_lines_are_unknown() {
        for line in [
            "assigned t",
            "records t 3 10 14 4 7 1",
            "records t 3 10 20 2 7 1 10 19",
            "records t x 1 1 1 1 1",
            "committed t 1",
            "hello",
        ] {
            assert_eq!(PeerEvent::parse(line), PeerEvent::Unknown(line.to_owned()));
        }
    }
}
