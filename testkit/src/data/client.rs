//! gregor clients configured for tests, and a deadline against hangs.

use std::future::Future;
use std::time::Duration;

use gregor_client::Client;
use gregor_client::config::{ClientConfig, ClientConfigBuilder};

/// How long [`within`] waits before failing the test.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A client configuration for `bootstrap` named `client_id`, with the short backoffs tests use
/// (reconnect 20 ms up to 200 ms, retry 20 ms) and a 10 s request timeout. The caller may
/// change anything before building it.
pub fn test_client_config(bootstrap: &str, client_id: &str) -> ClientConfigBuilder {
    ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id(client_id)
        .reconnect_backoff(Duration::from_millis(20))
        .reconnect_backoff_max(Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(20))
        .request_timeout(Duration::from_secs(10))
}

/// A client connected to `bootstrap` with [`test_client_config`]. Panics if it cannot connect.
pub async fn test_client(bootstrap: &str, client_id: &str) -> Client {
    let config = test_client_config(bootstrap, client_id)
        .build()
        .unwrap_or_else(|e| panic!("a test client configuration: {e}"));
    Client::connect(config)
        .await
        .unwrap_or_else(|e| panic!("the test client connects to {bootstrap}: {e}"))
}

/// Awaits `fut`, failing the test if it takes longer than [`DEADLINE`]: a deadline against
/// hangs, not a timing assertion. `what` names the awaited step in the panic message.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {DEADLINE:?}"))
}
