//! A model of what a Java peer script sends: each record's shape, the producer and the
//! transaction it belongs to and how that transaction ended, so that the records each
//! isolation level must show follow from Java's acks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gregor_testkit::kafka::peer::{PeerAck, PeerRecord, PeerScript};

/// A record compared without its timestamp (which Java's producer stamps): partition, offset,
/// key, value, headers.
pub type Seen = (i32, i64, Option<Vec<u8>>, Option<Vec<u8>>, PeerHeaders);

/// `r` without its timestamp.
pub fn seen(r: &PeerRecord) -> Seen {
    (
        r.partition,
        r.offset,
        r.key.clone(),
        r.value.clone(),
        r.headers.clone(),
    )
}

/// What became of a record Java sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Not transactional.
    Plain,
    /// In a transaction not ended (yet).
    Open,
    /// In a committed transaction.
    Committed,
    /// In an aborted transaction.
    Aborted,
}

/// One record the script sends.
#[derive(Debug, Clone)]
pub struct Sent {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: PeerHeaders,
    pub fate: Fate,
    /// The transaction (numbered in script order) it belongs to.
    pub txn: Option<usize>,
}

/// Headers as the peer reports them: key, value (`None`: null), in order.
pub type PeerHeaders = Vec<(String, Option<Vec<u8>>)>;

/// The `i`-th record's shape: keys and values present, null or empty, text, binary and
/// compressible; headers none, one, repeated keys with null and empty values, non-ASCII keys.
pub fn shape(i: usize) -> (Option<Vec<u8>>, Option<Vec<u8>>, PeerHeaders) {
    let key = match i % 4 {
        0 => Some(format!("key-{i}").into_bytes()),
        1 => None,
        2 => Some(Vec::new()),
        _ => Some(vec![0, 0xff, i as u8, 0x80]),
    };
    let value = match i % 5 {
        0 => Some(format!("value-{i}").into_bytes()),
        1 => None,
        2 => Some(Vec::new()),
        3 => Some(format!("{}{i}", "compressible ".repeat(40)).into_bytes()),
        _ => Some((0..64u32).map(|b| (b * i as u32) as u8).collect()),
    };
    let h = |k: &str, v: Option<&[u8]>| (k.to_owned(), v.map(<[u8]>::to_vec));
    let headers = match i % 6 {
        0 => Vec::new(),
        1 => vec![h("h", Some(format!("hv-{i}").as_bytes()))],
        2 => vec![
            h("dup", Some(b"first")),
            h("dup", None),
            h("dup", Some(b"")),
        ],
        3 => vec![h("n", None)],
        4 => vec![h("e", Some(b"")), h("ключ-ü", Some(&[0xff, 0]))],
        _ => vec![h("a", Some(b"1")), h("b", Some(b"2")), h("a", Some(b"3"))],
    };
    (key, value, headers)
}

/// A peer script that remembers what it sends, to which producer, and how each transaction
/// ended, so the records each isolation level must show can be worked out from Java's acks.
#[derive(Default)]
pub struct Scenario {
    pub script: PeerScript,
    pub sent: Vec<Sent>,
    /// The index in `sent` of each ack, in the order the peer prints them.
    pub ack_order: Vec<usize>,
    current: String,
    unflushed: HashMap<String, Vec<usize>>,
    /// The open transaction of each producer: its number and its records.
    txns: HashMap<String, (usize, Vec<usize>)>,
    next_txn: usize,
}

impl Scenario {
    pub fn new() -> Scenario {
        Scenario {
            current: "default".into(),
            ..Scenario::default()
        }
    }

    pub fn use_producer(&mut self, name: &str) -> &mut Self {
        self.script.use_producer(name);
        self.current = name.to_owned();
        self
    }

    pub fn producer(&mut self, props: &[(&str, &str)]) -> &mut Self {
        self.script.producer(props);
        self
    }

    pub fn init(&mut self) -> &mut Self {
        self.script.init_transactions();
        self
    }

    pub fn begin(&mut self) -> &mut Self {
        self.script.begin();
        let n = self.next_txn;
        self.next_txn += 1;
        self.txns.insert(self.current.clone(), (n, Vec::new()));
        self
    }

