//! Java's built-in consumer assignors (`range`, `roundrobin`, `sticky`, `cooperative-sticky` of
//! `kafka-clients`) as the reference for gregor's: `testkit/kafka/AssignorPeer.java`, compiled
//! once per source into the cache directory like [`super::peer`]'s program, runs a batch of
//! group assignment cases in one JVM and answers each member's partitions and user data.
//!
//! A test describes each case as an [`AssignorCase`]: the brokers with their racks, the
//! partitions with their replicas (so Java's `Cluster` knows replica racks), and the members'
//! subscriptions exactly as the leader receives them (topics, user data bytes, owned
//! partitions, generation, rack, `group.instance.id`). [`AssignorPeer::run`] answers a
//! [`CaseAnswer`] per case, in order. The user data passes through unchanged, so what a sticky
//! assignor reads from it must be encoded the way Java's members encode it.
//!
//! This module knows nothing of gregor's consumer: tests convert its types to their own.
//!
//! ```no_run
//! use gregor_testkit::kafka::KafkaInstall;
//! use gregor_testkit::kafka::assignor_peer::{AssignorCase, AssignorPeer, CaseMember, CasePartition};
//!
//! let peer = AssignorPeer::new(&KafkaInstall::find().unwrap()).unwrap();
//! let mut case = AssignorCase::new("c0", "range");
//! case.partitions.push(CasePartition { topic: "t".into(), index: 0, replicas: vec![] });
//! case.members.push(CaseMember::new("m0", ["t"]));
//! let answers = peer.run(&[case]).unwrap();
//! assert_eq!(answers[0].result.as_ref().unwrap()["m0"].partitions.len(), 1);
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use gregor_protocol::TopicPartition;

use super::install::KafkaInstall;
use super::node::tool_jvm_args;
use super::peer::{PeerError, compiled, failed};

const SOURCE: &str = include_str!("../../kafka/AssignorPeer.java");

/// How long one batch may run before the Java program exits by itself.
pub const ASSIGNOR_PEER_TIMEOUT: Duration = Duration::from_secs(600);

/// A broker of a case's cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseNode {
    /// The node id.
    pub id: i32,
    /// Its `broker.rack`.
    pub rack: Option<String>,
}

/// A partition of a case's cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePartition {
    /// The topic.
    pub topic: String,
    /// The partition index.
    pub index: i32,
    /// The node ids of its replicas, the first one the leader (none: no leader). A node not
    /// among the case's [`nodes`](AssignorCase::nodes) has no rack.
    pub replicas: Vec<i32>,
}

/// A member's subscription as the group leader receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseMember {
    /// The member id.
    pub member_id: String,
    /// Its `group.instance.id`.
    pub instance_id: Option<String>,
    /// Its `client.rack`.
    pub rack: Option<String>,
    /// The generation of its owned partitions, -1 for none.
    pub generation: i32,
    /// The assignor's user data, passed to Java as is.
    pub user_data: Option<Vec<u8>>,
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// The partitions it owns.
    pub owned: Vec<TopicPartition>,
}

impl CaseMember {
    /// A member subscribed to `topics`, owning nothing, without rack, instance id or user data.
    pub fn new<I, S>(member_id: impl Into<String>, topics: I) -> CaseMember
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CaseMember {
            member_id: member_id.into(),
            instance_id: None,
            rack: None,
            generation: -1,
            user_data: None,
            topics: topics.into_iter().map(Into::into).collect(),
            owned: Vec::new(),
        }
    }
}

/// One group assignment for Java to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignorCase {
    /// A name for the case, echoed in its answer (one word).
    pub label: String,
    /// The assignor: `range`, `roundrobin`, `sticky` or `cooperative-sticky`.
    pub assignor: String,
    /// The brokers.
    pub nodes: Vec<CaseNode>,
    /// Every partition of every topic in the metadata.
    pub partitions: Vec<CasePartition>,
    /// The members, in the order a leader receives them: Java's `HashMap` of subscriptions is
    /// filled in this order, which can decide ties in the sticky assignors.
    pub members: Vec<CaseMember>,
}

impl AssignorCase {
    /// An empty case for `assignor`.
    pub fn new(label: impl Into<String>, assignor: impl Into<String>) -> AssignorCase {
        AssignorCase {
            label: label.into(),
            assignor: assignor.into(),
            nodes: Vec::new(),
            partitions: Vec::new(),
            members: Vec::new(),
        }
    }

