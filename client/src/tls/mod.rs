//! TLS for broker connections (`security.protocol` `SSL` and `SASL_SSL`), on rustls with the
//! `ring` crypto provider.
//!
//! A [`TlsConfig`] says which certificates the client trusts ([`TrustRoots`]), which
//! certificate it presents when the broker asks for one (mutual TLS, [`ClientCertificate`]),
//! and whether the broker's certificate must name the host the client dialled
//! ([`TlsConfig::verify_hostname`], on by default). [`TlsConfig::connector`] reads the PEM
//! inputs and returns a [`TlsConnector`]; [`TlsConfig::server_name`] turns the host of a
//! `host:port` into the name the certificate is checked against (an IP literal is checked
//! against the certificate's IP SANs).
//!
//! Building a connector reads files and parses certificates: build it once per client and
//! clone it (a clone shares the configuration).
//!
//! ```no_run
//! # fn main() -> Result<(), gregor_client::tls::TlsError> {
//! use gregor_client::tls::{ClientCertificate, TlsConfig, TrustRoots};
//! let tls = TlsConfig::new()
//!     .with_roots(TrustRoots::ca_file("/etc/kafka/ca.pem"))
//!     .with_client_certificate(ClientCertificate::from_files(
//!         "/etc/kafka/client.pem",
//!         "/etc/kafka/client.key",
//!     ));
//! let connector = tls.connector()?;
//! let name = tls.server_name("broker-1.kafka.internal")?;
//! # let _ = (connector, name);
//! # Ok(())
//! # }
//! ```

mod error;
mod pem;
mod verifier;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

pub use error::TlsError;
pub use pem::PemSource;

use verifier::ChainOnlyVerifier;

/// Which certificate authorities the client trusts to sign broker certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustRoots {
    /// Mozilla's root program, compiled in (`webpki-roots`): the same on every machine, like
    /// the JVM's bundled trust store. Suits brokers with certificates from a public CA.
    #[default]
    WebPki,
    /// The operating system's trust store (`rustls-native-certs`), read when the connector is
    /// built: picks up a corporate CA installed on the machine (librdkafka's
    /// `ssl.ca.location=probe`).
    System,
    /// The CA certificates in PEM text (librdkafka's `ssl.ca.location`, or a PEM
    /// `ssl.truststore.location`): typically a private CA. Only these are trusted.
    Pem(PemSource),
}

impl TrustRoots {
    /// The CA certificates in a PEM file.
    pub fn ca_file(path: impl Into<PathBuf>) -> TrustRoots {
        TrustRoots::Pem(PemSource::file(path))
    }

    /// The CA certificates in PEM text.
    pub fn ca_pem(pem: impl Into<Vec<u8>>) -> TrustRoots {
        TrustRoots::Pem(PemSource::bytes(pem))
    }

    fn load(&self) -> Result<RootCertStore, TlsError> {
        match self {
            TrustRoots::WebPki => Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
            TrustRoots::System => {
                let found = rustls_native_certs::load_native_certs();
                if !found.errors.is_empty() {
                    tracing::warn!(
                        errors = found.errors.len(),
                        loaded = found.certs.len(),
                        "some system trust store entries could not be read"
                    );
                }
                anchors(found.certs, "system trust store")
            }
            TrustRoots::Pem(src) => {
                const WHAT: &str = "CA certificates";
                let text = src.read(WHAT)?;
                anchors(pem::certificates(&text, WHAT)?, WHAT)
            }
        }
    }
}

/// A root store from certificates; fails when none is usable as a trust anchor.
fn anchors(
    certs: Vec<rustls::pki_types::CertificateDer<'static>>,
    what: &'static str,
) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let (added, rejected) = store.add_parsable_certificates(certs);
    if rejected > 0 {
        tracing::warn!(what, rejected, "ignored unusable trust anchors");
    }
    if added == 0 {
        return Err(TlsError::NoTrustAnchors { what, rejected });
    }
    Ok(store)
}

/// The certificate chain and private key the client presents when the broker requests client
/// authentication (mutual TLS; librdkafka's `ssl.certificate.location` and
/// `ssl.key.location`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientCertificate {
    /// The client's certificate first, then any intermediates, as PEM `CERTIFICATE`
    /// sections.
    pub chain: PemSource,
    /// The unencrypted private key as PEM (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or
    /// SEC1 `EC PRIVATE KEY`). May be the same file as the chain.
    pub key: PemSource,
}

