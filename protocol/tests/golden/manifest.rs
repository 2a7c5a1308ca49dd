//! `fixtures/manifest.json`, deserialized strictly: every field the manifest has is named here
//! (`deny_unknown_fields`), so a field added to the manifest fails loudly until a test compares
//! it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use serde::{Deserialize, Deserializer};

/// The whole manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "_about")]
    pub _about: String,
    pub librdkafka_version: String,
    /// File name (`v2_none.bin`, ...) to what it holds.
    pub fixtures: BTreeMap<String, Fixture>,
}

/// One fixture file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Prose only; the structured fields below are what tests compare.
    #[serde(rename = "description")]
    pub _description: String,
    #[serde(rename = "notes")]
    pub _notes: Option<String>,
    /// The file's size in bytes.
    pub size: usize,
    /// The batches (for legacy files: the top-level messages), in file order.
    pub batches: Vec<Batch>,
}

/// One magic-2 batch, or one top-level legacy message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// For legacy messages: the offset field as written (= `last_offset`).
    pub base_offset: i64,
    pub last_offset: i64,
    pub magic: i8,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: String,
    pub transactional: bool,
    pub control: bool,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: usize,
    /// `create` or `log_append`.
    pub timestamp_type: String,
    /// CRC-32C (magic 2) or CRC-32 of the top-level message (magic 0/1).
    pub crc: u32,
    // Magic 2 only.
    pub base_timestamp: Option<i64>,
    pub max_timestamp: Option<i64>,
    pub partition_leader_epoch: Option<i32>,
    pub batch_length: Option<i32>,
    /// Magic 0/1 only: present (`Some`), and `Some(None)` for magic 0; absent for magic 2.
    #[serde(default, deserialize_with = "present")]
    pub wrapper_timestamp: Option<Option<i64>>,
    pub records: Vec<Record>,
}

/// One record, with raw fields as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// For legacy wrappers: the inner offset field exactly as written.
    pub offset: i64,
    /// `None` for magic 0.
    pub timestamp: Option<i64>,
    /// Hex, `""` for empty, `None` for null.
    pub key: Option<String>,
    pub value: Option<String>,
    /// `[key, value hex or null]` in wire order.
    pub headers: Vec<(String, Option<String>)>,
    // Control records only.
    pub control_type: Option<String>,
    pub coordinator_epoch: Option<i32>,
}

/// Tells a field that is present with `null` (`Some(None)`) from one that is absent (`None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// The fixtures directory.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads and parses the manifest.
pub fn load() -> Manifest {
    let text = std::fs::read_to_string(dir().join("manifest.json")).expect("read manifest.json");
    serde_json::from_str(&text).expect("parse manifest.json")
}

/// Reads one fixture file.
pub fn fixture_bytes(name: &str) -> Bytes {
    Bytes::from(std::fs::read(dir().join(name)).expect("read fixture"))
}

/// Decodes a lowercase or uppercase hex string.
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd-length hex {s:?}");
    let nibble = |c: u8| (c as char).to_digit(16).expect("hex digit") as u8;
    s.as_bytes()
        .chunks(2)
        .map(|p| nibble(p[0]) << 4 | nibble(p[1]))
        .collect()
}

/// A nullable hex field as bytes.
pub fn unhex_opt(s: &Option<String>) -> Option<Vec<u8>> {
    s.as_deref().map(unhex)
}

#[test]
fn unhex_decodes_known_bytes() {
    assert_eq!(unhex(""), Vec::<u8>::new());
    assert_eq!(unhex("00ff800a"), vec![0x00, 0xff, 0x80, 0x0a]);
    assert_eq!(unhex("7F"), vec![0x7f]);
}
