//! The mutant's opening handshake: read the request, answer 101 or refuse.
//!
//! Home of [`Bug::WrongAcceptKey`] and [`Bug::CaseSensitiveHeaders`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use wsconform_wire::extension::{DeflateParams, ServerDeflatePolicy, negotiate, parse_extensions};
use wsconform_wire::{ClientRequest, accept_key, http_response, parse_request};

use super::Bug;

/// Largest request header block read before answering 431.
const MAX_REQUEST_SIZE: usize = 8 * 1024;

/// The application a WebSocket path speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum App {
    /// `/echo`: every data message comes back unchanged.
    Echo,
    /// `/socket`: the chat.
    Chat,
}

/// An upgrade request the server agrees to.
#[derive(Debug)]
pub(crate) struct Upgrade {
    /// What the path asks for.
    pub(crate) app: App,
    /// The `101 Switching Protocols` response, still to be written.
    pub(crate) response: Vec<u8>,
    /// Bytes read past the request: a client may send its first frame in
    /// the same segment.
    pub(crate) leftover: Vec<u8>,
    /// permessage-deflate, when the client offered it.
    pub(crate) deflate: Option<DeflateParams>,
}

/// Reads the request. A request the server refuses is answered here and
/// gives `None` (as does a client that leaves); an accepted one is returned
/// with its 101 response *unwritten*, so that the connection can join the
/// chat room first: a client that sees the 101 must get every broadcast
/// sent after it.
pub(crate) async fn read_request(
    stream: &mut TcpStream,
    bug: Option<Bug>,
) -> std::io::Result<Option<Upgrade>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (request, used) = loop {
        match parse_request(&buf, MAX_REQUEST_SIZE) {
            Ok(Some(parsed)) => break parsed,
            Ok(None) => {}
            Err(error) => return refuse(stream, error.response()).await,
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let app = match request.path.split('?').next().unwrap_or_default() {
        "/echo" => App::Echo,
        "/socket" => App::Chat,
        _ => {
            let body = b"no WebSocket endpoint here: use /echo or /socket\n";
            return refuse(stream, http_response(404, "Not Found", &[], body)).await;
        }
    };
    // The server reads the headers it acts on by name. `parse_request` has
    // validated them already, so for a correct lookup this cannot fail.
    let upgrade = header(&request, "Upgrade", bug);
    let connection = header(&request, "Connection", bug);
    let key = header(&request, "Sec-WebSocket-Key", bug);
    let (Some(_), Some(_), Some(key)) = (upgrade, connection, key) else {
        let body = b"not a WebSocket upgrade: Upgrade, Connection or Sec-WebSocket-Key missing\n";
        return refuse(stream, http_response(400, "Bad Request", &[], body)).await;
    };
    let accept = match bug {
        // The bug: the GUID was forgotten.
        Some(Bug::WrongAcceptKey) => BASE64.encode(Sha1::digest(key.as_bytes())),
        _ => accept_key(key.as_bytes()),
    };
    // The wire crate's negotiation, keeping the server's context (so the
    // window-bits bug shows across messages).
    let mut offers = request
        .extensions()
        .and_then(|offer| parse_extensions(&offer).ok())
        .unwrap_or_default();
    if bug == Some(Bug::WindowBitsIgnored) {
        // The bug: a parameter the server does not implement is dropped
        // from the offer, so the answer leaves it out and the server
        // compresses with its full 32 KiB window.
        for offer in &mut offers {
            offer
                .params
                .retain(|(name, _)| !name.eq_ignore_ascii_case("server_max_window_bits"));
        }
    }
    let accepted = negotiate(&offers, &ServerDeflatePolicy::default());
    let extension = accepted
        .as_ref()
        .map(|a| format!("Sec-WebSocket-Extensions: {}\r\n", a.response))
        .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n{extension}\r\n"
    );
    Ok(Some(Upgrade {
        app,
        response: response.into_bytes(),
        leftover: buf.get(used..).unwrap_or_default().to_vec(),
        deflate: accepted.map(|a| a.params),
    }))
}

/// A request header's value by name.
fn header<'r>(request: &'r ClientRequest, name: &str, bug: Option<Bug>) -> Option<&'r str> {
    match bug {
        // The bug: only the exact spelling of the RFC is recognised.
        Some(Bug::CaseSensitiveHeaders) => request
            .headers
            .iter()
            .find(|(sent, _)| sent == name)
            .map(|(_, value)| value.as_str()),
        _ => request.header(name),
    }
}

async fn refuse(stream: &mut TcpStream, response: Vec<u8>) -> std::io::Result<Option<Upgrade>> {
    stream.write_all(&response).await?;
    stream.shutdown().await?;
    Ok(None)
}
