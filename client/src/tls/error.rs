//! Typed errors of the TLS layer.

use std::io;
use std::path::PathBuf;

/// Why a TLS configuration could not be turned into a connector, a host name into a server
/// name, or a handshake failed.
///
/// Context is a `&'static str` naming what was being read ("CA file", "client key", ...);
/// paths and host names come from the user and are kept as given. Key material is never
/// copied into an error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {what} {path}: {kind}")]
    ReadFile {
        /// Which file ("CA file", "client certificate file", "client key file").
        what: &'static str,
        /// The path as configured.
        path: PathBuf,
        /// The I/O error.
        kind: io::ErrorKind,
    },
    /// The PEM text is malformed (a section without its END line, bad base64, ...).
    #[error("malformed PEM in {what}: {reason}")]
    Pem {
        /// Which input.
        what: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// The input holds no `CERTIFICATE` section.
    #[error("no certificates in {what}")]
    NoCertificates {
        /// Which input.
        what: &'static str,
    },
    /// None of the certificates offered as trust roots could be used as a trust anchor.
    #[error("no usable trust anchor in {what} ({rejected} certificates rejected)")]
    NoTrustAnchors {
        /// Which input ("CA file", "system trust store", ...).
        what: &'static str,
        /// How many certificates were present but unusable.
        rejected: usize,
    },
    /// The input holds no private key (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1
    /// `EC PRIVATE KEY`).
    #[error("no private key in {what}")]
    NoPrivateKey {
        /// Which input.
        what: &'static str,
    },
    /// The private key is encrypted (`ENCRYPTED PRIVATE KEY`); decrypt it first (for example
    /// `openssl pkcs8 -in key.pem -out plain.pem`) and protect the file instead.
    #[error("the private key in {what} is encrypted, which is not supported")]
    EncryptedKey {
        /// Which input.
        what: &'static str,
    },
    /// rustls refused the client certificate and key: an unsupported key type, or a key that
    /// does not belong to the certificate.
    #[error("client certificate or key rejected: {0}")]
    ClientCertificate(rustls::Error),
    /// The certificate verifier could not be built.
    #[error("building the certificate verifier: {0}")]
    Verifier(rustls::client::VerifierBuilderError),
    /// rustls refused the configuration (for example no protocol version in common with the
    /// crypto provider).
    #[error("TLS configuration rejected: {0}")]
    Config(rustls::Error),
    /// The host is neither a DNS name nor an IP address.
    #[error("invalid TLS server name {0:?}")]
    InvalidServerName(String),
    /// The handshake failed: a certificate the verifier rejected (unknown issuer, name
    /// mismatch, expired, ...), an alert from the peer (for example the broker requiring a
    /// client certificate), or a protocol violation.
    #[error("TLS handshake failed: {0}")]
    Handshake(rustls::Error),
}

impl TlsError {
    /// The rustls error inside an I/O error returned by a TLS stream (tokio-rustls reports
    /// handshake and record-layer failures as `io::Error`s wrapping a `rustls::Error`), as a
    /// [`TlsError::Handshake`]. `None` for plain I/O errors (reset, timeout, EOF).
    pub fn from_io(err: &io::Error) -> Option<TlsError> {
        err.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(|e| TlsError::Handshake(e.clone()))
    }

    /// The rustls error of a [`Handshake`](TlsError::Handshake), [`Config`](TlsError::Config)
    /// or [`ClientCertificate`](TlsError::ClientCertificate) error.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        match self {
            TlsError::Handshake(e) | TlsError::Config(e) | TlsError::ClientCertificate(e) => {
                Some(e)
            }
            _ => None,
        }
    }
}
