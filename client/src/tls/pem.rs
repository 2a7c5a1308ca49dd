//! Reading certificates and keys from PEM files or bytes.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

/// Where PEM text comes from: a file read when the connector is built, or bytes in memory.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PemSource {
    /// A file, read each time a connector is built.
    File(PathBuf),
    /// PEM text already in memory.
    Bytes(Vec<u8>),
}

impl PemSource {
    /// A file path.
    pub fn file(path: impl Into<PathBuf>) -> PemSource {
        PemSource::File(path.into())
    }

    /// PEM text in memory.
    pub fn bytes(pem: impl Into<Vec<u8>>) -> PemSource {
        PemSource::Bytes(pem.into())
    }

    /// The PEM text: the file's contents, or the bytes.
    pub(crate) fn read(&self, what: &'static str) -> Result<Cow<'_, [u8]>, TlsError> {
        match self {
            PemSource::File(path) => {
                std::fs::read(path)
                    .map(Cow::Owned)
                    .map_err(|e| TlsError::ReadFile {
                        what,
                        path: path.clone(),
                        kind: e.kind(),
                    })
            }
            PemSource::Bytes(b) => Ok(Cow::Borrowed(b)),
        }
    }
}

/// In-memory PEM may be a private key: only its length is shown.
impl fmt::Debug for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PemSource::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
        }
    }
}

/// Every `CERTIFICATE` section, in order; other sections (keys, parameters) are skipped.
pub(crate) fn certificates(
    pem_text: &[u8],
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem_text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(e, what))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates { what });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 RSA or SEC1 EC); certificates in the same text are
/// skipped, so one file may hold both.
pub(crate) fn private_key(
    pem_text: &[u8],
    what: &'static str,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    if is_encrypted_key(pem_text) {
        return Err(TlsError::EncryptedKey { what });
    }
    PrivateKeyDer::from_pem_slice(pem_text).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey { what },
        other => pem_error(other, what),
    })
}

/// PKCS#8 `ENCRYPTED PRIVATE KEY`, or a legacy OpenSSL key with a `Proc-Type: 4,ENCRYPTED`
/// header.
fn is_encrypted_key(pem_text: &[u8]) -> bool {
    const MARKERS: [&[u8]; 2] = [
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----",
        b"Proc-Type: 4,ENCRYPTED",
    ];
    MARKERS
        .iter()
        .any(|m| pem_text.windows(m.len()).any(|w| w == *m))
}

fn pem_error(e: pem::Error, what: &'static str) -> TlsError {
    let reason = match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "malformed BEGIN line",
        pem::Error::Base64Decode(_) => "invalid base64",
        pem::Error::SectionTooLarge => "section too large",
        pem::Error::NoItemsFound => "nothing found",
        _ => "unreadable",
    };
    TlsError::Pem { what, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nBAUG\n-----END PRIVATE KEY-----\n";

    #[test]
    fn certificates_skip_other_sections() {
        let text = format!("{KEY}{CERT}{CERT}");
        let certs = certificates(text.as_bytes(), "t").unwrap();
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0].as_ref(), &[1, 2, 3]);
    }

    #[test]
    fn no_certificate_is_an_error() {
        assert!(matches!(
            certificates(KEY.as_bytes(), "CA file"),
            Err(TlsError::NoCertificates { what: "CA file" })
        ));
        assert!(matches!(
            certificates(b"", "CA file"),
            Err(TlsError::NoCertificates { .. })
        ));
    }

    #[test]
    fn truncated_section_is_malformed() {
        let text = "-----BEGIN CERTIFICATE-----\nAQID\n";
        assert!(matches!(
            certificates(text.as_bytes(), "CA file"),
            Err(TlsError::Pem {
                what: "CA file",
                ..
            })
        ));
    }

    #[test]
    fn bad_base64_is_malformed() {
        let text = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            certificates(text.as_bytes(), "CA file"),
            Err(TlsError::Pem {
                reason: "invalid base64",
                ..
            })
        ));
    }

    #[test]
    fn key_found_among_certificates() {
        let text = format!("{CERT}{KEY}");
        let key = private_key(text.as_bytes(), "k").unwrap();
        assert!(matches!(key, PrivateKeyDer::Pkcs8(_)));
        assert_eq!(key.secret_der(), &[4, 5, 6]);
    }

    #[test]
    fn missing_and_encrypted_keys() {
        assert!(matches!(
            private_key(CERT.as_bytes(), "client key"),
            Err(TlsError::NoPrivateKey { what: "client key" })
        ));
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAQID\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(matches!(
            private_key(enc.as_bytes(), "client key"),
            Err(TlsError::EncryptedKey { .. })
        ));
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAQID\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(
            private_key(legacy.as_bytes(), "client key"),
            Err(TlsError::EncryptedKey { .. })
        ));
    }

    #[test]
    fn unreadable_file_names_path_and_kind() {
        let src = PemSource::file("/nonexistent/gregor/ca.pem");
        match src.read("CA file") {
            Err(TlsError::ReadFile { what, path, kind }) => {
                assert_eq!(what, "CA file");
                assert_eq!(path, PathBuf::from("/nonexistent/gregor/ca.pem"));
                assert_eq!(kind, std::io::ErrorKind::NotFound);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn debug_hides_in_memory_pem() {
        let src = PemSource::bytes(KEY.as_bytes().to_vec());
        let shown = format!("{src:?}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
        assert!(shown.contains("bytes"));
    }
}