impl ClientCertificate {
    /// A certificate chain and key from two PEM files (they may be the same file).
    pub fn from_files(chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> ClientCertificate {
        ClientCertificate {
            chain: PemSource::file(chain),
            key: PemSource::file(key),
        }
    }

    /// A certificate chain and key from PEM text.
    pub fn from_pem(chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> ClientCertificate {
        ClientCertificate {
            chain: PemSource::bytes(chain),
            key: PemSource::bytes(key),
        }
    }
}

/// How the client secures broker connections.
///
/// The default trusts [`TrustRoots::WebPki`], presents no client certificate and verifies
/// host names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The certificate authorities trusted to sign broker certificates.
    pub roots: TrustRoots,
    /// The certificate presented for mutual TLS, if any.
    pub client_certificate: Option<ClientCertificate>,
    /// Whether the broker's certificate must be valid for the host the client dialled (DNS
    /// SAN for a name, IP SAN for an IP literal). On by default (Kafka's
    /// `ssl.endpoint.identification.algorithm=https`).
    ///
    /// `false` still requires a certificate chain to one of [`roots`](TlsConfig::roots) and
    /// every other check, but accepts a certificate issued for any name. That lets any holder
    /// of a certificate from a trusted CA impersonate any broker: turn it off only with a
    /// private CA that issues certificates to your brokers alone.
    pub verify_hostname: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            roots: TrustRoots::default(),
            client_certificate: None,
            verify_hostname: true,
        }
    }
}

impl TlsConfig {
    /// The default configuration (see [`TlsConfig`]).
    pub fn new() -> TlsConfig {
        TlsConfig::default()
    }

    /// Trusts these roots.
    pub fn with_roots(mut self, roots: TrustRoots) -> TlsConfig {
        self.roots = roots;
        self
    }

    /// Presents this certificate when the broker asks for one.
    pub fn with_client_certificate(mut self, cert: ClientCertificate) -> TlsConfig {
        self.client_certificate = Some(cert);
        self
    }

    /// Turns host name verification on or off (see [`TlsConfig::verify_hostname`] for the
    /// risk of turning it off).
    pub fn with_verify_hostname(mut self, verify: bool) -> TlsConfig {
        self.verify_hostname = verify;
        self
    }

