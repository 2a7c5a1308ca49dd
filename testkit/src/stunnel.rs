//! A TLS broker for tests: Debian's `stunnel` terminating TLS in front of a tansu broker.
//!
//! tansu speaks plain TCP only, so [`TlsBroker::start`] starts stunnel (package `stunnel4`,
//! installed by `.ci/run`) as a TLS server on a free loopback port, forwarding to a tansu that
//! advertises the stunnel port (so clients following Metadata come back through TLS). The
//! server certificate comes from a [`TestPki`]; optionally stunnel requires a client
//! certificate that chains to the test CA (mutual TLS).
//!
//! stunnel runs in the foreground under the same watchdog as tansu and is killed on drop.
//! `GREGOR_STUNNEL_BIN` overrides the binary; otherwise `stunnel4` or `stunnel` from `PATH`.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::certs::{PkiFiles, TempDir, TestPki};
use crate::process::{find_in_path, spawn_watched, stop};
use crate::tansu::{StartError, Tansu, free_port};

/// Why a TLS broker could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsBrokerError {
    /// No stunnel binary.
    #[error("stunnel not found (apt-get install stunnel4, or set GREGOR_STUNNEL_BIN)")]
    StunnelNotInstalled,
    /// tansu did not start.
    #[error(transparent)]
    Tansu(#[from] StartError),
    /// Writing the configuration or starting the process failed.
    #[error("starting stunnel: {0}")]
    Io(#[from] std::io::Error),
    /// stunnel exited before it listened.
    #[error("stunnel exited ({status}); its log:\n{log}")]
    Exited {
        /// The exit status.
        status: String,
        /// stunnel's log file.
        log: String,
    },
    /// stunnel did not listen in time.
    #[error("stunnel did not listen within {0:?}")]
    NotReady(Duration),
}

/// Which certificate the TLS broker presents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerIdentity {
    /// [`TestPki::server_cert_pem`]: valid for `localhost` and `127.0.0.1`.
    #[default]
    Localhost,
    /// [`TestPki::mismatched_server_cert_pem`]: valid only for
    /// [`MISMATCHED_SERVER_NAME`](crate::certs::MISMATCHED_SERVER_NAME).
    Mismatched,
}

/// Options of [`TlsBroker::start`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsBrokerOptions {
    /// The certificate presented.
    pub identity: ServerIdentity,
    /// Whether a client certificate chaining to the test CA is required.
    pub require_client_cert: bool,
}

impl TlsBrokerOptions {
    /// Presents this certificate.
    pub fn identity(mut self, identity: ServerIdentity) -> Self {
        self.identity = identity;
        self
    }

    /// Requires (or not) a client certificate signed by the test CA.
    pub fn require_client_cert(mut self, require: bool) -> Self {
        self.require_client_cert = require;
        self
    }
}

/// A running stunnel process, killed on drop.
#[derive(Debug)]
pub struct Stunnel {
    child: Child,
    addr: SocketAddr,
    // Holds the configuration and log; removed after the process is gone (fields drop after
    // `Drop::drop` runs).
    dir: TempDir,
}

impl Stunnel {
    /// The stunnel binary, if installed.
    pub fn binary() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("GREGOR_STUNNEL_BIN") {
            return Some(PathBuf::from(p));
        }
        find_in_path(&["stunnel4", "stunnel"])
    }

    /// The address stunnel listens on (`127.0.0.1:port`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts stunnel accepting TLS on `127.0.0.1:port` and forwarding to `target`.
    fn start(
        port: u16,
        target: SocketAddr,
        files: &PkiFiles,
        options: TlsBrokerOptions,
    ) -> Result<Stunnel, TlsBrokerError> {
        let bin = Self::binary().ok_or(TlsBrokerError::StunnelNotInstalled)?;
        let dir = TempDir::new("stunnel")?;
        let log = dir.path().join("stunnel.log");
        let (cert, key) = match options.identity {
            ServerIdentity::Localhost => (files.server_cert(), files.server_key()),
            ServerIdentity::Mismatched => (
                files.mismatched_server_cert(),
                files.mismatched_server_key(),
            ),
        };
        let mut conf = format!(
            "foreground = yes\npid =\nsyslog = no\ndebug = 5\noutput = {log}\n\n\
             [kafka-tls]\naccept = 127.0.0.1:{port}\nconnect = {target}\n\
             cert = {cert}\nkey = {key}\n",
            log = log.display(),
            cert = cert.display(),
            key = key.display(),
        );
        if options.require_client_cert {
            conf.push_str(&format!(
                "CAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
                files.ca_cert().display()
            ));
        }
        let conf_path = dir.path().join("stunnel.conf");
        std::fs::write(&conf_path, conf)?;
        let child = spawn_watched(&bin, [&conf_path])?;
        let mut stunnel = Stunnel {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        stunnel.wait_listening(Duration::from_secs(10))?;
        Ok(stunnel)
    }

    fn wait_listening(&mut self, limit: Duration) -> Result<(), TlsBrokerError> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(self.dir.path().join("stunnel.log"))
                    .unwrap_or_default();
                return Err(TlsBrokerError::Exited {
                    status: status.to_string(),
                    log,
                });
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(TlsBrokerError::NotReady(limit))
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// tansu behind stunnel: a Kafka broker reached over TLS. Dropping it stops both.
#[derive(Debug)]
pub struct TlsBroker {
    // Declaration order is drop order: the proxy goes first, then the broker, then the files.
    stunnel: Stunnel,
    tansu: Tansu,
    files: PkiFiles,
}

impl TlsBroker {
    /// Writes `pki`'s files, starts tansu advertising `localhost:<tls port>`, then stunnel on
    /// that port.
    pub fn start(pki: &TestPki, options: TlsBrokerOptions) -> Result<TlsBroker, TlsBrokerError> {
        if Stunnel::binary().is_none() {
            return Err(TlsBrokerError::StunnelNotInstalled);
        }
        let files = pki.write()?;
        let port = free_port()?;
        let tansu = Tansu::start_with_advertised("localhost", port)?;
        let stunnel = Stunnel::start(port, tansu.addr(), &files, options)?;
        Ok(TlsBroker {
            stunnel,
            tansu,
            files,
        })
    }

    /// The TLS address (`127.0.0.1:port`).
    pub fn addr(&self) -> SocketAddr {
        self.stunnel.addr()
    }

    /// The TLS port.
    pub fn port(&self) -> u16 {
        self.stunnel.addr().port()
    }

    /// The bootstrap string clients use: `localhost:port`, the name in the server
    /// certificate and the address the broker advertises.
    pub fn bootstrap(&self) -> String {
        format!("localhost:{}", self.port())
    }

    /// The PEM files (CA, client certificates) for client configurations.
    pub fn files(&self) -> &PkiFiles {
        &self.files
    }

    /// The plain-TCP broker behind the proxy.
    pub fn tansu(&self) -> &Tansu {
        &self.tansu
    }
}
