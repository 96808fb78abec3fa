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
    // Cut into fragments: each listed size, then the rest.
    let mut pieces: Vec<&[u8]> = Vec::new();
    let mut rest: &[u8] = &bytes;
    for size in &spec.fragments {
        let (piece, after) = rest.split_at((*size).min(rest.len()));
        pieces.push(piece);
        rest = after;
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest);
    }
    let form = length_form(spec.length);
    let mut out = Vec::new();
    let count = pieces.len();
    for (i, piece) in pieces.iter().enumerate() {
        let op = if i == 0 { opcode } else { 0 };
        let rsv = if i == 0 { spec.rsv } else { 0 };
        let key = mask_key(spec.mask, &mut state.masks);
        push_frame(&mut out, i + 1 == count, rsv, op, key, form, None, piece)?;
        if let Some(ctrl) = spec.between.get(i) {
            let (cop, cbytes) = control(ctrl);
            let key = mask_key(spec.mask, &mut state.masks);
            push_frame(
                &mut out,
                true,
                0,
                cop,
                key,
                LengthForm::Minimal,
                None,
                &cbytes,
            )?;
        }
    }
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