    /// The rustls client configuration: reads and parses every PEM input.
    pub fn client_config(&self) -> Result<ClientConfig, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = Arc::new(self.roots.load()?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(TlsError::Verifier)?;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Config)?;
        let builder = if self.verify_hostname {
            builder.with_webpki_verifier(webpki)
        } else {
            tracing::warn!(
                "TLS host name verification is off: any certificate from a trusted CA is \
                 accepted for any broker"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier::new(
                    webpki,
                    roots.clone(),
                    provider.signature_verification_algorithms,
                )))
        };
        let config = match &self.client_certificate {
            None => builder.with_no_client_auth(),
            Some(cc) => {
                let chain_text = cc.chain.read("client certificate")?;
                let chain = pem::certificates(&chain_text, "client certificate")?;
                let key_text = cc.key.read("client key")?;
                let key = pem::private_key(&key_text, "client key")?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(TlsError::ClientCertificate)?
            }
        };
        tracing::debug!(
            roots = roots.len(),
            client_certificate = self.client_certificate.is_some(),
            verify_hostname = self.verify_hostname,
            "TLS configuration built"
        );
        Ok(config)
    }

    /// A connector for `tokio` streams (see [`client_config`](TlsConfig::client_config)).
    pub fn connector(&self) -> Result<TlsConnector, TlsError> {
        Ok(TlsConnector::from(Arc::new(self.client_config()?)))
    }

    /// The name the broker's certificate is checked against, from the host the client dialled
    /// (the host part of `host:port`): an IPv4 or IPv6 literal (brackets allowed) becomes an
    /// IP address, checked against IP SANs and sent without SNI; anything else must be a
    /// valid DNS name.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        ServerName::try_from(bare.to_owned())
            .map_err(|_| TlsError::InvalidServerName(host.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_testkit::certs::TestPki;
    use std::net::IpAddr;

    #[test]
    fn defaults_verify_hostnames_against_webpki_roots() {
        let c = TlsConfig::default();
        assert_eq!(c.roots, TrustRoots::WebPki);
        assert!(c.verify_hostname);
        assert!(c.client_certificate.is_none());
        c.connector().unwrap();
    }

    #[test]
    fn server_names() {
        let c = TlsConfig::default();
        assert_eq!(
            c.server_name("broker-1.example.com").unwrap(),
            ServerName::try_from("broker-1.example.com").unwrap()
        );
        let ip = c.server_name("127.0.0.1").unwrap();
        assert!(
            matches!(ip, ServerName::IpAddress(a) if IpAddr::from(a) == IpAddr::from([127, 0, 0, 1]))
        );
        let v6 = c.server_name("[::1]").unwrap();
        assert!(matches!(v6, ServerName::IpAddress(_)));
        assert!(matches!(
            c.server_name("::1").unwrap(),
            ServerName::IpAddress(_)
        ));
        for bad in ["", "bad host", "a..b", "[example.com]x"] {
            assert!(
                matches!(c.server_name(bad), Err(TlsError::InvalidServerName(h)) if h == bad),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ca_pem_and_client_certificate_build() {
        let pki = TestPki::generate().unwrap();
        for verify in [true, false] {
            TlsConfig::new()
                .with_roots(TrustRoots::ca_pem(pki.ca_cert_pem.clone()))
                .with_client_certificate(ClientCertificate::from_pem(
                    pki.client_cert_pem.clone(),
                    pki.client_key_pem.clone(),
                ))
                .with_verify_hostname(verify)
                .connector()
                .unwrap();
        }
    }

    #[test]
    fn key_not_matching_the_certificate_is_rejected() {
        let pki = TestPki::generate().unwrap();
        let err = TlsConfig::new()
            .with_client_certificate(ClientCertificate::from_pem(
                pki.client_cert_pem.clone(),
                pki.server_key_pem.clone(),
            ))
            .client_config()
            .unwrap_err();
        assert!(matches!(err, TlsError::ClientCertificate(_)), "{err:?}");
    }

    #[test]
    fn unusable_inputs_are_typed_errors() {
        let pki = TestPki::generate().unwrap();
        let missing = TlsConfig::new()
            .with_roots(TrustRoots::ca_file("/nonexistent/gregor/ca.pem"))
            .client_config()
            .unwrap_err();
        assert!(matches!(missing, TlsError::ReadFile { .. }), "{missing:?}");

        let key_as_ca = TlsConfig::new()
            .with_roots(TrustRoots::ca_pem(pki.ca_key_pem.clone()))
            .client_config()
            .unwrap_err();
        assert!(
            matches!(key_as_ca, TlsError::NoCertificates { .. }),
            "{key_as_ca:?}"
        );

        let junk_ca = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let junk = TlsConfig::new()
            .with_roots(TrustRoots::ca_pem(junk_ca))
            .client_config()
            .unwrap_err();
        assert!(
            matches!(junk, TlsError::NoTrustAnchors { rejected: 1, .. }),
            "{junk:?}"
        );

        let no_key = TlsConfig::new()
            .with_client_certificate(ClientCertificate::from_pem(
                pki.client_cert_pem.clone(),
                pki.client_cert_pem.clone(),
            ))
            .client_config()
            .unwrap_err();
        assert!(
            matches!(no_key, TlsError::NoPrivateKey { .. }),
            "{no_key:?}"
        );
    }

    #[test]
    fn io_errors_carry_rustls_errors() {
        let rustls_err = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_err.clone());
        let tls = TlsError::from_io(&io).unwrap();
        assert_eq!(tls.rustls_error(), Some(&rustls_err));
        assert!(
            TlsError::from_io(&std::io::Error::from(std::io::ErrorKind::UnexpectedEof)).is_none()
        );
    }

    #[test]
    fn tls_failures_on_an_open_stream_are_tls_errors() {
        use crate::ClientError;
        // TLS 1.3: a broker requiring a client certificate refuses it after the client's side
        // of the handshake, so the alert comes with the first read.
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, alert.clone());
        match ClientError::io(&io, "reading from the broker") {
            ClientError::Tls {
                context,
                source: Some(source),
            } => {
                assert_eq!(context, "reading from the broker");
                let tls = source.downcast_ref::<TlsError>().expect("a TlsError");
                assert_eq!(tls.rustls_error(), Some(&alert));
            }
            other => panic!("expected a TLS error, got {other:?}"),
        }
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(matches!(
            ClientError::io(&reset, "reading from the broker"),
            ClientError::Io {
                kind: std::io::ErrorKind::ConnectionReset,
                ..
            }
        ));
    }
}
