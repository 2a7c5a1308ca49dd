//! Control records: the transaction markers of control batches.
//!
//! A control record's key is `version: int16, type: int16` (type 0 abort, 1 commit); a
//! transaction marker's value is `version: int16, coordinatorEpoch: int32`. Later versions may
//! append fields, so extra bytes are ignored.

use super::error::RecordsError;
use super::record::Record;

/// What a control record marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordKind {
    /// The producer's transaction was aborted (type 0).
    Abort,
    /// The producer's transaction was committed (type 1).
    Commit,
    /// A control type this library does not interpret (for example KRaft's leader-change and
    /// snapshot records).
    Unknown(i16),
}

impl ControlRecordKind {
    /// The kind for a wire type code.
    pub fn from_code(code: i16) -> Self {
        match code {
            0 => Self::Abort,
            1 => Self::Commit,
            other => Self::Unknown(other),
        }
    }

    /// The wire type code.
    pub fn code(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
            Self::Unknown(code) => code,
        }
    }
}

/// A decoded control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// The marker kind, from the key.
    pub kind: ControlRecordKind,
    /// The key's schema version.
    pub version: i16,
    /// The transaction coordinator's epoch, from a commit or abort marker's value (-1 for
    /// unknown kinds, whose value is not read).
    pub coordinator_epoch: i32,
}

fn be_i16_at(bytes: &[u8], at: usize, context: &'static str) -> Result<i16, RecordsError> {
    bytes
        .get(at..)
        .and_then(|b| b.first_chunk::<2>())
        .map(|b| i16::from_be_bytes(*b))
        .ok_or(RecordsError::Truncated { context })
}

impl ControlRecord {
    /// The encoded size of a marker key.
    pub const KEY_SIZE: usize = 4;
    /// The encoded size of a version-0 marker value.
    pub const VALUE_SIZE: usize = 6;

    /// A commit marker (key and value version 0).
    pub fn commit(coordinator_epoch: i32) -> Self {
        Self {
            kind: ControlRecordKind::Commit,
            version: 0,
            coordinator_epoch,
        }
    }

    /// An abort marker (key and value version 0).
    pub fn abort(coordinator_epoch: i32) -> Self {
        Self {
            kind: ControlRecordKind::Abort,
            version: 0,
            coordinator_epoch,
        }
    }

    /// Parses a control record from its key and value bytes.
    pub fn parse(key: &[u8], value: Option<&[u8]>) -> Result<Self, RecordsError> {
        let version = be_i16_at(key, 0, "control record key")?;
        if version < 0 {
            return Err(RecordsError::InvalidValue {
                context: "control record key version",
            });
        }
        let kind = ControlRecordKind::from_code(be_i16_at(key, 2, "control record key")?);
        let coordinator_epoch = match kind {
            ControlRecordKind::Abort | ControlRecordKind::Commit => {
                let value = value.ok_or(RecordsError::InvalidValue {
                    context: "transaction marker value",
                })?;
                be_i16_at(value, 0, "transaction marker value")?;
                value
                    .get(2..)
                    .and_then(|b| b.first_chunk::<4>())
                    .map(|b| i32::from_be_bytes(*b))
                    .ok_or(RecordsError::Truncated {
                        context: "transaction marker value",
                    })?
            }
            ControlRecordKind::Unknown(_) => -1,
        };
        Ok(Self {
            kind,
            version,
            coordinator_epoch,
        })
    }

    /// Parses the control record carried by `record` (a record of a control batch).
    pub fn from_record(record: &Record) -> Result<Self, RecordsError> {
        let key = record.key.as_deref().ok_or(RecordsError::InvalidValue {
            context: "control record key",
        })?;
        Self::parse(key, record.value.as_deref())
    }

    /// The encoded key: version, type.
    pub fn encode_key(&self) -> [u8; Self::KEY_SIZE] {
        let mut key = [0u8; Self::KEY_SIZE];
        key[..2].copy_from_slice(&self.version.to_be_bytes());
        key[2..].copy_from_slice(&self.kind.code().to_be_bytes());
        key
    }

    /// The encoded marker value: version 0, coordinator epoch.
    pub fn encode_value(&self) -> [u8; Self::VALUE_SIZE] {
        let mut value = [0u8; Self::VALUE_SIZE];
        value[2..].copy_from_slice(&self.coordinator_epoch.to_be_bytes());
        value
    }
}
