//! [`FetchError`]: why a range could not be read.

use gregor_client::ClientError;
use gregor_protocol::ErrorCode;
use gregor_protocol::primitives::Uuid;
use gregor_protocol::records::RecordsError;

use super::cursor::StartAt;

/// Why a [`PartitionReader`](super::PartitionReader) stopped. Once a reader has returned an
/// error it returns `None`.
#[derive(Debug, thiserror::Error, Clone)]
#[non_exhaustive]
pub enum FetchError {
    /// The range's start (or next offset) is below the log start offset: the data was deleted
    /// (retention, DeleteRecords).
    #[error(
        "data loss on {topic}-{partition}: offset {requested} was deleted; the log starts at {log_start_offset}"
    )]
    DataLoss {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset the reader needed next.
        requested: i64,
        /// The first offset still available.
        log_start_offset: i64,
    },
    /// The range ends beyond the end of the readable log (the high watermark, or the last
    /// stable offset under `read_committed`): the records it names do not exist. A range whose
    /// offsets were seen to exist (the direct stream's, planned from the log end, or one an
    /// earlier answer showed within the log) waits up to 30 s for a log end that went
    /// backwards, as a newly elected leader's does for a moment, before failing so.
    #[error("range of {topic}-{partition} ends at {until}, beyond the end of the log at {log_end}")]
    BeyondLogEnd {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The range's end.
        until: i64,
        /// The end of the readable log when this was seen.
        log_end: i64,
    },
    /// An open-ended reader's position is past the end of the log (and its reset policy is
    /// [`OffsetReset::Fail`](super::OffsetReset::Fail)).
    #[error("position {position} of {topic}-{partition} is past the end of the log at {log_end}")]
    PastLogEnd {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The reader's position.
        position: i64,
        /// The end of the log when this was seen.
        log_end: i64,
    },
    /// A seek to a place the reader cannot go: a negative offset, an offset outside a bounded
    /// reader's range, the log start or end for a bounded reader, or any seek once revoked.
    #[error("cannot seek {topic}-{partition} to {to:?}")]
    InvalidSeek {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Where the seek asked to go.
        to: StartAt,
    },
    /// The leader's log was truncated below the reader's position (an unclean leader
    /// election): records already delivered may no longer exist.
    #[error(
        "log of {topic}-{partition} truncated to {end_offset}, below the read position {position}"
    )]
    Truncated {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset the reader had reached.
        position: i64,
        /// The end offset of the last leader epoch both logs share.
        end_offset: i64,
    },
    /// The topic was deleted and created again under the same name while it was read (its
    /// topic id changed): its offsets now name other records, so the read stops rather than
    /// go on as if they continued the old ones.
    #[error(
        "topic {topic} was recreated while {topic}-{partition} was read (topic id {was} is now {now})"
    )]
    TopicRecreated {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The topic id the read started under.
        was: Uuid,
        /// The topic id the metadata names now.
        now: Uuid,
    },
    /// The topic or partition does not exist (after a metadata refresh).
    #[error("unknown topic or partition {topic}-{partition}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// The broker answered the partition with an error that retrying cannot fix
    /// (authorization, corrupt message, ...).
    #[error("fetching {topic}-{partition} failed on the broker: {code}")]
    Broker {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The broker's error code.
        code: ErrorCode,
    },
    /// The fetched record data did not decode (bad CRC, corrupt batch, bad compression), also
    /// when fetched again from the same offset: the broker's log is corrupt there. Nothing of
    /// the corrupt data was delivered.
    #[error("records of {topic}-{partition} from offset {offset} did not decode: {source}")]
    Records {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Where the data that did not decode starts (the reader's position).
        offset: i64,
        /// The decoding failure.
        source: RecordsError,
    },
    /// A client failure that retrying did not fix (for example a ListOffsets lookup).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The fetch engine stopped (its runtime shut down) before the range completed.
    #[error("the fetch engine stopped")]
    EngineStopped,
}
