//! `Sec-WebSocket-Extensions` and the permessage-deflate negotiation
//! (One file: the offer grammar and each parameter's negotiation rule are read side by side.)
//! (RFC 6455 §9.1, RFC 7692 §5 and §7.1).
//!
//! A client *offers* extensions in its upgrade request, in order of
//! preference, possibly the same extension several times with different
//! parameters:
//!
//! ```text
//! Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits,
//!                           permessage-deflate
//! ```
//!
//! The server *accepts* at most one offer per extension by naming it, with
//! its answer to each parameter, in the 101 response; everything it does not
//! name is declined. RFC 7692 §5.1: "A server MUST decline an extension
//! negotiation offer for this extension if any of the following conditions
//! are met: the offer has any extension parameter not defined for use in an
//! offer; the offer has any extension parameter with an invalid value; the
//! offer has multiple extension parameters with the same name; the server
//! doesn't support the offered configuration."
//!
//! The four parameters (RFC 7692 §7.1):
//!
//! | parameter | value | meaning |
//! |---|---|---|
//! | `server_no_context_takeover` | none | the server resets its compressor after every message |
//! | `client_no_context_takeover` | none | the client resets its compressor after every message |
//! | `server_max_window_bits` | 8..=15 | the server's LZ77 window is at most 2^N bytes |
//! | `client_max_window_bits` | none or 8..=15 | the client can limit its window; the server may pick the limit |
//!
//! Values are `1*DIGIT` without leading zeros; RFC 7692 §7.1 allows them as
//! a quoted string too ("the value after quoted-string unescaping MUST
//! conform to the 'token' ABNF").

/// The registered name of the extension (RFC 7692 §6).
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// One element of a `Sec-WebSocket-Extensions` list: a name and its
/// parameters as written (quoted values unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// `name` or `name=value` parameters, in order.
    pub params: Vec<(String, Option<String>)>,
}

/// Why a `Sec-WebSocket-Extensions` value is not a list of extensions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionSyntaxError {
    /// A token, `;`, `=` or `,` was expected at this byte offset.
    #[error("malformed Sec-WebSocket-Extensions at byte {0}")]
    Malformed(usize),
}

/// The parameters one side of a permessage-deflate connection works with,
/// after negotiation: what each side's compressor may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window is at most 2^N bytes (8..=15).
    pub server_max_window_bits: u8,
    /// The client's LZ77 window is at most 2^N bytes (8..=15).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// No parameter at all: both sides keep their context, 32 KiB windows.
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// What a server is willing to do, used to answer offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerDeflatePolicy {
    /// Answer every accepted offer with `server_no_context_takeover`, even
    /// unasked (RFC 7692 §7.1.1.1 allows it): the server then needs no
    /// compressor between messages, which keeps an idle connection small.
    pub server_no_context_takeover: bool,
    /// The largest window the server's compressor uses (9..=15).
    pub server_max_window_bits: u8,
    /// When the client offered `client_max_window_bits`, ask it to use at
    /// most this window (8..=15); `None` leaves the client's window alone.
    pub client_max_window_bits: Option<u8>,
}

impl Default for ServerDeflatePolicy {
    fn default() -> Self {
        ServerDeflatePolicy {
            server_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: None,
        }
    }
}

/// The outcome of a server's negotiation: the parameters both sides use
/// and the `Sec-WebSocket-Extensions` value to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The parameters in force on this connection.
    pub params: DeflateParams,
    /// The response header's value, e.g.
    /// `permessage-deflate; server_no_context_takeover`.
    pub response: String,
}

/// Why one permessage-deflate offer (or response) is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeflateParamError {
    /// RFC 7692 §5.1: a parameter not defined for this direction.
    #[error("unknown parameter {0:?}")]
    Unknown(String),
    /// RFC 7692 §5.1: "multiple extension parameters with the same name".
    #[error("parameter {0:?} appears twice")]
    Duplicate(String),
    /// A value where none is allowed, none where one is needed, or a
    /// number outside 8..=15 or with a leading zero.
    #[error("parameter {name:?} has an invalid value {value:?}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// The value as written, if any.
        value: Option<String>,
    },
    /// RFC 7692 §7.1.2.2: the response names `client_max_window_bits`
    /// although the offer did not.
    #[error("client_max_window_bits in a response to an offer without it")]
    UnofferedClientWindow,
    /// RFC 7692 §7.1.2.1: the response's `server_max_window_bits` is larger
    /// than the offer's.
    #[error("server_max_window_bits={answered} is larger than the offered {offered}")]
    ServerWindowTooLarge {
        /// The offer's value.
        offered: u8,
        /// The response's value.
        answered: u8,
    },
    /// RFC 7692 §7.1.1.1: the offer asked for `server_no_context_takeover`
    /// and the response does not include it.
    #[error("the response drops the offered server_no_context_takeover")]
    MissingServerNoContextTakeover,
    /// The response names an extension that was not offered.
    #[error("the response accepts {0:?}, which was not offered")]
    NotOffered(String),
    /// The response accepts the extension more than once.
    #[error("the response accepts permessage-deflate more than once")]
    AcceptedTwice,
}

/// Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1):
///
/// ```text
/// extension-list = 1#extension
/// extension = extension-token *( ";" extension-param )
/// extension-param = token [ "=" (token | quoted-string) ]
/// ```
///
/// Empty list elements (`a, , b`) are allowed, as `#` rules allow them.
///
/// ```
/// use wsconform_wire::extension::parse_extensions;
/// let offers = parse_extensions("permessage-deflate; client_max_window_bits, x; y=\"1\"").unwrap();
/// assert_eq!(offers[0].name, "permessage-deflate");
/// assert_eq!(offers[0].params, [("client_max_window_bits".to_string(), None)]);
/// assert_eq!(offers[1].params, [("y".to_string(), Some("1".to_string()))]);
/// ```
pub fn parse_extensions(value: &str) -> Result<Vec<ExtensionOffer>, ExtensionSyntaxError> {
    let bytes = value.as_bytes();
    let mut at = 0;
    let mut offers = Vec::new();
    loop {
        at = skip_spaces(bytes, at);
        match bytes.get(at) {
            None => break,
            Some(b',') => {
                at += 1;
                continue;
            }
            Some(_) => {}
        }
        let (name, next) = token(bytes, at).ok_or(ExtensionSyntaxError::Malformed(at))?;
        at = skip_spaces(bytes, next);
        let mut params = Vec::new();
        while bytes.get(at) == Some(&b';') {
            at = skip_spaces(bytes, at + 1);
            let (param, next) = token(bytes, at).ok_or(ExtensionSyntaxError::Malformed(at))?;
            at = skip_spaces(bytes, next);
            let mut param_value = None;
            if bytes.get(at) == Some(&b'=') {
                at = skip_spaces(bytes, at + 1);
                let (v, next) = if bytes.get(at) == Some(&b'"') {
                    quoted(bytes, at)
                } else {
                    token(bytes, at)
                }
                .ok_or(ExtensionSyntaxError::Malformed(at))?;
                param_value = Some(v);
                at = skip_spaces(bytes, next);
            }
            params.push((param, param_value));
        }
        offers.push(ExtensionOffer { name, params });
        match bytes.get(at) {
            None => break,
            Some(b',') => at += 1,
            Some(_) => return Err(ExtensionSyntaxError::Malformed(at)),
        }
    }
    Ok(offers)
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    at
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn token(bytes: &[u8], start: usize) -> Option<(String, usize)> {
    let mut end = start;
    while bytes.get(end).is_some_and(|b| is_tchar(*b)) {
        end += 1;
    }
    if end == start {
        return None;
    }
    let text = std::str::from_utf8(bytes.get(start..end)?).ok()?;
    Some((text.to_owned(), end))
}

/// A quoted-string starting at `start` (the opening quote), unescaped.
fn quoted(bytes: &[u8], start: usize) -> Option<(String, usize)> {
    let mut out = Vec::new();
    let mut at = start + 1;
    loop {
        match *bytes.get(at)? {
            b'"' => return Some((String::from_utf8(out).ok()?, at + 1)),
            b'\\' => {
                out.push(*bytes.get(at + 1)?);
                at += 2;
            }
            b => {
                out.push(b);
                at += 1;
            }
        }
    }
}

/// A window-bits value: `8`..=`15`, no leading zero (RFC 7692 §7.1.2.1).
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || value.len() > 2 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u8 = value.parse().ok()?;
    (8..=15).contains(&bits).then_some(bits)
}

/// A permessage-deflate offer checked parameter by parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct CheckedOffer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

fn check_params(params: &[(String, Option<String>)]) -> Result<CheckedOffer, DeflateParamError> {
    let mut offer = CheckedOffer::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in params {
        let lower = name.to_ascii_lowercase();
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(DeflateParamError::Duplicate(name.clone()));
        }
        seen.push(name);
        let invalid = || DeflateParamError::InvalidValue {
            name: name.clone(),
            value: value.clone(),
        };
        match lower.as_str() {
            "server_no_context_takeover" => {
                if value.is_some() {
                    return Err(invalid());
                }
                offer.server_no_context_takeover = true;
            }
            "client_no_context_takeover" => {
                if value.is_some() {
                    return Err(invalid());
                }
                offer.client_no_context_takeover = true;
            }
            "server_max_window_bits" => {
                let bits = value.as_deref().and_then(window_bits).ok_or_else(invalid)?;
                offer.server_max_window_bits = Some(bits);
            }
            "client_max_window_bits" => {
                let bits = match value {
                    None => None,
                    Some(v) => Some(window_bits(v).ok_or_else(invalid)?),
                };
                offer.client_max_window_bits = Some(bits);
            }
            _ => return Err(DeflateParamError::Unknown(name.clone())),
        }
    }
    Ok(offer)
}

