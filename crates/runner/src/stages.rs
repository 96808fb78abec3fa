//! The staging rule: a scenario of chapter N needs only what chapters 1..=N
//! teach, so a server built up to chapter N can pass it.
//!
//! [`STAGES`] says which chapter teaches each thing a scenario can make a
//! server do; [`check_staging`] finds every step that needs a later chapter
//! than the scenario's own. `wsconform check` (and so CI) runs it.
//!
//! Two chapters share the work of masking: the frames chapter teaches
//! *unmasking* (every client frame is masked, from the first echo on), the
//! masking chapter the *rules* (an unmasked frame, RSV bits without an
//! extension: fail the connection).

use wsconform_wire::{FrameHeader, LengthForm, OpCode, split_frames};

use crate::chapter;
use crate::load::LoadedScenario;
use crate::payload::payload_len;
use crate::scenario::{
    Action, ExpectKind, FrameSpec, LengthSpec, MaskSpec, OpcodeSpec, ProfileNeed, SendKind,
    SendSpec, Step,
};

/// Something a scenario can make a server do, taught by one chapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// Any frame after the handshake (a handshake-only server reads and
    /// ignores everything until the client hangs up).
    Frames,
    /// A payload length in the 16-bit form (126..=65535 bytes, or forced).
    Length16,
    /// A payload length in the 64-bit form.
    Length64,
    /// A frame with an RSV bit set, which a server must refuse.
    RsvBits,
    /// An unmasked client frame, which a server must refuse.
    Unmasked,
    /// A message in fragments: FIN=0 or a continuation frame.
    Fragments,
    /// A ping, or an expected pong.
    Ping,
    /// An unsolicited pong.
    Pong,
    /// A close frame from the client.
    CloseFrame,
    /// A close frame expected from the server.
    CloseExpected,
    /// More than one client.
    SeveralClients,
    /// A `flood` step: many clients at once.
    Flood,
    /// The chat profile: messages broadcast to a room.
    ChatProfile,
}

/// Which chapter teaches each feature, with the words `check` uses for it.
pub const STAGES: &[(Feature, &str, &str)] = &[
    (Feature::Frames, "frames", "a data frame"),
    (Feature::Length16, "lengths", "a 16-bit payload length"),
    (Feature::Length64, "lengths", "a 64-bit payload length"),
    (Feature::RsvBits, "masking", "RSV bits"),
    (Feature::Unmasked, "masking", "an unmasked frame"),
    (
        Feature::Fragments,
        "fragmentation",
        "a fragment (FIN=0 or a continuation frame)",
    ),
    (Feature::Ping, "ping-pong", "a ping or a pong expected"),
    (Feature::Pong, "ping-pong", "an unsolicited pong"),
    (Feature::CloseFrame, "closing", "a close frame"),
    (
        Feature::CloseExpected,
        "closing",
        "a close frame expected from the server",
    ),
    (Feature::SeveralClients, "concurrency", "a second client"),
    (Feature::Flood, "concurrency", "a flood of clients"),
    (Feature::ChatProfile, "chat", "the chat profile"),
];

/// The chapter that teaches `feature` and how `check` names it.
pub fn stage(feature: Feature) -> (&'static str, &'static str) {
    STAGES
        .iter()
        .find(|(f, _, _)| *f == feature)
        .map_or(("", ""), |(_, chapter, what)| (*chapter, *what))
}

/// A step that needs a chapter after the scenario's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooEarly {
    /// The step, counted from 1; 0 for the scenario as a whole.
    pub step: usize,
    /// What the step uses.
    pub feature: Feature,
    /// The chapter that teaches it.
    pub chapter: &'static str,
}

impl std::fmt::Display for TooEarly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (_, what) = stage(self.feature);
        if self.step == 0 {
            write!(f, "uses {what}")?;
        } else {
            write!(f, "step {} uses {what}", self.step)?;
        }
        write!(
            f,
            ", which the {} chapter teaches: move the scenario there or do without it",
            self.chapter
        )
    }
}

