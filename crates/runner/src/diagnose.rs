//! Known bugs recognised from what a failing run recorded.
//!
//! The judge says what was expected and what came; a learner still has to
//! guess why. Some classic bugs leave a fingerprint that only they leave: an
//! accept value of 56 characters, a length whose two bytes are swapped, an
//! echo right for its first four bytes only. Each rule here is a small pure
//! function of the recorded bytes and events with its own unit test; a rule
//! that matches adds one sentence ("Likely cause: …") to the failure.
//!
//! | rule | fingerprint |
//! |---|---|
//! | [`hex_digest_accept`] | the accept value is base64 of the SHA-1 digest written in hex |
//! | [`little_endian_length`] | a length equals the real one with its bytes swapped |
//! | [`mask_offset`] | an echo right for its first 4 bytes only, or off by the header length |
//! | [`one_frame_per_read`] | the second frame of one write gets no answer |
//! | [`handshake_waits_for_more`] | the handshake is answered only when a frame follows it |
//!
//! [`across_run`] then drops what the whole run contradicts: a server that
//! answers nothing at all is silent, whatever lengths it was sent.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};
use wsconform_wire::{FramePiece, LengthForm, OpCode, WEBSOCKET_GUID, split_frames};

use crate::transcript::{Direction, Event, LineKind, Transcript};
use crate::verdict::ScenarioResult;

/// What the detectors add to a failed result: one sentence per rule that
/// matched, in the order of the table above.
pub fn diagnose(result: &ScenarioResult) -> Vec<String> {
    let Some(failure) = &result.failure else {
        return Vec::new();
    };
    let t = &result.transcript;
    let client = failure.client.as_str();
    let mut found = Vec::new();
    if let Some((key, accept)) = key_and_accept(t, client) {
        found.extend(hex_digest_accept(&key, &accept));
    }
    let sent = sent_frames(t, client);
    let last_data = sent.iter().rev().find(|f| is_data(f));
    let received = received_messages(t, client);
    if let Some(sent) = last_data {
        let announced = failure
            .caret
            .and_then(|c| t.lines.get(c.line))
            .filter(|l| l.kind == LineKind::Received)
            .and_then(|l| split_frames(&l.bytes).into_iter().next())
            .and_then(|p| p.header.map(|h| h.payload_len));
        let echoed = received.last().map(|m| m.len() as u64);
        let silent = failure.actual.starts_with("nothing") && received.is_empty();
        found.extend(little_endian_length(sent, announced, echoed, silent));
        if let Some(echo) = received.last() {
            found.extend(mask_offset(sent, echo));
        }
    }
    if failure.actual.starts_with("nothing") {
        found.extend(one_frame_per_read(t, client));
    }
    found
}

/// Rule: the server computed the accept value as base64 of the *hex text*
/// of the SHA-1 digest (40 characters, 56 in base64) instead of the 20
/// digest bytes (28 in base64).
pub fn hex_digest_accept(key: &str, accept: &str) -> Option<String> {
    if accept.len() != 56 {
        return None;
    }
    let digest = Sha1::new()
        .chain_update(key.as_bytes())
        .chain_update(WEBSOCKET_GUID.as_bytes())
        .finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let matches = [hex.clone(), hex.to_uppercase()]
        .iter()
        .any(|h| BASE64.encode(h.as_bytes()) == accept);
    matches.then(|| {
        "the accept value is 56 characters long: it is base64 of the SHA-1 digest written \
         as 40 hex characters. Encode the 20 bytes of the digest itself (28 characters)."
            .to_string()
    })
}

/// How the finding of a server silent after a 16-bit length starts: it
/// only holds for a server that answers other frames.
const QUIET_AFTER_16BIT: &str = "the server went quiet after a frame whose 16-bit length";

/// Drops the findings a whole run contradicts: a server that sent no data
/// message in the whole run is silent, not reading lengths little-endian.
pub fn across_run(results: &mut [ScenarioResult]) {
    let answers = results.iter().any(|r| {
        r.transcript
            .events
            .iter()
            .any(|e| matches!(e.event, Event::Message { .. }))
    });
    if !answers {
        for r in results {
            r.diagnosis.retain(|d| !d.starts_with(QUIET_AFTER_16BIT));
        }
    }
}

