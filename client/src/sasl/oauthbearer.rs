//! `OAUTHBEARER` (RFC 7628; Kafka's KIP-255, SASL extensions KIP-342).
//!
//! The client sends one message,
//! `n,,` `\x01` `auth=Bearer <token>` `\x01` (`key=value` `\x01`)* `\x01`,
//! with the token from a user-supplied [`TokenProvider`]. The broker answers empty bytes on
//! success. On failure it answers a JSON object (`{"status":"invalid_token",...}`); the client
//! must then send a lone `\x01`, after which the broker reports the failure: the session returns
//! [`SaslStep::Fail`] with that response and an [`OAuthServer`](SaslError::OAuthServer) error.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{BufMut, Bytes, BytesMut};

use super::{OAuthErrorStatus, SaslError, SaslStep};

/// The RFC 7628 key/value separator.
const KVSEP: u8 = 0x01;

/// Whatever a [`TokenProvider`] fails with.
pub type TokenError = Box<dyn StdError + Send + Sync>;

/// Supplies the bearer token for each OAUTHBEARER exchange.
///
/// Called synchronously, once per exchange, when the session makes its initial response: at
/// each new connection, and at each re-authentication (KIP-368), so a refreshed token reaches
/// connections that are already open. It runs on the connection's task: an implementation
/// that fetches tokens over the network should refresh them in the background and hand out the
/// cached one here.
pub trait TokenProvider: Send + Sync {
    /// The current token.
    fn token(&self) -> Result<OAuthToken, TokenError>;
}

/// An OAuth 2 bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthToken {
    value: String,
    expires_at: Option<SystemTime>,
}

impl OAuthToken {
    /// A token with this compact value (typically a JWT). It must be an RFC 6750 `b64token`:
    /// letters, digits and `-._~+/`, then optional `=` padding; this is checked when the token
    /// is used.
    pub fn new(value: impl Into<String>) -> OAuthToken {
        OAuthToken {
            value: value.into(),
            expires_at: None,
        }
    }

    /// Records when the token expires. Informational: a broker limiting sessions ends the
    /// session no later than the token's expiry, and the connection re-authenticates (with the
    /// provider's token of then) before the session ends.
    pub fn with_expiry(mut self, expires_at: SystemTime) -> OAuthToken {
        self.expires_at = Some(expires_at);
        self
    }

    /// The token value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// When the token expires, if known.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

impl fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A fixed token is its own provider.
impl TokenProvider for OAuthToken {
    fn token(&self) -> Result<OAuthToken, TokenError> {
        Ok(self.clone())
    }
}

/// Whether `value` is an RFC 6750 `b64token`.
fn is_b64token(value: &str) -> bool {
    let body = value.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// SASL extensions sent after the token (KIP-342), in insertion order.
///
/// Keys are one or more ASCII letters, other than the reserved `auth`; values are one or more
/// characters among printable ASCII, space, tab, CR and LF.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaslExtensions {
    entries: Vec<(String, String)>,
}

impl SaslExtensions {
    /// No extensions.
    pub fn new() -> SaslExtensions {
        SaslExtensions::default()
    }

