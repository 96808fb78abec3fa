//! permessage-deflate (RFC 7692) on the runner's connections: what the
//! request offered, what the 101 accepted, and the connection set up to
//! speak it. The rules are the wire crate's
//! ([`wsconform_wire::extension`], [`wsconform_wire::deflate`]).

use wsconform_wire::deflate::{Deflater, Inflater};
use wsconform_wire::extension::{
    DeflateParams, PERMESSAGE_DEFLATE, parse_extensions, validate_deflate_response,
};
use wsconform_wire::{ResponseError, ServerResponse, validate_response};

use super::conn::Run;
use crate::plan::CompressedSend;
use crate::verdict::{Outcome, ScenarioResult};

/// zlib's fastest level: large test messages (the inflation bomb) cost
/// little to compress, and the bytes are the same on every run.
const LEVEL: u32 = 1;

/// The start of a skip's message when a server declined the offer; the
/// CLI's `--require deflate` turns these skips into failures.
pub const DECLINED: &str = "the server declined permessage-deflate";

/// The `Sec-WebSocket-Extensions` values of a request as sent, joined.
pub(super) fn offered(request: &[u8]) -> Option<String> {
    request_header(request, "Sec-WebSocket-Extensions")
}

/// The values of header `name` in a request as sent, joined with commas.
pub(super) fn request_header(request: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(request);
    let values: Vec<&str> = text
        .split("\r\n")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .filter(|(header, _)| header.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// The permessage-deflate elements of an offer, in order.
fn deflate_offers(offer: &str) -> Vec<Vec<(String, Option<String>)>> {
    parse_extensions(offer)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .map(|e| e.params)
        .collect()
}

/// Whether the offer has a valid permessage-deflate element (one a server
/// must not decline for being malformed).
fn has_valid_offer(offer: &str) -> bool {
    deflate_offers(offer)
        .iter()
        .any(|params| validate_deflate_response(params, &[]).is_ok())
}

/// Checks a 101 against the request's `offer` (RFC 7692 §5.2: a client
/// fails the connection on a response it did not allow). `Ok(None)`: no
/// extension in force.
pub fn negotiated(
    offer: Option<&str>,
    response: &ServerResponse,
    key: &str,
) -> Result<Option<DeflateParams>, String> {
    let Some(offer) = offer else {
        return validate_response(response, key)
            .map(|()| None)
            .map_err(|e| e.to_string());
    };
    let plain = ServerResponse {
        headers: response
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
            .cloned()
            .collect(),
        ..response.clone()
    };
    validate_response(&plain, key).map_err(|e| e.to_string())?;
    let Some(answer) = response.header("Sec-WebSocket-Extensions") else {
        return Ok(None);
    };
    let elements = parse_extensions(&answer)
        .map_err(|e| format!("Sec-WebSocket-Extensions: {answer}: {e}"))?;
    // The answer must fit one of the offers (RFC 7692 §5: it accepts one).
    let mut problem = ResponseError::UnrequestedExtension(answer.clone()).to_string();
    for params in deflate_offers(offer) {
        match validate_deflate_response(&params, &elements) {
            Ok(found) => return Ok(found),
            Err(e) => {
                problem = format!(
                    "Sec-WebSocket-Extensions: {answer}: {e} (RFC 7692 §5.2: the client must fail the connection)"
                )
            }
        }
    }
    Err(problem)
}

impl Run<'_> {
    /// After an accepted handshake: sets the connection up for what was
    /// negotiated. `Some(reason)` when a valid permessage-deflate offer was
    /// declined: the scenario does not apply to this server.
    pub(super) fn start_deflate(&mut self, client: &str) -> Option<String> {
        let conn = self.conns.get_mut(client)?;
        let offer = conn.state.offer.clone()?;
        let Some(Ok(response)) = &conn.state.response else {
            return None;
        };
        match negotiated(Some(&offer), response, &conn.state.key) {
            Ok(Some(params)) => {
                conn.frames.allow_compression();
                conn.messages.inflate_with(Inflater::new(
                    params.server_max_window_bits,
                    params.server_no_context_takeover,
                ));
                conn.deflater = Some(Deflater::new(
                    params.client_max_window_bits,
                    LEVEL,
                    params.client_no_context_takeover,
                ));
                None
            }
            // An invalid offer is meant to be declined.
            Ok(None) if !has_valid_offer(&offer) => None,
            Ok(None) => Some(format!(
                "{DECLINED} (offered {offer:?}); the compression chapter applies to servers that speak it (--require deflate fails it instead)"
            )),
            Err(_) => None,
        }
    }

    /// The bytes of a compressed message on `client`'s connection: its
    /// deflater, or, on a connection that negotiated nothing, a fresh one
    /// (to send what a server must refuse).
    pub(super) fn compressed_frames(&mut self, client: &str, send: &CompressedSend) -> Vec<u8> {
        let at = self.now();
        let compressed = self.conns.get_mut(client).and_then(|conn| {
            conn.deflater
                .get_or_insert_with(|| Deflater::new(15, LEVEL, false))
                .compress(&send.payload)
        });
        match send.frames(compressed.as_deref()) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.transcript
                    .note(at, client, format!("(cannot encode the message: {e})"));
                Vec::new()
            }
        }
    }
}

