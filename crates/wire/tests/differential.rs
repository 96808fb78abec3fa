//! Differential test: our frame header parser against tungstenite's, on
//! arbitrary bytes. Both must agree on "incomplete", on "accepted" and on
//! every field of an accepted header.
//!
//! One real difference, by design: tungstenite refuses reserved opcodes
//! (0x3-0x7, 0xB-0xF) while *parsing*, whereas we parse them and refuse them in
//! [`check_client_frame`]. RFC 6455 §5.2 — "If an unknown opcode is received,
//! the receiving endpoint MUST _Fail the WebSocket Connection_" — only says the
//! frame must be refused, not at which stage; parsing it first lets a test tool
//! show the frame it is refusing. So "tungstenite rejects" is compared with
//! "we parse it and validation reports `ReservedOpcode`".
//!
//! Neither parser refuses a 64-bit length with the top bit set while parsing;
//! we report it in validation (§5.2: "the most significant bit MUST be 0").

use std::io::Cursor;

use proptest::prelude::*;
use tungstenite::protocol::frame::FrameHeader as TFrameHeader;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode as TOpCode};
use wsconform_wire::{FrameHeader, OpCode, ProtocolError, check_client_frame};

fn same_opcode(ours: OpCode, theirs: TOpCode) -> bool {
    matches!(
        (ours, theirs),
        (OpCode::Continuation, TOpCode::Data(Data::Continue))
            | (OpCode::Text, TOpCode::Data(Data::Text))
            | (OpCode::Binary, TOpCode::Data(Data::Binary))
            | (OpCode::Close, TOpCode::Control(Control::Close))
            | (OpCode::Ping, TOpCode::Control(Control::Ping))
            | (OpCode::Pong, TOpCode::Control(Control::Pong))
    )
}

fn compare(bytes: &[u8]) -> Result<(), TestCaseError> {
    let ours = FrameHeader::parse(bytes);
    let mut cursor = Cursor::new(bytes);
    let theirs = TFrameHeader::parse(&mut cursor);
    match (ours, theirs) {
        (None, Ok(None)) => {}
        (Some((h, used)), Ok(Some((t, len)))) => {
            prop_assert_eq!(h.fin, t.is_final);
            prop_assert_eq!((h.rsv1, h.rsv2, h.rsv3), (t.rsv1, t.rsv2, t.rsv3));
            prop_assert!(
                same_opcode(h.opcode, t.opcode),
                "{:?} vs {:?}",
                h.opcode,
                t.opcode
            );
            prop_assert_eq!(h.mask, t.mask);
            prop_assert_eq!(h.payload_len, len);
            prop_assert_eq!(used as u64, cursor.position());
        }
        (Some((h, _)), Err(_)) => {
            // The documented difference: reserved opcodes.
            prop_assert!(h.opcode.is_reserved(), "tungstenite rejected {:?}", h);
            let masked = FrameHeader {
                mask: Some([0; 4]),
                ..h
            };
            let rejected = check_client_frame(&masked);
            let reserved_opcode = matches!(
                rejected,
                Err(ProtocolError::ReservedOpcode(_)) | Err(ProtocolError::ReservedBits(_))
            );
            prop_assert!(reserved_opcode, "we accepted {:?}", h);
        }
        (ours, theirs) => {
            prop_assert!(
                false,
                "disagree on {:02x?}: ours {:?}, tungstenite {:?}",
                bytes,
                ours,
                theirs.map(|o| o.map(|(_, l)| l))
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
        compare(&bytes)?;
    }

    /// Bytes biased towards the interesting length markers 126 and 127.
    #[test]
    fn extended_lengths(b0 in any::<u8>(), mask in any::<bool>(), marker in 126u8..=127, rest in proptest::collection::vec(any::<u8>(), 0..14)) {
        let mut bytes = vec![b0, marker | if mask { 0x80 } else { 0 }];
        bytes.extend(rest);
        compare(&bytes)?;
    }
}

#[test]
fn rfc_examples_agree() {
    let examples: [&[u8]; 5] = [
        &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f],
        &[0x01, 0x03, 0x48, 0x65, 0x6c],
        &[0x82, 0x7E, 0x01, 0x00],
        &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0],
    ];
    for bytes in examples {
        compare(bytes).unwrap();
    }
}
