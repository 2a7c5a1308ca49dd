//! A failed connect keeps the operating system's message and names the broker's address.

use std::io::ErrorKind;

use gregor_client::{ClientError, ConnectOptions, Connection};

#[tokio::test]
async fn a_refused_connect_names_the_address_and_keeps_the_os_message() {
    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .to_string();
    let error = Connection::connect(&addr, &ConnectOptions::default())
        .await
        .expect_err("nothing listens there");
    match &error {
        ClientError::Io {
            kind: ErrorKind::ConnectionRefused,
            context,
            message,
        } => {
            assert_eq!(*context, "connecting to the broker");
            assert!(message.starts_with(&format!("{addr}: ")), "{message}");
            assert!(
                message.to_lowercase().contains("connection refused")
                    && message.contains("(os error"),
                "the operating system's message: {message}"
            );
        }
        other => panic!("not an I/O error: {other:?}"),
    }
    assert!(error.is_connection_error());
    assert!(error.to_string().contains(&addr), "{error}");
}
