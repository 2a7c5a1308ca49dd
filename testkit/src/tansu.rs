//! A tansu broker process for tests.
//!
//! The binary is installed by `.ci/install-tansu.sh` (tansu 0.6.0, pinned by sha256) into
//! `$GREGOR_CACHE_DIR/tansu-0.6.0/tansu` (default `~/.cache/gregor`); `GREGOR_TANSU_BIN`
//! overrides the path. Each [`Tansu`] is its own broker on its own port with in-memory storage,
//! so tests do not share state. tansu starts in a few milliseconds.
//!
//! Known deviations of tansu 0.6.0 from Apache Kafka are listed in testkit's README; tests never
//! encode them as expected behaviour.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gregor_protocol::frame::{split_response_header, write_frame};
use gregor_protocol::header::RequestHeader;
use gregor_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use gregor_protocol::{Message, Request};

/// Why a broker could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The tansu binary is not installed where expected.
    #[error("tansu binary not found at {0} (run .ci/install-tansu.sh or set GREGOR_TANSU_BIN)")]
    NotInstalled(PathBuf),
    /// Starting the process or probing its port failed.
    #[error("starting tansu: {0}")]
    Io(#[from] std::io::Error),
    /// The broker did not answer ApiVersions in time.
    #[error("tansu did not become ready within {0:?}")]
    NotReady(Duration),
}

/// A running tansu broker, killed on drop.
#[derive(Debug)]
pub struct Tansu {
    child: Child,
    addr: SocketAddr,
}

impl Tansu {
    /// Where the tansu binary is expected.
    pub fn binary() -> PathBuf {
        if let Some(p) = std::env::var_os("GREGOR_TANSU_BIN") {
            return PathBuf::from(p);
        }
        crate::process::cache_dir().join("tansu-0.6.0/tansu")
    }

    /// Starts a broker on a free loopback port and waits until it answers ApiVersions.
    pub fn start() -> Result<Tansu, StartError> {
        Self::start_inner(None)
    }

    /// Like [`start`](Tansu::start), but the broker advertises `host:port` in Metadata and
    /// FindCoordinator instead of its own address: for a proxy in front of it (the TLS
    /// terminator of [`crate::stunnel`]), so clients that follow metadata come back through
    /// the proxy.
    pub fn start_with_advertised(host: &str, port: u16) -> Result<Tansu, StartError> {
        Self::start_inner(Some((host, port)))
    }

    fn start_inner(advertised: Option<(&str, u16)>) -> Result<Tansu, StartError> {
        let bin = Self::binary();
        if !bin.is_file() {
            return Err(StartError::NotInstalled(bin));
        }
        let port = free_port()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let advertised_url = match advertised {
            Some((host, port)) => format!("tcp://{host}:{port}"),
            None => url.clone(),
        };
        // A small shell watchdog kills the broker when the test process that started it exits,
        // even if it dies without running destructors.
        let script = r#"bin=$1; shift; parent=$1; shift
"$bin" broker "$@" & child=$!
trap 'kill $child 2>/dev/null; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.2; done
kill "$child" 2>/dev/null; wait "$child" 2>/dev/null"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("tansu-watchdog")
            .arg(&bin)
            .arg(std::process::id().to_string())
            .args([
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised_url,
                "--silent",
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut broker = Tansu { child, addr };
        broker.wait_ready(Duration::from_secs(10))?;
        Ok(broker)
    }

    /// The broker's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bootstrap string for clients (`127.0.0.1:port`).
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), StartError> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                return Err(StartError::Io(std::io::Error::other(format!(
                    "tansu exited: {status}"
                ))));
            }
            if probe_api_versions(self.addr).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(StartError::NotReady(limit))
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        // SIGTERM to the watchdog makes it kill the broker; then reap it.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for the broker to take).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Sends ApiVersions v0 over a plain socket and decodes the answer: the readiness probe.
pub fn probe_api_versions(addr: SocketAddr) -> std::io::Result<ApiVersionsResponse> {
    let invalid = |e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())
    };
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let header = RequestHeader {
        request_api_key: ApiVersionsRequest::API_KEY.code(),
        request_api_version: 0,
        correlation_id: 1,
        client_id: Some("gregor-testkit".into()),
        ..RequestHeader::default()
    };
    let mut out = BytesMut::new();
    write_frame(&mut out, |buf| {
        header.encode(buf, 1)?;
        ApiVersionsRequest::default().encode(buf, 0)
    })
    .map_err(|e| invalid(&e))?;
    stream.write_all(&out)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = usize::try_from(i32::from_be_bytes(len)).map_err(|e| invalid(&e))?;
    if len > 1 << 20 {
        return Err(invalid(&"oversized ApiVersions response"));
    }
    let mut frame = vec![0u8; len];
    stream.read_exact(&mut frame)?;
    let (_, body) = split_response_header(Bytes::from(frame), 0).map_err(|e| invalid(&e))?;
    ApiVersionsResponse::decode_exact(body, 0).map_err(|e| invalid(&e))
}
