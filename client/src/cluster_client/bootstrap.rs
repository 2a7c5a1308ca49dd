//! Bootstrapping: connection options from the configuration, and the first metadata.

use std::time::Instant;

use tracing::{info, warn};

use super::metadata_task::{RefreshScope, request_metadata};
use crate::cluster::MetadataCache;
use crate::config::ClientConfig;
use crate::connection::{ConnectOptions, Connection};
use crate::error::ClientError;

impl From<&ClientConfig> for ConnectOptions {
    /// The options every connection of a client with this configuration uses: its client id,
    /// TLS and SASL settings, request and connect timeouts and largest response frame.
    fn from(config: &ClientConfig) -> Self {
        ConnectOptions {
            client_id: config.client_id().map(str::to_owned),
            tls: config.tls().cloned(),
            sasl: config.sasl().cloned(),
            request_timeout: config.request_timeout(),
            connect_timeout: config.connect_timeout(),
            max_response_frame: config.max_response_frame(),
        }
    }
}

/// How many times the bootstrap addresses are tried when every address failed with a
/// response that did not decode ([`ClientError::Poisoned`]): the broker is there, and a
/// corrupted answer on the way should cost a retry, not the client.
const BOOTSTRAP_PASSES: u32 = 3;

/// Tries each bootstrap address in turn until one answers a Metadata request for all topics;
/// returns the cache loaded from that answer. The bootstrap connection is closed afterwards:
/// later connections go to brokers by the addresses they advertise. When the last address
/// failed with an answer that did not decode, the addresses are tried again (up to
/// [`BOOTSTRAP_PASSES`] passes, `retry.backoff.ms` apart); other failures (refused, timed
/// out, authentication) end the bootstrap at once.
pub(crate) async fn bootstrap(
    config: &ClientConfig,
    options: &ConnectOptions,
) -> Result<MetadataCache, ClientError> {
    let mut last = ClientError::NoBrokerAvailable;
    for pass in 1..=BOOTSTRAP_PASSES {
        match bootstrap_pass(config, options).await {
            Ok(cache) => return Ok(cache),
            Err(error @ ClientError::Poisoned(_)) if pass < BOOTSTRAP_PASSES => {
                warn!(%error, pass, "bootstrap answer did not decode; trying again");
                last = error;
                tokio::time::sleep(config.retry_backoff()).await;
            }
            Err(error) => return Err(error),
        }
    }
    Err(last)
}

/// One pass over the bootstrap addresses.
async fn bootstrap_pass(
    config: &ClientConfig,
    options: &ConnectOptions,
) -> Result<MetadataCache, ClientError> {
    let mut last = ClientError::NoBrokerAvailable;
    for address in config.bootstrap_servers() {
        let addr = address.to_string();
        let attempt = async {
            let conn = Connection::connect(&addr, options).await?;
            request_metadata(&conn, &RefreshScope::All).await
        };
        match attempt.await {
            Ok(response) if response.brokers.is_empty() => {
                warn!(
                    bootstrap = addr.as_str(),
                    "bootstrap broker listed no brokers"
                );
                last = ClientError::NoBrokerAvailable;
            }
            Ok(response) => {
                let mut cache = MetadataCache::new();
                cache.apply(&response, true, Instant::now());
                info!(
                    bootstrap = addr.as_str(),
                    brokers = cache.brokers().len(),
                    topics = cache.topic_names().len(),
                    cluster_id = cache.cluster_id(),
                    "bootstrapped"
                );
                return Ok(cache);
            }
            Err(error) => {
                warn!(bootstrap = addr.as_str(), %error, "bootstrap address failed");
                last = error;
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::SecurityProtocol;

    #[test]
    fn connect_options_follow_the_config() {
        let config = ClientConfig::builder()
            .bootstrap_servers(["localhost:9092"])
            .client_id("svc")
            .security_protocol(SecurityProtocol::Ssl)
            .request_timeout(Duration::from_secs(7))
            .connect_timeout(Duration::from_secs(3))
            .max_response_frame(1 << 20)
            .build()
            .unwrap();
        let options = ConnectOptions::from(&config);
        assert_eq!(options.client_id.as_deref(), Some("svc"));
        assert!(options.tls.is_some());
        assert!(options.sasl.is_none());
        assert_eq!(options.request_timeout, Duration::from_secs(7));
        assert_eq!(options.connect_timeout, Duration::from_secs(3));
        assert_eq!(options.max_response_frame, 1 << 20);
        let plain = ClientConfig::builder()
            .bootstrap_servers(["localhost:9092"])
            .build()
            .unwrap();
        let options = ConnectOptions::from(&plain);
        assert!(options.tls.is_none());
        assert_eq!(options.client_id, None);
    }
}
