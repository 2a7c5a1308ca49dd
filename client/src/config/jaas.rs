//! The `sasl.jaas.config` property of the Java client, for the login modules that carry a
//! user name and password.
//!
//! Grammar (Kafka's `JaasConfig`): `<loginModuleClass> <controlFlag> (<name>=<value>)* ;`
//! where tokens are separated by whitespace, values are bare words or quoted with `"` or `'`
//! (backslash escapes inside quotes), and `//`, `/* */` and a lone `/` start comments. A
//! client's value holds exactly one login module.

use std::fmt;

/// A login module whose credentials this client can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JaasLoginModule {
    /// `org.apache.kafka.common.security.plain.PlainLoginModule`.
    Plain,
    /// `org.apache.kafka.common.security.scram.ScramLoginModule`.
    Scram,
}

/// The credentials in a `sasl.jaas.config` value.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JaasCredentials {
    /// Which login module the value names.
    pub module: JaasLoginModule,
    /// The `username` option.
    pub username: String,
    /// The `password` option.
    pub password: String,
    /// The `tokenauth` option of `ScramLoginModule` (a delegation token, KIP-48).
    pub token_auth: bool,
}

impl fmt::Debug for JaasCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JaasCredentials")
            .field("module", &self.module)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("token_auth", &self.token_auth)
            .finish()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

