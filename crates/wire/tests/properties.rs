//! Property tests: the codec's laws hold for every input proptest can find.

use proptest::prelude::*;
use wsconform_wire::{
    Decoder, Event, FrameHeader, LengthForm, Limits, Message, OpCode, Role, Utf8Validator,
    apply_mask, apply_mask_bytewise, parse_close_payload,
};

fn any_opcode() -> impl Strategy<Value = OpCode> {
    (0u8..16).prop_map(OpCode::from_u8)
}

fn any_header() -> impl Strategy<Value = FrameHeader> {
    (
        any::<bool>(),
        any::<[bool; 3]>(),
        any_opcode(),
        proptest::option::of(any::<[u8; 4]>()),
        prop_oneof![0u64..=125, 126u64..=0xFFFF, 0x1_0000u64..=u64::MAX],
    )
        .prop_map(
            |(fin, [rsv1, rsv2, rsv3], opcode, mask, payload_len)| FrameHeader {
                fin,
                rsv1,
                rsv2,
                rsv3,
                opcode,
                mask,
                payload_len,
            },
        )
}

fn any_form() -> impl Strategy<Value = LengthForm> {
    prop_oneof![
        Just(LengthForm::Minimal),
        Just(LengthForm::Bits7),
        Just(LengthForm::Bits16),
        Just(LengthForm::Bits64),
    ]
}

proptest! {
    /// encode then parse gives back the same header, in every length form
    /// that can hold the length, and the parsed form is the one written.
    #[test]
    fn header_round_trip(header in any_header(), form in any_form()) {
        let mut out = Vec::new();
        match header.encode(form, &mut out) {
            Ok(()) => {
                let (back, parsed_form, used) = FrameHeader::parse_with_form(&out).unwrap();
                prop_assert_eq!(back, header);
                prop_assert_eq!(used, out.len());
                prop_assert_eq!(used, header.encoded_len(form));
                if form != LengthForm::Minimal {
                    prop_assert_eq!(parsed_form, form);
                } else {
                    prop_assert_eq!(parsed_form, LengthForm::minimal_for(header.payload_len));
                }
                // Every strict prefix is "incomplete", never a wrong header.
                for cut in 0..out.len() {
                    prop_assert!(FrameHeader::parse(&out[..cut]).is_none());
                }
            }
            Err(_) => {
                let fits = match form {
                    LengthForm::Bits7 => header.payload_len <= 125,
                    LengthForm::Bits16 => header.payload_len <= 0xFFFF,
                    _ => true,
                };
                prop_assert!(!fits);
            }
        }
    }

    /// Parsing arbitrary bytes never panics.
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
        let _ = FrameHeader::parse(&bytes);
    }

    /// The fast mask equals the byte-by-byte definition for any buffer, key,
    /// start alignment and key offset.
    #[test]
    fn mask_equals_definition(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        key in any::<[u8; 4]>(),
        start in 0usize..16,
        offset in 0usize..64,
    ) {
        let start = start.min(data.len());
        let mut fast = data.clone();
        let mut slow = data.clone();
        apply_mask(&mut fast[start..], key, offset);
        apply_mask_bytewise(&mut slow[start..], key, offset);
        prop_assert_eq!(fast, slow);
    }

    /// Masking a buffer in two pieces (with the right offset) equals masking it whole.
    #[test]
    fn mask_in_pieces(data in proptest::collection::vec(any::<u8>(), 0..200), key in any::<[u8; 4]>(), split in 0usize..200) {
        let split = split.min(data.len());
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        let mut pieces = data.clone();
        let (a, b) = pieces.split_at_mut(split);
        apply_mask(a, key, 0);
        apply_mask(b, key, split);
        prop_assert_eq!(whole, pieces);
    }

    /// The incremental validator agrees with the standard library on any
    /// bytes split anywhere.
    #[test]
    fn utf8_agrees_with_std(bytes in proptest::collection::vec(any::<u8>(), 0..40), split in 0usize..40) {
        let split = split.min(bytes.len());
        let mut v = Utf8Validator::new();
        let ours = v.feed(&bytes[..split]).and_then(|()| v.feed(&bytes[split..])).and_then(|()| v.finish());
        prop_assert_eq!(ours.is_ok(), std::str::from_utf8(&bytes).is_ok());
    }

    /// Valid UTF-8 text (any characters) split anywhere is accepted.
    #[test]
    fn utf8_accepts_text(text in ".*", split in 0usize..200) {
        let bytes = text.as_bytes();
        let split = split.min(bytes.len());
        let mut v = Utf8Validator::new();
        prop_assert!(v.feed(&bytes[..split]).is_ok());
        prop_assert!(v.feed(&bytes[split..]).is_ok());
        prop_assert!(v.finish().is_ok());
    }

    /// The decoder never panics and never loops forever on any byte stream,
    /// delivered in any chunking.
    #[test]
    fn decoder_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        chunk in 1usize..32,
        role in prop_oneof![Just(Role::Server), Just(Role::Client)],
    ) {
        let limits = Limits { max_frame_size: 256, max_message_size: 512 };
        let mut decoder = Decoder::new(role, limits);
        let mut pending = Vec::new();
        'outer: for piece in bytes.chunks(chunk) {
            pending.extend_from_slice(piece);
            for _ in 0..1000 {
                match decoder.decode(&pending) {
                    Ok((used, event)) => {
                        prop_assert!(used <= pending.len());
                        pending.drain(..used);
                        if event.is_none() { continue 'outer; }
                    }
                    Err(_) => break 'outer,
                }
            }
            prop_assert!(false, "decoder did not settle");
        }
    }

    /// Any sequence of well-formed frames never panics the decoder, and valid
    /// messages come out exactly as they went in.
    #[test]
    fn decoder_on_frame_sequences(
        frames in proptest::collection::vec((any::<bool>(), 0u8..16, proptest::collection::vec(any::<u8>(), 0..40)), 0..12),
        key in any::<[u8; 4]>(),
        chunk in 1usize..64,
    ) {
        let mut bytes = Vec::new();
        for (fin, op, payload) in &frames {
            wsconform_wire::encode_frame(&mut bytes, *fin, OpCode::from_u8(*op), Some(key), payload);
        }
        let mut decoder = Decoder::new(Role::Server, Limits::default());
        let mut pending = Vec::new();
        let mut events = Vec::new();
        let mut failed = false;
        'outer: for piece in bytes.chunks(chunk) {
            pending.extend_from_slice(piece);
            loop {
                match decoder.decode(&pending) {
                    Ok((used, event)) => {
                        pending.drain(..used);
                        match event {
                            Some(event) => events.push(event),
                            None => break,
                        }
                    }
                    Err(_) => {
                        failed = true;
                        break 'outer;
                    }
                }
            }
        }
        let (expected, model_failed) = model(&frames);
        prop_assert_eq!(events, expected);
        prop_assert_eq!(failed, model_failed);
    }
}

