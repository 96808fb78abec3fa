//! The optional part of the client contract: the closing handshake started
//! by the client (`rfc/profiles.txt`, `client-close`).
//!
//! A client under test echoes every message; one that takes on this part
//! answers the text message [`TRIGGER`] with a close frame (code 1000)
//! instead, then waits for the server's close and for the server to close
//! TCP. The scenarios that send the trigger are skipped for a client that
//! echoes it back (it has not taken the part on), the way the compression
//! chapter skips a server that declines permessage-deflate; the CLI's
//! `--require client-close` turns those skips into failures
//! ([`require_client_close`]).

use wsconform_wire::{FrameHeader, OpCode};

use crate::verdict::{Outcome, ScenarioResult};

/// The text message that asks a client to start the closing handshake.
pub const TRIGGER: &str = "wsconform:close";

/// The start of a skip's message when a client echoed [`TRIGGER`].
pub const DECLINED: &str = "the client echoed wsconform:close";

/// The whole message of such a skip.
pub fn declined() -> String {
    format!(
        "{DECLINED}: it does not start the closing handshake on request (the optional \
         client-close part of the contract); these scenarios apply to clients that do \
         (--require client-close fails it instead)"
    )
}

/// Whether `bytes` (frames as the server sends them, unmasked) are the
/// trigger: one final text frame carrying exactly [`TRIGGER`].
pub fn is_trigger(bytes: &[u8]) -> bool {
    let Some((header, header_len)) = FrameHeader::parse(bytes) else {
        return false;
    };
    header.fin
        && header.opcode == OpCode::Text
        && header.mask.is_none()
        && bytes.get(header_len..) == Some(TRIGGER.as_bytes())
}

/// `--require client-close`: a client that echoed the trigger fails the
/// scenarios that need the client-initiated close, instead of skipping them.
pub fn require_client_close(results: &mut [ScenarioResult]) {
    for result in results {
        if result.outcome == Outcome::Skip && result.message.starts_with(DECLINED) {
            result.outcome = Outcome::Fail;
            result.message = format!(
                "{DECLINED} instead of closing, and --require client-close requires the client-initiated close"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsconform_wire::encode_frame;

    #[test]
    fn only_one_final_unmasked_text_frame_with_the_exact_text_is_the_trigger() {
        let frame = |fin, opcode, mask, payload: &[u8]| {
            let mut out = Vec::new();
            encode_frame(&mut out, fin, opcode, mask, payload);
            out
        };
        assert!(is_trigger(&frame(
            true,
            OpCode::Text,
            None,
            b"wsconform:close"
        )));
        assert!(!is_trigger(&frame(
            true,
            OpCode::Binary,
            None,
            b"wsconform:close"
        )));
        assert!(!is_trigger(&frame(
            false,
            OpCode::Text,
            None,
            b"wsconform:close"
        )));
        assert!(!is_trigger(&frame(
            true,
            OpCode::Text,
            Some([1, 2, 3, 4]),
            b"wsconform:close"
        )));
        assert!(!is_trigger(&frame(
            true,
            OpCode::Text,
            None,
            b"wsconform:closed"
        )));
        let mut two = frame(true, OpCode::Text, None, b"wsconform:close");
        two.extend(frame(true, OpCode::Text, None, b"x"));
        assert!(!is_trigger(&two));
        assert!(!is_trigger(&[0x81]));
    }

    #[test]
    fn require_client_close_turns_declined_skips_into_failures() {
        let loaded = crate::load::parse_scenario(
            "scenarios/13-client/x.yaml",
            "id: client.x\ntitle: t\nrole: client\nsteps:\n  - send: { text: \"wsconform:close\" }\n  - expect: { close: [1000] }\n",
        )
        .unwrap();
        let mut declined_one = ScenarioResult::for_scenario(&loaded, Outcome::Skip);
        declined_one.message = declined();
        let mut other_skip = ScenarioResult::for_scenario(&loaded, Outcome::Skip);
        other_skip.message = "needs the chat profile".into();
        let mut results = [declined_one, other_skip];
        require_client_close(&mut results);
        assert_eq!(results[0].outcome, Outcome::Fail);
        assert!(
            results[0].message.contains("--require client-close"),
            "{}",
            results[0].message
        );
        assert_eq!(results[1].outcome, Outcome::Skip);
    }
}
