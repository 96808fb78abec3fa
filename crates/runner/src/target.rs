//! Where the scenarios are played: a `ws://HOST:PORT/PATH` URL, parsed once
//! for the executor, the flood, the load generator and the command line.

/// Where the scenarios are played: `ws://HOST:PORT/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Request path, starting with `/`.
    pub path: String,
}

impl Target {
    /// Parses `ws://HOST[:PORT][/PATH]` (port 80 by default).
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url.strip_prefix("ws://").ok_or_else(|| {
            if url.starts_with("wss://") {
                format!("'{url}': wss:// (TLS) is not supported; test the server over ws://")
            } else {
                format!("'{url}' is not a ws:// URL: write it like ws://127.0.0.1:8080/echo")
            }
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || p.chars().all(|c| c.is_ascii_digit()) => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("'{url}': '{p}' is not a port number"))?;
                (h.to_string(), port)
            }
            _ => (authority.to_string(), 80),
        };
        if host.is_empty() {
            return Err(format!("'{url}' names no host"));
        }
        Ok(Target { host, port, path })
    }

    /// `host:port`, as sent in the `Host` header and used to connect.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The URL again.
    pub fn url(&self) -> String {
        format!("ws://{}:{}{}", self.host, self.port, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = Target::parse("ws://localhost:8080/socket").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("localhost", 8080, "/socket")
        );
        assert_eq!(Target::parse("ws://h").unwrap().path, "/");
        assert!(Target::parse("http://h").is_err());
        assert!(Target::parse("ws://h:99999/").is_err());
    }
}