    /// Adds an extension; fails on an invalid or reserved key, an invalid value, or a key
    /// already present.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<(), SaslError> {
        let (key, value) = (key.into(), value.into());
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(SaslError::InvalidInput {
                context: "SASL extension key must be ASCII letters",
            });
        }
        if key.eq_ignore_ascii_case("auth") {
            return Err(SaslError::InvalidInput {
                context: "SASL extension key `auth` is reserved",
            });
        }
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| (0x20..=0x7e).contains(&b) || matches!(b, b'\t' | b'\r' | b'\n'))
        {
            return Err(SaslError::InvalidInput {
                context: "SASL extension value must be printable ASCII, space, tab, CR or LF",
            });
        }
        if self.get(&key).is_some() {
            return Err(SaslError::InvalidInput {
                context: "SASL extension key given twice",
            });
        }
        self.entries.push((key, value));
        Ok(())
    }

    /// [`insert`](SaslExtensions::insert), builder style.
    pub fn with(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<SaslExtensions, SaslError> {
        self.insert(key, value)?;
        Ok(self)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The extensions, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many extensions there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Configuration for `OAUTHBEARER`.
#[derive(Clone)]
pub struct OAuthBearerConfig {
    provider: Arc<dyn TokenProvider>,
    extensions: SaslExtensions,
}

impl OAuthBearerConfig {
    /// Tokens from `provider`, no extensions. (An [`OAuthToken`] is itself a provider of a
    /// fixed token.)
    pub fn new(provider: Arc<dyn TokenProvider>) -> OAuthBearerConfig {
        OAuthBearerConfig {
            provider,
            extensions: SaslExtensions::new(),
        }
    }

    /// Sends these SASL extensions with every token.
    pub fn with_extensions(mut self, extensions: SaslExtensions) -> OAuthBearerConfig {
        self.extensions = extensions;
        self
    }

    /// The extensions sent.
    pub fn extensions(&self) -> &SaslExtensions {
        &self.extensions
    }

    /// The token provider.
    pub fn provider(&self) -> &Arc<dyn TokenProvider> {
        &self.provider
    }

    /// The client's initial response carrying `token`.
    pub fn message(&self, token: &OAuthToken) -> Result<Bytes, SaslError> {
        if !is_b64token(token.value()) {
            return Err(SaslError::InvalidInput {
                context: "OAuth token is not an RFC 6750 b64token",
            });
        }
        let extensions_len: usize = self
            .extensions
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum();
        let fixed = b"n,,\x01auth=Bearer \x01\x01".len();
        let mut out = BytesMut::with_capacity(fixed + token.value().len() + extensions_len);
        out.put_slice(b"n,,");
        out.put_u8(KVSEP);
        out.put_slice(b"auth=Bearer ");
        out.put_slice(token.value().as_bytes());
        out.put_u8(KVSEP);
        for (key, value) in self.extensions.iter() {
            out.put_slice(key.as_bytes());
            out.put_u8(b'=');
            out.put_slice(value.as_bytes());
            out.put_u8(KVSEP);
        }
        out.put_u8(KVSEP);
        Ok(out.freeze())
    }
}

impl fmt::Debug for OAuthBearerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBearerConfig")
            .field("extensions", &self.extensions)
            .finish_non_exhaustive()
    }
}

/// The `status` of an RFC 7628 server error: the first `"status"` string member of a JSON
/// object. Anything unparsable gives [`OAuthErrorStatus::Missing`].
pub(crate) fn error_status(json: &[u8]) -> OAuthErrorStatus {
    match find_status(json) {
        Some(value) => OAuthErrorStatus::from_value(value),
        None => OAuthErrorStatus::Missing,
    }
}