    /// Appends the case in the program's input format (see `AssignorPeer.java`). Fails on a
    /// name the format cannot carry (`-`, `""`, or with white space, `,` or `:`).
    pub fn write(&self, out: &mut String) -> Result<(), PeerError> {
        let _ = writeln!(out, "case {} {}", word(&self.label)?, word(&self.assignor)?);
        for node in &self.nodes {
            let _ = writeln!(out, "node {} {}", node.id, opt_word(node.rack.as_deref())?);
        }
        for p in &self.partitions {
            let replicas: Vec<String> = p.replicas.iter().map(i32::to_string).collect();
            let _ = writeln!(
                out,
                "partition {} {} {}",
                word(&p.topic)?,
                p.index,
                joined(&replicas)
            );
        }
        for m in &self.members {
            let topics = m
                .topics
                .iter()
                .map(|t| word(t).map(str::to_owned))
                .collect::<Result<Vec<_>, _>>()?;
            let owned = m
                .owned
                .iter()
                .map(|tp| Ok(format!("{}:{}", word(tp.topic())?, tp.partition)))
                .collect::<Result<Vec<_>, PeerError>>()?;
            let _ = writeln!(
                out,
                "member {} {} {} {} {} {} {}",
                word(&m.member_id)?,
                opt_word(m.instance_id.as_deref())?,
                opt_word(m.rack.as_deref())?,
                m.generation,
                hex(m.user_data.as_deref()),
                joined(&topics),
                joined(&owned)
            );
        }
        out.push_str("end\n");
        Ok(())
    }
}

/// `s` as the input format carries a name (`""` for the empty one), if it can.
fn word(s: &str) -> Result<&str, PeerError> {
    if s.is_empty() {
        return Ok("\"\"");
    }
    let bad =
        s == "-" || s == "\"\"" || s.chars().any(|c| c.is_whitespace() || c == ',' || c == ':');
    if bad {
        return Err(PeerError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the assignor peer cannot carry the name {s:?}"),
        )));
    }
    Ok(s)
}

fn opt_word(s: Option<&str>) -> Result<&str, PeerError> {
    s.map_or(Ok("-"), word)
}

fn joined(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

fn hex(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "-".to_owned(),
        Some(b) => b.iter().fold(String::from("x"), |mut s, byte| {
            let _ = write!(s, "{byte:02x}");
            s
        }),
    }
}

fn unhex(s: &str) -> Option<Option<Vec<u8>>> {
    if s == "-" {
        return Some(None);
    }
    let digits = s.strip_prefix('x')?;
    if digits.len() % 2 != 0 {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Some)
}

/// A name as the program prints it (`""` for the empty one).
fn name(s: &str) -> &str {
    if s == "\"\"" { "" } else { s }
}

/// What Java assigned one member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JavaAssignment {
    /// The partitions, in the order Java listed them.
    pub partitions: Vec<TopicPartition>,
    /// The assignment's user data.
    pub user_data: Option<Vec<u8>>,
}

/// Java's answer to one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseAnswer {
    /// The case's label.
    pub label: String,
    /// Every member of Java's assignment by member id, or the exception the assignor threw
    /// (class and message).
    pub result: Result<BTreeMap<String, JavaAssignment>, String>,
}

/// Reads the program's output: one [`CaseAnswer`] per case.
pub fn parse_answers(text: &str) -> Result<Vec<CaseAnswer>, PeerError> {
    let unexpected = |line: &str| PeerError::Unexpected(line.to_owned());
    let mut answers = Vec::new();
    let mut current: Option<CaseAnswer> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match (words.as_slice(), current.as_mut()) {
            (["case", label], None) => {
                current = Some(CaseAnswer {
                    label: name(label).to_owned(),
                    result: Ok(BTreeMap::new()),
                });
            }
            (["member", id, partitions, user_data], Some(answer)) => {
                let partitions = if *partitions == "-" {
                    Vec::new()
                } else {
                    partitions
                        .split(',')
                        .map(|tp| {
                            let (topic, index) = tp.rsplit_once(':')?;
                            Some(TopicPartition::new(name(topic), index.parse().ok()?))
                        })
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| unexpected(line))?
                };
                let user_data = unhex(user_data).ok_or_else(|| unexpected(line))?;
                let Ok(members) = answer.result.as_mut() else {
                    return Err(unexpected(line));
                };
                members.insert(
                    name(id).to_owned(),
                    JavaAssignment {
                        partitions,
                        user_data,
                    },
                );
            }
            (["error", ..], Some(answer)) => {
                answer.result = Err(line["error ".len()..].to_owned());
            }
            (["end"], Some(_)) => answers.extend(current.take()),
            _ => return Err(unexpected(line)),
        }
    }
    match current {
        Some(open) => Err(PeerError::Unexpected(format!(
            "the output ended within case {}",
            open.label
        ))),
        None => Ok(answers),
    }
}

