//! `send` and `frame` steps: the bytes of the frames a client writes.
//!
//! `send` is what a client should do (masked, FIN set, minimal length) unless
//! told otherwise; `frame` is one frame with every field chosen, even ones
//! no client should choose.

use wsconform_wire::{FrameHeader, LengthForm, OpCode, close_payload};

use super::{ClientState, Op, PlanSettings, Profile, SentMessage};
use crate::chat::ChatMessage;
use crate::payload::{SplitMix, payload_bytes, stable_hash};
use crate::scenario::{
    CloseSpec, DataKind, FrameSpec, LengthSpec, MaskSpec, Payload, SendKind, SendSpec,
};

fn mask_key(spec: MaskSpec, masks: &mut SplitMix) -> Option<[u8; 4]> {
    match spec {
        MaskSpec::Unmasked => None,
        MaskSpec::Key(k) => Some(k),
        MaskSpec::Auto => Some(
            masks.next_u64().to_be_bytes()[..4]
                .try_into()
                .unwrap_or([1, 2, 3, 4]),
        ),
    }
}

fn length_form(spec: LengthSpec) -> LengthForm {
    match spec {
        LengthSpec::Minimal => LengthForm::Minimal,
        LengthSpec::Bits7 => LengthForm::Bits7,
        LengthSpec::Bits16 => LengthForm::Bits16,
        LengthSpec::Bits64 => LengthForm::Bits64,
    }
}

/// Appends one frame. The header may claim a length different from the payload.
#[allow(clippy::too_many_arguments)]
fn push_frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    form: LengthForm,
    claimed_len: Option<u64>,
    payload: &[u8],
) -> Result<(), String> {
    let header = FrameHeader {
        fin,
        rsv1: rsv & 4 != 0,
        rsv2: rsv & 2 != 0,
        rsv3: rsv & 1 != 0,
        opcode: OpCode::from_u8(opcode),
        mask,
        payload_len: claimed_len.unwrap_or(payload.len() as u64),
    };
    header
        .encode(form, out)
        .map_err(|e| format!("cannot encode the frame header: {e}"))?;
    let start = out.len();
    out.extend_from_slice(payload);
    if let (Some(key), Some(written)) = (mask, out.get_mut(start..)) {
        wsconform_wire::apply_mask(written, key, 0);
    }
    Ok(())
}

fn close_bytes(spec: &CloseSpec) -> Vec<u8> {
    match (&spec.payload, spec.code) {
        (Some(p), _) => payload_bytes(p, false),
        (None, Some(code)) => close_payload(code, &spec.reason),
        (None, None) => Vec::new(),
    }
}

fn control(kind: &SendKind) -> (u8, Vec<u8>) {
    match kind {
        SendKind::Ping(p) => (9, payload_bytes(p, false)),
        SendKind::Pong(p) => (10, payload_bytes(p, false)),
        SendKind::Close(c) => (8, close_bytes(c)),
        SendKind::Text(p) => (1, payload_bytes(p, true)),
        SendKind::Binary(p) => (2, payload_bytes(p, false)),
    }
}

/// Wraps a text for the chat profile: the JSON message carrying a nonce.
fn chat_wrap(
    text: &[u8],
    payload: &Payload,
    username: &str,
    nonce: String,
) -> Option<(Vec<u8>, ChatMessage)> {
    let original = std::str::from_utf8(text).ok()?;
    let sized = matches!(payload, Payload::Fill { .. } | Payload::Random { .. });
    let build = |body: &str| {
        let message = format!("{nonce} {body}");
        // Written by hand so the fields keep the order people expect.
        let json = format!(
            "{{\"username\":{},\"message\":{}}}",
            serde_json::Value::from(username),
            serde_json::Value::from(message.as_str())
        );
        (json, message)
    };
    let (mut json, mut message) = build(original);
    if sized && json.len() != text.len() {
        // Keep the frame size the scenario asked for: pad or trim the body.
        let (empty_json, _) = build("");
        let room = text.len().saturating_sub(empty_json.len());
        let body: String = original
            .chars()
            .chain(std::iter::repeat('*'))
            .take(room)
            .collect();
        (json, message) = build(&body);
    }
    Some((
        json.into_bytes(),
        ChatMessage {
            nonce,
            username: username.to_string(),
            message,
        },
    ))
}

/// How a message is cut into frames: its opcode, extra RSV bits on the
/// first frame, fragment sizes (the last takes the rest), the control
/// frames sent between them, and the length form.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageLayout {
    /// The first frame's opcode.
    pub opcode: u8,
    /// RSV bits (0..=7) set on the first frame.
    pub rsv: u8,
    /// Fragment sizes.
    pub fragments: Vec<usize>,
    /// Control frames (opcode, payload) after fragment 1, 2, ...
    pub between: Vec<(u8, Vec<u8>)>,
    /// Length form of every data frame.
    pub form: LengthForm,
}

