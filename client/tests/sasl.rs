//! SASL mechanisms against published and independently computed vectors, plus rejection and
//! robustness tests.
//!
//! The SCRAM-SHA-256 exchange is the RFC 7677 §3 example. The SCRAM-SHA-512 and delegation-token
//! exchanges were computed with Python's standard library (`hashlib.pbkdf2_hmac`, `hmac`,
//! `base64`), with this script, which reproduces the RFC 7677 example exactly when run with
//! `h = "sha256"`:
//!
//! ```python
//! import hashlib, hmac, base64
//! def scram(h, user, pw, cnonce, snonce, salt_b64, i, first_ext=""):
//!     salt = base64.b64decode(salt_b64)
//!     sp = hashlib.pbkdf2_hmac(h, pw.encode(), salt, i)
//!     ck = hmac.new(sp, b"Client Key", h).digest()
//!     sk = hashlib.new(h, ck).digest()
//!     am = f"n={user},r={cnonce}{first_ext},r={snonce},s={salt_b64},i={i},c=biws,r={snonce}".encode()
//!     proof = bytes(a ^ b for a, b in zip(ck, hmac.new(sk, am, h).digest()))
//!     ss = hmac.new(hmac.new(sp, b"Server Key", h).digest(), am, h).digest()
//!     print("p=" + base64.b64encode(proof).decode(), "v=" + base64.b64encode(ss).decode())
//! cn = "rOprNGfwEbeRWgbNEkqO"; sn = cn + "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
//! scram("sha512", "user", "pencil", cn, sn, "W22ZaJ0SNY7soEsUEjb6gQ==", 4096)
//! scram("sha256", "token=2Cid", "tokenhmac", cn, sn, "W22ZaJ0SNY7soEsUEjb6gQ==", 4096, ",tokenauth=true")
//! ```

use std::sync::Arc;

use gregor_client::sasl::{
    NonceGenerator, OAuthBearerConfig, OAuthErrorStatus, OAuthToken, PlainConfig, SaslConfig,
    SaslError, SaslExtensions, SaslMechanism, SaslSession, SaslStep, ScramConfig, ScramHash,
    ScramServerError, TokenError, TokenProvider,
};
use proptest::prelude::*;

const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST: &[u8] =
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const SHA256_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SHA256_SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
const SHA512_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=gMGXRcevScNtxZ6/8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==";
const SHA512_SERVER_FINAL: &[u8] =
    b"v=ZQnYEgWQMFmmsM8aQMF0nDDCy/AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==";
const TOKEN_CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=Vg6Shqttc/TLRjFQSvrc5wJ9rNl56Q6YI1vucQ0++2A=";
const TOKEN_SERVER_FINAL: &[u8] = b"v=jIaj96jufxwNub+D5aEIHeCJ9LRVMD9svsg5yZIKfMI=";

/// A predicate on an expected error.
type Check = fn(&SaslError) -> bool;