/// The fragmentation and control-frame rules of RFC 6455 §5.4-5.5, written
/// as plainly as possible, frame by frame: the events a correct decoder emits
/// and whether it must fail.
fn model(frames: &[(bool, u8, Vec<u8>)]) -> (Vec<Event>, bool) {
    let mut events = Vec::new();
    let mut open: Option<(OpCode, Vec<u8>)> = None;
    // Text that can no longer become valid, whatever follows (the standard
    // library reports an `error_len` only for such bytes, not for a cut tail).
    let hopeless = |kind: OpCode, data: &[u8]| {
        kind == OpCode::Text && std::str::from_utf8(data).is_err_and(|e| e.error_len().is_some())
    };
    for (fin, op, payload) in frames {
        let op = OpCode::from_u8(*op);
        let complete = |kind: OpCode, data: Vec<u8>| match kind {
            OpCode::Text => String::from_utf8(data)
                .ok()
                .map(|t| Event::Message(Message::Text(t))),
            _ => Some(Event::Message(Message::Binary(data))),
        };
        match op {
            OpCode::Reserved(_) => return (events, true),
            _ if op.is_control() && (!fin || payload.len() > 125) => return (events, true),
            OpCode::Ping => events.push(Event::Ping(payload.clone())),
            OpCode::Pong => events.push(Event::Pong(payload.clone())),
            OpCode::Close => match parse_close_payload(payload) {
                Ok(close) => events.push(Event::Close(close)),
                Err(_) => return (events, true),
            },
            OpCode::Continuation => {
                let Some((kind, mut data)) = open.take() else {
                    return (events, true);
                };
                data.extend_from_slice(payload);
                if *fin {
                    match complete(kind, data) {
                        Some(event) => events.push(event),
                        None => return (events, true),
                    }
                } else if hopeless(kind, &data) {
                    return (events, true);
                } else {
                    open = Some((kind, data));
                }
            }
            _ => {
                if open.is_some() {
                    return (events, true);
                }
                if *fin {
                    match complete(op, payload.clone()) {
                        Some(event) => events.push(event),
                        None => return (events, true),
                    }
                } else if hopeless(op, payload) {
                    // Fail fast: no need to wait for the rest of the message.
                    return (events, true);
                } else {
                    open = Some((op, payload.clone()));
                }
            }
        }
    }
    (events, false)
}
