//! librdkafka's member program: a `python3` that imports `confluent_kafka`, and
//! `group_member.py` written into the cache directory for it to run.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::GroupPeerError;
use crate::kafka::peer::write_if_changed;
use crate::process::{cache_dir, find_in_path};

const PYTHON_SOURCE: &str = include_str!("../../../kafka/group_member.py");

/// `GREGOR_PYTHON`, else `python3` on the `PATH`.
pub(super) fn python() -> Option<PathBuf> {
    match std::env::var_os("GREGOR_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => find_in_path(&["python3"]),
    }
}

/// The versions of confluent-kafka and librdkafka, asked of Python once per process.
pub(super) fn librdkafka_versions() -> &'static Option<String> {
    static VERSIONS: OnceLock<Option<String>> = OnceLock::new();
    VERSIONS.get_or_init(|| {
        let out = Command::new(python()?)
            .arg("-c")
            .arg(
                "import confluent_kafka as c; v = c.version(); \
                 v = v[0] if isinstance(v, tuple) else v; \
                 print('confluent-kafka ' + v + ', librdkafka ' + c.libversion()[0])",
            )
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !text.is_empty()).then_some(text)
    })
}

/// `group_member.py`, written once into the cache directory under a name of its digest.
pub(super) fn python_script() -> Result<PathBuf, GroupPeerError> {
    let digest = Sha256::digest(PYTHON_SOURCE.as_bytes());
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let dir = cache_dir().join("peers");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("group_member-{tag}.py"));
    write_if_changed(&path, PYTHON_SOURCE)?;
    Ok(path)
}