/// Every step of `s` that needs a chapter after its own. A scenario in a
/// folder the course does not know is not checked.
pub fn check_staging(s: &LoadedScenario) -> Vec<TooEarly> {
    let Some(own) = chapter::rank(&s.chapter) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut note = |step: usize, feature: Feature| {
        let (taught_in, _) = stage(feature);
        if chapter::rank(taught_in).is_some_and(|rank| rank > own)
            && !found
                .iter()
                .any(|t: &TooEarly| t.step == step && t.feature == feature)
        {
            found.push(TooEarly {
                step,
                feature,
                chapter: taught_in,
            });
        }
    };
    let sc = &s.scenario;
    if sc.profile == ProfileNeed::Chat {
        note(0, Feature::ChatProfile);
    }
    let mut clients: Vec<&str> = Vec::new();
    for (i, step) in sc.steps.iter().enumerate() {
        let client = step.client.as_deref().unwrap_or("client");
        if !clients.contains(&client) {
            clients.push(client);
        }
        if clients.len() > 1 {
            note(i + 1, Feature::SeveralClients);
        }
        for feature in step_features(step) {
            note(i + 1, feature);
        }
    }
    for (step, feature) in raw_features(&sc.steps) {
        note(step, feature);
    }
    found.sort_by_key(|t| t.step);
    found
}

/// What one step needs, except its raw bytes (see [`raw_features`]).
fn step_features(step: &Step) -> Vec<Feature> {
    let mut out = Vec::new();
    match &step.action {
        Action::Handshake(h) => {
            if let Some(then) = &h.then {
                send_features(then, &mut out);
            }
        }
        Action::Send(send) => send_features(send, &mut out),
        Action::Frame(frame) => frame_features(frame, &mut out),
        Action::Raw(_) => out.push(Feature::Frames),
        Action::Expect(e) => match &e.kind {
            ExpectKind::Echo(_) | ExpectKind::Message { .. } | ExpectKind::Frame { .. } => {
                out.push(Feature::Frames)
            }
            ExpectKind::Pong(_) => out.push(Feature::Ping),
            ExpectKind::Close(_) => out.push(Feature::CloseExpected),
            _ => {}
        },
        Action::Flood(_) => out.extend([Feature::Frames, Feature::Flood]),
        Action::Pause(_) | Action::Disconnect => {}
    }
    out
}

fn length_features(len: usize, form: LengthSpec, out: &mut Vec<Feature>) {
    match form {
        LengthSpec::Bits16 => out.push(Feature::Length16),
        LengthSpec::Bits64 => out.push(Feature::Length64),
        LengthSpec::Minimal | LengthSpec::Bits7 => {}
    }
    if len > 65535 {
        out.push(Feature::Length64);
    } else if len > 125 {
        out.push(Feature::Length16);
    }
}

fn control_feature(kind: &SendKind) -> Option<Feature> {
    match kind {
        SendKind::Ping(_) => Some(Feature::Ping),
        SendKind::Pong(_) => Some(Feature::Pong),
        SendKind::Close(_) => Some(Feature::CloseFrame),
        SendKind::Text(_) | SendKind::Binary(_) => None,
    }
}

fn send_features(send: &SendSpec, out: &mut Vec<Feature>) {
    out.push(Feature::Frames);
    out.extend(control_feature(&send.kind));
    out.extend(send.between.iter().filter_map(control_feature));
    let total = match &send.kind {
        SendKind::Text(p) | SendKind::Binary(p) | SendKind::Ping(p) | SendKind::Pong(p) => {
            payload_len(p)
        }
        SendKind::Close(_) => 0,
    };
    if send.fragments.is_empty() {
        length_features(total, send.length, out);
    } else {
        out.push(Feature::Fragments);
        let listed: usize = send.fragments.iter().sum();
        for size in send
            .fragments
            .iter()
            .copied()
            .chain([total.saturating_sub(listed)])
        {
            length_features(size, send.length, out);
        }
    }
    if send.rsv != 0 {
        out.push(Feature::RsvBits);
    }
    if send.mask == MaskSpec::Unmasked {
        out.push(Feature::Unmasked);
    }
}

fn opcode_feature(opcode: OpcodeSpec, fin: bool) -> Option<Feature> {
    match opcode.0 {
        0 => Some(Feature::Fragments),
        8 => Some(Feature::CloseFrame),
        9 => Some(Feature::Ping),
        10 => Some(Feature::Pong),
        _ if !fin => Some(Feature::Fragments),
        _ => None,
    }
}

