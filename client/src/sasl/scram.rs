//! `SCRAM-SHA-256` and `SCRAM-SHA-512` (RFC 5802, RFC 7677; Kafka's KIP-84, delegation tokens
//! KIP-48).
//!
//! The exchange:
//! 1. client-first: `n,,n=<saslname>,r=<client nonce>[,tokenauth=true]`;
//! 2. server-first: `r=<client nonce + server nonce>,s=<base64 salt>,i=<iterations>`;
//! 3. client-final: `c=biws,r=<nonce>,p=<base64 ClientProof>`;
//! 4. server-final: `v=<base64 ServerSignature>` (or `e=<error>`).
//!
//! With `SaltedPassword = Hi(password, salt, i)` (PBKDF2 with HMAC),
//! `ClientKey = HMAC(SaltedPassword, "Client Key")`, `StoredKey = H(ClientKey)`,
//! `ServerKey = HMAC(SaltedPassword, "Server Key")`,
//! `AuthMessage = client-first-bare "," server-first "," client-final-without-proof`,
//! `ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage)` and
//! `ServerSignature = HMAC(ServerKey, AuthMessage)`.
//!
//! Like Kafka, user names and passwords are used as their UTF-8 bytes (no SASLprep), no
//! authorization identity is sent, and channel binding is not used (`n,,`).

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::{SaslError, SaslMechanism, SaslStep, ScramServerError};

mod messages;

use messages::{
    ServerFinal, escape_saslname, is_nonce_char, parse_server_final, parse_server_first,
};

/// The lowest iteration count accepted; Kafka refuses to store SCRAM credentials with fewer.
pub const MIN_ITERATIONS: u32 = 4096;

/// The default highest iteration count accepted (see [`ScramConfig::with_max_iterations`]).
pub const DEFAULT_MAX_ITERATIONS: u32 = 100_000;

/// `base64("n,,")`: the GS2 header without channel binding or authorization identity.
const CHANNEL_BINDING: &str = "biws";

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScramHash {
    /// SHA-256: `SCRAM-SHA-256`.
    Sha256,
    /// SHA-512: `SCRAM-SHA-512`.
    Sha512,
}

impl ScramHash {
    /// The SASL mechanism using this hash.
    pub const fn mechanism(self) -> SaslMechanism {
        match self {
            ScramHash::Sha256 => SaslMechanism::ScramSha256,
            ScramHash::Sha512 => SaslMechanism::ScramSha512,
        }
    }

    /// The length in bytes of the hash (and of every key, proof and signature).
    pub const fn output_len(self) -> usize {
        match self {
            ScramHash::Sha256 => 32,
            ScramHash::Sha512 => 64,
        }
    }

    /// `Hi(password, salt, i)`: PBKDF2 with HMAC of this hash, one block.
    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0; self.output_len()];
        match self {
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out)
            }
            ScramHash::Sha512 => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out)
            }
        }
        out
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, SaslError> {
        Ok(match self {
            ScramHash::Sha256 => keyed::<Hmac<Sha256>>(key, data)?
                .finalize()
                .into_bytes()
                .to_vec(),
            ScramHash::Sha512 => keyed::<Hmac<Sha512>>(key, data)?
                .finalize()
                .into_bytes()
                .to_vec(),
        })
    }

    /// Whether `expected` is `HMAC(key, data)`, compared in constant time.
    fn verify_hmac(self, key: &[u8], data: &[u8], expected: &[u8]) -> Result<bool, SaslError> {
        Ok(match self {
            ScramHash::Sha256 => keyed::<Hmac<Sha256>>(key, data)?
                .verify_slice(expected)
                .is_ok(),
            ScramHash::Sha512 => keyed::<Hmac<Sha512>>(key, data)?
                .verify_slice(expected)
                .is_ok(),
        })
    }
}

/// A MAC keyed with `key` that has absorbed `data`.
fn keyed<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<M, SaslError> {
    let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| SaslError::Crypto {
        context: "HMAC rejected its key",
    })?;
    Mac::update(&mut mac, data);
    Ok(mac)
}

/// Makes the client nonce of each SCRAM exchange. Injectable so tests can be deterministic;
/// production code uses [`RandomNonce`].
pub trait NonceGenerator: Send + Sync {
    /// A fresh, unpredictable nonce: one or more printable ASCII characters (`0x21..=0x7E`)
    /// other than `,`.
    fn generate(&self) -> Result<String, SaslError>;
}

