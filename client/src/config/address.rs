//! `host:port` broker addresses.

use std::fmt;

/// A broker's `host:port`, as in `bootstrap.servers`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BrokerAddress {
    /// A DNS name or an IP literal (IPv6 without brackets).
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

impl BrokerAddress {
    /// An address from its parts.
    pub fn new(host: impl Into<String>, port: u16) -> BrokerAddress {
        BrokerAddress {
            host: host.into(),
            port,
        }
    }

    /// Parses `host:port`, `[ipv6]:port`, or either behind a listener prefix such as
    /// `SASL_SSL://` (which the Java client accepts and ignores).
    pub fn parse(s: &str) -> Result<BrokerAddress, &'static str> {
        let s = s.trim();
        let s = s.split_once("://").map_or(s, |(_, rest)| rest);
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or("unclosed '[' in address")?;
            let port = after
                .strip_prefix(':')
                .ok_or("expected host:port (the port is missing)")?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err("only an IPv6 address may stand in brackets");
            }
            (host, port)
        } else {
            let (host, port) = s
                .rsplit_once(':')
                .ok_or("expected host:port (the port is missing)")?;
            if host.contains(':') {
                return Err("an IPv6 address must be written in brackets: [addr]:port");
            }
            (host, port)
        };
        if host.is_empty() {
            return Err("expected host:port (the host is missing)");
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '[' || c == ']' || c == ',')
        {
            return Err("the host contains a character not allowed in a host name");
        }
        let port: u16 = port
            .parse()
            .map_err(|_| "the port is not a number from 1 to 65535")?;
        if port == 0 {
            return Err("the port is not a number from 1 to 65535");
        }
        Ok(BrokerAddress::new(host, port))
    }
}

/// `host:port`, with brackets around an IPv6 host: the form `Connection::connect` takes.
impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_ips_and_prefixes() {
        let cases = [
            ("localhost:9092", "localhost", 9092),
            (" broker-1.example.com:9093 ", "broker-1.example.com", 9093),
            ("127.0.0.1:1", "127.0.0.1", 1),
            ("[::1]:9092", "::1", 9092),
            ("SASL_SSL://kafka:9094", "kafka", 9094),
            ("PLAINTEXT://[fe80::1]:65535", "fe80::1", 65535),
        ];
        for (input, host, port) in cases {
            let a = BrokerAddress::parse(input).unwrap();
            assert_eq!((a.host.as_str(), a.port), (host, port), "{input}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["localhost:9092", "[::1]:9092", "10.0.0.1:19092"] {
            assert_eq!(BrokerAddress::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "localhost",
            ":9092",
            "localhost:",
            "localhost:0",
            "localhost:65536",
            "localhost:x",
            "::1:9092",
            "[::1]",
            "[::1:9092",
            "[host]:9092",
            "a b:9092",
            "host/x:9092",
        ] {
            assert!(BrokerAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
