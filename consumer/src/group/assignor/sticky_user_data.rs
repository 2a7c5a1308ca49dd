//! The user data Kafka's sticky assignors put in a member's subscription, byte for byte as
//! Java's `StickyAssignor` and `CooperativeStickyAssignor` write and read it.
//!
//! A `sticky` member sends the partitions it was last assigned and the generation of that
//! assignment (`StickyAssignorUserData`). There is no version prefix: version 1 is version 0
//! with the generation appended, and a reader tries version 1 first, then version 0:
//!
//! ```text
//! previous_assignment => ARRAY (int32 count) of
//!     topic           => STRING (int16 length, UTF-8)
//!     partitions      => ARRAY (int32 count) of INT32
//! generation          => INT32            (version 1 only)
//! ```
//!
//! All integers are big-endian. Java writes version 1, topics in the iteration order of the
//! `HashMap` it groups the partitions in (which [`encode_sticky`] reproduces), partitions of a
//! topic in the order of the assignment. A reader ignores bytes after what it read.
//!
//! A `cooperative-sticky` member sends only its generation, `generation => INT32`, which the
//! leader reads only when the subscription itself (version 2 and later) carries no generation.

use bytes::{BufMut, Bytes, BytesMut};
use gregor_protocol::TopicPartition;

use super::java_order::{JavaHashTable, string_hash};

/// What a `sticky` member's user data says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StickyUserData {
    /// The partitions the member was assigned, in the order of the bytes.
    pub partitions: Vec<TopicPartition>,
    /// The generation of that assignment: present in version 1, absent in version 0.
    pub generation: Option<i32>,
}

/// Why user data does not decode, or a name cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserDataError {
    /// The bytes end inside a field.
    #[error("user data ends inside {field} at byte {at}")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// The offset where it starts.
        at: usize,
    },
    /// A length or count is negative, or larger than the bytes that follow.
    #[error("user data has an impossible {field} length {length} at byte {at}")]
    BadLength {
        /// The field whose length it is.
        field: &'static str,
        /// The length read.
        length: i32,
        /// The offset of the length.
        at: usize,
    },
    /// A topic name longer than an int16 length can say.
    #[error("topic name of {0} bytes is too long for the user data")]
    TopicTooLong(usize),
}

/// Encodes a `sticky` member's user data (version 1): `partitions` grouped by topic as Java
/// groups them, then `generation`.
pub fn encode_sticky(
    partitions: &[TopicPartition],
    generation: i32,
) -> Result<Bytes, UserDataError> {
    // Java groups the partitions in a HashMap keyed by topic, then walks it.
    let mut groups: Vec<(&str, Vec<i32>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let mut order = JavaHashTable::new();
    for tp in partitions {
        let topic: &str = &tp.topic;
        let at = *index.entry(topic).or_insert_with(|| {
            groups.push((topic, Vec::new()));
            order.insert(string_hash(topic), groups.len() - 1);
            groups.len() - 1
        });
        if let Some((_, group)) = groups.get_mut(at) {
            group.push(tp.partition);
        }
    }
    let mut buf = BytesMut::new();
    buf.put_i32(count(groups.len())?);
    for &at in order.iter() {
        let Some((topic, group)) = groups.get(at) else {
            continue;
        };
        let name = topic.as_bytes();
        let length =
            i16::try_from(name.len()).map_err(|_| UserDataError::TopicTooLong(name.len()))?;
        buf.put_i16(length);
        buf.put_slice(name);
        buf.put_i32(count(group.len())?);
        for &p in group {
            buf.put_i32(p);
        }
    }
    buf.put_i32(generation);
    Ok(buf.freeze())
}

/// An array count as Java writes it.
fn count(n: usize) -> Result<i32, UserDataError> {
    i32::try_from(n).map_err(|_| UserDataError::BadLength {
        field: "array",
        length: i32::MAX,
        at: 0,
    })
}

/// Decodes a `sticky` member's user data as Java reads it: version 1 if the assignment is
/// followed by four more bytes, version 0 (no generation) otherwise. Garbage is an error, never
/// a panic; Java's leader then takes the member to own nothing, in generation -1.
pub fn decode_sticky(data: &[u8]) -> Result<StickyUserData, UserDataError> {
    let mut reader = Reader { data, at: 0 };
    let count = reader.length("previous_assignment")?;
    let mut partitions = Vec::new();
    for _ in 0..count {
        let topic = reader.string("topic")?;
        let n = reader.length("partitions")?;
        let topic: std::sync::Arc<str> = topic.into();
        for _ in 0..n {
            let partition = reader.i32("partition")?;
            partitions.push(TopicPartition::new(topic.clone(), partition));
        }
    }
    // Version 1 adds the generation; without it the same bytes are version 0.
    let generation = reader.i32("generation").ok();
    Ok(StickyUserData {
        partitions,
        generation,
    })
}

/// Encodes a `cooperative-sticky` member's user data: its generation.
pub fn encode_cooperative(generation: i32) -> Bytes {
    Bytes::copy_from_slice(&generation.to_be_bytes())
}

/// Decodes a `cooperative-sticky` member's user data: the generation in its first four bytes.
pub fn decode_cooperative(data: &[u8]) -> Result<i32, UserDataError> {
    Reader { data, at: 0 }.i32("generation")
}

/// A cursor over user data that refuses to read past its end.
struct Reader<'a> {
    /// The bytes.
    data: &'a [u8],
    /// The next byte to read.
    at: usize,
}