impl MessageLayout {
    /// Appends the frames of a message whose payload is `bytes`;
    /// `compressed` sets RSV1 on the first frame (RFC 7692 §6).
    pub fn encode(
        &self,
        out: &mut Vec<u8>,
        bytes: &[u8],
        compressed: bool,
        next_key: &mut dyn FnMut() -> Option<[u8; 4]>,
    ) -> Result<(), String> {
        // Cut into fragments: each listed size, then the rest.
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut rest: &[u8] = bytes;
        for size in &self.fragments {
            let (piece, after) = rest.split_at((*size).min(rest.len()));
            pieces.push(piece);
            rest = after;
        }
        if !rest.is_empty() || pieces.is_empty() {
            pieces.push(rest);
        }
        let count = pieces.len();
        let first_rsv = self.rsv | if compressed { 4 } else { 0 };
        for (i, piece) in pieces.iter().enumerate() {
            let op = if i == 0 { self.opcode } else { 0 };
            let rsv = if i == 0 { first_rsv } else { 0 };
            let key = next_key();
            push_frame(out, i + 1 == count, rsv, op, key, self.form, None, piece)?;
            if let Some((cop, cbytes)) = self.between.get(i) {
                let key = next_key();
                push_frame(out, true, 0, *cop, key, LengthForm::Minimal, None, cbytes)?;
            }
        }
        Ok(())
    }
}

/// `send: { compress: true }`: a message compressed at the moment it is
/// written, with the deflater of its connection (whose state depends on
/// the messages before it and on what the server accepted).
#[derive(Debug, Clone, PartialEq)]
pub struct CompressedSend {
    /// How the compressed bytes are cut into frames.
    pub layout: MessageLayout,
    /// The uncompressed payload.
    pub payload: Vec<u8>,
    /// Masking keys, used in order.
    pub keys: Vec<Option<[u8; 4]>>,
    /// How to cut the bytes into writes.
    pub chunks: Option<crate::scenario::Chunks>,
    /// Pause between pieces.
    pub pause: Option<std::time::Duration>,
    /// The data message sent.
    pub message: Option<SentMessage>,
}

impl CompressedSend {
    /// The frames, given the compressed payload (`None`: the window does
    /// not allow compression, the message goes out plain).
    pub fn frames(&self, compressed: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let mut keys = self.keys.iter().copied();
        let mut next_key = || keys.next().flatten();
        let mut out = Vec::new();
        match compressed {
            Some(bytes) => self.layout.encode(&mut out, bytes, true, &mut next_key)?,
            None => self
                .layout
                .encode(&mut out, &self.payload, false, &mut next_key)?,
        }
        Ok(out)
    }
}

pub(super) fn send_op(
    scenario_id: &str,
    spec: &SendSpec,
    state: &mut ClientState,
    name: &str,
    settings: &PlanSettings,
    nonce_counter: &mut u32,
) -> Result<Op, String> {
    let (opcode, mut bytes) = control(&spec.kind);
    let mut message = None;
    match &spec.kind {
        SendKind::Text(p) => {
            let mut chat = None;
            if settings.profile == Profile::Chat {
                *nonce_counter += 1;
                // Unique per run, scenario and client, so parallel scenarios on one
                // chat server never mistake each other's broadcasts for their own.
                let scope = stable_hash(&format!("{}/{}/{name}", settings.run_id, scenario_id));
                let nonce = format!("n{:08x}{:04x}", scope as u32, *nonce_counter);
                if let Some((wrapped, msg)) = chat_wrap(&bytes, p, name, nonce) {
                    bytes = wrapped;
                    chat = Some(msg);
                }
            }
            message = Some(SentMessage {
                kind: DataKind::Text,
                bytes: bytes.clone(),
                chat,
            });
        }
        SendKind::Binary(_) => {
            message = Some(SentMessage {
                kind: DataKind::Binary,
                bytes: bytes.clone(),
                chat: None,
            });
        }
        SendKind::Ping(_) => state.last_ping = Some(bytes.clone()),
        _ => {}
    }
    let layout = MessageLayout {
        opcode,
        rsv: spec.rsv,
        fragments: spec.fragments.clone(),
        between: spec.between.iter().map(control).collect(),
        form: length_form(spec.length),
    };
    if spec.compress {
        // Compressed when written: the connection's negotiated parameters
        // decide the bytes. The masking keys are drawn now, in the order
        // an uncompressed message would draw them.
        let keys = (0..2 * (spec.fragments.len() + 1))
            .map(|_| mask_key(spec.mask, &mut state.masks))
            .collect();
        if let Some(m) = &message {
            state.last_message = Some(m.clone());
        }
        return Ok(Op::SendCompressed(CompressedSend {
            layout,
            payload: bytes,
            keys,
            chunks: spec.delivery.chunks.clone(),
            pause: spec.delivery.pause.map(|d| d.0),
            message,
        }));
    }
    let mut out = Vec::new();
    let mut next_key = || mask_key(spec.mask, &mut state.masks);
    layout.encode(&mut out, &bytes, false, &mut next_key)?;
    if let Some(m) = message {
        state.last_message = Some(m.clone());
        message = Some(m);
    }
    Ok(Op::Write {
        bytes: out,
        chunks: spec.delivery.chunks.clone(),
        pause: spec.delivery.pause.map(|d| d.0),
        message,
    })
}

pub(super) fn frame_op(spec: &FrameSpec, state: &mut ClientState) -> Result<Op, String> {
    let text = spec.opcode.0 == 1;
    let payload = payload_bytes(&spec.payload, text);
    let key = mask_key(spec.mask, &mut state.masks);
    let mut out = Vec::new();
    push_frame(
        &mut out,
        spec.fin,
        spec.rsv,
        spec.opcode.0,
        key,
        length_form(spec.length),
        spec.claimed_len,
        &payload,
    )?;
    if spec.opcode.0 == 9 {
        state.last_ping = Some(payload);
    }
    Ok(Op::Write {
        bytes: out,
        chunks: spec.chunks.clone(),
        pause: spec.pause.map(|d| d.0),
        message: None,
    })
}
