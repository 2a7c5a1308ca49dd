//! The SCRAM message grammar (RFC 5802 §7): escaping the user name and parsing the server's
//! messages. Messages are handled as bytes; everything checked here is ASCII.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::sasl::{SaslError, ScramServerError};

/// `saslname` (RFC 5802 §7): `=` becomes `=3D` and `,` becomes `=2C`; empty names and NUL are
/// refused.
pub(super) fn escape_saslname(name: &str) -> Result<String, SaslError> {
    if name.is_empty() || name.contains('\0') {
        return Err(SaslError::InvalidInput {
            context: "SCRAM username is empty or contains NUL",
        });
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '=' => out.push_str("=3D"),
            ',' => out.push_str("=2C"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Printable ASCII except `,` (RFC 5802 `printable`).
pub(super) fn is_nonce_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b','
}

/// The value of `part` if it is the attribute `name=value`.
pub(super) fn attribute<'a>(
    part: &'a [u8],
    name: u8,
    context: &'static str,
) -> Result<&'a [u8], SaslError> {
    match part {
        [n, b'=', value @ ..] if *n == name => Ok(value),
        _ => Err(SaslError::Malformed { context }),
    }
}

/// Checks that trailing `extensions` are well-formed attributes (`ALPHA "=" value`); their
/// meaning is ignored, as RFC 5802 asks of unknown optional extensions.
pub(super) fn check_extensions<'a>(parts: impl Iterator<Item = &'a [u8]>) -> Result<(), SaslError> {
    for part in parts {
        match part {
            [name, b'=', ..] if name.is_ascii_alphabetic() => {}
            _ => {
                return Err(SaslError::Malformed {
                    context: "SCRAM extension is not an attribute",
                });
            }
        }
    }
    Ok(())
}

/// The fields of a server-first-message.
#[derive(Debug)]
pub(super) struct ServerFirst<'a> {
    pub(super) nonce: &'a [u8],
    pub(super) salt: Vec<u8>,
    pub(super) iterations: u64,
}

pub(super) fn parse_server_first(message: &[u8]) -> Result<ServerFirst<'_>, SaslError> {
    let mut parts = message.split(|&b| b == b',');
    let first = parts.next().unwrap_or_default();
    if first.starts_with(b"m=") {
        return Err(SaslError::MandatoryExtension);
    }
    if let Some(value) = first.strip_prefix(b"e=") {
        return Err(SaslError::ScramServer(ScramServerError::from_value(value)));
    }
    let nonce = attribute(first, b'r', "server-first-message must start with r=")?;
    let salt = attribute(
        parts.next().unwrap_or_default(),
        b's',
        "server-first-message lacks s= after r=",
    )?;
    let iterations = attribute(
        parts.next().unwrap_or_default(),
        b'i',
        "server-first-message lacks i= after s=",
    )?;
    check_extensions(parts)?;

    if nonce.is_empty() || !nonce.iter().all(|&b| is_nonce_char(b)) {
        return Err(SaslError::Malformed {
            context: "server nonce is empty or not printable",
        });
    }
    let salt = BASE64.decode(salt).map_err(|_| SaslError::InvalidBase64 {
        context: "salt (s=)",
    })?;
    if salt.is_empty() {
        return Err(SaslError::Malformed {
            context: "salt is empty",
        });
    }
    Ok(ServerFirst {
        nonce,
        salt,
        iterations: parse_iterations(iterations)?,
    })
}

/// A `posit-number`: decimal, no sign, no leading zero; saturates at `u64::MAX`.
pub(super) fn parse_iterations(value: &[u8]) -> Result<u64, SaslError> {
    match value {
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {
            Ok(value.iter().fold(0u64, |acc, d| {
                acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            }))
        }
        _ => Err(SaslError::Malformed {
            context: "iteration count (i=) is not a positive decimal number",
        }),
    }
}

/// What a server-final-message says.
pub(super) enum ServerFinal<'a> {
    /// `v=`: the decoded server signature.
    Verifier(Vec<u8>),
    /// `e=`: the error value.
    Error(&'a [u8]),
}