/// `--require deflate`: a declined offer is a failure, not a skip.
pub fn require_deflate(results: &mut [ScenarioResult]) {
    for result in results {
        if result.outcome == Outcome::Skip && result.message.starts_with(DECLINED) {
            result.outcome = Outcome::Fail;
            let declined = result
                .message
                .split_once("; ")
                .map_or(result.message.as_str(), |(first, _)| first);
            result.message = format!("{declined}, and --require deflate requires it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(extensions: Option<&str>) -> ServerResponse {
        let mut headers = vec![
            ("Upgrade".to_string(), "websocket".to_string()),
            ("Connection".to_string(), "Upgrade".to_string()),
            (
                "Sec-WebSocket-Accept".to_string(),
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string(),
            ),
        ];
        if let Some(e) = extensions {
            headers.push(("Sec-WebSocket-Extensions".into(), e.into()));
        }
        ServerResponse {
            status: 101,
            reason: "Switching Protocols".into(),
            headers,
        }
    }

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn offers_and_answers() {
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nsec-websocket-extensions: permessage-deflate\r\nSec-WebSocket-Extensions: x-foo\r\n\r\n";
        assert_eq!(
            offered(request).as_deref(),
            Some("permessage-deflate, x-foo")
        );
        assert_eq!(offered(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), None);
        let offer = Some("permessage-deflate; server_max_window_bits=10");
        assert_eq!(negotiated(offer, &response(None), KEY), Ok(None));
        let ok = negotiated(
            offer,
            &response(Some("permessage-deflate; server_max_window_bits=9")),
            KEY,
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.server_max_window_bits, 9);
        for bad in [
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits=12",
            "x-foo",
        ] {
            assert!(
                negotiated(offer, &response(Some(bad)), KEY).is_err(),
                "{bad}"
            );
        }
        // Without an offer any extension in the answer is an error.
        assert!(negotiated(None, &response(Some("permessage-deflate")), KEY).is_err());
    }

    #[test]
    fn require_deflate_turns_declined_skips_into_failures() {
        let loaded = crate::load::parse_scenario(
            "scenarios/12-compression/a.yaml",
            "id: a\ntitle: t\nsteps:\n  - send: { text: x }\n",
        )
        .unwrap();
        let mut declined = ScenarioResult::for_scenario(&loaded, Outcome::Skip);
        declined.message = format!("{DECLINED} (offered \"permessage-deflate\"); the rest");
        let mut other = ScenarioResult::for_scenario(&loaded, Outcome::Skip);
        other.message = "the profile does not apply".into();
        let mut results = [declined, other];
        require_deflate(&mut results);
        assert_eq!(results[0].outcome, Outcome::Fail);
        assert!(
            results[0]
                .message
                .ends_with("--require deflate requires it")
        );
        assert_eq!(results[1].outcome, Outcome::Skip);
    }
}
