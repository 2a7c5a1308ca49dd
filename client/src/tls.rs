//! STUB, replaced at merge by the TLS layer written on its own branch.
//!
//! It exists only so the connection layer compiles: it keeps the contract's signatures
//! (`TlsConfig::connector`, `TlsConfig::server_name`) and refuses to build a connector.

use rustls::pki_types::ServerName;

use crate::error::ClientError;

/// TLS settings (stub: carries nothing and cannot build a connector).
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    _stub: (),
}

impl TlsConfig {
    /// The connector for this configuration (stub: always an error).
    pub fn connector(&self) -> Result<tokio_rustls::TlsConnector, ClientError> {
        Err(ClientError::Tls {
            context: "TLS is not built yet (stub)",
            source: None,
        })
    }

    /// The name to verify the broker's certificate against.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, ClientError> {
        ServerName::try_from(host.to_owned()).map_err(|e| ClientError::Tls {
            context: "invalid server name",
            source: Some(std::sync::Arc::new(e)),
        })
    }
}
