//! Fuzz targets: every parser that reads bytes a peer or a user controls,
//! each as a plain function of the input.
//!
//! The functions never fail on bad input (that is what they test): a target
//! only panics when the code under test panics or breaks an invariant it
//! promises (a parser claiming to have used more bytes than it was given).
//! `cargo xtask fuzz` runs them under AFL++ (`cargo afl`); the corpus replay
//! in `tests/corpus.rs` runs them on every committed input in `cargo test`.
//!
//! | target | what it reads |
//! |---|---|
//! | `wire_server` | a client's frames, as the server's [`Decoder`] sees them |
//! | `wire_client` | a server's frames, as a client's [`Decoder`] sees them |
//! | `handshake_request` | an opening handshake request ([`parse_request`]) |
//! | `handshake_response` | a handshake response ([`parse_response`], [`validate_response`]) |
//! | `frame_reader` | a server's bytes through [`FrameReader`] and [`MessageAssembler`] |
//! | `scenario` | a scenario file's YAML ([`parse_scenario`], then the plan) |
//! | `decode` | `wsconform decode`'s input: hex text, then the annotated frames |

use std::time::Duration;

use wsconform_runner::decode::explain_bytes;
use wsconform_runner::hex::parse_hex;
use wsconform_runner::load::parse_scenario;
use wsconform_runner::plan::{PlanSettings, Profile, plan};
use wsconform_wire::{
    Decoder, FrameReader, Limits, MessageAssembler, Role, parse_request, parse_response,
    validate_response,
};

/// Small limits, so a fuzzed length claim cannot make a run slow.
const LIMITS: Limits = Limits {
    max_frame_size: 64 * 1024,
    max_message_size: 256 * 1024,
};

/// A fuzz target: runs the code under test on one input.
pub type Target = fn(&[u8]);

/// Every target, by the name `cargo xtask fuzz --target` takes.
pub const TARGETS: &[(&str, Target)] = &[
    ("wire_server", wire_server),
    ("wire_client", wire_client),
    ("handshake_request", handshake_request),
    ("handshake_response", handshake_response),
    ("frame_reader", frame_reader),
    ("scenario", scenario),
    ("decode", decode),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// The first byte says how the rest arrives (pieces of 1 to 64 bytes), so
/// the fuzzer explores the streaming states as well as the bytes.
fn pieces(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((first, rest)) => (usize::from(first % 64) + 1, rest),
        None => (1, data),
    }
}

fn decoder(role: Role, data: &[u8]) {
    let (size, stream) = pieces(data);
    let mut decoder = Decoder::new(role, LIMITS);
    for piece in stream.chunks(size) {
        let mut rest = piece;
        loop {
            match decoder.decode(rest) {
                Err(_) => return,
                Ok((used, event)) => {
                    assert!(
                        used <= rest.len(),
                        "the decoder used more than it was given"
                    );
                    rest = rest.get(used..).unwrap_or_default();
                    if used == 0 && event.is_none() {
                        break;
                    }
                }
            }
        }
    }
}

/// A client's frames, read by a server.
pub fn wire_server(data: &[u8]) {
    decoder(Role::Server, data);
}

/// A server's frames, read by a client.
pub fn wire_client(data: &[u8]) {
    decoder(Role::Client, data);
}

/// An opening handshake request.
pub fn handshake_request(data: &[u8]) {
    if let Ok(Some((request, used))) = parse_request(data, 8192) {
        assert!(used <= data.len());
        let _ = wsconform_wire::accept_response(&request);
    }
}

/// A server's handshake response, checked against the RFC's sample key.
pub fn handshake_response(data: &[u8]) {
    if let Ok(Some((response, used))) = parse_response(data, 16 * 1024) {
        assert!(used <= data.len());
        let _ = validate_response(&response, "dGhlIHNhbXBsZSBub25jZQ==");
    }
}

/// A server's bytes as the runner reads them: frames, then messages.
pub fn frame_reader(data: &[u8]) {
    let (size, stream) = pieces(data);
    let mut frames = FrameReader::new(Role::Client, LIMITS);
    let mut messages = MessageAssembler::new(LIMITS);
    for piece in stream.chunks(size) {
        frames.push(piece);
        loop {
            match frames.next_frame() {
                Ok(Some(frame)) => {
                    let _ = frame.payload();
                    if messages.push(&frame).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = e.byte_in_frame();
                    return;
                }
            }
        }
    }
}

/// A scenario file: loaded, and when it loads, planned.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(loaded) = parse_scenario("scenarios/02-frames/fuzz.yaml", text) else {
        return;
    };
    let Ok(target) = wsconform_runner::plan::Target::parse("ws://127.0.0.1:9/echo") else {
        return;
    };
    for profile in [Profile::Echo, Profile::Chat] {
        let settings = PlanSettings {
            target: target.clone(),
            profile,
            timeout: Duration::from_secs(1),
            run_id: 1,
        };
        let _ = plan(&loaded, &settings);
    }
}

/// `wsconform decode`: hex text when it is text, and the raw bytes too.
pub fn decode(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(bytes) = parse_hex(text)
    {
        let _ = explain_bytes(&bytes);
    }
    let _ = explain_bytes(data);
}
