//! Opening a connection: TCP, then TLS if configured, then the handshake.

use std::sync::Arc;

use gregor_protocol::Message;
use gregor_protocol::messages::ApiVersionsRequest;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tracing::{debug, warn};

use super::{ConnectOptions, Connection};
use crate::config::ConfigError;
use crate::error::ClientError;
use crate::tls::TlsConfig;

/// Connects, retrying once with ApiVersions v0 on a new connection if the broker closed the
/// first one on our newest ApiVersions version.
#[tracing::instrument(level = "debug", skip_all, fields(broker = host_port))]
pub(super) async fn connect(
    host_port: &str,
    opts: &ConnectOptions,
) -> Result<Connection, ClientError> {
    let host = host_of(host_port)?;
    match attempt(host_port, host, opts, ApiVersionsRequest::VERSIONS.max).await {
        Err(ClientError::ApiVersionsRejected { version }) if version > 0 => {
            warn!(
                version,
                "broker closed the connection on ApiVersions; retrying with v0"
            );
            attempt(host_port, host, opts, 0).await
        }
        other => other,
    }
}

async fn attempt(
    host_port: &str,
    host: &str,
    opts: &ConnectOptions,
    api_versions_version: i16,
) -> Result<Connection, ClientError> {
    let deadline = Instant::now() + opts.connect_timeout;
    let tcp = timeout_at(deadline, TcpStream::connect(host_port))
        .await
        .map_err(|_| ClientError::ConnectTimeout)?
        .map_err(|e| ClientError::io_at(&e, "connecting to the broker", host_port))?;
    tcp.set_nodelay(true)
        .map_err(|e| ClientError::io(&e, "setting TCP_NODELAY"))?;
    debug!(
        broker = host_port,
        tls = opts.tls.is_some(),
        "TCP connected"
    );
    match &opts.tls {
        None => Connection::handshake_with_api_versions(tcp, opts, api_versions_version).await,
        Some(tls) => {
            let stream = timeout_at(deadline, start_tls(tls, host, tcp))
                .await
                .map_err(|_| ClientError::ConnectTimeout)??;
            Connection::handshake_with_api_versions(stream, opts, api_versions_version).await
        }
    }
}

/// The one place the connection layer calls the TLS layer.
async fn start_tls(
    tls: &TlsConfig,
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ClientError> {
    let connector = tls.connector()?;
    let server_name = tls.server_name(host)?;
    connector
        .connect(server_name, tcp)
        .await
        .map_err(|e| ClientError::Tls {
            context: "TLS handshake",
            // Prefer the rustls error (an unknown issuer, a name mismatch) over the io wrapper.
            source: Some(match crate::tls::TlsError::from_io(&e) {
                Some(tls) => Arc::new(tls),
                None => Arc::new(e),
            }),
        })
}

/// The host part of `host:port` or `[v6]:port`.
fn host_of(host_port: &str) -> Result<&str, ClientError> {
    let bad = ClientError::Config(ConfigError::invalid(
        "broker address",
        "expected host:port or [ipv6]:port",
    ));
    let (host, port) = host_port.rsplit_once(':').ok_or(bad.clone())?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or(bad.clone())?,
        None => host,
    };
    if host.is_empty() {
        return Err(bad);
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_parses_names_ipv4_and_ipv6() {
        assert_eq!(
            host_of("broker-1.example:9092").unwrap(),
            "broker-1.example"
        );
        assert_eq!(host_of("127.0.0.1:9092").unwrap(), "127.0.0.1");
        assert_eq!(host_of("[::1]:9093").unwrap(), "::1");
        for bad in [
            "broker",
            "broker:",
            ":9092",
            "[::1:9092",
            "broker:x1",
            "[]:9092",
        ] {
            assert!(
                matches!(host_of(bad), Err(ClientError::Config(_))),
                "{bad} accepted"
            );
        }
    }
}
