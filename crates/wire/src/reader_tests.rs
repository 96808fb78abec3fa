//! The frame reader and the message assembler, byte by byte.

use super::*;
use crate::frame::encode_frame;

fn reader() -> FrameReader {
    FrameReader::new(Role::Client, Limits::default())
}

fn all_frames(r: &mut FrameReader) -> Result<Vec<Frame>, ReadError> {
    let mut out = Vec::new();
    while let Some(f) = r.next_frame()? {
        out.push(f);
    }
    Ok(out)
}

#[test]
fn frames_carry_their_offsets_and_forms() {
    let mut bytes = Vec::new();
    encode_frame(&mut bytes, true, OpCode::Text, None, b"Hello");
    encode_frame(&mut bytes, true, OpCode::Binary, None, &[0u8; 200]);
    let mut r = reader();
    r.push(&bytes);
    let frames = all_frames(&mut r).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!((frames[0].offset, frames[0].header_len), (0, 2));
    assert_eq!((frames[1].offset, frames[1].header_len), (7, 4));
    assert_eq!(frames[1].form, LengthForm::Bits16);
    assert_eq!(frames[1].payload().len(), 200);
    assert!(r.buffered().is_empty());
    assert_eq!(r.offset(), bytes.len() as u64);
}

#[test]
fn bytes_before_the_frames_can_be_consumed() {
    let mut r = reader();
    r.push(b"HTTP/1.1 101\r\n\r\n\x81\x01A");
    r.consume(16);
    let frame = r.next_frame().unwrap().unwrap();
    assert_eq!((frame.offset, frame.payload()), (16, &b"A"[..]));
}

#[test]
fn header_rules_point_at_their_byte() {
    let cases: [(&[u8], u64, ProtocolError); 4] = [
        (&[0x81, 0x81, 1, 2, 3, 4, 0], 1, ProtocolError::MaskedFrame),
        (&[0xC1, 0x00], 0, ProtocolError::ReservedBits(4)),
        (&[0x83, 0x00], 0, ProtocolError::ReservedOpcode(3)),
        (&[0x09, 0x00], 0, ProtocolError::FragmentedControlFrame),
    ];
    for (bytes, byte, error) in cases {
        let mut r = reader();
        r.push(&[0x8a, 0x00]);
        r.push(bytes);
        assert!(r.next_frame().unwrap().is_some());
        let e = r.next_frame().unwrap_err();
        assert_eq!(e.protocol(), Some(&error), "{bytes:?}");
        assert_eq!((e.frame_offset, e.offset), (2, 2 + byte), "{bytes:?}");
        assert_eq!(r.next_frame(), Err(e), "a failed reader repeats its error");
    }
}