fn frame_features(frame: &FrameSpec, out: &mut Vec<Feature>) {
    out.push(Feature::Frames);
    out.extend(opcode_feature(frame.opcode, frame.fin));
    if !frame.fin && frame.opcode.0 >= 8 {
        out.push(Feature::Fragments);
    }
    let len = frame
        .claimed_len
        .map_or(payload_len(&frame.payload), |claimed| {
            usize::try_from(claimed).unwrap_or(usize::MAX)
        });
    length_features(len, frame.length, out);
    if frame.rsv != 0 {
        out.push(Feature::RsvBits);
    }
    if frame.mask == MaskSpec::Unmasked {
        out.push(Feature::Unmasked);
    }
}

/// One client's raw bytes, and where each raw step's bytes start:
/// (client, bytes, [(offset, step)]).
type RawStream<'a> = (&'a str, Vec<u8>, Vec<(usize, usize)>);

/// What the frames in `raw` steps need. A client's raw steps are one byte
/// stream (a frame may start in one step and end in the next), so they are
/// cut into frames together; a frame counts for the step its header starts in.
fn raw_features(steps: &[Step]) -> Vec<(usize, Feature)> {
    let mut streams: Vec<RawStream> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let Action::Raw(raw) = &step.action else {
            continue;
        };
        let client = step.client.as_deref().unwrap_or("client");
        let at = match streams.iter().position(|(c, _, _)| *c == client) {
            Some(at) => at,
            None => {
                streams.push((client, Vec::new(), Vec::new()));
                streams.len() - 1
            }
        };
        if let Some((_, bytes, starts)) = streams.get_mut(at) {
            starts.push((bytes.len(), i + 1));
            bytes.extend_from_slice(&raw.bytes.0);
        }
    }
    let mut out = Vec::new();
    for (_, bytes, starts) in &streams {
        for piece in split_frames(bytes) {
            let Some(header) = piece.header else {
                continue;
            };
            let step = starts
                .iter()
                .rev()
                .find(|(offset, _)| *offset <= piece.start)
                .map_or(0, |(_, step)| *step);
            for feature in header_features(&header, piece.form) {
                out.push((step, feature));
            }
        }
    }
    out
}