/// Rule: a length the server announced or echoed equals the length the
/// runner sent with its two bytes swapped (the 16-bit form read or written
/// little-endian); or the server fell silent after a 16-bit length that,
/// read little-endian, asks for more bytes than were sent.
pub fn little_endian_length(
    sent: &FramePiece,
    announced: Option<u64>,
    echoed: Option<u64>,
    silent: bool,
) -> Option<String> {
    let len = sent.header?.payload_len;
    if sent.form != Some(LengthForm::Bits16) {
        return None;
    }
    let real = u16::try_from(len).ok()?;
    let swapped = u64::from(real.swap_bytes());
    if swapped == len {
        return None;
    }
    let [hi, lo] = real.to_be_bytes();
    if announced == Some(swapped) {
        return Some(format!(
            "the echo announces {swapped} bytes for a {len}-byte message: that is {len} \
             ({hi:02x} {lo:02x}) with its two bytes swapped. The 16-bit length is written \
             little-endian; RFC 6455 5.2 wants network byte order, most significant byte first."
        ));
    }
    if echoed == Some(swapped) {
        return Some(format!(
            "{} came back for a {len}-byte message: {len} is {hi:02x} {lo:02x}, \
             read little-endian that is {swapped}. The 16-bit length is read little-endian; \
             RFC 6455 5.2 wants network byte order, most significant byte first.",
            crate::wording::count(swapped, "byte")
        ));
    }
    (silent && swapped > len).then(|| {
        format!(
            "{QUIET_AFTER_16BIT} is {len} ({hi:02x} {lo:02x}), while it answers other frames. \
             Read little-endian, that is {swapped}: a server reading it so waits for bytes that \
             never come. Read the length most significant byte first."
        )
    })
}

/// Rule: an echo of the right length whose first 4 bytes are right and the
/// rest wrong, or which is the payload unmasked with the key shifted by the
/// header's length (the mask index counted from the frame's first byte).
pub fn mask_offset(sent: &FramePiece, echo: &[u8]) -> Option<String> {
    let h = sent.header?;
    let key = h.mask?;
    let payload = &sent.payload;
    if echo.len() != payload.len() || echo == payload.as_slice() || payload.len() <= 4 {
        return None;
    }
    if echo.get(..4) == payload.get(..4) {
        return Some(
            "only the first 4 bytes of the echo are right: the masking key is applied \
             correctly to bytes 0-3 only. Unmask byte i with key[i % 4] for every i."
                .to_string(),
        );
    }
    let k = |j: usize| key.get(j % 4).copied().unwrap_or(0);
    let shifted = |shift: usize| {
        payload
            .iter()
            .zip(echo)
            .enumerate()
            .all(|(i, (p, e))| *e == p ^ k(i) ^ k(i + shift))
    };
    let shift = sent.header_len % 4;
    (shift != 0 && shifted(shift)).then(|| {
        format!(
            "the echo is the payload unmasked with the key shifted by {shift}: the mask index \
             counts from the frame's first byte, not the payload's ({} header bytes). Unmask \
             payload byte i with key[i % 4], i counted from the first payload byte.",
            sent.header_len
        )
    })
}

/// Rule: one write held two or more whole frames; something came back for
/// the first of them and nothing for the rest.
pub fn one_frame_per_read(t: &Transcript, client: &str) -> Option<String> {
    let write = t.io.iter().rev().find(|c| {
        c.client == client
            && c.direction == Direction::Sent
            && whole_frames(&c.bytes) >= 2
            && !looks_like_http(&c.bytes)
    })?;
    let frames = whole_frames(&write.bytes);
    let answers = t
        .events
        .iter()
        .filter(|e| e.client == client && e.at >= write.at)
        .filter(|e| {
            matches!(
                e.event,
                Event::Message { .. } | Event::Pong(_) | Event::Close { .. } | Event::Frame { .. }
            )
        })
        .count();
    (answers >= 1 && answers < frames).then(|| {
        format!(
            "{frames} frames went out in one TCP write and only the first was answered: the \
             server handles one frame per read and drops the bytes after it. Keep what a read \
             returns in a buffer and take frames from it until it is empty before reading again."
        )
    })
}