/// The default [`NonceGenerator`]: 24 bytes from the operating system's random source, in
/// base64 (32 characters).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomNonce;

impl NonceGenerator for RandomNonce {
    fn generate(&self) -> Result<String, SaslError> {
        let mut raw = [0u8; 24];
        getrandom::fill(&mut raw).map_err(SaslError::Entropy)?;
        Ok(BASE64.encode(raw))
    }
}

/// Credentials and options for `SCRAM-SHA-256` / `SCRAM-SHA-512`.
#[derive(Clone)]
pub struct ScramConfig {
    hash: ScramHash,
    username: String,
    password: String,
    token_auth: bool,
    max_iterations: u32,
    nonce: Arc<dyn NonceGenerator>,
}

impl ScramConfig {
    /// A user name and password for the mechanism of `hash`, with a [`RandomNonce`], no
    /// delegation token and a maximum of [`DEFAULT_MAX_ITERATIONS`].
    pub fn new(
        hash: ScramHash,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> ScramConfig {
        ScramConfig {
            hash,
            username: username.into(),
            password: password.into(),
            token_auth: false,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            nonce: Arc::new(RandomNonce),
        }
    }

    /// Authenticates with a delegation token (KIP-48): the user name is the token id and the
    /// password the token's HMAC; the client-first message carries `tokenauth=true`.
    pub fn with_token_auth(mut self, token_auth: bool) -> ScramConfig {
        self.token_auth = token_auth;
        self
    }

    /// The highest iteration count the client will compute; a server asking for more is
    /// refused with [`SaslError::IterationCountTooHigh`]. Values below [`MIN_ITERATIONS`] make
    /// every exchange fail.
    pub fn with_max_iterations(mut self, max_iterations: u32) -> ScramConfig {
        self.max_iterations = max_iterations;
        self
    }

    /// Replaces the nonce generator (for deterministic tests).
    pub fn with_nonce_generator(mut self, nonce: Arc<dyn NonceGenerator>) -> ScramConfig {
        self.nonce = nonce;
        self
    }

    /// The hash, and so the mechanism.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// The user name (or delegation token id).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Whether this authenticates with a delegation token.
    pub fn token_auth(&self) -> bool {
        self.token_auth
    }

    /// The highest iteration count accepted.
    pub fn max_iterations(&self) -> u32 {
        self.max_iterations
    }
}

impl fmt::Debug for ScramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramConfig")
            .field("hash", &self.hash)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("token_auth", &self.token_auth)
            .field("max_iterations", &self.max_iterations)
            .finish_non_exhaustive()
    }
}

enum State {
    Initial,
    AwaitingServerFirst {
        client_nonce: String,
        client_first_bare: String,
    },
    AwaitingServerFinal {
        server_key: Vec<u8>,
        auth_message: Vec<u8>,
    },
    Done,
    Finished,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are secrets; only the phase is shown.
        f.write_str(match self {
            State::Initial => "Initial",
            State::AwaitingServerFirst { .. } => "AwaitingServerFirst",
            State::AwaitingServerFinal { .. } => "AwaitingServerFinal",
            State::Done => "Done",
            State::Finished => "Finished",
        })
    }
}

/// The SCRAM state machine behind [`SaslSession`](super::SaslSession).
#[derive(Debug)]
pub(crate) struct ScramClient {
    config: ScramConfig,
    state: State,
}

impl ScramClient {
    pub(crate) fn new(config: ScramConfig) -> ScramClient {
        ScramClient {
            config,
            state: State::Initial,
        }
    }

