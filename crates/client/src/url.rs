//! The URL a client connects to: `ws://HOST[:PORT][/PATH]` (RFC 6455 §3).
//! `wss://` (TLS) is refused with a clear message: the client speaks plain
//! TCP, which is what a test on loopback needs.

/// A parsed `ws://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// Host name or address (IPv6 without its brackets).
    pub host: String,
    /// TCP port (80 when not given, §3).
    pub port: u16,
    /// The resource name: path and query, starting with `/`.
    pub resource: String,
}

impl WsUrl {
    /// Parses `ws://HOST[:PORT][/PATH]`; IPv6 hosts in brackets (`ws://[::1]:9001/`).
    pub fn parse(url: &str) -> Result<WsUrl, String> {
        let rest = url.strip_prefix("ws://").ok_or_else(|| {
            if url.starts_with("wss://") {
                format!("'{url}': wss:// (TLS) is not supported; connect over ws://")
            } else {
                format!("'{url}' is not a ws:// URL: write it like ws://127.0.0.1:9001/echo")
            }
        })?;
        let (authority, resource) = match rest.find(['/', '?']) {
            Some(i) => {
                let (a, r) = rest.split_at(i);
                let r = if r.starts_with('?') {
                    format!("/{r}")
                } else {
                    r.to_string()
                };
                (a, r)
            }
            None => (rest, "/".to_string()),
        };
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, after) = inner
                .split_once(']')
                .ok_or_else(|| format!("'{url}': an IPv6 host needs its closing ']'"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => parse_port(url, p)?,
                None if after.is_empty() => 80,
                None => return Err(format!("'{url}': unexpected '{after}' after the host")),
            };
            (host.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), parse_port(url, p)?),
                None => (authority.to_string(), 80),
            }
        };
        if host.is_empty() {
            return Err(format!("'{url}' names no host"));
        }
        Ok(WsUrl {
            host,
            port,
            resource,
        })
    }

    /// `host:port` for the `Host` header and for connecting (IPv6 in brackets).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn parse_port(url: &str, text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .map_err(|_| format!("'{url}': '{text}' is not a port number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_their_defaults() {
        let u = WsUrl::parse("ws://127.0.0.1:9001/runCase?case=3&agent=x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.resource.as_str()),
            ("127.0.0.1", 9001, "/runCase?case=3&agent=x")
        );
        let u = WsUrl::parse("ws://example.com").unwrap();
        assert_eq!((u.port, u.resource.as_str()), (80, "/"));
        let u = WsUrl::parse("ws://[::1]:8080/echo").unwrap();
        assert_eq!(
            (u.host.as_str(), u.authority()),
            ("::1", "[::1]:8080".to_string())
        );
        let u = WsUrl::parse("ws://h?x=1").unwrap();
        assert_eq!(u.resource, "/?x=1");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(WsUrl::parse("wss://h/").unwrap_err().contains("TLS"));
        assert!(
            WsUrl::parse("http://h/")
                .unwrap_err()
                .contains("not a ws:// URL")
        );
        assert!(
            WsUrl::parse("ws://h:99999/")
                .unwrap_err()
                .contains("not a port")
        );
        assert!(WsUrl::parse("ws://:80/").unwrap_err().contains("no host"));
        assert!(
            WsUrl::parse("ws://[::1/")
                .unwrap_err()
                .contains("closing ']'")
        );
    }
}