/// The server's side of the negotiation (RFC 7692 §5.1, §7.1): accepts the
/// first permessage-deflate offer in `offers` that is valid, declines the
/// others. `None`: every offer was declined (or none was made); the
/// connection then works without compression.
///
/// ```
/// use wsconform_wire::extension::{ServerDeflatePolicy, negotiate, parse_extensions};
/// let offers = parse_extensions(
///     "permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=10",
/// ).unwrap();
/// let accepted = negotiate(&offers, &ServerDeflatePolicy::default()).unwrap();
/// // The first offer has an out-of-range value and is declined.
/// assert_eq!(accepted.response, "permessage-deflate; server_max_window_bits=10");
/// assert_eq!(accepted.params.server_max_window_bits, 10);
/// ```
pub fn negotiate(offers: &[ExtensionOffer], policy: &ServerDeflatePolicy) -> Option<Accepted> {
    offers
        .iter()
        .filter(|offer| offer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|offer| {
            let checked = check_params(&offer.params).ok()?;
            Some(accept(&checked, policy))
        })
}

fn accept(offer: &CheckedOffer, policy: &ServerDeflatePolicy) -> Accepted {
    let mut response = PERMESSAGE_DEFLATE.to_owned();
    let server_no_context_takeover =
        offer.server_no_context_takeover || policy.server_no_context_takeover;
    if server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    // The client resets anyway when it offered this; saying so is allowed
    // and makes the response complete.
    if offer.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    let own_limit = policy.server_max_window_bits.clamp(9, 15);
    let server_max_window_bits = match offer.server_max_window_bits {
        // §7.1.2.1: the response MUST carry a value no larger than the offer's.
        Some(offered) => {
            let bits = offered.min(own_limit);
            response.push_str(&format!("; server_max_window_bits={bits}"));
            bits
        }
        None if own_limit < 15 => {
            response.push_str(&format!("; server_max_window_bits={own_limit}"));
            own_limit
        }
        None => 15,
    };
    // §7.1.2.2: only when offered, and then at most the offered value.
    let client_max_window_bits = match (offer.client_max_window_bits, policy.client_max_window_bits)
    {
        (Some(offered), Some(wanted)) => {
            let bits = wanted.clamp(8, offered.unwrap_or(15));
            response.push_str(&format!("; client_max_window_bits={bits}"));
            bits
        }
        (Some(Some(offered)), None) => offered,
        _ => 15,
    };
    Accepted {
        params: DeflateParams {
            server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
        },
        response,
    }
}