/// The compiled assignor program and what it runs with.
#[derive(Debug, Clone)]
pub struct AssignorPeer {
    install: KafkaInstall,
    classes: PathBuf,
    log4j: PathBuf,
}

impl AssignorPeer {
    /// Compiles the program with `javac` unless this source was compiled before (into
    /// `$GREGOR_CACHE_DIR/kafka-4.1.2/assignor-peer-<sha256 prefix>/`).
    pub fn new(install: &KafkaInstall) -> Result<AssignorPeer, PeerError> {
        let (classes, log4j) = compiled(install, &[("AssignorPeer", SOURCE)], "assignor-peer")?;
        Ok(AssignorPeer {
            install: install.clone(),
            classes,
            log4j,
        })
    }

    /// Runs the program once on `input` (cases in its input format) and returns what it
    /// printed; fails if it exits with an error (bad input, or the timeout).
    pub fn run_text(&self, input: &str) -> Result<String, PeerError> {
        let classpath = format!("{}:{}", self.classes.display(), self.install.classpath());
        let mut child = Command::new(self.install.java_bin())
            .args(tool_jvm_args(&self.log4j))
            .arg("-cp")
            .arg(classpath)
            .arg("AssignorPeer")
            .arg(ASSIGNOR_PEER_TIMEOUT.as_secs().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // Written from a thread of its own while this one reads the answers: a large batch
        // would otherwise fill both pipes.
        let writer = child.stdin.take().map(|mut stdin| {
            let input = input.to_owned();
            std::thread::spawn(move || stdin.write_all(input.as_bytes()))
        });
        let out = child.wait_with_output()?;
        if let Some(writer) = writer {
            let written = writer
                .join()
                .map_err(|_| PeerError::Io(std::io::Error::other("the input writer panicked")))?;
            // A failed write is explained by the exit status, checked next.
            if out.status.success() {
                written?;
            }
        }
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(failed(
                out.status,
                &stdout,
                &String::from_utf8_lossy(&out.stderr),
            ));
        }
        Ok(stdout)
    }

    /// Runs every case in one JVM and returns Java's answers, in the cases' order.
    pub fn run(&self, cases: &[AssignorCase]) -> Result<Vec<CaseAnswer>, PeerError> {
        let mut input = String::new();
        for case in cases {
            case.write(&mut input)?;
        }
        let answers = parse_answers(&self.run_text(&input)?)?;
        let labels_match = answers.len() == cases.len()
            && answers.iter().zip(cases).all(|(a, c)| a.label == c.label);
        if !labels_match {
            return Err(PeerError::Unexpected(format!(
                "{} answers to {} cases",
                answers.len(),
                cases.len()
            )));
        }
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_written_in_the_programs_format() {
        let mut case = AssignorCase::new("c1", "sticky");
        case.nodes.push(CaseNode {
            id: 0,
            rack: Some("r0".into()),
        });
        case.partitions.push(CasePartition {
            topic: "t".into(),
            index: 0,
            replicas: vec![0, 1],
        });
        let mut m = CaseMember::new("m", ["t", "u"]);
        m.generation = 3;
        m.user_data = Some(vec![0, 0xab]);
        m.owned.push(TopicPartition::new("t", 0));
        case.members.push(m);
        let mut n = CaseMember::new("n", Vec::<String>::new());
        n.rack = Some(String::new());
        case.members.push(n);
        let mut text = String::new();
        case.write(&mut text).unwrap();
        assert_eq!(
            text,
            "case c1 sticky\nnode 0 r0\npartition t 0 0,1\n\
             member m - - 3 x00ab t,u t:0\nmember n - \"\" -1 - - -\nend\n"
        );
        let mut bad = AssignorCase::new("c2", "range");
        bad.members.push(CaseMember::new("a b", ["t"]));
        assert!(bad.write(&mut String::new()).is_err());
    }

    #[test]
    fn answers_are_read_per_case() {
        let text = "case a\nmember m t:0,t:2 -\nmember n - x01\nend\ncase b\nerror E: no\nend\n";
        let answers = parse_answers(text).unwrap();
        let a = answers[0].result.as_ref().unwrap();
        assert_eq!(
            a["m"].partitions,
            [TopicPartition::new("t", 0), TopicPartition::new("t", 2)]
        );
        assert_eq!(a["n"].user_data, Some(vec![1]));
        assert_eq!(answers[1].result, Err("E: no".to_owned()));
        assert!(parse_answers("case a\nmember m\nend\n").is_err());
        assert!(parse_answers("case a\n").is_err());
    }
}
