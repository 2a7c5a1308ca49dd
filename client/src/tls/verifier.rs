//! The certificate verifier behind `verify_hostname: false`.
//!
//! It wraps rustls's [`WebPkiServerVerifier`] and accepts exactly one kind of failure: the
//! certificate not being valid for the name the client dialled
//! ([`CertificateError::NotValidForName`] and its context-carrying form). Every other check
//! (chain to a trust anchor, validity period, key usage, signatures in the handshake) still
//! applies. When it accepts a name mismatch it re-verifies the chain itself with
//! [`verify_server_cert_signed_by_trust_anchor`], so its guarantee does not depend on the
//! order in which the wrapped verifier runs its checks.
//!
//! # Risk
//!
//! Skipping the name check means any certificate issued by a trusted CA is accepted for any
//! broker. With public roots (webpki or the system store) that is anyone who can get a
//! certificate from a public CA for any domain: a man in the middle. Use it only with a
//! private CA whose certificates are all issued to your own brokers, for example when brokers
//! advertise addresses that are not in their certificates.

use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore};

/// Verifies the chain like [`WebPkiServerVerifier`] but not the server name.
#[derive(Debug)]
pub(crate) struct ChainOnlyVerifier {
    inner: Arc<WebPkiServerVerifier>,
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ChainOnlyVerifier {
    /// Wraps `inner`, which must have been built from the same `roots` and `algorithms`.
    pub(crate) fn new(
        inner: Arc<WebPkiServerVerifier>,
        roots: Arc<RootCertStore>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> ChainOnlyVerifier {
        ChainOnlyVerifier {
            inner,
            roots,
            algorithms,
        }
    }
}

/// Whether `e` says only that the certificate does not name the server.
fn is_name_mismatch(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e) if is_name_mismatch(&e) => {
                let cert = ParsedCertificate::try_from(end_entity)?;
                verify_server_cert_signed_by_trust_anchor(
                    &cert,
                    &self.roots,
                    intermediates,
                    now,
                    self.algorithms.all,
                )?;
                tracing::debug!(
                    server = ?server_name,
                    "broker certificate does not name the server; accepted because hostname \
                     verification is off"
                );
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_testkit::certs::TestPki;

    fn roots(pem: &str) -> Arc<RootCertStore> {
        let mut store = RootCertStore::empty();
        for c in crate::tls::pem::certificates(pem.as_bytes(), "t").unwrap() {
            store.add(c).unwrap();
        }
        Arc::new(store)
    }

    fn verifiers(ca_pem: &str) -> (Arc<WebPkiServerVerifier>, ChainOnlyVerifier) {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = roots(ca_pem);
        let inner = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .unwrap();
        let chain_only = ChainOnlyVerifier::new(
            inner.clone(),
            roots,
            provider.signature_verification_algorithms,
        );
        (inner, chain_only)
    }

    fn der(pem: &str) -> CertificateDer<'static> {
        crate::tls::pem::certificates(pem.as_bytes(), "t")
            .unwrap()
            .remove(0)
    }

    fn verify(
        v: &dyn ServerCertVerifier,
        cert: &CertificateDer<'_>,
        name: &str,
    ) -> Result<ServerCertVerified, Error> {
        let name = ServerName::try_from(name.to_owned()).unwrap();
        v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
    }

    #[test]
    fn name_mismatch_is_accepted_only_by_the_chain_only_verifier() {
        let pki = TestPki::generate().unwrap();
        let (strict, lax) = verifiers(&pki.ca_cert_pem);
        let cert = der(&pki.server_cert_pem);
        assert!(verify(strict.as_ref(), &cert, "localhost").is_ok());
        assert!(verify(&lax, &cert, "localhost").is_ok());
        let err = verify(strict.as_ref(), &cert, "kafka.example.com").unwrap_err();
        assert!(is_name_mismatch(&err), "{err:?}");
        assert!(verify(&lax, &cert, "kafka.example.com").is_ok());
        // An IP the certificate does not list is a name mismatch too.
        assert!(verify(strict.as_ref(), &cert, "127.0.0.1").is_ok());
        assert!(verify(strict.as_ref(), &cert, "127.0.0.2").is_err());
        assert!(verify(&lax, &cert, "127.0.0.2").is_ok());
    }

    #[test]
    fn untrusted_chain_is_rejected_even_without_name_check() {
        let pki = TestPki::generate().unwrap();
        let (strict, lax) = verifiers(&pki.other_ca_cert_pem);
        let cert = der(&pki.server_cert_pem);
        for name in ["localhost", "kafka.example.com"] {
            for v in [strict.as_ref() as &dyn ServerCertVerifier, &lax] {
                let err = verify(v, &cert, name).unwrap_err();
                assert_eq!(
                    err,
                    Error::InvalidCertificate(CertificateError::UnknownIssuer),
                    "{name}"
                );
            }
        }
    }
}
