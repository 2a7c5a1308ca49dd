//! The server side of SCRAM (RFC 5802) with SHA-256 and SHA-512 (RFC 7677), as Kafka's
//! `ScramSaslServer` runs it: no channel binding, extensions accepted and ignored, an authzid
//! only if it names the user.
//!
//! [`ScramServer::first`] takes the client-first message and gives the server-first one;
//! [`ScramServer::last`] checks the client-final message's proof and gives the server-final
//! one. Credentials (salted password, stored and server keys) are derived per exchange from the
//! user's password and a salt fixed per [`ScramServer`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

/// The iteration count offered (Kafka's minimum and the RFC's recommendation).
pub(crate) const ITERATIONS: u32 = 4096;

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScramHash {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
}

impl ScramHash {
    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => {
                let mut out = vec![0; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramHash::Sha512 => {
                let mut out = vec![0; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramHash::Sha256 => Sha256::digest(data).to_vec(),
            ScramHash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, ScramError> {
        match self {
            ScramHash::Sha256 => keyed::<Hmac<Sha256>>(key, data),
            ScramHash::Sha512 => keyed::<Hmac<Sha512>>(key, data),
        }
    }
}

fn keyed<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, ScramError> {
    let mut mac = <M as KeyInit>::new_from_slice(key).map_err(|_| ScramError::Crypto)?;
    Mac::update(&mut mac, data);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// Why an exchange failed; every case fails the authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ScramError {
    /// A message does not follow RFC 5802's grammar.
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// The client asked for channel binding, which Kafka does not support.
    #[error("channel binding is not supported")]
    ChannelBinding,
    /// The authzid names another user.
    #[error("authorization id is not the user")]
    Authzid,
    /// No such user.
    #[error("unknown user")]
    UnknownUser,
    /// The client-final message's nonce or channel binding is not the one of this exchange.
    #[error("the client-final message does not continue this exchange")]
    Mismatch,
    /// The proof is wrong: the password is wrong.
    #[error("invalid proof")]
    InvalidProof,
    /// A key of the wrong length (cannot happen with HMAC).
    #[error("HMAC key rejected")]
    Crypto,
}

/// What the first message fixed.
#[derive(Debug)]
struct Started {
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    salted_password: Vec<u8>,
}

/// One SCRAM exchange, server side.
#[derive(Debug)]
pub(crate) struct ScramServer {
    hash: ScramHash,
    salt: Vec<u8>,
    server_nonce: String,
    started: Option<Started>,
}

impl ScramServer {
    /// An exchange with `salt` and the server's part of the nonce (printable, no comma).
    pub(crate) fn new(hash: ScramHash, salt: Vec<u8>, server_nonce: String) -> ScramServer {
        ScramServer {
            hash,
            salt,
            server_nonce,
            started: None,
        }
    }

    /// The exchange's hash.
    pub(crate) fn hash(&self) -> ScramHash {
        self.hash
    }

    /// Reads the client-first message; `password` looks the user's password up. Returns the
    /// user name and the server-first message.
    pub(crate) fn first<'p>(
        &mut self,
        message: &[u8],
        password: impl FnOnce(&str) -> Option<&'p str>,
    ) -> Result<(String, Vec<u8>), ScramError> {
        let message = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("UTF-8"))?;
        let (flag, rest) = message
            .split_once(',')
            .ok_or(ScramError::Malformed("gs2 header"))?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => return Err(ScramError::ChannelBinding),
            _ => return Err(ScramError::Malformed("channel binding flag")),
        }
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or(ScramError::Malformed("gs2 header"))?;
        let gs2_header = format!("{flag},{authzid},");
        let mut attrs = bare.split(',');
        let user = attrs
            .next()
            .and_then(|a| a.strip_prefix("n="))
            .ok_or(ScramError::Malformed("user name"))?;
        let user = unescape_saslname(user)?;
        let client_nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty())
            .ok_or(ScramError::Malformed("nonce"))?;
        if !authzid.is_empty() {
            let named = authzid
                .strip_prefix("a=")
                .ok_or(ScramError::Malformed("authzid"))?;
            if unescape_saslname(named)? != user {
                return Err(ScramError::Authzid);
            }
        }
        let password = password(&user).ok_or(ScramError::UnknownUser)?;
        let nonce = format!("{client_nonce}{}", self.server_nonce);
        let server_first = format!("r={nonce},s={},i={ITERATIONS}", BASE64.encode(&self.salt));
        let salted_password =
            self.hash
                .salted_password(password.as_bytes(), &self.salt, ITERATIONS);
        self.started = Some(Started {
            gs2_header,
            client_first_bare: bare.to_owned(),
            server_first: server_first.clone(),
            nonce,
            salted_password,
        });
        Ok((user, server_first.into_bytes()))
    }

