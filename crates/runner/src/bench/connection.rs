//! Opening the connections (in waves, each under a timeout, the WebSocket
//! ones through their opening handshake) and the I/O every mode shares on
//! an open one: the next decoded event, a pong.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use wsconform_wire::deflate::{Deflater, Inflater};
use wsconform_wire::{
    Event, FrameReader, MessageAssembler, OpCode, build_request, encode_frame, generate_key,
};

use super::settings::{BenchError, LoadEndpoint, Settings};
use crate::connect;
use crate::exec::deflate::negotiated;
use crate::limits::reader_limits;

/// The permessage-deflate offer of a `--deflate` run: what every browser
/// offers (RFC 7692 §7.1.2.1: the client may use a smaller window if the
/// server asks).
const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";
/// zlib's fastest level, as the reference server compresses.
pub(super) const DEFLATE_LEVEL: u32 = 1;

/// Connections opened at the same time. Thousands of simultaneous SYNs
/// overflow a server's accept backlog, and a dropped SYN is retried only
/// after a second: opening them in waves is faster.
const CONNECT_CONCURRENCY: usize = 128;
/// How long one connection may take to connect and finish its handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The masking key of every frame the load generator sends.
pub(super) const MASK_KEY: [u8; 4] = [0x5a, 0x17, 0xc3, 0x9e];
/// Read buffer capacity per connection.
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// A WebSocket connection's reading side: the wire crate's reader and
/// assembler, the same rules every other reader of the runner applies.
pub(super) struct Frames {
    reader: FrameReader,
    messages: MessageAssembler,
    chunk: Vec<u8>,
    /// The compressor of a connection that negotiated permessage-deflate.
    pub(super) deflater: Option<Deflater>,
    /// Bytes read from the server since the handshake.
    pub(super) bytes_read: u64,
}

/// An open connection, past its handshake.
pub(super) struct Connection {
    pub(super) stream: TcpStream,
    /// A raw TCP target's bytes read but not used yet.
    pub(super) input: Vec<u8>,
    /// A WebSocket target's frames (`None` for a raw TCP target).
    pub(super) frames: Option<Frames>,
}

/// Opens every connection, [`CONNECT_CONCURRENCY`] at a time.
pub(super) async fn open_all(settings: &Settings) -> Result<Vec<Connection>, BenchError> {
    let total = settings.connections;
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut opening = JoinSet::new();
    for index in 0..total {
        let gate = Arc::clone(&gate);
        let endpoint = settings.endpoint.clone();
        let deflate = settings.deflate;
        opening.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let opened =
                tokio::time::timeout(CONNECT_TIMEOUT, open(&endpoint, index, deflate)).await;
            let result = match opened {
                Ok(result) => result,
                Err(_) => Err(format!("not open after {CONNECT_TIMEOUT:?}")),
            };
            (index, result)
        });
    }
    let mut open = Vec::with_capacity(total);
    while let Some(joined) = opening.join_next().await {
        let (index, result) = joined.map_err(|e| BenchError::Connect {
            index: 0,
            total,
            problem: e.to_string(),
        })?;
        match result {
            Ok(connection) => open.push(connection),
            Err(problem) => {
                opening.abort_all();
                return Err(BenchError::Connect {
                    index: index + 1,
                    total,
                    problem,
                });
            }
        }
    }
    Ok(open)
}

/// Connects and, for a WebSocket target, performs the opening handshake
/// (the runner's one client handshake, [`connect::open_checked`]), offering
/// permessage-deflate when `deflate`: a server that declines is an error.
async fn open(endpoint: &LoadEndpoint, index: usize, deflate: bool) -> Result<Connection, String> {
    let (host, port) = endpoint.host_port();
    let LoadEndpoint::WebSocket(target) = endpoint else {
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        // Small messages must leave at once, not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        return Ok(Connection {
            stream,
            input: Vec::with_capacity(READ_CHUNK),
            frames: None,
        });
    };
    let key = generate_key(index as u64);
    let authority = target.authority();
    let offer = deflate.then_some(DEFLATE_OFFER);
    let headers: Vec<(&str, &str)> = offer
        .map(|offer| ("Sec-WebSocket-Extensions", offer))
        .into_iter()
        .collect();
    let request = build_request(&authority, &target.path, &key, &headers);
    let (mut opened, params) =
        connect::open_checked(&authority, &request, CONNECT_TIMEOUT, |response| {
            negotiated(offer, response, &key)
        })
        .await?;
    let mut messages = MessageAssembler::new(reader_limits());
    let mut deflater = None;
    match (offer, params) {
        (None, _) => {}
        (Some(_), None) => return Err("the server declined permessage-deflate".into()),
        (Some(_), Some(params)) => {
            opened.reader.allow_compression();
            messages.inflate_with(Inflater::new(
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ));
            // Every message on its own (a compressor may always reset,
            // RFC 7692 §7.1.1.2): the same payload again would otherwise
            // shrink to a few back references and flatter the ratio. The
            // server still keeps its context unless it said otherwise.
            deflater = Some(Deflater::new(
                params.client_max_window_bits,
                DEFLATE_LEVEL,
                true,
            ));
        }
    }
    Ok(Connection {
        stream: opened.stream,
        input: Vec::new(),
        frames: Some(Frames {
            reader: opened.reader,
            messages,
            chunk: vec![0; READ_CHUNK],
            deflater,
            bytes_read: 0,
        }),
    })
}

/// The next event from the server, reading as needed.
pub(super) async fn next_event(connection: &mut Connection) -> Result<Event, String> {
    let Connection { stream, frames, .. } = connection;
    let Some(Frames {
        reader,
        messages,
        chunk,
        bytes_read,
        ..
    }) = frames.as_mut()
    else {
        return Err("not a WebSocket connection".into());
    };
    let broke = |e: wsconform_wire::ReadError| format!("protocol error from the server: {e}");
    loop {
        while let Some(frame) = reader.next_frame().map_err(broke)? {
            if let Some(event) = messages.push(&frame).map_err(broke)? {
                return Ok(event);
            }
        }
        let read = stream
            .read(chunk)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if read == 0 {
            return Err("the server closed the connection without a close frame".into());
        }
        *bytes_read += read as u64;
        reader.push(chunk.get(..read).unwrap_or_default());
    }
}

/// Answers a ping.
pub(super) async fn send_pong(connection: &mut Connection, data: &[u8]) -> Result<(), String> {
    let mut pong = Vec::with_capacity(data.len() + 6);
    encode_frame(&mut pong, true, OpCode::Pong, Some(MASK_KEY), data);
    connection
        .stream
        .write_all(&pong)
        .await
        .map_err(|e| format!("write failed: {e}"))
}
