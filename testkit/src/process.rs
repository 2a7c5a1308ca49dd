//! Child processes that do not outlive the test process.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `bin args...` under a small shell watchdog that kills it when the test process
/// exits, even if the test dies without running destructors. Killing the returned child
/// (SIGTERM to the watchdog, see [`stop`]) kills the program too.
pub(crate) fn spawn_watched<I, S>(bin: &Path, args: I) -> std::io::Result<Child>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let script = r#"bin=$1; shift; parent=$1; shift
"$bin" "$@" & child=$!
trap 'kill $child 2>/dev/null; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.2; done
kill "$child" 2>/dev/null; wait "$child" 2>/dev/null"#;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("gregor-watchdog")
        .arg(bin)
        .arg(std::process::id().to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// Stops a child started by [`spawn_watched`]: SIGTERM to the watchdog, which kills the
/// program, then reaps it.
pub(crate) fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

/// The first of `names` found in `PATH` (or under `/usr/bin` and `/usr/sbin`).
pub(crate) fn find_in_path(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<std::path::PathBuf> = std::env::split_paths(&path).collect();
    dirs.push("/usr/bin".into());
    dirs.push("/usr/sbin".into());
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// The testkit's cache directory: `$GREGOR_CACHE_DIR`, else `~/.cache/gregor` (where the install
/// scripts put tansu and Kafka's jars).
pub(crate) fn cache_dir() -> std::path::PathBuf {
    std::env::var_os("GREGOR_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/gregor"))
        })
        .unwrap_or_else(|| std::path::PathBuf::from(".cache/gregor"))
}
