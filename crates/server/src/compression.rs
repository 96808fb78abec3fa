//! permessage-deflate on the server's side (RFC 7692): which offer to
//! accept, and how an outgoing message is compressed.
//!
//! The rules live in the wire crate ([`wsconform_wire::extension`] and
//! [`wsconform_wire::deflate`]); this module only connects them to the
//! server's [`Config`] and its outgoing buffer.

use tracing::debug;
use wsconform_wire::deflate::Deflater;
use wsconform_wire::extension::{Accepted, DeflateParams, negotiate, parse_extensions};
use wsconform_wire::{ClientRequest, FrameHeader, LengthForm, OpCode, encode_frame};

use crate::config::Config;

/// zlib's fastest level: the best bytes-per-CPU trade for an echo or a
/// chat room, where most messages are small.
const LEVEL: u32 = 1;

// ANCHOR: negotiate
/// The permessage-deflate offer the server accepts, if any. A header that
/// is not a valid extension list is treated as no offer: declining is
/// always allowed (RFC 7692 §5.1), and the connection works without it.
pub(crate) fn accept_offer(request: &ClientRequest, config: &Config) -> Option<Accepted> {
    let policy = config.deflate.as_ref()?;
    let value = request.extensions()?;
    match parse_extensions(&value) {
        Ok(offers) => negotiate(&offers, policy),
        Err(error) => {
            debug!(%error, "extension offer ignored");
            None
        }
    }
}
// ANCHOR_END: negotiate

/// The server's compressor for a connection that negotiated `params`.
pub(crate) fn deflater(params: &DeflateParams) -> Deflater {
    Deflater::new(
        params.server_max_window_bits,
        LEVEL,
        params.server_no_context_takeover,
    )
}

// ANCHOR: encode_message
/// Appends one whole data message to `out`: compressed with RSV1 set when
/// a compressor is in use (and the window allows it), plain otherwise.
pub(crate) fn encode_message(
    out: &mut Vec<u8>,
    deflater: Option<&mut Deflater>,
    opcode: OpCode,
    payload: &[u8],
) {
    let compressed = deflater.and_then(|d| d.compress(payload));
    let Some(compressed) = compressed else {
        encode_frame(out, true, opcode, None, payload);
        return;
    };
    let header = FrameHeader {
        rsv1: true,
        ..FrameHeader::new(opcode, compressed.len() as u64)
    };
    if header.encode(LengthForm::Minimal, out).is_ok() {
        out.extend_from_slice(&compressed);
    }
}
// ANCHOR_END: encode_message