/// The client's side (RFC 7692 §5.2, §7.1): checks the server's
/// `Sec-WebSocket-Extensions` answer to `offer` (the permessage-deflate
/// parameters the client sent). `Ok(None)`: the server declined.
/// An error means the client MUST fail the connection.
///
/// ```
/// use wsconform_wire::extension::{parse_extensions, validate_deflate_response};
/// let offer = &parse_extensions("permessage-deflate").unwrap()[0].params;
/// let answer = parse_extensions("permessage-deflate; client_max_window_bits=10").unwrap();
/// assert!(validate_deflate_response(offer, &answer).is_err());
/// ```
pub fn validate_deflate_response(
    offer: &[(String, Option<String>)],
    response: &[ExtensionOffer],
) -> Result<Option<DeflateParams>, DeflateParamError> {
    let offered = check_params(offer)?;
    let mut found = None;
    for element in response {
        if !element.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
            return Err(DeflateParamError::NotOffered(element.name.clone()));
        }
        if found.is_some() {
            return Err(DeflateParamError::AcceptedTwice);
        }
        let answered = check_params(&element.params)?;
        // §7.1.2.1 "... the server MUST include the server_max_window_bits
        // extension parameter in the response" with a value no larger.
        if let Some(offered_bits) = offered.server_max_window_bits {
            let answered_bits = answered.server_max_window_bits.unwrap_or(15);
            if answered_bits > offered_bits {
                return Err(DeflateParamError::ServerWindowTooLarge {
                    offered: offered_bits,
                    answered: answered_bits,
                });
            }
        }
        if offered.server_no_context_takeover && !answered.server_no_context_takeover {
            return Err(DeflateParamError::MissingServerNoContextTakeover);
        }
        let client_max_window_bits = match answered.client_max_window_bits {
            None => offered.client_max_window_bits.flatten().unwrap_or(15),
            Some(_) if offered.client_max_window_bits.is_none() => {
                return Err(DeflateParamError::UnofferedClientWindow);
            }
            // A response's client_max_window_bits needs a value (§7.1.2.2).
            Some(None) => {
                return Err(DeflateParamError::InvalidValue {
                    name: "client_max_window_bits".into(),
                    value: None,
                });
            }
            Some(Some(bits)) => bits,
        };
        found = Some(DeflateParams {
            server_no_context_takeover: answered.server_no_context_takeover,
            client_no_context_takeover: answered.client_no_context_takeover
                || offered.client_no_context_takeover,
            server_max_window_bits: answered.server_max_window_bits.unwrap_or(15),
            client_max_window_bits,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers(value: &str) -> Vec<ExtensionOffer> {
        parse_extensions(value).unwrap()
    }

    fn server(value: &str) -> Option<String> {
        negotiate(&offers(value), &ServerDeflatePolicy::default()).map(|a| a.response)
    }

    #[test]
    fn syntax() {
        assert_eq!(offers("").len(), 0);
        assert_eq!(offers(" a ,, b ; c = d ").len(), 2);
        assert_eq!(
            offers("a; b=\"1\\5\"")[0].params,
            [("b".into(), Some("15".into()))]
        );
        for bad in ["a;", "a b", "a; =1", "a; b=\"1", "a; b=", ";a", "a; b=1 2"] {
            assert!(parse_extensions(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn server_accepts_the_first_valid_offer() {
        assert_eq!(
            server("permessage-deflate").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            server("x-foo, permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            server("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
                .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
        assert_eq!(
            server("permessage-deflate; server_max_window_bits=8").as_deref(),
            Some("permessage-deflate; server_max_window_bits=8")
        );
        assert_eq!(
            server("permessage-deflate; server_max_window_bits=\"12\"").as_deref(),
            Some("permessage-deflate; server_max_window_bits=12")
        );
        assert_eq!(server("x-foo"), None);
    }

    #[test]
    fn server_declines_bad_offers() {
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=true",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        ] {
            assert_eq!(server(bad), None, "{bad}");
        }
        // A declined offer does not stop a later valid one.
        assert_eq!(
            server("permessage-deflate; foo, permessage-deflate").as_deref(),
            Some("permessage-deflate")
        );
    }

    #[test]
    fn policy_limits() {
        let policy = ServerDeflatePolicy {
            server_no_context_takeover: true,
            server_max_window_bits: 12,
            client_max_window_bits: Some(10),
        };
        let a = negotiate(
            &offers("permessage-deflate; client_max_window_bits"),
            &policy,
        )
        .unwrap();
        assert_eq!(
            a.response,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=10"
        );
        assert_eq!(a.params.client_max_window_bits, 10);
        // No client_max_window_bits in the offer: none in the response.
        let a = negotiate(&offers("permessage-deflate"), &policy).unwrap();
        assert!(!a.response.contains("client_max"));
        assert_eq!(a.params.client_max_window_bits, 15);
        // The client's own limit is lower than ours.
        let a = negotiate(
            &offers("permessage-deflate; client_max_window_bits=9"),
            &policy,
        )
        .unwrap();
        assert_eq!(a.params.client_max_window_bits, 9);
    }

    #[test]
    fn client_validates_the_answer() {
        let offer = |s: &str| offers(s).remove(0).params;
        let answer = |s: &str| offers(s);
        let ok = validate_deflate_response(
            &offer("permessage-deflate; client_max_window_bits"),
            &answer("permessage-deflate; client_max_window_bits=9; server_no_context_takeover"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.client_max_window_bits, 9);
        assert!(ok.server_no_context_takeover);
        assert_eq!(
            validate_deflate_response(&offer("permessage-deflate"), &[]),
            Ok(None)
        );
        for (o, a) in [
            (
                "permessage-deflate",
                "permessage-deflate; client_max_window_bits=10",
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=11",
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate",
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                "permessage-deflate",
            ),
            ("permessage-deflate", "permessage-deflate; foo"),
            ("permessage-deflate", "x-other"),
            (
                "permessage-deflate",
                "permessage-deflate, permessage-deflate",
            ),
            (
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; client_max_window_bits",
            ),
        ] {
            assert!(
                validate_deflate_response(&offer(o), &answer(a)).is_err(),
                "{o} / {a}"
            );
        }
    }
}