/// A nonce generator that always returns the same nonce.
struct FixedNonce(&'static str);

impl NonceGenerator for FixedNonce {
    fn generate(&self) -> Result<String, SaslError> {
        Ok(self.0.to_owned())
    }
}

fn scram(hash: ScramHash, user: &str, password: &str) -> ScramConfig {
    ScramConfig::new(hash, user, password).with_nonce_generator(Arc::new(FixedNonce(CLIENT_NONCE)))
}

/// A session that has sent its client-first message.
fn started(config: ScramConfig) -> SaslSession {
    let mut session = SaslSession::new(config);
    session.initial_response().unwrap();
    session
}

fn respond(step: SaslStep) -> Vec<u8> {
    match step {
        SaslStep::Respond(bytes) => bytes.to_vec(),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn assert_done(step: SaslStep) {
    assert!(
        matches!(step, SaslStep::Done),
        "expected Done, got {step:?}"
    );
}

/// The session failed: it is not done and takes no more messages.
fn assert_failed(session: &mut SaslSession) {
    assert!(!session.is_done());
    assert_no_more(session);
    assert!(!session.is_done());
}

/// The session takes no more messages.
fn assert_no_more(session: &mut SaslSession) {
    for message in [&b""[..], b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="] {
        let err = session.on_challenge(message).unwrap_err();
        assert!(matches!(err, SaslError::InvalidState { .. }), "{err:?}");
    }
}

fn full_exchange(
    config: ScramConfig,
    client_first: &[u8],
    client_final: &[u8],
    server_final: &[u8],
) {
    let mut session = SaslSession::new(config);
    assert_eq!(&session.initial_response().unwrap()[..], client_first);
    assert_eq!(
        respond(session.on_challenge(SERVER_FIRST).unwrap()),
        client_final
    );
    assert!(!session.is_done());
    assert_done(session.on_challenge(server_final).unwrap());
    assert!(session.is_done());
    assert_no_more(&mut session);
    assert!(session.is_done());
}

#[test]
fn scram_sha256_rfc7677_vector() {
    let config = scram(ScramHash::Sha256, "user", "pencil");
    assert_eq!(
        SaslSession::new(config.clone()).mechanism(),
        SaslMechanism::ScramSha256
    );
    full_exchange(
        config,
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        SHA256_CLIENT_FINAL,
        SHA256_SERVER_FINAL,
    );
}

#[test]
fn scram_sha512_vector() {
    let config = scram(ScramHash::Sha512, "user", "pencil");
    assert_eq!(
        SaslConfig::from(config.clone()).mechanism().name(),
        "SCRAM-SHA-512"
    );
    full_exchange(
        config,
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        SHA512_CLIENT_FINAL,
        SHA512_SERVER_FINAL,
    );
}

#[test]
fn scram_delegation_token_with_escaped_name() {
    full_exchange(
        scram(ScramHash::Sha256, "token,id", "tokenhmac").with_token_auth(true),
        b"n,,n=token=2Cid,r=rOprNGfwEbeRWgbNEkqO,tokenauth=true",
        TOKEN_CLIENT_FINAL,
        TOKEN_SERVER_FINAL,
    );
}

#[test]
fn scram_ignores_optional_extensions_after_iterations() {
    let mut session = started(scram(ScramHash::Sha256, "user", "pencil"));
    let mut first = SERVER_FIRST.to_vec();
    first.extend_from_slice(b",x=future");
    // The extension is part of AuthMessage, so the proof differs from the vector's.
    let client_final = respond(session.on_challenge(&first).unwrap());
    assert!(
        client_final.starts_with(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=")
    );
    assert_ne!(client_final, SHA256_CLIENT_FINAL);
}

fn first_error(config: ScramConfig, server_first: &[u8]) -> SaslError {
    let mut session = started(config);
    let err = session.on_challenge(server_first).unwrap_err();
    assert_failed(&mut session);
    err
}

#[test]
fn scram_rejects_bad_server_nonces() {
    for server_first in [
        // Does not start with the client nonce.
        &b"r=XOprNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"[..],
        // Only the client nonce: the server added nothing.
        b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        // A prefix of the client nonce.
        b"r=rOprNG,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    ] {
        let err = first_error(scram(ScramHash::Sha256, "user", "pencil"), server_first);
        assert!(matches!(err, SaslError::NonceMismatch), "{err:?}");
    }
}

#[test]
fn scram_bounds_the_iteration_count() {
    let config = scram(ScramHash::Sha256, "user", "pencil");
    let first = |i: &str| format!("r={CLIENT_NONCE}xyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={i}");
    let err = first_error(config.clone(), first("4095").as_bytes());
    assert!(
        matches!(
            err,
            SaslError::IterationCountTooLow {
                iterations: 4095,
                min: 4096
            }
        ),
        "{err:?}"
    );
    let err = first_error(config.clone(), first("100001").as_bytes());
    assert!(
        matches!(
            err,
            SaslError::IterationCountTooHigh {
                iterations: 100_001,
                max: 100_000
            }
        ),
        "{err:?}"
    );
    let err = first_error(
        config.clone(),
        first("99999999999999999999999999").as_bytes(),
    );
    assert!(
        matches!(
            err,
            SaslError::IterationCountTooHigh {
                iterations: u64::MAX,
                ..
            }
        ),
        "{err:?}"
    );
    let err = first_error(
        config.clone().with_max_iterations(5000),
        first("5001").as_bytes(),
    );
    assert!(
        matches!(
            err,
            SaslError::IterationCountTooHigh {
                iterations: 5001,
                max: 5000
            }
        ),
        "{err:?}"
    );
    // The bound is inclusive.
    let mut session = started(config.with_max_iterations(4096));
    assert!(matches!(
        session.on_challenge(SERVER_FIRST),
        Ok(SaslStep::Respond(_))
    ));
}

#[test]
fn scram_rejects_malformed_server_first() {
    let config = scram(ScramHash::Sha256, "user", "pencil");
    let cases: [(&[u8], Check); 8] = [
        (b"", |e| matches!(e, SaslError::Malformed { .. })),
        (b"r=rOprNGfwEbeRWgbNEkqOxyz,i=4096", |e| {
            matches!(e, SaslError::Malformed { .. })
        }),
        (
            b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==",
            |e| matches!(e, SaslError::Malformed { .. }),
        ),
        (b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22Z%%%,i=4096", |e| {
            matches!(e, SaslError::InvalidBase64 { .. })
        }),
        (
            b"r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4k",
            |e| matches!(e, SaslError::Malformed { .. }),
        ),
        (
            b"m=must-understand,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            |e| matches!(e, SaslError::MandatoryExtension),
        ),
        (b"e=unknown-user", |e| {
            matches!(e, SaslError::ScramServer(ScramServerError::UnknownUser))
        }),
        (b"\xff\xfe", |e| matches!(e, SaslError::Malformed { .. })),
    ];
    for (message, check) in cases {
        let err = first_error(config.clone(), message);
        assert!(check(&err), "{}: {err:?}", String::from_utf8_lossy(message));
    }
}

/// A SHA-256 session that has answered the RFC 7677 server-first message.
fn awaiting_final() -> SaslSession {
    let mut session = started(scram(ScramHash::Sha256, "user", "pencil"));
    respond(session.on_challenge(SERVER_FIRST).unwrap());
    session
}

#[test]
fn scram_rejects_bad_server_finals() {
    let mut wrong = SHA256_SERVER_FINAL.to_vec();
    wrong[2] = b'7';
    let sha512_signature = SHA512_SERVER_FINAL;
    let cases: [(&[u8], Check); 8] = [
        (&wrong, |e| matches!(e, SaslError::ServerSignatureMismatch)),
        (sha512_signature, |e| {
            matches!(e, SaslError::ServerSignatureMismatch)
        }),
        (b"v=", |e| matches!(e, SaslError::ServerSignatureMismatch)),
        (b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4", |e| {
            matches!(e, SaslError::InvalidBase64 { .. })
        }),
        (b"e=invalid-proof", |e| {
            matches!(e, SaslError::ScramServer(ScramServerError::InvalidProof))
        }),
        (b"e=some-new-error,x=1", |e| {
            matches!(e, SaslError::ScramServer(ScramServerError::Unrecognized))
        }),
        (b"", |e| matches!(e, SaslError::Malformed { .. })),
        (b"p=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", |e| {
            matches!(e, SaslError::Malformed { .. })
        }),
    ];
    for (message, check) in cases {
        let mut session = awaiting_final();
        let err = session.on_challenge(message).unwrap_err();
        assert!(check(&err), "{}: {err:?}", String::from_utf8_lossy(message));
        assert_failed(&mut session);
    }
}

#[test]
fn scram_server_error_text() {
    assert_eq!(
        ScramServerError::from_value(b"invalid-proof").to_string(),
        "invalid-proof"
    );
    let err = SaslError::ScramServer(ScramServerError::OtherError);
    assert_eq!(err.to_string(), "SCRAM server error: other-error");
}

#[test]
fn scram_rejects_bad_local_input() {
    let mut session = SaslSession::new(
        ScramConfig::new(ScramHash::Sha256, "user", "pencil")
            .with_nonce_generator(Arc::new(FixedNonce("has,comma"))),
    );
    assert!(matches!(
        session.initial_response(),
        Err(SaslError::InvalidInput { .. })
    ));
    assert_failed(&mut session);
    let mut session = SaslSession::new(scram(ScramHash::Sha512, "", "pencil"));
    assert!(matches!(
        session.initial_response(),
        Err(SaslError::InvalidInput { .. })
    ));
}

#[test]
fn scram_random_nonce_by_default() {
    let config = ScramConfig::new(ScramHash::Sha256, "user", "pencil");
    let a = SaslSession::new(config.clone()).initial_response().unwrap();
    let b = SaslSession::new(config).initial_response().unwrap();
    assert!(a.starts_with(b"n,,n=user,r="));
    assert_ne!(a, b);
}

#[test]
fn sessions_refuse_calls_out_of_order() {
    let configs: [SaslConfig; 3] = [
        PlainConfig::new("u", "p").into(),
        scram(ScramHash::Sha256, "user", "pencil").into(),
        OAuthBearerConfig::new(Arc::new(OAuthToken::new("tok"))).into(),
    ];
    for config in configs {
        let mut session = config.session();
        assert_eq!(session.mechanism(), config.mechanism());
        assert!(matches!(
            session.on_challenge(b""),
            Err(SaslError::InvalidState { .. })
        ));
        let mut session = config.session();
        session.initial_response().unwrap();
        assert!(matches!(
            session.initial_response(),
            Err(SaslError::InvalidState { .. })
        ));
    }
}

#[test]
fn plain_bytes() {
    let mut session = SaslSession::new(PlainConfig::new("alice", "pässword"));
    assert_eq!(session.mechanism().name(), "PLAIN");
    assert_eq!(
        &session.initial_response().unwrap()[..],
        "\0alice\0pässword".as_bytes()
    );
    assert_done(session.on_challenge(b"").unwrap());
    assert!(session.is_done());
    assert_no_more(&mut session);
    assert!(session.is_done());

    let mut session = SaslSession::new(PlainConfig::new("alice", "pw").with_authzid("admin"));
    assert_eq!(
        &session.initial_response().unwrap()[..],
        b"admin\0alice\0pw"
    );
    let err = session.on_challenge(b"surprise").unwrap_err();
    assert!(
        matches!(err, SaslError::UnexpectedServerData { .. }),
        "{err:?}"
    );
    assert_failed(&mut session);

    let mut session = SaslSession::new(PlainConfig::new("al\0ice", "pw"));
    assert!(matches!(
        session.initial_response(),
        Err(SaslError::InvalidInput { .. })
    ));
}

const JWT: &str = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.";

#[test]
fn oauthbearer_bytes_without_extensions() {
    let mut session = SaslSession::new(OAuthBearerConfig::new(Arc::new(OAuthToken::new(JWT))));
    assert_eq!(session.mechanism().name(), "OAUTHBEARER");
    let expected = format!("n,,\x01auth=Bearer {JWT}\x01\x01");
    assert_eq!(
        &session.initial_response().unwrap()[..],
        expected.as_bytes()
    );
    assert_done(session.on_challenge(b"").unwrap());
    assert!(session.is_done());
    assert_no_more(&mut session);
    assert!(session.is_done());
}

#[test]
fn oauthbearer_bytes_with_extensions() {
    let extensions = SaslExtensions::new()
        .with("logicalCluster", "lkc-123")
        .unwrap()
        .with("identityPoolId", "pool-9 x")
        .unwrap();
    let config = OAuthBearerConfig::new(Arc::new(OAuthToken::new("abc-_.~+/9==")))
        .with_extensions(extensions);
    let mut session = SaslSession::new(config);
    assert_eq!(
        &session.initial_response().unwrap()[..],
        b"n,,\x01auth=Bearer abc-_.~+/9==\x01logicalCluster=lkc-123\x01identityPoolId=pool-9 x\x01\x01"
    );
}

#[test]
fn oauthbearer_server_error() {
    let mut session = SaslSession::new(OAuthBearerConfig::new(Arc::new(OAuthToken::new(JWT))));
    session.initial_response().unwrap();
    let step = session
        .on_challenge(
            br#"{"status":"invalid_token","scope":"kafka","openid-configuration":"https://idp/x"}"#,
        )
        .unwrap();
    match step {
        SaslStep::Fail { response, error } => {
            assert_eq!(&response[..], b"\x01");
            assert!(
                matches!(
                    error,
                    SaslError::OAuthServer {
                        status: OAuthErrorStatus::InvalidToken
                    }
                ),
                "{error:?}"
            );
        }
        other => panic!("expected Fail, got {other:?}"),
    }
    assert_failed(&mut session);

    let mut session = SaslSession::new(OAuthBearerConfig::new(Arc::new(OAuthToken::new(JWT))));
    session.initial_response().unwrap();
    let step = session.on_challenge(b"not json").unwrap();
    assert!(matches!(
        step,
        SaslStep::Fail {
            error: SaslError::OAuthServer {
                status: OAuthErrorStatus::Missing
            },
            ..
        }
    ));
}

struct FailingProvider;

#[derive(Debug, thiserror::Error)]
#[error("identity provider unreachable")]
struct Unreachable;

impl TokenProvider for FailingProvider {
    fn token(&self) -> Result<OAuthToken, TokenError> {
        Err(Box::new(Unreachable))
    }
}

#[test]
fn oauthbearer_token_failures() {
    let mut session = SaslSession::new(OAuthBearerConfig::new(Arc::new(FailingProvider)));
    let err = session.initial_response().unwrap_err();
    let SaslError::TokenProvider(source) = &err else {
        panic!("expected TokenProvider, got {err:?}");
    };
    assert_eq!(source.to_string(), "identity provider unreachable");
    assert!(std::error::Error::source(&err).is_some());
    assert_failed(&mut session);

    for bad in ["", "two words", "ctl\x01inject", "a=b"] {
        let mut session = SaslSession::new(OAuthBearerConfig::new(Arc::new(OAuthToken::new(bad))));
        let err = session.initial_response().unwrap_err();
        assert!(
            matches!(err, SaslError::InvalidInput { .. }),
            "{bad:?}: {err:?}"
        );
    }
}

/// A config whose SCRAM exchanges stay cheap under arbitrary iteration counts.
fn cheap_scram(hash: ScramHash) -> ScramConfig {
    scram(hash, "user", "pencil").with_max_iterations(4200)
}

/// Server-first-like messages: the right nonce prefix or not, attributes in and out of order.
fn server_first_like() -> impl Strategy<Value = Vec<u8>> {
    let attribute = prop_oneof![
        "r=rOprNGfwEbeRWgbNEkqO[ -~]{0,6}",
        "s=[A-Za-z0-9+/=]{0,12}",
        "i=[0-9]{0,6}",
        "[a-z]=[ -~]{0,8}",
        "[ -~]{0,6}",
    ];
    proptest::collection::vec(attribute, 0..6).prop_map(|parts| parts.join(",").into_bytes())
}

/// The RFC 7677 server-first message with one byte replaced and the end cut off somewhere.
fn mutated_server_first() -> impl Strategy<Value = Vec<u8>> {
    (0..SERVER_FIRST.len(), any::<u8>(), 0..=SERVER_FIRST.len()).prop_map(|(at, byte, len)| {
        let mut message = SERVER_FIRST.to_vec();
        message[at] = byte;
        message.truncate(len);
        message
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_server_first_never_panics(
        message in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..96),
            server_first_like(),
            mutated_server_first(),
        ],
        sha512 in any::<bool>(),
    ) {
        let hash = if sha512 { ScramHash::Sha512 } else { ScramHash::Sha256 };
        let mut session = started(cheap_scram(hash));
        if let Ok(SaslStep::Respond(_)) = session.on_challenge(&message) {
            // Whatever the server sends next must not panic either.
            let _ = session.on_challenge(&message);
        }
    }

    #[test]
    fn arbitrary_plain_and_oauth_outcomes_never_panic(message in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut plain = SaslSession::new(PlainConfig::new("u", "p"));
        plain.initial_response().unwrap();
        let _ = plain.on_challenge(&message);
        let mut oauth = SaslSession::new(OAuthBearerConfig::new(Arc::new(OAuthToken::new(JWT))));
        oauth.initial_response().unwrap();
        let _ = oauth.on_challenge(&message);
    }
}

proptest! {
    // Each case first runs a 4096-iteration exchange: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn arbitrary_server_final_never_panics(
        message in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..96),
            "(v|e|x)=[ -~]{0,48}".prop_map(String::into_bytes),
        ],
    ) {
        let mut session = awaiting_final();
        let outcome = session.on_challenge(&message);
        prop_assert!(outcome.is_err() || message == SHA256_SERVER_FINAL);
    }
}