    /// Sends the next record shape to `partition` (`None`: Java's partitioner picks).
    pub fn send(&mut self, topic: &str, partition: Option<i32>) -> &mut Self {
        let i = self.sent.len();
        let (key, value, headers) = shape(i);
        let refs: Vec<(&str, Option<&[u8]>)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        self.script
            .send(topic, partition, key.as_deref(), value.as_deref(), &refs);
        let txn = self.txns.get_mut(&self.current).map(|(n, records)| {
            records.push(i);
            *n
        });
        self.sent.push(Sent {
            key,
            value,
            headers,
            fate: if txn.is_some() {
                Fate::Open
            } else {
                Fate::Plain
            },
            txn,
        });
        self.unflushed
            .entry(self.current.clone())
            .or_default()
            .push(i);
        self
    }

    /// `n` sends spread over three partitions, every seventh left to Java's partitioner.
    pub fn sends(&mut self, topic: &str, n: usize) -> &mut Self {
        for _ in 0..n {
            let i = self.sent.len();
            let partition = (i % 7 != 6).then_some((i % 3) as i32);
            self.send(topic, partition);
        }
        self
    }

    pub fn flush(&mut self) -> &mut Self {
        self.script.flush();
        let flushed = self.unflushed.remove(&self.current).unwrap_or_default();
        self.ack_order.extend(flushed);
        self
    }

    pub fn end(&mut self, fate: Fate) -> &mut Self {
        self.flush();
        let (_, records) = self.txns.remove(&self.current).expect("a transaction");
        for i in records {
            self.sent[i].fate = fate;
        }
        self
    }

    /// Flushes (so every send is acknowledged), then commits.
    pub fn commit(&mut self) -> &mut Self {
        self.end(Fate::Committed);
        self.script.commit();
        self
    }

    /// Flushes, then aborts.
    pub fn abort(&mut self) -> &mut Self {
        self.end(Fate::Aborted);
        self.script.abort();
        self
    }

    pub fn close(&mut self) -> &mut Self {
        assert!(!self.unflushed.contains_key(&self.current), "flush first");
        self.script.close();
        self
    }

    /// Each sent record with its (partition, offset) from `acks`.
    pub fn placed(&self, acks: &[PeerAck]) -> Vec<(i32, i64, &Sent)> {
        assert_eq!(acks.len(), self.ack_order.len(), "one ack per send");
        self.ack_order
            .iter()
            .zip(acks)
            .map(|(&i, ack)| (ack.partition, ack.offset, &self.sent[i]))
            .collect()
    }

    /// The records a consumer must read with `acks` as the offsets: under `read_committed`
    /// those not aborted and below their partition's last stable offset (the first offset of
    /// an open transaction), else all. In partition, then offset order.
    pub fn expected(&self, acks: &[PeerAck], committed: bool) -> Vec<Seen> {
        let placed = self.placed(acks);
        let mut lso: BTreeMap<i32, i64> = BTreeMap::new();
        for (p, offset, sent) in &placed {
            if sent.fate == Fate::Open {
                let first = lso.entry(*p).or_insert(*offset);
                *first = (*first).min(*offset);
            }
        }
        let mut out: Vec<Seen> = placed
            .iter()
            .filter(|(p, offset, sent)| {
                !committed
                    || (matches!(sent.fate, Fate::Plain | Fate::Committed)
                        && lso.get(p).is_none_or(|l| offset < l))
            })
            .map(|(p, offset, s)| {
                (
                    *p,
                    *offset,
                    s.key.clone(),
                    s.value.clone(),
                    s.headers.clone(),
                )
            })
            .collect();
        out.sort_by_key(|s| (s.0, s.1));
        out
    }

    /// The commit or abort markers the ended transactions wrote: one per transaction and
    /// partition it wrote to.
    pub fn markers(&self, acks: &[PeerAck]) -> usize {
        let ended: BTreeSet<(usize, i32)> = self
            .placed(acks)
            .iter()
            .filter(|(_, _, s)| matches!(s.fate, Fate::Committed | Fate::Aborted))
            .filter_map(|(p, _, s)| s.txn.map(|t| (t, *p)))
            .collect();
        ended.len()
    }
}
