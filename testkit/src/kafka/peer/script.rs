//! [`PeerScript`]: the commands a test writes for the Java peer, one per line, in the text
//! format `GregorPeer.java` reads (bytes as hex, `-` for null).

use std::fmt::Write as _;

#[cfg(doc)]
use super::{PeerAck, PeerOutput, PeerRecord};

/// A script for the Java peer; each method appends one command (see `GregorPeer.java`).
#[derive(Debug, Clone, Default)]
pub struct PeerScript {
    pub(super) text: String,
}

/// Writes bytes the way the peer reads them: `-` for null, `x` and hex digits otherwise.
fn put_bytes(out: &mut String, bytes: Option<&[u8]>) {
    match bytes {
        None => out.push('-'),
        Some(b) => {
            out.push('x');
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
        }
    }
}

fn put_props(out: &mut String, props: &[(&str, &str)]) {
    for (k, v) in props {
        let _ = write!(out, " {k}={v}");
    }
}

impl PeerScript {
    /// An empty script.
    pub fn new() -> PeerScript {
        PeerScript::default()
    }

    fn line(&mut self, f: impl FnOnce(&mut String)) -> &mut PeerScript {
        f(&mut self.text);
        self.text.push('\n');
        self
    }

    /// Makes the producer named `name` the current one: the producer commands that follow
    /// ([`producer`](Self::producer), the transaction calls, [`send`](Self::send),
    /// [`flush`](Self::flush), [`close`](Self::close)) act on it. The producer of a script that
    /// never calls this is named `default`. Names must not contain spaces.
    pub fn use_producer(&mut self, name: &str) -> &mut PeerScript {
        self.line(|t| {
            let _ = write!(t, "use {name}");
        })
    }

    /// Creates the current producer with these properties (`bootstrap.servers` and byte-array
    /// serializers are set by the peer), closing one made before under the same name.
    /// Property values must not contain spaces.
    pub fn producer(&mut self, props: &[(&str, &str)]) -> &mut PeerScript {
        self.line(|t| {
            t.push_str("producer");
            put_props(t, props);
        })
    }

    /// `initTransactions()`.
    pub fn init_transactions(&mut self) -> &mut PeerScript {
        self.line(|t| t.push_str("init"))
    }

    /// `beginTransaction()`.
    pub fn begin(&mut self) -> &mut PeerScript {
        self.line(|t| t.push_str("begin"))
    }

    /// `commitTransaction()`.
    pub fn commit(&mut self) -> &mut PeerScript {
        self.line(|t| t.push_str("commit"))
    }

    /// `abortTransaction()`.
    pub fn abort(&mut self) -> &mut PeerScript {
        self.line(|t| t.push_str("abort"))
    }

    /// An asynchronous `send`; `partition` `None` lets Java's partitioner pick. Its offset is
    /// reported by the next [`flush`](Self::flush).
    pub fn send(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> &mut PeerScript {
        self.line(|t| {
            let _ = write!(t, "send {topic} {} ", partition.unwrap_or(-1));
            put_bytes(t, key);
            t.push(' ');
            put_bytes(t, value);
            for (k, v) in headers {
                t.push(' ');
                put_bytes(t, Some(k.as_bytes()));
                t.push('=');
                put_bytes(t, *v);
            }
        })
    }

    /// `flush()` of the current producer, then one [`PeerAck`] per send it made since its last
    /// flush.
    pub fn flush(&mut self) -> &mut PeerScript {
        self.line(|t| t.push_str("flush"))
    }

    /// Closes the current producer.
    pub fn close(&mut self) -> &mut PeerScript {
        self.line(|t| t.push_str("close"))
    }

    /// Exits the program at once, closing no producer: a transaction begun and not ended stays
    /// open on the broker until it times out or a producer with the same `transactional.id`
    /// calls [`init_transactions`](Self::init_transactions) (which aborts it). Commands after
    /// it are not run. (At the end of a script without it, every open producer is closed,
    /// which aborts an open transaction.)
    pub fn halt(&mut self) -> &mut PeerScript {
        self.line(|t| t.push_str("halt"))
    }

    /// Reads every partition of `topic` from the beginning to the end offsets a consumer with
    /// `props` sees at its start (the last stable offsets under `read_committed`), without a
    /// group: one [`PeerRecord`] per record, in [`PeerOutput::records`] and, as one list per
    /// `consume`, in [`PeerOutput::reads`].
    pub fn consume(&mut self, topic: &str, props: &[(&str, &str)]) -> &mut PeerScript {
        self.line(|t| {
            let _ = write!(t, "consume {topic}");
            put_props(t, props);
        })
    }

    /// The partition Java's built-in partitioner picks for each key among `count` partitions
    /// (murmur2), into [`PeerOutput::partitions`].
    pub fn partition_for_keys(&mut self, count: i32, keys: &[&[u8]]) -> &mut PeerScript {
        self.line(|t| {
            let _ = write!(t, "partition {count}");
            for key in keys {
                t.push(' ');
                put_bytes(t, Some(key));
            }
        })
    }

    /// `commitSync` of one offset for `group` without joining it.
    pub fn commit_offset(
        &mut self,
        group: &str,
        topic: &str,
        partition: i32,
        offset: i64,
        leader_epoch: Option<i32>,
        metadata: &str,
    ) -> &mut PeerScript {
        self.line(|t| {
            let _ = write!(
                t,
                "commit-offset {group} {topic} {partition} {offset} {} ",
                leader_epoch.unwrap_or(-1)
            );
            put_bytes(t, Some(metadata.as_bytes()));
        })
    }

    /// `committed()` of one partition for `group`, into [`PeerOutput::committed`].
    pub fn committed(&mut self, group: &str, topic: &str, partition: i32) -> &mut PeerScript {
        self.line(|t| {
            let _ = write!(t, "committed {group} {topic} {partition}");
        })
    }

    /// The script's text, as the peer reads it.
    pub fn text(&self) -> &str {
        &self.text
    }
}
