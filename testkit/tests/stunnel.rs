//! The TLS broker launcher: stunnel listens, forwards to tansu, and both are gone after drop.

use std::net::TcpStream;
use std::time::Duration;

use gregor_testkit::certs::TestPki;
use gregor_testkit::tansu::probe_api_versions;
use gregor_testkit::{TlsBroker, TlsBrokerOptions};

#[test]
fn tls_broker_starts_and_stops() {
    let pki = TestPki::generate().expect("certificates");
    let broker =
        TlsBroker::start(&pki, TlsBrokerOptions::default()).expect("TLS broker (needs stunnel4)");
    assert_eq!(broker.bootstrap(), format!("localhost:{}", broker.port()));
    assert_ne!(broker.addr(), broker.tansu().addr());
    assert!(broker.files().ca_cert().is_file());
    // The plain broker behind the proxy answers; the proxy port does not speak plain Kafka.
    probe_api_versions(broker.tansu().addr()).expect("tansu answers");
    assert!(probe_api_versions(broker.addr()).is_err());

    let (tls, plain, dir) = (
        broker.addr(),
        broker.tansu().addr(),
        broker.files().dir().to_owned(),
    );
    drop(broker);
    std::thread::sleep(Duration::from_millis(300));
    assert!(TcpStream::connect_timeout(&tls, Duration::from_millis(200)).is_err());
    assert!(probe_api_versions(plain).is_err());
    assert!(!dir.exists(), "certificate files removed");
}