/// A forward-only reader over a JSON text, enough for a flat object of scalar members.
struct Json<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Json<'a> {
    fn skip_ws(&mut self) {
        while self
            .text
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.at += 1;
        }
    }

    /// The next non-space byte, consumed.
    fn next(&mut self) -> Option<u8> {
        self.skip_ws();
        let b = *self.text.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// A string's raw contents (escapes left as they are), the opening quote already consumed.
    fn string_body(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        loop {
            match *self.text.get(self.at)? {
                b'"' => {
                    let body = self.text.get(start..self.at)?;
                    self.at += 1;
                    return Some(body);
                }
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
    }

    /// Skips a number, `true`, `false` or `null` (anything up to `,` or `}`).
    fn skip_scalar(&mut self) -> Option<()> {
        let start = self.at;
        while let Some(&b) = self.text.get(self.at) {
            match b {
                b',' | b'}' => break,
                b'{' | b'[' | b'"' => return None,
                _ => self.at += 1,
            }
        }
        (self.at > start).then_some(())
    }
}

fn find_status(json: &[u8]) -> Option<&[u8]> {
    let mut p = Json { text: json, at: 0 };
    if p.next()? != b'{' {
        return None;
    }
    p.skip_ws();
    if p.text.get(p.at) == Some(&b'}') {
        return None;
    }
    loop {
        if p.next()? != b'"' {
            return None;
        }
        let key = p.string_body()?;
        if p.next()? != b':' {
            return None;
        }
        p.skip_ws();
        if p.text.get(p.at) == Some(&b'"') {
            p.at += 1;
            let value = p.string_body()?;
            if key == b"status" {
                return Some(value);
            }
        } else {
            p.skip_scalar()?;
        }
        match p.next()? {
            b',' => {}
            _ => return None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Initial,
    AwaitingOutcome,
    Done,
    Finished,
}

/// The OAUTHBEARER state machine behind [`SaslSession`](super::SaslSession).
#[derive(Debug)]
pub(crate) struct OAuthBearerClient {
    config: OAuthBearerConfig,
    state: State,
}

impl OAuthBearerClient {
    pub(crate) fn new(config: OAuthBearerConfig) -> OAuthBearerClient {
        OAuthBearerClient {
            config,
            state: State::Initial,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    pub(crate) fn initial_response(&mut self) -> Result<Bytes, SaslError> {
        if self.state != State::Initial {
            return Err(SaslError::InvalidState {
                context: "initial response already produced",
            });
        }
        self.state = State::Finished;
        let token = self
            .config
            .provider
            .token()
            .map_err(|e| SaslError::TokenProvider(Arc::from(e)))?;
        let message = self.config.message(&token)?;
        self.state = State::AwaitingOutcome;
        Ok(message)
    }

    pub(crate) fn on_challenge(&mut self, server: &[u8]) -> Result<SaslStep, SaslError> {
        if self.state != State::AwaitingOutcome {
            return Err(SaslError::InvalidState {
                context: "OAUTHBEARER challenge outside the exchange",
            });
        }
        self.state = State::Finished;
        if server.is_empty() {
            self.state = State::Done;
            return Ok(SaslStep::Done);
        }
        Ok(SaslStep::Fail {
            response: Bytes::from_static(&[KVSEP]),
            error: SaslError::OAuthServer {
                status: error_status(server),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64token_grammar() {
        for ok in [
            "abc",
            "a.b.c",
            "A-_~+/9",
            "abc==",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        ] {
            assert!(is_b64token(ok), "{ok}");
        }
        for bad in ["", "=", "a b", "a\u{1}b", "a=b", "tok\n", "é"] {
            assert!(!is_b64token(bad), "{bad:?}");
        }
    }

    #[test]
    fn status_extraction() {
        let cases: [(&[u8], OAuthErrorStatus); 10] = [
            (
                br#"{"status":"invalid_token"}"#,
                OAuthErrorStatus::InvalidToken,
            ),
            (
                br#" { "scope" : "a b", "status" : "insufficient_scope" } "#,
                OAuthErrorStatus::InsufficientScope,
            ),
            (
                br#"{"n":12,"ok":true,"status":"invalid_request","openid-configuration":"x"}"#,
                OAuthErrorStatus::InvalidRequest,
            ),
            (
                br#"{"msg":"a\"b","status":"teapot"}"#,
                OAuthErrorStatus::Unrecognized,
            ),
            (
                br#"{"status":"invalid_\u0074oken"}"#,
                OAuthErrorStatus::Unrecognized,
            ),
            (br#"{}"#, OAuthErrorStatus::Missing),
            (br#"{"status":7}"#, OAuthErrorStatus::Missing),
            (
                br#"{"nested":{"status":"invalid_token"}}"#,
                OAuthErrorStatus::Missing,
            ),
            (br#"{"status":"invalid_token"#, OAuthErrorStatus::Missing),
            (b"\x01garbage", OAuthErrorStatus::Missing),
        ];
        for (json, status) in cases {
            assert_eq!(
                error_status(json),
                status,
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn extension_validation() {
        let mut e = SaslExtensions::new();
        e.insert("traceId", "abc 123\t").unwrap();
        assert!(e.insert("traceId", "again").is_err());
        for (k, v) in [
            ("", "v"),
            ("a1", "v"),
            ("auth", "v"),
            ("AUTH", "v"),
            ("k", ""),
            ("k", "a\u{1}"),
            ("k", "é"),
        ] {
            assert!(
                matches!(e.clone().with(k, v), Err(SaslError::InvalidInput { .. })),
                "{k:?}={v:?}"
            );
        }
        assert_eq!(e.len(), 1);
        assert_eq!(e.get("traceId"), Some("abc 123\t"));
    }

    #[test]
    fn debug_redacts_token() {
        let s = format!("{:?}", OAuthToken::new("s3cr3t"));
        assert!(!s.contains("s3cr3t"), "{s}");
    }
}
