//! [`PeerOutput`]: what the Java peer answered (acks, records, committed offsets, the
//! partitioner's choices), parsed from the lines it prints.

use super::PeerError;

/// The offset Java's producer got for one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAck {
    /// The topic.
    pub topic: String,
    /// The partition it landed on.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// A record as Java's consumer read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The timestamp (ms).
    pub timestamp: i64,
    /// The key.
    pub key: Option<Vec<u8>>,
    /// The value.
    pub value: Option<Vec<u8>>,
    /// The headers, in order (keys may repeat).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// An offset Java's `committed()` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCommitted {
    /// The offset.
    pub offset: i64,
    /// The leader epoch committed with it, if any.
    pub leader_epoch: Option<i32>,
    /// The metadata string.
    pub metadata: String,
}

/// What the peer answered, in script order per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerOutput {
    /// One per send, from the `flush` commands.
    pub acks: Vec<PeerAck>,
    /// The records of the `consume` commands.
    pub records: Vec<PeerRecord>,
    /// The records of each `consume` command, one list per command (in partition, then offset
    /// order).
    pub reads: Vec<Vec<PeerRecord>>,
    /// The partitioner's choices.
    pub partitions: Vec<i32>,
    /// One per `committed` command (`None`: nothing committed).
    pub committed: Vec<Option<PeerCommitted>>,
}

fn parse_bytes(word: &str) -> Option<Option<Vec<u8>>> {
    if word == "-" {
        return Some(None);
    }
    let hex = word.strip_prefix('x')?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
        .map(Some)
}

impl PeerOutput {
    pub(super) fn parse(stdout: &str) -> Result<PeerOutput, PeerError> {
        let mut out = PeerOutput::default();
        for line in stdout.lines() {
            let bad = || PeerError::Unexpected(line.to_owned());
            let words: Vec<&str> = line.split(' ').collect();
            let num = |i: usize| -> Result<i64, PeerError> {
                words.get(i).and_then(|w| w.parse().ok()).ok_or_else(bad)
            };
            match words.first().copied() {
                Some("ok") | Some("") | None => {}
                Some("ack") => out.acks.push(PeerAck {
                    topic: words.get(1).ok_or_else(bad)?.to_string(),
                    partition: i32::try_from(num(2)?).map_err(|_| bad())?,
                    offset: num(3)?,
                }),
                Some("record") => {
                    let bytes =
                        |i: usize| words.get(i).and_then(|w| parse_bytes(w)).ok_or_else(bad);
                    let mut headers = Vec::new();
                    for h in words.iter().skip(6) {
                        let (k, v) = h.split_once('=').ok_or_else(bad)?;
                        let key = parse_bytes(k).flatten().ok_or_else(bad)?;
                        headers.push((
                            String::from_utf8(key).map_err(|_| bad())?,
                            parse_bytes(v).ok_or_else(bad)?,
                        ));
                    }
                    out.records.push(PeerRecord {
                        partition: i32::try_from(num(1)?).map_err(|_| bad())?,
                        offset: num(2)?,
                        timestamp: num(3)?,
                        key: bytes(4)?,
                        value: bytes(5)?,
                        headers,
                    });
                }
                Some("consumed") => {
                    let count = usize::try_from(num(1)?).map_err(|_| bad())?;
                    let before: usize = out.reads.iter().map(Vec::len).sum();
                    let read = out.records.get(before..).ok_or_else(bad)?;
                    if read.len() != count {
                        return Err(bad());
                    }
                    out.reads.push(read.to_vec());
                }
                Some("partition") => out
                    .partitions
                    .push(i32::try_from(num(1)?).map_err(|_| bad())?),
                Some("committed") if words.get(1) == Some(&"none") => out.committed.push(None),
                Some("committed") => {
                    let epoch = i32::try_from(num(2)?).map_err(|_| bad())?;
                    let metadata = words
                        .get(3)
                        .and_then(|w| parse_bytes(w))
                        .flatten()
                        .ok_or_else(bad)?;
                    out.committed.push(Some(PeerCommitted {
                        offset: num(1)?,
                        leader_epoch: (epoch >= 0).then_some(epoch),
                        metadata: String::from_utf8(metadata).map_err(|_| bad())?,
                    }));
                }
                Some(_) => return Err(bad()),
            }
        }
        Ok(out)
    }
}
