//! The tansu launcher: a broker starts, answers ApiVersions, and is gone after drop.

use gregor_testkit::Tansu;
use gregor_testkit::tansu::probe_api_versions;

#[test]
fn tansu_starts_answers_and_stops() {
    let broker = Tansu::start().expect("tansu starts (run .ci/install-tansu.sh first)");
    let versions = probe_api_versions(broker.addr()).expect("ApiVersions answered");
    assert_eq!(versions.error_code, 0);
    // A broker must at least serve Produce (0), Fetch (1) and Metadata (3).
    for key in [0, 1, 3] {
        assert!(
            versions.api_keys.iter().any(|k| k.api_key == key),
            "api key {key} served"
        );
    }
    let addr = broker.addr();
    drop(broker);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        probe_api_versions(addr).is_err(),
        "broker stopped after drop"
    );
}

#[test]
fn two_brokers_are_independent() {
    let a = Tansu::start().expect("first broker");
    let b = Tansu::start().expect("second broker");
    assert_ne!(a.addr(), b.addr());
}