/// Splits `input` into tokens with the JAAS tokenizer rules.
fn tokenize(input: &str) -> Result<Vec<Token>, &'static str> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if u32::from(c) <= 32 => {}
            ';' => tokens.push(Token::Semicolon),
            '=' => tokens.push(Token::Equals),
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = '\0';
                loop {
                    match chars.next() {
                        None => return Err("unterminated /* comment"),
                        Some('/') if prev == '*' => break,
                        Some(c) => prev = c,
                    }
                }
            }
            '/' => {
                // `//` or a lone `/`: a comment to the end of the line.
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '"' | '\'' => tokens.push(Token::Quoted(quoted(&mut chars, c)?)),
            first => {
                let mut word = String::from(first);
                while let Some(&c) = chars.peek() {
                    if u32::from(c) <= 32 || matches!(c, ';' | '=' | '"' | '\'' | '/') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// The rest of a quoted string whose opening `quote` was consumed.
fn quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    quote: char,
) -> Result<String, &'static str> {
    const UNTERMINATED: &str = "unterminated quoted value";
    let mut out = String::new();
    loop {
        let c = chars.next().ok_or(UNTERMINATED)?;
        match c {
            c if c == quote => return Ok(out),
            '\n' | '\r' => return Err(UNTERMINATED),
            '\\' => {
                let e = chars.next().ok_or(UNTERMINATED)?;
                let unescaped = match e {
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'v' => '\u{b}',
                    '0'..='7' => {
                        // Up to three octal digits, at most \377.
                        let mut value = e.to_digit(8).unwrap_or(0);
                        let max_digits = if e <= '3' { 3 } else { 2 };
                        for _ in 1..max_digits {
                            match chars.peek().and_then(|c| c.to_digit(8)) {
                                Some(d) => {
                                    value = value * 8 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        char::from_u32(value).ok_or("invalid octal escape")?
                    }
                    other => other,
                };
                out.push(unescaped);
            }
            c => out.push(c),
        }
    }
}

/// Parses a `sasl.jaas.config` value naming `PlainLoginModule` or `ScramLoginModule` (under
/// any package, so shaded copies work) with `username` and `password` options; `tokenauth`
/// is read for SCRAM and other options are ignored. The error says what is wrong, never the
/// value.
pub fn parse_jaas_config(value: &str) -> Result<JaasCredentials, &'static str> {
    let tokens = tokenize(value)?;
    let mut it = tokens.into_iter();
    let module = match it.next() {
        Some(Token::Word(w)) => w,
        None => return Err("no login module"),
        Some(_) => return Err("expected a login module class name"),
    };
    let module = match module.rsplit('.').next().unwrap_or_default() {
        "PlainLoginModule" => JaasLoginModule::Plain,
        "ScramLoginModule" => JaasLoginModule::Scram,
        "OAuthBearerLoginModule" => {
            return Err(
                "OAUTHBEARER tokens come from a token provider set in code, not from \
                        sasl.jaas.config",
            );
        }
        _ => return Err("only PlainLoginModule and ScramLoginModule are supported"),
    };
    match it.next() {
        Some(Token::Word(flag))
            if ["required", "requisite", "sufficient", "optional"]
                .iter()
                .any(|f| f.eq_ignore_ascii_case(&flag)) => {}
        Some(Token::Word(_)) => return Err("invalid login module control flag"),
        _ => return Err("login module control flag not specified"),
    }
    let (mut username, mut password, mut token_auth) = (None, None, false);
    loop {
        let key = match it.next() {
            Some(Token::Semicolon) => break,
            Some(Token::Word(k) | Token::Quoted(k)) => k,
            Some(Token::Equals) => return Err("expected an option name before '='"),
            None => return Err("entry not terminated by ';'"),
        };
        if it.next() != Some(Token::Equals) {
            return Err("expected name=value options");
        }
        let value = match it.next() {
            Some(Token::Word(v) | Token::Quoted(v)) => v,
            _ => return Err("an option has no value"),
        };
        match key.as_str() {
            "username" => username = Some(value),
            "password" => password = Some(value),
            "tokenauth" if module == JaasLoginModule::Scram => {
                token_auth = if value.eq_ignore_ascii_case("true") {
                    true
                } else if value.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return Err("tokenauth must be true or false");
                };
            }
            _ => {}
        }
    }
    if it.next().is_some() {
        return Err("more than one login module (a client uses exactly one)");
    }
    Ok(JaasCredentials {
        module,
        username: username.ok_or("no username option")?,
        password: password.ok_or("no password option")?,
        token_auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(v: &str) -> JaasCredentials {
        parse_jaas_config(v).unwrap_or_else(|e| panic!("{v:?}: {e}"))
    }

    #[test]
    fn plain_login_module() {
        let c = creds(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";"#,
        );
        assert_eq!(c.module, JaasLoginModule::Plain);
        assert_eq!(c.username, "alice");
        assert_eq!(c.password, "alice-secret");
        assert!(!c.token_auth);
    }

    #[test]
    fn scram_login_module_with_token_auth() {
        let c = creds(
            "org.apache.kafka.common.security.scram.ScramLoginModule required\n  \
             username=\"tokenid\"\n  password=\"tokenhmac\"\n  tokenauth=\"true\";",
        );
        assert_eq!(c.module, JaasLoginModule::Scram);
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("tokenid", "tokenhmac")
        );
        assert!(c.token_auth);
        let c = creds("x.ScramLoginModule required username=u password=p tokenauth=FALSE;");
        assert!(!c.token_auth);
    }

    #[test]
    fn quoting_escapes_and_comments() {
        let c = creds(
            "/* leading */ kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule \
             REQUIRED // the flag\n username='o\\'brien' password=\"p;a=s s\\\\w\\\"o\\101d\" \
             serviceName=\"kafka\" ;",
        );
        assert_eq!(c.username, "o'brien");
        assert_eq!(c.password, "p;a=s s\\w\"oAd");
    }

    #[test]
    fn unquoted_values_end_at_separators() {
        let c = creds("PlainLoginModule optional username=bob password=p@ss:w0rd!;");
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("bob", "p@ss:w0rd!")
        );
        // `=` ends a bare word, so an unquoted value cannot contain one.
        assert_eq!(
            parse_jaas_config("PlainLoginModule optional username=bob password=x=y;").err(),
            Some("expected an option name before '='")
        );
    }

    #[test]
    fn debug_redacts_the_password() {
        let c = creds("PlainLoginModule required username=u password=hunter2;");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("\"u\""));
    }

    #[test]
    fn rejects_malformed_values() {
        let cases = [
            ("", "no login module"),
            ("   ", "no login module"),
            (
                "PlainLoginModule",
                "login module control flag not specified",
            ),
            (
                "PlainLoginModule mandatory username=a password=b;",
                "invalid login module control flag",
            ),
            (
                "PlainLoginModule required username=a password=b",
                "entry not terminated by ';'",
            ),
            (
                "PlainLoginModule required username password=b;",
                "expected name=value options",
            ),
            (
                "PlainLoginModule required username= ;",
                "an option has no value",
            ),
            (
                "PlainLoginModule required username=\"a password=b;",
                "unterminated quoted value",
            ),
            (
                "PlainLoginModule required username=\"a\nb\" password=b;",
                "unterminated quoted value",
            ),
            (
                "PlainLoginModule required password=b;",
                "no username option",
            ),
            (
                "PlainLoginModule required username=a;",
                "no password option",
            ),
            (
                "PlainLoginModule required username=a password=b; PlainLoginModule required username=c password=d;",
                "more than one login module (a client uses exactly one)",
            ),
            (
                "/* x PlainLoginModule required username=a password=b;",
                "unterminated /* comment",
            ),
            ("= required;", "expected a login module class name"),
            (
                "ScramLoginModule required username=a password=b tokenauth=yes;",
                "tokenauth must be true or false",
            ),
            (
                "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
                "only PlainLoginModule and ScramLoginModule are supported",
            ),
        ];
        for (value, reason) in cases {
            assert_eq!(parse_jaas_config(value).err(), Some(reason), "{value:?}");
        }
        let oauth = parse_jaas_config(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        );
        assert!(oauth.unwrap_err().contains("token provider"));
    }
}
