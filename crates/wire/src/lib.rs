//! # wsconform-wire: the WebSocket protocol without the sockets
//!
//! This crate is the RFC 6455 protocol core shared by the wsconform reference
//! server, the scenario runner and the workbook. It is *sans-IO*: every function
//! takes bytes and returns typed values or events. Nothing here opens a socket,
//! spawns a task or waits for time to pass. That keeps the protocol rules in one
//! place where they can be unit-tested byte by byte, and lets a blocking server,
//! an async server and a test harness all reuse the same code.
//!
//! The modules follow the order in which a connection meets the protocol:
//!
//! | module | RFC 6455 | what it does |
//! |---|---|---|
//! | [`handshake`] | §4 | the HTTP upgrade and the `Sec-WebSocket-Accept` key |
//! | [`frame`] | §5.2 | the frame header: FIN, RSV, opcode, mask, payload length |
//! | [`mask`] | §5.3 | XOR masking of client payloads |
//! | [`utf8`] | §8.1 | incremental UTF-8 validation for text messages |
//! | [`close`] | §5.5.1, §7.4 | close codes and the close frame payload |
//! | [`extension`] | RFC 7692 §5, §7.1 | `Sec-WebSocket-Extensions` and the permessage-deflate negotiation |
//! | [`deflate`] | RFC 7692 §7.2 | compressing and inflating messages |
//! | [`codec`] | §5.4, §5.5 | a streaming decoder that turns bytes into messages |
//! | [`reader`] | §5.2, §5.4 | frames one by one with their stream offsets, for test tools |
//! | [`splitmix`] | | repeatable pseudo-random keys for test tools |
//! | [`error`] | §7.1.7 | protocol violations and the close code each one requires |

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod close;
pub mod codec;
pub mod deflate;
pub mod error;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod reader;
pub mod splitmix;
pub mod utf8;

pub use close::{CloseCode, CloseFrame, close_payload, parse_close_payload};
pub use codec::{Decoder, Event, Limits, Message, Role};
pub use error::{FrameError, ProtocolError};
pub use frame::{
    FrameHeader, LengthForm, OpCode, check_client_frame, check_server_frame, encode_frame,
};
pub use handshake::{
    ClientRequest, HandshakeError, ResponseError, ServerResponse, WEBSOCKET_GUID, accept_key,
    accept_response, accept_response_with_extensions, build_request, generate_key, http_response,
    key_from_bytes, parse_request, parse_response, validate_response,
};
pub use mask::{apply_mask, apply_mask_bytewise};
pub use reader::{
    Frame, FramePiece, FrameReader, MessageAssembler, ReadError, ReadErrorKind, split_frames,
};
pub use splitmix::SplitMix;
pub use utf8::{Utf8Error, Utf8Validator};