pub(super) fn parse_server_final(message: &[u8]) -> Result<ServerFinal<'_>, SaslError> {
    let mut parts = message.split(|&b| b == b',');
    let first = parts.next().unwrap_or_default();
    if let Some(value) = first.strip_prefix(b"e=") {
        return Ok(ServerFinal::Error(value));
    }
    let verifier = attribute(first, b'v', "server-final-message must start with v= or e=")?;
    check_extensions(parts)?;
    let verifier = BASE64
        .decode(verifier)
        .map_err(|_| SaslError::InvalidBase64 {
            context: "server signature (v=)",
        })?;
    Ok(ServerFinal::Verifier(verifier))
}
#[cfg(test)]
mod tests {
    use super::*;

    type Check = fn(&SaslError) -> bool;

    #[test]
    fn saslname_escaping() {
        assert_eq!(escape_saslname("a=b,c").unwrap(), "a=3Db=2Cc");
        assert_eq!(escape_saslname("plain").unwrap(), "plain");
        assert_eq!(escape_saslname("é=").unwrap(), "é=3D");
        assert!(matches!(
            escape_saslname(""),
            Err(SaslError::InvalidInput { .. })
        ));
        assert!(matches!(
            escape_saslname("a\0"),
            Err(SaslError::InvalidInput { .. })
        ));
    }

    #[test]
    fn iteration_numbers() {
        assert_eq!(parse_iterations(b"4096").unwrap(), 4096);
        assert_eq!(
            parse_iterations(b"99999999999999999999999").unwrap(),
            u64::MAX
        );
        for bad in [&b""[..], b"0", b"0123", b"+5", b"-5", b"12a", b" 1"] {
            assert!(
                matches!(parse_iterations(bad), Err(SaslError::Malformed { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn server_first_fields() {
        let f = parse_server_first(b"r=abcdef,s=QUJD,i=4096,x=ignored").unwrap();
        assert_eq!(f.nonce, b"abcdef");
        assert_eq!(f.salt, b"ABC");
        assert_eq!(f.iterations, 4096);
    }

    #[test]
    fn server_first_rejections() {
        let cases: [(&[u8], Check); 10] = [
            (b"m=ext,r=a,s=QUJD,i=4096", |e| {
                matches!(e, SaslError::MandatoryExtension)
            }),
            (b"e=unknown-user", |e| {
                matches!(e, SaslError::ScramServer(ScramServerError::UnknownUser))
            }),
            (b"", |e| matches!(e, SaslError::Malformed { .. })),
            (b"s=QUJD,r=a,i=4096", |e| {
                matches!(e, SaslError::Malformed { .. })
            }),
            (b"r=a,s=QUJD", |e| matches!(e, SaslError::Malformed { .. })),
            (b"r=a,i=4096,s=QUJD", |e| {
                matches!(e, SaslError::Malformed { .. })
            }),
            (b"r=a,s=!!!,i=4096", |e| {
                matches!(e, SaslError::InvalidBase64 { .. })
            }),
            (b"r=a,s=,i=4096", |e| {
                matches!(e, SaslError::Malformed { .. })
            }),
            (b"r=a\x01,s=QUJD,i=4096", |e| {
                matches!(e, SaslError::Malformed { .. })
            }),
            (b"r=a,s=QUJD,i=4096,", |e| {
                matches!(e, SaslError::Malformed { .. })
            }),
        ];
        for (message, check) in cases {
            let err = parse_server_first(message).unwrap_err();
            assert!(
                check(&err),
                "{:?}: {err:?}",
                String::from_utf8_lossy(message)
            );
        }
    }

    #[test]
    fn server_final_forms() {
        assert!(
            matches!(parse_server_final(b"v=QUJD"), Ok(ServerFinal::Verifier(v)) if v == b"ABC")
        );
        assert!(matches!(
            parse_server_final(b"e=invalid-proof"),
            Ok(ServerFinal::Error(b"invalid-proof"))
        ));
        assert!(matches!(
            parse_server_final(b"v=***"),
            Err(SaslError::InvalidBase64 { .. })
        ));
        assert!(matches!(
            parse_server_final(b"x=1"),
            Err(SaslError::Malformed { .. })
        ));
    }
}
