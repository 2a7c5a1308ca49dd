//! Certificates for TLS tests, generated at test time with rcgen (ECDSA P-256).
//!
//! [`TestPki::generate`] makes:
//! - a CA;
//! - a server certificate for `localhost` and the IP `127.0.0.1`, signed by the CA;
//! - a server certificate for [`MISMATCHED_SERVER_NAME`] only, signed by the CA (for host name
//!   verification tests: dial `localhost`, get a certificate for another name);
//! - a client certificate signed by the CA (mutual TLS);
//! - an "other CA" and a client certificate signed by it (a CA the broker or client does not
//!   trust).
//!
//! Nothing is persisted: [`TestPki::write`] puts the PEM files in a fresh directory that is
//! removed when the returned [`PkiFiles`] is dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The only name in [`TestPki::mismatched_server_cert_pem`].
pub const MISMATCHED_SERVER_NAME: &str = "broker.gregor.invalid";

/// A freshly generated set of test certificates and keys, all PEM.
#[derive(Clone)]
pub struct TestPki {
    /// The CA certificate.
    pub ca_cert_pem: String,
    /// The CA's private key (PKCS#8).
    pub ca_key_pem: String,
    /// Server certificate for `localhost` + `127.0.0.1`, signed by the CA.
    pub server_cert_pem: String,
    /// Its private key.
    pub server_key_pem: String,
    /// Server certificate for [`MISMATCHED_SERVER_NAME`] only, signed by the CA.
    pub mismatched_server_cert_pem: String,
    /// Its private key.
    pub mismatched_server_key_pem: String,
    /// Client certificate (CN `gregor-client`), signed by the CA.
    pub client_cert_pem: String,
    /// Its private key.
    pub client_key_pem: String,
    /// A second, unrelated CA.
    pub other_ca_cert_pem: String,
    /// Client certificate (CN `intruder`), signed by the other CA.
    pub other_client_cert_pem: String,
    /// Its private key.
    pub other_client_key_pem: String,
}

/// Key material is test-only, but keep it out of logs anyway.
impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

struct Ca {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn new_ca(common_name: &str) -> Result<Ca, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    let key_pem = key.serialize_pem();
    Ok(Ca {
        cert_pem: cert.pem(),
        key_pem,
        issuer: Issuer::new(params, key),
    })
}

/// A leaf certificate and its key, signed by `ca`.
fn leaf(
    ca: &Ca,
    common_name: &str,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, String), rcgen::Error> {
    let sans: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca.issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

impl TestPki {
    /// Generates every certificate and key (a few milliseconds).
    pub fn generate() -> Result<TestPki, rcgen::Error> {
        use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        let ca = new_ca("gregor test CA")?;
        let other = new_ca("gregor other CA")?;
        let (server_cert_pem, server_key_pem) =
            leaf(&ca, "localhost", &["localhost", "127.0.0.1"], ServerAuth)?;
        let (mismatched_server_cert_pem, mismatched_server_key_pem) = leaf(
            &ca,
            MISMATCHED_SERVER_NAME,
            &[MISMATCHED_SERVER_NAME],
            ServerAuth,
        )?;
        let (client_cert_pem, client_key_pem) = leaf(&ca, "gregor-client", &[], ClientAuth)?;
        let (other_client_cert_pem, other_client_key_pem) =
            leaf(&other, "intruder", &[], ClientAuth)?;
        Ok(TestPki {
            ca_cert_pem: ca.cert_pem,
            ca_key_pem: ca.key_pem,
            server_cert_pem,
            server_key_pem,
            mismatched_server_cert_pem,
            mismatched_server_key_pem,
            client_cert_pem,
            client_key_pem,
            other_ca_cert_pem: other.cert_pem,
            other_client_cert_pem,
            other_client_key_pem,
        })
    }

    /// A rustls server configuration presenting the `localhost` server certificate (chain:
    /// that certificate), without client authentication: for
    /// [`MockClusterBuilder::tls`](crate::mock::MockClusterBuilder::tls).
    pub fn server_config(&self) -> Result<std::sync::Arc<rustls::ServerConfig>, rustls::Error> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let pem = |e: rustls::pki_types::pem::Error| rustls::Error::General(e.to_string());
        let chain =
            vec![CertificateDer::from_pem_slice(self.server_cert_pem.as_bytes()).map_err(pem)?];
        let key = PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes()).map_err(pem)?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        Ok(std::sync::Arc::new(config))
    }

    /// Writes every PEM to a fresh directory under the system temporary directory.
    pub fn write(&self) -> std::io::Result<PkiFiles> {
        let dir = TempDir::new("pki")?;
        let files = [
            ("ca.pem", &self.ca_cert_pem),
            ("server.pem", &self.server_cert_pem),
            ("server.key", &self.server_key_pem),
            ("mismatched-server.pem", &self.mismatched_server_cert_pem),
            ("mismatched-server.key", &self.mismatched_server_key_pem),
            ("client.pem", &self.client_cert_pem),
            ("client.key", &self.client_key_pem),
            ("other-ca.pem", &self.other_ca_cert_pem),
            ("other-client.pem", &self.other_client_cert_pem),
            ("other-client.key", &self.other_client_key_pem),
        ];
        for (name, pem) in files {
            std::fs::write(dir.path().join(name), pem)?;
        }
        Ok(PkiFiles { dir })
    }
}

/// The PEM files of a [`TestPki`], deleted on drop.
#[derive(Debug)]
pub struct PkiFiles {
    dir: TempDir,
}

impl PkiFiles {
    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// `ca.pem`.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    /// `server.pem` (localhost + 127.0.0.1).
    pub fn server_cert(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }
    /// `server.key`.
    pub fn server_key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }
    /// `mismatched-server.pem` ([`MISMATCHED_SERVER_NAME`]).
    pub fn mismatched_server_cert(&self) -> PathBuf {
        self.dir.path().join("mismatched-server.pem")
    }
    /// `mismatched-server.key`.
    pub fn mismatched_server_key(&self) -> PathBuf {
        self.dir.path().join("mismatched-server.key")
    }
    /// `client.pem` (signed by the CA).
    pub fn client_cert(&self) -> PathBuf {
        self.dir.path().join("client.pem")
    }
    /// `client.key`.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client.key")
    }
    /// `other-ca.pem`.
    pub fn other_ca_cert(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }
    /// `other-client.pem` (signed by the other CA).
    pub fn other_client_cert(&self) -> PathBuf {
        self.dir.path().join("other-client.pem")
    }
    /// `other-client.key`.
    pub fn other_client_key(&self) -> PathBuf {
        self.dir.path().join("other-client.key")
    }
}

/// A directory under the system temporary directory, removed (with its contents) on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `gregor-testkit-<label>-<pid>-<n>`, private to the current user.
    pub fn new(label: &str) -> std::io::Result<TempDir> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("gregor-testkit-{label}-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(TempDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