    /// Checks the client-final message; returns the server-final message (`v=` signature).
    pub(crate) fn last(&mut self, message: &[u8]) -> Result<Vec<u8>, ScramError> {
        let started = self
            .started
            .take()
            .ok_or(ScramError::Malformed("client-final before client-first"))?;
        let message = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("UTF-8"))?;
        let (without_proof, proof) = message
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("proof"))?;
        let mut attrs = without_proof.split(',');
        let binding = attrs
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or(ScramError::Malformed("channel binding"))?;
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or(ScramError::Malformed("nonce"))?;
        if binding != BASE64.encode(started.gs2_header.as_bytes()) || nonce != started.nonce {
            return Err(ScramError::Mismatch);
        }
        let proof = BASE64
            .decode(proof)
            .map_err(|_| ScramError::Malformed("proof is not base64"))?;
        let auth_message = format!(
            "{},{},{without_proof}",
            started.client_first_bare, started.server_first
        );
        let h = self.hash;
        let client_key = h.hmac(&started.salted_password, b"Client Key")?;
        let stored_key = h.hash(&client_key);
        let client_signature = h.hmac(&stored_key, auth_message.as_bytes())?;
        if proof.len() != client_signature.len() {
            return Err(ScramError::InvalidProof);
        }
        let claimed_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        if h.hash(&claimed_key) != stored_key {
            return Err(ScramError::InvalidProof);
        }
        let server_key = h.hmac(&started.salted_password, b"Server Key")?;
        let signature = h.hmac(&server_key, auth_message.as_bytes())?;
        Ok(format!("v={}", BASE64.encode(signature)).into_bytes())
    }
}

/// RFC 5802's saslname: `=2C` is a comma, `=3D` an equals sign, any other `=` is malformed.
fn unescape_saslname(name: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3);
        match escape {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed("saslname escape")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3's exchange: user "user", password "pencil".
    const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc7677() -> ScramServer {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        ScramServer::new(
            ScramHash::Sha256,
            salt,
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into(),
        )
    }

    fn pencil(user: &str) -> Option<&'static str> {
        (user == "user").then_some("pencil")
    }

    #[test]
    fn the_rfc_7677_exchange_gives_the_rfc_messages() {
        let mut server = rfc7677();
        let (user, first) = server.first(CLIENT_FIRST.as_bytes(), pencil).unwrap();
        assert_eq!(user, "user");
        assert_eq!(String::from_utf8(first).unwrap(), SERVER_FIRST);
        let last = server.last(CLIENT_FINAL.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(last).unwrap(), SERVER_FINAL);
    }

    #[test]
    fn a_wrong_password_is_an_invalid_proof() {
        let mut server = rfc7677();
        server
            .first(CLIENT_FIRST.as_bytes(), |_| Some("pen"))
            .unwrap();
        assert_eq!(
            server.last(CLIENT_FINAL.as_bytes()),
            Err(ScramError::InvalidProof)
        );
    }

    #[test]
    fn a_final_message_of_another_exchange_is_refused() {
        let mut server = rfc7677();
        server.first(b"n,,n=user,r=other", pencil).unwrap();
        assert_eq!(
            server.last(CLIENT_FINAL.as_bytes()),
            Err(ScramError::Mismatch)
        );
    }

    #[test]
    fn unknown_users_channel_binding_and_foreign_authzids_are_refused() {
        assert_eq!(
            rfc7677().first(b"n,,n=bob,r=abc", pencil),
            Err(ScramError::UnknownUser)
        );
        assert_eq!(
            rfc7677().first(b"p=tls-unique,,n=user,r=abc", pencil),
            Err(ScramError::ChannelBinding)
        );
        assert_eq!(
            rfc7677().first(b"n,a=admin,n=user,r=abc", pencil),
            Err(ScramError::Authzid)
        );
        assert!(rfc7677().first(b"n,a=user,n=user,r=abc", pencil).is_ok());
        assert!(matches!(
            rfc7677().first(b"n,,r=abc", pencil),
            Err(ScramError::Malformed(_))
        ));
    }

    #[test]
    fn saslnames_unescape() {
        assert_eq!(unescape_saslname("a=2Cb=3Dc").unwrap(), "a,b=c");
        assert!(unescape_saslname("a=4").is_err());
    }
}
