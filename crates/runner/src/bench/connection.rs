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
    Decoder, Event, Limits, OpCode, Role, build_request, encode_frame, generate_key,
    parse_response, validate_response,
};

use super::settings::{BenchError, LoadEndpoint, MAX_SIZE, Settings};

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
/// The largest handshake response accepted.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// An open connection, past its handshake.
pub(super) struct Connection {
    pub(super) stream: TcpStream,
    /// Bytes read but not used yet (at first: frames that came right behind
    /// the handshake response).
    pub(super) input: Vec<u8>,
    /// The WebSocket decoder (`None` for a raw TCP target).
    pub(super) decoder: Option<Decoder>,
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

/// Connects and, for a WebSocket target, performs the opening handshake.
async fn open(endpoint: &LoadEndpoint, index: usize) -> Result<Connection, String> {
    let (host, port) = endpoint.host_port();
    let mut stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    // Small messages must leave at once, not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let LoadEndpoint::WebSocket(target) = endpoint else {
        return Ok(Connection {
            stream,
            input: Vec::with_capacity(READ_CHUNK),
            decoder: None,
        });
    };
    let key = generate_key(index as u64);
    let host_header = format!("{host}:{port}");
    let request = build_request(&host_header, &target.path, &key, &[]);
    stream
        .write_all(&request)
        .await
        .map_err(|e| format!("cannot send the handshake: {e}"))?;
    let mut input = Vec::with_capacity(READ_CHUNK);
    loop {
        let read = stream
            .read_buf(&mut input)
            .await
            .map_err(|e| format!("cannot read the handshake response: {e}"))?;
        if read == 0 {
            return Err("the server closed the connection during the handshake".into());
        }
        match parse_response(&input, MAX_RESPONSE_HEAD) {
            Ok(None) => continue,
            Ok(Some((response, used))) => {
                validate_response(&response, &key).map_err(|e| e.to_string())?;
                input.drain(..used.min(input.len()));
                break;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let limits = Limits {
        max_frame_size: MAX_SIZE as u64,
        max_message_size: MAX_SIZE,
    };
    Ok(Connection {
        stream,
        input,
        decoder: Some(Decoder::new(Role::Client, limits)),
    })
}

/// The next event from the server, reading as needed.
pub(super) async fn next_event(connection: &mut Connection) -> Result<Event, String> {
    let Connection {
        stream,
        input,
        decoder,
    } = connection;
    let Some(decoder) = decoder.as_mut() else {
        return Err("not a WebSocket connection".into());
    };
    loop {
        let (used, event) = decoder
            .decode(input)
            .map_err(|e| format!("protocol error from the server: {e}"))?;
        input.drain(..used.min(input.len()));
        if let Some(event) = event {
            return Ok(event);
        }
        input.reserve(READ_CHUNK);
        let read = stream
            .read_buf(input)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if read == 0 {
            return Err("the server closed the connection without a close frame".into());
        }
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