/// What a frame header on the wire needs.
fn header_features(header: &FrameHeader, form: Option<LengthForm>) -> Vec<Feature> {
    let mut out = vec![Feature::Frames];
    match header.opcode {
        OpCode::Continuation => out.push(Feature::Fragments),
        OpCode::Close => out.push(Feature::CloseFrame),
        OpCode::Ping => out.push(Feature::Ping),
        OpCode::Pong => out.push(Feature::Pong),
        _ if !header.fin => out.push(Feature::Fragments),
        _ => {}
    }
    if header.opcode.is_control() && !header.fin {
        out.push(Feature::Fragments);
    }
    match form {
        Some(LengthForm::Bits16) => out.push(Feature::Length16),
        Some(LengthForm::Bits64) => out.push(Feature::Length64),
        _ => {}
    }
    if header.rsv1 || header.rsv2 || header.rsv3 {
        out.push(Feature::RsvBits);
    }
    if header.mask.is_none() {
        out.push(Feature::Unmasked);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{bundled, parse_scenario};

    fn too_early(folder: &str, steps: &str) -> Vec<String> {
        let yaml = format!("id: a.b\ntitle: t\nsteps:\n{steps}");
        let s = parse_scenario(&format!("scenarios/{folder}/a.yaml"), &yaml)
            .unwrap_or_else(|e| panic!("{e}"));
        check_staging(&s).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_feature_has_a_chapter_of_the_main_chain() {
        for (feature, name, _) in STAGES {
            let chapter = chapter::find(name).map(|(_, c)| c);
            assert!(
                chapter.is_some_and(|c| !c.optional),
                "{feature:?}: {name} is not a main-chain chapter"
            );
        }
    }

    #[test]
    fn a_handshake_scenario_ends_by_hanging_up() {
        assert!(
            too_early(
                "01-handshake",
                "  - handshake\n  - expect: accepted\n  - disconnect\n"
            )
            .is_empty()
        );
        let p = too_early(
            "01-handshake",
            "  - handshake\n  - expect: accepted\n  - send: { close: 1000 }\n  - expect: { close: [1000] }\n",
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p[0].starts_with("step 3 uses a data frame, which the frames chapter"),
            "{p:?}"
        );
        assert!(
            p[1].contains("step 3 uses a close frame, which the closing chapter"),
            "{p:?}"
        );
        assert!(p[2].contains("step 4 uses a close frame expected"), "{p:?}");
        let p = too_early("01-handshake", "  - handshake: { then: { text: hi } }\n");
        assert!(p[0].contains("frames chapter"), "{p:?}");
    }

    #[test]
    fn lengths_fragments_and_control_frames_wait_for_their_chapters() {
        let p = too_early("02-frames", "  - send: { binary: { len: 126 } }\n");
        assert!(
            p[0].contains("16-bit payload length, which the lengths"),
            "{p:?}"
        );
        let p = too_early("02-frames", "  - send: { binary: { len: 65536 } }\n");
        assert!(p[0].contains("64-bit"), "{p:?}");
        let p = too_early("02-frames", "  - send: { text: hi, length: 16 }\n");
        assert!(p[0].contains("16-bit"), "{p:?}");
        assert!(too_early("03-lengths", "  - send: { binary: { len: 65536 } }\n").is_empty());
        let p = too_early("04-masking", "  - send: { text: abcdef, fragments: [3] }\n");
        assert!(p[0].contains("fragmentation chapter"), "{p:?}");
        let p = too_early(
            "05-text-utf8",
            "  - frame: { opcode: continuation, payload: x }\n",
        );
        assert!(p[0].contains("fragmentation chapter"), "{p:?}");
        let p = too_early(
            "06-fragmentation",
            "  - send: { text: ab, fragments: [1], between: [{ ping: x }] }\n",
        );
        assert!(p[0].contains("ping-pong chapter"), "{p:?}");
        let p = too_early("02-frames", "  - send: { text: hi, rsv: 4 }\n");
        assert!(p[0].contains("RSV bits, which the masking"), "{p:?}");
        let p = too_early("02-frames", "  - send: { text: hi, mask: false }\n");
        assert!(p[0].contains("unmasked frame, which the masking"), "{p:?}");
        assert!(
            too_early(
                "07-ping-pong",
                "  - send: { ping: x }\n  - expect: { pong: last }\n"
            )
            .is_empty()
        );
        let p = too_early("07-ping-pong", "  - send: { close: 1000 }\n");
        assert!(p[0].contains("closing chapter"), "{p:?}");
    }

    #[test]
    fn raw_bytes_are_read_as_frames_across_steps() {
        // A text frame, then a close frame whose header starts in step 2.
        let p = too_early(
            "07-ping-pong",
            "  - raw: \"81 82 00000000 6869 88\"\n  - raw: \"80 00000000\"\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("step 1 uses a close frame"), "{p:?}");
        let p = too_early("02-frames", "  - raw: \"8a 80 37fa213d\"\n");
        assert!(p[0].contains("unsolicited pong"), "{p:?}");
        let p = too_early("02-frames", "  - raw: \"81 02 6869\"\n");
        assert!(p[0].contains("unmasked frame"), "{p:?}");
    }

    #[test]
    fn clients_flood_and_chat_wait_for_theirs() {
        let p = too_early(
            "08-closing",
            "  - as: alice\n    send: { text: hi }\n  - as: bob\n    send: { text: hi }\n",
        );
        assert!(
            p[0].starts_with("step 2 uses a second client, which the concurrency"),
            "{p:?}"
        );
        let p = too_early("08-closing", "  - flood: { clients: 2, messages: 2 }\n");
        assert!(p[0].contains("flood"), "{p:?}");
        let yaml = "id: a.b\ntitle: t\nprofile: chat\nsteps:\n  - send: { text: hi }\n";
        let s = parse_scenario("scenarios/09-concurrency/a.yaml", yaml)
            .unwrap_or_else(|e| panic!("{e}"));
        let p: Vec<String> = check_staging(&s).iter().map(ToString::to_string).collect();
        assert!(
            p[0].starts_with("uses the chat profile, which the chat chapter"),
            "{p:?}"
        );
        assert!(too_early("my-own", "  - send: { close: 1000 }\n").is_empty());
    }

    #[test]
    fn the_bundled_suite_is_staged() {
        let suite = bundled().unwrap_or_default();
        assert!(suite.len() > 300);
        let problems: Vec<String> = suite
            .iter()
            .flat_map(|s| {
                check_staging(s)
                    .into_iter()
                    .map(move |t| format!("{}: {t}", s.path))
            })
            .collect();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