/// Rule (across two connections): the default handshake got no answer, and
/// the same request with a frame right behind it in one write was answered.
/// The server reads more than the request head before it answers.
pub fn handshake_waits_for_more(
    preflight: &ScenarioResult,
    probe: &ScenarioResult,
) -> Option<String> {
    let unanswered = preflight
        .failure
        .as_ref()
        .is_some_and(|f| f.actual.starts_with("no handshake response"));
    let answered = probe
        .transcript
        .lines
        .iter()
        .any(|l| l.kind == LineKind::Received && l.text.starts_with("HTTP/1.1 101"));
    (unanswered && answered).then(|| {
        "the handshake was answered only when a frame followed the request in the same \
         write: the server waits for more data than the request head (a fixed-size read, or \
         a read that must fill its buffer). Answer as soon as the empty line (\\r\\n\\r\\n) \
         ends the head."
            .to_string()
    })
}

fn is_data(piece: &FramePiece) -> bool {
    piece.complete
        && piece
            .header
            .is_some_and(|h| matches!(h.opcode, OpCode::Text | OpCode::Binary))
}

fn looks_like_http(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(u8::is_ascii_uppercase) && bytes.windows(4).any(|w| w == b"\r\n\r\n")
}

fn whole_frames(bytes: &[u8]) -> usize {
    split_frames(bytes).iter().filter(|p| p.complete).count()
}

/// Every frame the runner wrote on `client`'s connection, unmasked, the
/// handshake request left out.
fn sent_frames(t: &Transcript, client: &str) -> Vec<FramePiece> {
    let mut bytes: Vec<u8> = Vec::new();
    for chunk in
        t.io.iter()
            .filter(|c| c.client == client && c.direction == Direction::Sent)
    {
        bytes.extend_from_slice(&chunk.bytes);
    }
    let start = if looks_like_http(&bytes) {
        bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(bytes.len(), |p| p + 4)
    } else {
        0
    };
    split_frames(bytes.get(start..).unwrap_or_default())
}

fn received_messages<'t>(t: &'t Transcript, client: &str) -> Vec<&'t [u8]> {
    t.events
        .iter()
        .filter(|e| e.client == client)
        .filter_map(|e| match &e.event {
            Event::Message { bytes, .. } => Some(bytes.as_slice()),
            _ => None,
        })
        .collect()
}