#[test]
fn a_2_pow_63_length_allocates_nothing() {
    let mut r = reader();
    r.push(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    let e = r.next_frame().unwrap_err();
    assert_eq!(e.protocol(), Some(&ProtocolError::LengthTopBitSet));
    assert_eq!(e.byte_in_frame(), 2);
    let mut r = reader();
    r.push(&[0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    let e = r.next_frame().unwrap_err();
    assert!(matches!(
        e.protocol(),
        Some(ProtocolError::FrameTooBig { .. })
    ));
    assert_eq!(e.byte_in_frame(), 1);
    assert!(r.buffered().len() <= 10);
}

#[test]
fn a_longer_length_form_fails_once_the_frame_is_complete() {
    let mut r = reader();
    r.push(&[0x81, 126, 0, 2, b'h']);
    assert_eq!(r.next_frame(), Ok(None));
    r.push(b"i");
    let e = r.next_frame().unwrap_err();
    assert_eq!(e.kind, ReadErrorKind::NonMinimalLength { len: 2 });
    assert_eq!(e.byte_in_frame(), 1);
}

fn assemble(bytes: &[u8]) -> Result<Vec<Event>, ReadError> {
    let mut r = reader();
    r.push(bytes);
    let mut m = MessageAssembler::new(Limits::default());
    let mut events = Vec::new();
    for frame in all_frames(&mut r)? {
        events.extend(m.push(&frame)?);
    }
    Ok(events)
}

#[test]
fn fragments_join_and_control_frames_interleave() {
    let events = assemble(&[0x01, 1, b'a', 0x89, 0, 0x80, 1, b'b']).unwrap();
    assert_eq!(
        events,
        [
            Event::Ping(Vec::new()),
            Event::Message(Message::Text("ab".into()))
        ]
    );
}

#[test]
fn fragmentation_rules() {
    let e = assemble(&[0x80, 0]).unwrap_err();
    assert_eq!(e.protocol(), Some(&ProtocolError::UnexpectedContinuation));
    let e = assemble(&[0x01, 0, 0x82, 0]).unwrap_err();
    assert_eq!(
        e.protocol(),
        Some(&ProtocolError::ExpectedContinuation(OpCode::Binary))
    );
    assert_eq!((e.frame_offset, e.offset), (2, 2));
}

#[test]
fn invalid_utf8_points_at_the_first_impossible_byte() {
    // "a" then, in the next fragment, "b" 0xff: the 0xff is message byte 2.
    let e = assemble(&[0x01, 1, b'a', 0x80, 2, b'b', 0xff]).unwrap_err();
    let Some(ProtocolError::InvalidUtf8(u)) = e.protocol() else {
        panic!("{e:?}")
    };
    assert_eq!(u.position, 2);
    assert_eq!((e.frame_offset, e.offset), (3, 3 + 2 + 1));
    // A text ending inside a character is pointed at its last byte.
    let e = assemble(&[0x81, 2, b'a', 0xe2]).unwrap_err();
    assert_eq!(e.byte_in_frame(), 3);
}

#[test]
fn close_bodies_are_parsed() {
    let events = assemble(&[0x88, 2, 0x03, 0xe8]).unwrap();
    assert!(matches!(&events[..], [Event::Close(Some(c))] if c.code == 1000));
    let e = assemble(&[0x88, 3, 0x03, 0xe8, 0xff]).unwrap_err();
    assert_eq!(e.byte_in_frame(), 4);
    let e = assemble(&[0x88, 1, 0x03]).unwrap_err();
    assert_eq!(e.byte_in_frame(), 2);
}

#[test]
fn messages_are_bounded() {
    let limits = Limits {
        max_frame_size: 16,
        max_message_size: 4,
    };
    let mut r = FrameReader::new(Role::Client, limits);
    let mut m = MessageAssembler::new(limits);
    r.push(&[0x02, 3, 1, 2, 3, 0x80, 3, 4, 5, 6]);
    let first = r.next_frame().unwrap().unwrap();
    assert_eq!(m.push(&first), Ok(None));
    let second = r.next_frame().unwrap().unwrap();
    let e = m.push(&second).unwrap_err();
    assert_eq!(
        e.protocol(),
        Some(&ProtocolError::MessageTooBig { limit: 4 })
    );
}

#[test]
fn split_frames_shows_cut_off_frames() {
    let pieces = split_frames(&[0x81, 0x7e, 0x00, 0x05, b'H', b'e']);
    assert_eq!(pieces.len(), 1);
    assert_eq!(pieces[0].form, Some(LengthForm::Bits16));
    assert_eq!((pieces[0].payload.len(), pieces[0].complete), (2, false));
    assert!(split_frames(&[]).is_empty());
}

#[test]
fn compressed_messages_are_inflated_and_rsv1_is_checked() {
    use crate::deflate::Inflater;
    // RFC 7692 §7.2.3.1's "Hello", split over two frames, then the same
    // with RSV1 on the continuation.
    let good = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];
    let mut reader = FrameReader::new(Role::Client, Limits::default());
    reader.allow_compression();
    let mut messages = MessageAssembler::new(Limits::default());
    messages.inflate_with(Inflater::new(15, false));
    reader.push(&good);
    let first = reader.next_frame().unwrap().unwrap();
    assert_eq!(messages.push(&first).unwrap(), None);
    let second = reader.next_frame().unwrap().unwrap();
    assert_eq!(
        messages.push(&second).unwrap(),
        Some(Event::Message(Message::Text("Hello".into())))
    );
    reader.push(&[
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ]);
    reader.next_frame().unwrap().unwrap();
    let err = reader.next_frame().unwrap_err();
    assert_eq!(
        err.protocol(),
        Some(&ProtocolError::CompressedBitMisplaced(OpCode::Continuation))
    );
    // Without allow_compression RSV1 is a reserved bit.
    let mut plain = FrameReader::new(Role::Client, Limits::default());
    plain.push(&good);
    assert_eq!(
        plain.next_frame().unwrap_err().protocol(),
        Some(&ProtocolError::ReservedBits(0b100))
    );
    // A bomb stops at the limit.
    let bomb = crate::deflate::Deflater::new(15, 9, true)
        .compress(&vec![0; 1 << 20])
        .unwrap();
    let mut frame = vec![0x42, 126];
    frame.extend((bomb.len() as u16).to_be_bytes());
    frame.extend(&bomb);
    let limits = Limits {
        max_frame_size: 1 << 20,
        max_message_size: 1000,
    };
    let mut reader = FrameReader::new(Role::Client, limits);
    reader.allow_compression();
    let mut messages = MessageAssembler::new(limits);
    messages.inflate_with(Inflater::new(15, true));
    reader.push(&frame);
    let frame = reader.next_frame().unwrap().unwrap();
    assert_eq!(
        messages.push(&frame).unwrap_err().protocol(),
        Some(&ProtocolError::MessageTooBig { limit: 1000 })
    );
}