impl Reader<'_> {
    /// The next `n` bytes.
    fn take(&mut self, n: usize, field: &'static str) -> Result<&[u8], UserDataError> {
        let at = self.at;
        let bytes = at
            .checked_add(n)
            .and_then(|end| self.data.get(at..end))
            .ok_or(UserDataError::Truncated { field, at })?;
        self.at += n;
        Ok(bytes)
    }

    /// The bytes left.
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.at)
    }

    /// A big-endian int32.
    fn i32(&mut self, field: &'static str) -> Result<i32, UserDataError> {
        let b = self.take(4, field)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array count: Java refuses a negative one and one larger than the bytes left.
    fn length(&mut self, field: &'static str) -> Result<usize, UserDataError> {
        let at = self.at;
        let length = self.i32(field)?;
        match usize::try_from(length) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(UserDataError::BadLength { field, length, at }),
        }
    }

    /// An int16-length UTF-8 string; invalid UTF-8 is replaced as Java's decoder does.
    fn string(&mut self, field: &'static str) -> Result<String, UserDataError> {
        let at = self.at;
        let b = self.take(2, field)?;
        let length = i16::from_be_bytes([b[0], b[1]]);
        let n = usize::try_from(length).map_err(|_| UserDataError::BadLength {
            field,
            length: i32::from(length),
            at,
        })?;
        let bytes = self.take(n, field).map_err(|_| UserDataError::BadLength {
            field,
            length: i32::from(length),
            at,
        })?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn sticky_v1_layout_is_javas() {
        // One topic: count 1, "t1" (2 bytes), partitions [0, 2], generation 7.
        let bytes = encode_sticky(&[tp("t1", 0), tp("t1", 2)], 7).unwrap();
        let expected: Vec<u8> = [
            &[0, 0, 0, 1][..],
            &[0, 2, b't', b'1'],
            &[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2],
            &[0, 0, 0, 7],
        ]
        .concat();
        assert_eq!(&bytes[..], &expected[..]);
        let decoded = decode_sticky(&bytes).unwrap();
        assert_eq!(decoded.partitions, [tp("t1", 0), tp("t1", 2)]);
        assert_eq!(decoded.generation, Some(7));
    }

    #[test]
    fn topics_come_out_in_java_hashmap_order() {
        // "b" (98) and "a" (97) land in buckets 2 and 1 of 16: Java writes "a" first even
        // though "b" came first; the partitions of a topic keep their order.
        let bytes = encode_sticky(&[tp("b", 1), tp("a", 5), tp("b", 0)], -1).unwrap();
        let decoded = decode_sticky(&bytes).unwrap();
        assert_eq!(decoded.partitions, [tp("a", 5), tp("b", 1), tp("b", 0)]);
        assert_eq!(decoded.generation, Some(-1));
    }

    #[test]
    fn v0_has_no_generation_and_trailing_bytes_are_ignored() {
        let v1 = encode_sticky(&[tp("t", 3)], 4).unwrap();
        let v0 = &v1[..v1.len() - 4];
        assert_eq!(
            decode_sticky(v0).unwrap(),
            StickyUserData {
                partitions: vec![tp("t", 3)],
                generation: None
            }
        );
        // Fewer than four bytes after the assignment: still version 0.
        let mut short = v0.to_vec();
        short.extend_from_slice(&[0, 0, 9]);
        assert_eq!(decode_sticky(&short).unwrap().generation, None);
        let mut long = v1.to_vec();
        long.extend_from_slice(&[1, 2, 3, 4, 5]);
        assert_eq!(decode_sticky(&long).unwrap().generation, Some(4));
        assert_eq!(
            decode_sticky(&[0, 0, 0, 0]).unwrap(),
            StickyUserData::default()
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_sticky(&[]).is_err());
        assert!(decode_sticky(&[0, 0]).is_err());
        assert!(decode_sticky(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_sticky(&[0x7f, 0xff, 0xff, 0xff, 0]).is_err());
        // A negative string length.
        assert!(decode_sticky(&[0, 0, 0, 1, 0xff, 0xfe]).is_err());
        // A string longer than the bytes.
        assert!(decode_sticky(&[0, 0, 0, 1, 0, 9, b'a']).is_err());
        // A partition array longer than the bytes.
        assert!(decode_sticky(&[0, 0, 0, 1, 0, 1, b'a', 0, 0, 0, 2, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let bytes = [0, 0, 0, 1, 0, 1, 0xff, 0, 0, 0, 1, 0, 0, 0, 3];
        let decoded = decode_sticky(&bytes).unwrap();
        assert_eq!(decoded.partitions, [tp("\u{FFFD}", 3)]);
    }

    #[test]
    fn cooperative_is_one_int32() {
        assert_eq!(&encode_cooperative(-1)[..], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(decode_cooperative(&encode_cooperative(42)), Ok(42));
        assert_eq!(decode_cooperative(&[0, 0, 0, 5, 9, 9]), Ok(5));
        assert!(decode_cooperative(&[0, 0, 5]).is_err());
        assert!(decode_cooperative(&[]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode_sticky(&data);
            let _ = decode_cooperative(&data);
        }

        #[test]
        fn sticky_round_trips_as_a_grouping(
            parts in proptest::collection::vec((0u8..4, 0i32..50), 0..20),
            generation in proptest::num::i32::ANY,
        ) {
            let partitions: Vec<TopicPartition> =
                parts.iter().map(|(t, p)| tp(&format!("topic-{t}"), *p)).collect();
            let decoded = decode_sticky(&encode_sticky(&partitions, generation).unwrap()).unwrap();
            proptest::prop_assert_eq!(decoded.generation, Some(generation));
            let mut a = decoded.partitions.clone();
            let mut b = partitions.clone();
            a.sort();
            b.sort();
            proptest::prop_assert_eq!(a, b);
        }
    }
}
