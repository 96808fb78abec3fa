//! Closing a connection (RFC 6455 §5.5.1, §7.4).
//!
//! A close frame may carry a payload: a 2-byte big-endian *status code*
//! followed by an optional UTF-8 *reason*. Both sides send one close frame; the
//! side that receives a close answers with its own, then TCP is shut down.

use crate::error::ProtocolError;

/// A close status code, sorted into the ranges of RFC 6455 §7.4.
///
/// Some codes are defined but may never appear on the wire (1005, 1006, 1015:
/// they exist so that APIs can *report* "no code" or "abnormal closure").
/// [`CloseCode::is_valid_on_wire`] tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    Normal,
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    GoingAway,
    /// 1002: protocol error.
    Protocol,
    /// 1003: a data type the endpoint cannot accept.
    Unsupported,
    /// 1005: reserved for "no status code was present". Never sent.
    NoStatus,
    /// 1006: reserved for "closed without a close frame". Never sent.
    Abnormal,
    /// 1007: data inconsistent with the message type (e.g. bad UTF-8).
    InvalidPayload,
    /// 1008: a policy was violated.
    Policy,
    /// 1009: message too big to process.
    TooBig,
    /// 1010: the client expected an extension the server did not negotiate.
    MandatoryExtension,
    /// 1011: the server hit an unexpected condition.
    InternalError,
    /// 1012: service restart (IANA registry).
    ServiceRestart,
    /// 1013: try again later (IANA registry).
    TryAgainLater,
    /// 1014: bad gateway (IANA registry).
    BadGateway,
    /// 1015: reserved for "TLS handshake failed". Never sent.
    TlsHandshake,
    /// 1004 and 1016..=2999: reserved for future versions of the protocol.
    Reserved(u16),
    /// 3000..=3999: registered with IANA by libraries and frameworks.
    Registered(u16),
    /// 4000..=4999: private use by applications.
    Private(u16),
    /// 0..=999 and 5000..: not used by any specification.
    OutOfRange(u16),
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        match code {
            1000 => CloseCode::Normal,
            1001 => CloseCode::GoingAway,
            1002 => CloseCode::Protocol,
            1003 => CloseCode::Unsupported,
            1005 => CloseCode::NoStatus,
            1006 => CloseCode::Abnormal,
            1007 => CloseCode::InvalidPayload,
            1008 => CloseCode::Policy,
            1009 => CloseCode::TooBig,
            1010 => CloseCode::MandatoryExtension,
            1011 => CloseCode::InternalError,
            1012 => CloseCode::ServiceRestart,
            1013 => CloseCode::TryAgainLater,
            1014 => CloseCode::BadGateway,
            1015 => CloseCode::TlsHandshake,
            1004 | 1016..=2999 => CloseCode::Reserved(code),
            3000..=3999 => CloseCode::Registered(code),
            4000..=4999 => CloseCode::Private(code),
            _ => CloseCode::OutOfRange(code),
        }
    }
}

impl CloseCode {
    /// The numeric code.
    pub fn as_u16(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::Protocol => 1002,
            CloseCode::Unsupported => 1003,
            CloseCode::NoStatus => 1005,
            CloseCode::Abnormal => 1006,
            CloseCode::InvalidPayload => 1007,
            CloseCode::Policy => 1008,
            CloseCode::TooBig => 1009,
            CloseCode::MandatoryExtension => 1010,
            CloseCode::InternalError => 1011,
            CloseCode::ServiceRestart => 1012,
            CloseCode::TryAgainLater => 1013,
            CloseCode::BadGateway => 1014,
            CloseCode::TlsHandshake => 1015,
            CloseCode::Reserved(c)
            | CloseCode::Registered(c)
            | CloseCode::Private(c)
            | CloseCode::OutOfRange(c) => c,
        }
    }

    /// May this code appear in a close frame?
    ///
    /// Yes for 1000-1003, 1007-1014 and 3000-4999. No for the reserved
    /// "report only" codes 1005, 1006 and 1015, for 1004 and 1016-2999
    /// (reserved), and for anything outside 1000-4999. A server that receives
    /// such a code fails the connection with 1002 (this is what Autobahn's
    /// cases 7.9.x check).
    pub fn is_valid_on_wire(self) -> bool {
        matches!(
            self,
            CloseCode::Normal
                | CloseCode::GoingAway
                | CloseCode::Protocol
                | CloseCode::Unsupported
                | CloseCode::InvalidPayload
                | CloseCode::Policy
                | CloseCode::TooBig
                | CloseCode::MandatoryExtension
                | CloseCode::InternalError
                | CloseCode::ServiceRestart
                | CloseCode::TryAgainLater
                | CloseCode::BadGateway
                | CloseCode::Registered(_)
                | CloseCode::Private(_)
        )
    }
}

/// The contents of a close frame that carried a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code, already checked with [`CloseCode::is_valid_on_wire`].
    pub code: u16,
    /// The reason text (may be empty), already checked to be UTF-8.
    pub reason: String,
}

/// Parses and validates a close frame's payload.
///
/// - empty payload: `Ok(None)` — a close without a status code is legal;
/// - 1 byte: error, a code needs two bytes (close 1002);
/// - a code that may not be sent: error (close 1002);
/// - a reason that is not UTF-8: error (close 1007).
///
/// ```
/// use wsconform_wire::parse_close_payload;
/// let frame = parse_close_payload(&[0x03, 0xe8, b'b', b'y', b'e']).unwrap().unwrap();
/// assert_eq!((frame.code, frame.reason.as_str()), (1000, "bye"));
/// assert!(parse_close_payload(&[0x03]).is_err());
/// ```
// ANCHOR: parse_close_payload
pub fn parse_close_payload(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::InvalidCloseLength),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !CloseCode::from(code).is_valid_on_wire() {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason)
                .map_err(|_| ProtocolError::InvalidCloseReason)?
                .to_owned();
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}
// ANCHOR_END: parse_close_payload

/// Builds a close payload: the code in network byte order, then the reason.
///
/// The reason is cut (on a character boundary) so the payload fits the 125
/// bytes allowed in a control frame.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Vec::with_capacity(2 + end);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason.as_bytes().get(..end).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        for code in 0..=6000u16 {
            let c = CloseCode::from(code);
            assert_eq!(c.as_u16(), code);
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(c.is_valid_on_wire(), expected, "code {code}");
        }
    }

    #[test]
    fn payloads() {
        assert_eq!(parse_close_payload(&[]), Ok(None));
        assert_eq!(
            parse_close_payload(&[0x03, 0xed]),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
        assert_eq!(
            parse_close_payload(&[0x03, 0xe8, 0xff]),
            Err(ProtocolError::InvalidCloseReason)
        );
        assert_eq!(
            parse_close_payload(&[0x03, 0xe8, 0xff])
                .err()
                .map(|e| e.close_code()),
            Some(1007)
        );
        let long = "é".repeat(100);
        let p = close_payload(1000, &long);
        assert!(p.len() <= 125);
        assert!(parse_close_payload(&p).is_ok());
    }
}
