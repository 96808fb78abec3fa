//! Opening the connections (in waves, each under a timeout, the WebSocket
//! ones through their opening handshake) and the I/O every mode shares on
//! an open one: the next decoded event, a pong.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use wsconform_wire::{
    Event, FrameReader, MessageAssembler, OpCode, build_request, encode_frame, generate_key,
};

use super::settings::{BenchError, LoadEndpoint, Settings};
use crate::connect;
use crate::limits::reader_limits;

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
        opening.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let opened = tokio::time::timeout(CONNECT_TIMEOUT, open(&endpoint, index)).await;
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
/// (the runner's one client handshake, [`connect::open`]).
async fn open(endpoint: &LoadEndpoint, index: usize) -> Result<Connection, String> {
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
    let request = build_request(&authority, &target.path, &key, &[]);
    let opened = connect::open(&authority, &request, &key, CONNECT_TIMEOUT).await?;
    Ok(Connection {
        stream: opened.stream,
        input: Vec::new(),
        frames: Some(Frames {
            reader: opened.reader,
            messages: MessageAssembler::new(reader_limits()),
            chunk: vec![0; READ_CHUNK],
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