/// The `Sec-WebSocket-Key` the runner sent and the `Sec-WebSocket-Accept`
/// that came back on `client`'s connection.
fn key_and_accept(t: &Transcript, client: &str) -> Option<(String, String)> {
    let header = |kind: LineKind, name: &str| {
        t.lines
            .iter()
            .filter(|l| l.client == client && l.kind == kind)
            .flat_map(|l| l.head.iter())
            .find_map(|h| {
                let (n, v) = h.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
    };
    Some((
        header(LineKind::Sent, "Sec-WebSocket-Key")?,
        header(LineKind::Received, "Sec-WebSocket-Accept")?,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use wsconform_wire::encode_frame;

    use super::*;
    use crate::scenario::DataKind;

    fn masked(payload: &[u8]) -> FramePiece {
        let mut bytes = Vec::new();
        encode_frame(&mut bytes, true, OpCode::Text, Some([1, 2, 3, 4]), payload);
        split_frames(&bytes).remove(0)
    }

    #[test]
    fn a_hex_digest_accept_is_recognised() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        // SHA-1 of the key and GUID is b37a4f2c…; its hex text in base64:
        let digest = Sha1::new()
            .chain_update(key)
            .chain_update(WEBSOCKET_GUID)
            .finalize();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let wrong = BASE64.encode(hex);
        assert_eq!(wrong.len(), 56);
        assert!(hex_digest_accept(key, &wrong).is_some());
        assert!(hex_digest_accept(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=").is_none());
        assert!(hex_digest_accept("another key", &wrong).is_none());
    }

    #[test]
    fn swapped_length_bytes_mean_little_endian() {
        let sent = masked(&[b'*'; 300]);
        let written = little_endian_length(&sent, Some(0x2c01), None, false);
        assert!(written.is_some_and(|t| t.contains("written little-endian")));
        let read = masked(&[b'*'; 256]);
        let read_le = little_endian_length(&read, None, Some(1), false);
        assert!(read_le.is_some_and(|t| t.contains("read little-endian")));
        assert!(little_endian_length(&sent, None, None, true).is_some());
        assert!(little_endian_length(&sent, Some(300), Some(300), false).is_none());
        // A 7-bit length has no byte order.
        assert!(little_endian_length(&masked(b"Hello"), Some(5), None, true).is_none());
    }

    #[test]
    fn a_server_that_answers_nothing_is_silent_not_little_endian() {
        let loaded =
            crate::load::parse_scenario("x.yaml", "id: x.y\ntitle: T\nsteps:\n  - handshake\n")
                .unwrap();
        let sent = masked(&[b'*'; 126]);
        let quiet = little_endian_length(&sent, None, None, true).unwrap();
        let mut silent = ScenarioResult::for_scenario(&loaded, crate::verdict::Outcome::Fail);
        silent.diagnosis = vec![quiet.clone(), "another finding".into()];
        let mut alone = [silent.clone()];
        across_run(&mut alone);
        assert_eq!(alone[0].diagnosis, ["another finding"]);
        let mut answered = ScenarioResult::for_scenario(&loaded, crate::verdict::Outcome::Pass);
        let echo = Event::Message {
            kind: DataKind::Text,
            bytes: b"Hi".to_vec(),
        };
        answered.transcript.event(Duration::ZERO, "client", &echo);
        let mut run = [silent, answered];
        across_run(&mut run);
        assert_eq!(run[0].diagnosis.len(), 2);
    }

    #[test]
    fn an_echo_right_for_four_bytes_is_a_mask_offset_bug() {
        let sent = masked(b"Hello, world");
        let mut echo = b"Hello, world".to_vec();
        echo[5] ^= 0x55;
        assert!(mask_offset(&sent, &echo).is_some_and(|t| t.contains("first 4 bytes")));
        assert!(mask_offset(&sent, b"Hello, world").is_none());
        assert!(mask_offset(&sent, b"short").is_none());
    }

    #[test]
    fn an_echo_unmasked_from_the_frame_start_is_off_by_the_header() {
        // 2-byte header + 4-byte key: the index is off by 6, 2 modulo 4.
        let sent = masked(b"Hello, world");
        assert_eq!(sent.header_len, 6);
        let key = [1u8, 2, 3, 4];
        let echo: Vec<u8> = sent
            .payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4] ^ key[(i + 6) % 4])
            .collect();
        let found = mask_offset(&sent, &echo);
        assert!(found.is_some_and(|t| t.contains("shifted by 2")));
    }

    fn transcript_with_write(frames: usize, answers: usize) -> Transcript {
        let mut t = Transcript::default();
        let mut write = Vec::new();
        for _ in 0..frames {
            encode_frame(&mut write, true, OpCode::Text, Some([9, 9, 9, 9]), b"Hi");
        }
        t.io(Duration::ZERO, "client", Direction::Sent, &write);
        for _ in 0..answers {
            let event = Event::Message {
                kind: DataKind::Text,
                bytes: b"Hi".to_vec(),
            };
            t.event(Duration::from_millis(1), "client", &event);
        }
        t
    }

    #[test]
    fn the_second_frame_of_a_write_unanswered_means_one_frame_per_read() {
        assert!(one_frame_per_read(&transcript_with_write(2, 1), "client").is_some());
        assert!(one_frame_per_read(&transcript_with_write(2, 2), "client").is_none());
        assert!(one_frame_per_read(&transcript_with_write(2, 0), "client").is_none());
        assert!(one_frame_per_read(&transcript_with_write(1, 0), "client").is_none());
    }

    #[test]
    fn a_handshake_answered_only_with_a_frame_behind_it_waits_for_more() {
        use crate::verdict::{Failure, Outcome};
        let loaded =
            crate::load::parse_scenario("x.yaml", "id: x.y\ntitle: T\nsteps:\n  - handshake\n")
                .unwrap();
        let mut preflight = ScenarioResult::for_scenario(&loaded, Outcome::Fail);
        preflight.failure = Some(Failure {
            step: Some(0),
            client: "client".into(),
            expected: "a valid 101 Switching Protocols response".into(),
            actual: "no handshake response: timed out after 2 s waiting for it".into(),
            rule: None,
            caret: None,
            prerequisite: true,
            strength: crate::scenario::Strength::Must,
            reason: None,
        });
        let mut probe = ScenarioResult::for_scenario(&loaded, Outcome::Pass);
        probe.transcript.http(
            Duration::ZERO,
            "client",
            LineKind::Received,
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        );
        assert!(handshake_waits_for_more(&preflight, &probe).is_some());
        let silent = ScenarioResult::for_scenario(&loaded, Outcome::Fail);
        assert!(handshake_waits_for_more(&preflight, &silent).is_none());
    }
}
