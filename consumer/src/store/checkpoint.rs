//! A checkpoint file: offsets in a versioned JSON file replaced atomically.
//!
//! Format (version 1):
//!
//! ```json
//! {"format": "gregor-checkpoint", "version": 1,
//!  "offsets": [{"topic": "t", "partition": 0, "offset": 42}],
//!  "written_at_ms": 1700000000000}
//! ```
//!
//! `version` is a major version. A reader refuses any version it does not
//! know ([`StoreError::UnsupportedVersion`]), because a newer major version
//! may change what the offsets mean. Unknown *fields* on the other hand are
//! ignored, at the top level and in offset entries: additive, backwards
//! compatible information (a writer id, a batch time, ...) is added as new
//! fields without bumping the version, so an older reader can still restore
//! the offsets it understands. A file that is not valid JSON, lacks required
//! fields, has the wrong `format` tag, duplicate or negative entries is
//! [`StoreError::Corrupt`]; it is never treated as empty.
//!
//! Writes go to a fresh temporary file in the same directory (named
//! `.<file name>.tmp.<pid>.<n>`), which is fsynced, renamed over the target,
//! after which the directory is fsynced. A crash leaves the target either at
//! its old or its new content; a leftover temporary file is ignored by
//! [`CheckpointFile::load`].

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use gregor_protocol::TopicPartition;
use serde::{Deserialize, Serialize};

use super::{BatchStarts, OffsetStore, PartitionOffsets, StoreError, StoredOffsets, apply_batch};

/// The `format` tag of a checkpoint file.
pub const CHECKPOINT_FORMAT: &str = "gregor-checkpoint";
/// The checkpoint format (major) version this crate reads and writes.
pub const CHECKPOINT_VERSION: u64 = 1;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Only the fields needed to decide whether the rest can be read.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u64,
}

#[derive(Serialize, Deserialize)]
struct FileV1 {
    format: String,
    version: u64,
    offsets: Vec<Entry>,
    #[serde(default)]
    written_at_ms: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    topic: String,
    partition: i32,
    offset: i64,
}

/// An [`OffsetStore`] backed by one checkpoint file.
///
/// Compare-and-set is enforced between users of the same `CheckpointFile`
/// value (a mutex serialises load-check-write). Several processes or several
/// `CheckpointFile` values writing the same path are not coordinated: the
/// direct stream assumes one writer per checkpoint.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    lock: Mutex<()>,
}

impl CheckpointFile {
    /// A store at `path`. Nothing is touched until the first load or save;
    /// the parent directory must exist when saving.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The checkpoint file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    fn read(&self) -> Result<Option<StoredOffsets>, StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&self.path, e)),
        };
        self.decode(&bytes).map(Some)
    }

    fn decode(&self, bytes: &[u8]) -> Result<StoredOffsets, StoreError> {
        let header: Header =
            serde_json::from_slice(bytes).map_err(|e| self.corrupt(e.to_string()))?;
        if header.format != CHECKPOINT_FORMAT {
            return Err(self.corrupt(format!("format tag {:?}", header.format)));
        }
        if header.version != CHECKPOINT_VERSION {
            return Err(StoreError::UnsupportedVersion {
                path: self.path.clone(),
                found: header.version,
                supported: CHECKPOINT_VERSION,
            });
        }
        let file: FileV1 =
            serde_json::from_slice(bytes).map_err(|e| self.corrupt(e.to_string()))?;
        let mut offsets = PartitionOffsets::new();
        for entry in file.offsets {
            if entry.offset < 0 {
                return Err(self.corrupt(format!(
                    "negative offset {} for {}/{}",
                    entry.offset, entry.topic, entry.partition
                )));
            }
            let key = TopicPartition::new(entry.topic, entry.partition);
            if offsets.contains_key(&key) {
                return Err(self.corrupt(format!(
                    "duplicate entry for {}/{}",
                    key.topic, key.partition
                )));
            }
            offsets.insert(key, entry.offset);
        }
        Ok(StoredOffsets {
            offsets,
            written_at_ms: file.written_at_ms,
        })
    }

    fn write(&self, offsets: &PartitionOffsets) -> Result<(), StoreError> {
        let written_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| u64::try_from(d.as_millis()).ok());
        let file = FileV1 {
            format: CHECKPOINT_FORMAT.to_string(),
            version: CHECKPOINT_VERSION,
            offsets: offsets
                .iter()
                .map(|(tp, offset)| Entry {
                    topic: tp.topic.to_string(),
                    partition: tp.partition,
                    offset: *offset,
                })
                .collect(),
            written_at_ms,
        };
        let json = serde_json::to_vec_pretty(&file)
            .map_err(|e| self.io(&self.path, std::io::Error::new(ErrorKind::InvalidData, e)))?;
        write_atomically(&self.path, &json)
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new
/// content: temp file in the same directory, fsync, rename, fsync directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |p: &Path, source| StoreError::Io {
        path: p.to_path_buf(),
        source,
    };
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            io(
                path,
                std::io::Error::new(ErrorKind::InvalidInput, "no file name"),
            )
        })?;
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp.{}.{n}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| io(path, e))
    })();
    if result.is_err() {
        // Best effort: the temp file is ignored by readers anyway.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    sync_dir(&dir).map_err(|e| io(&dir, e))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    // Directories cannot be opened for fsync on this platform; the rename is
    // still atomic.
    Ok(())
}

impl OffsetStore for CheckpointFile {
    fn load(&self) -> Result<Option<StoredOffsets>, StoreError> {
        let _guard = self.lock.lock().map_err(|_| StoreError::Poisoned)?;
        self.read()
    }

    fn save(
        &self,
        expected_start: &BatchStarts,
        new_end: &PartitionOffsets,
    ) -> Result<(), StoreError> {
        let _guard = self.lock.lock().map_err(|_| StoreError::Poisoned)?;
        let stored = self.read()?;
        let merged = apply_batch(stored.as_ref().map(|s| &s.offsets), expected_start, new_end)?;
        if expected_start.is_empty() {
            return Ok(());
        }
        self.write(&merged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_bare_name_is_cwd() {
        assert_eq!(parent_dir(Path::new("x.json")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("a/x.json")), PathBuf::from("a"));
    }

    #[test]
    fn decode_rejects_wrong_tag_and_empty() {
        let c = CheckpointFile::new("unused");
        assert!(matches!(c.decode(b""), Err(StoreError::Corrupt { .. })));
        let other = br#"{"format":"other","version":1,"offsets":[]}"#;
        assert!(matches!(c.decode(other), Err(StoreError::Corrupt { .. })));
        let dup = br#"{"format":"gregor-checkpoint","version":1,"offsets":[
            {"topic":"t","partition":0,"offset":1},{"topic":"t","partition":0,"offset":2}]}"#;
        assert!(matches!(c.decode(dup), Err(StoreError::Corrupt { .. })));
        let neg = br#"{"format":"gregor-checkpoint","version":1,"offsets":[
            {"topic":"t","partition":0,"offset":-1}]}"#;
        assert!(matches!(c.decode(neg), Err(StoreError::Corrupt { .. })));
        let ok = br#"{"format":"gregor-checkpoint","version":1,"offsets":[]}"#;
        assert_eq!(c.decode(ok).unwrap(), StoredOffsets::default());
    }
}
