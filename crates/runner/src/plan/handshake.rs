//! The opening handshake request a scenario's `handshake` step sends.

use wsconform_wire::build_request;

use crate::scenario::HandshakeSpec;
use crate::target::Target;

/// The request bytes of a (possibly edited) handshake.
pub fn handshake_request(spec: &HandshakeSpec, target: &Target, key: &str) -> Vec<u8> {
    let host = target.authority();
    // `path: "{path}?room=1"` adds to the target's path.
    let path = spec
        .path
        .as_ref()
        .map(|p| p.replace("{path}", &target.path))
        .unwrap_or_else(|| target.path.clone());
    if let Some(raw) = &spec.raw {
        let text = raw
            .replace("{host}", &host)
            .replace("{path}", &path)
            .replace("{key}", key);
        let text = if text.contains('\r') {
            text
        } else {
            text.replace('\n', "\r\n")
        };
        return text.into_bytes();
    }
    let offer = spec
        .extensions
        .as_deref()
        .map(|offer| ("Sec-WebSocket-Extensions", offer));
    if spec.headers.is_empty() && spec.method.is_none() && spec.http.is_none() {
        let extra: Vec<(&str, &str)> = offer.into_iter().collect();
        return build_request(&host, &path, key, &extra);
    }
    let method = spec.method.clone().unwrap_or_else(|| "GET".into());
    let http = spec.http.clone().unwrap_or_else(|| "1.1".into());
    let mut headers: Vec<(String, Option<String>)> = vec![
        ("Host".into(), Some(host)),
        ("Upgrade".into(), Some("websocket".into())),
        ("Connection".into(), Some("Upgrade".into())),
        ("Sec-WebSocket-Key".into(), Some(key.to_string())),
        ("Sec-WebSocket-Version".into(), Some("13".into())),
    ];
    if let Some((name, value)) = offer {
        headers.push((name.into(), Some(value.into())));
    }
    for (name, value) in &spec.headers {
        match headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => *slot = (name.clone(), value.clone()),
            None => headers.push((name.clone(), value.clone())),
        }
    }
    let mut text = format!("{method} {path} HTTP/{http}\r\n");
    for (name, value) in headers {
        if let Some(value) = value {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    text.push_str("\r\n");
    text.into_bytes()
}