    pub(crate) fn mechanism(&self) -> SaslMechanism {
        self.config.hash.mechanism()
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// client-first-message: `n,,` + client-first-message-bare.
    pub(crate) fn initial_response(&mut self) -> Result<Bytes, SaslError> {
        if !matches!(self.state, State::Initial) {
            return Err(SaslError::InvalidState {
                context: "initial response already produced",
            });
        }
        self.state = State::Finished;
        let username = escape_saslname(&self.config.username)?;
        let client_nonce = self.config.nonce.generate()?;
        if client_nonce.is_empty() || !client_nonce.bytes().all(is_nonce_char) {
            return Err(SaslError::InvalidInput {
                context: "SCRAM nonce is empty or not printable ASCII without ','",
            });
        }
        let mut client_first_bare = format!("n={username},r={client_nonce}");
        if self.config.token_auth {
            client_first_bare.push_str(",tokenauth=true");
        }
        let message = Bytes::from(format!("n,,{client_first_bare}"));
        self.state = State::AwaitingServerFirst {
            client_nonce,
            client_first_bare,
        };
        Ok(message)
    }

    pub(crate) fn on_challenge(&mut self, server: &[u8]) -> Result<SaslStep, SaslError> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::AwaitingServerFirst {
                client_nonce,
                client_first_bare,
            } => self.on_server_first(server, &client_nonce, &client_first_bare),
            State::AwaitingServerFinal {
                server_key,
                auth_message,
            } => self.on_server_final(server, &server_key, &auth_message),
            State::Initial => Err(SaslError::InvalidState {
                context: "SCRAM challenge before the initial response",
            }),
            State::Done => {
                self.state = State::Done;
                Err(SaslError::InvalidState {
                    context: "SCRAM challenge after the exchange ended",
                })
            }
            State::Finished => Err(SaslError::InvalidState {
                context: "SCRAM challenge after the exchange ended",
            }),
        }
    }

    /// Checks the server-first-message and computes the client-final-message.
    fn on_server_first(
        &mut self,
        server: &[u8],
        client_nonce: &str,
        client_first_bare: &str,
    ) -> Result<SaslStep, SaslError> {
        let first = parse_server_first(server)?;
        if first.nonce.len() <= client_nonce.len()
            || !first.nonce.starts_with(client_nonce.as_bytes())
        {
            return Err(SaslError::NonceMismatch);
        }
        if first.iterations < u64::from(MIN_ITERATIONS) {
            return Err(SaslError::IterationCountTooLow {
                iterations: first.iterations,
                min: MIN_ITERATIONS,
            });
        }
        let iterations = match u32::try_from(first.iterations) {
            Ok(i) if i <= self.config.max_iterations => i,
            _ => {
                return Err(SaslError::IterationCountTooHigh {
                    iterations: first.iterations,
                    max: self.config.max_iterations,
                });
            }
        };

        let hash = self.config.hash;
        let salted_password = hash.hi(self.config.password.as_bytes(), &first.salt, iterations);
        let client_key = hash.hmac(&salted_password, b"Client Key")?;
        let stored_key = hash.hash(&client_key);
        let server_key = hash.hmac(&salted_password, b"Server Key")?;

        let mut without_proof = Vec::with_capacity(CHANNEL_BINDING.len() + first.nonce.len() + 5);
        without_proof.extend_from_slice(b"c=");
        without_proof.extend_from_slice(CHANNEL_BINDING.as_bytes());
        without_proof.extend_from_slice(b",r=");
        without_proof.extend_from_slice(first.nonce);

        let mut auth_message =
            Vec::with_capacity(client_first_bare.len() + server.len() + without_proof.len() + 2);
        auth_message.extend_from_slice(client_first_bare.as_bytes());
        auth_message.push(b',');
        auth_message.extend_from_slice(server);
        auth_message.push(b',');
        auth_message.extend_from_slice(&without_proof);

        let client_signature = hash.hmac(&stored_key, &auth_message)?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();

        let mut client_final = without_proof;
        client_final.extend_from_slice(b",p=");
        client_final.extend_from_slice(BASE64.encode(proof).as_bytes());

        self.state = State::AwaitingServerFinal {
            server_key,
            auth_message,
        };
        Ok(SaslStep::Respond(Bytes::from(client_final)))
    }

    /// Verifies the server signature of the server-final-message.
    fn on_server_final(
        &mut self,
        server: &[u8],
        server_key: &[u8],
        auth_message: &[u8],
    ) -> Result<SaslStep, SaslError> {
        match parse_server_final(server)? {
            ServerFinal::Error(value) => {
                Err(SaslError::ScramServer(ScramServerError::from_value(value)))
            }
            ServerFinal::Verifier(signature) => {
                if self
                    .config
                    .hash
                    .verify_hmac(server_key, auth_message, &signature)?
                {
                    self.state = State::Done;
                    Ok(SaslStep::Done)
                } else {
                    Err(SaslError::ServerSignatureMismatch)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_nonces_are_valid_and_differ() {
        let a = RandomNonce.generate().unwrap();
        let b = RandomNonce.generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(is_nonce_char));
    }
}
