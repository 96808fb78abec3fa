//! Echo server on actix-web (the frame codec of actix-http, through
//! actix-ws): every message back unchanged, at /echo.
//!
//! Usage: realworld-actix PORT. Listens on 127.0.0.1:PORT, prints "ready"
//! once listening. The frame and message limits are raised to 16 MiB (the
//! defaults are 64 KiB per frame and 1 MiB per message). actix-ws reports a
//! protocol error to the application and leaves the close to it: this
//! server closes with 1007 for a text message that is not UTF-8 and 1002
//! for any other protocol error.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, rt, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use futures_util::StreamExt;

const LIMIT: usize = 16 * 1024 * 1024;

async fn echo(request: HttpRequest, body: web::Payload) -> actix_web::Result<HttpResponse> {
    let (response, mut session, stream) = actix_ws::handle(&request, body)?;
    let mut messages = stream
        .max_frame_size(LIMIT)
        .aggregate_continuations()
        .max_continuation_size(LIMIT);
    rt::spawn(async move {
        while let Some(message) = messages.next().await {
            let sent = match message {
                Ok(AggregatedMessage::Text(text)) => session.text(text).await,
                Ok(AggregatedMessage::Binary(bytes)) => session.binary(bytes).await,
                Ok(AggregatedMessage::Ping(payload)) => session.pong(&payload).await,
                Ok(AggregatedMessage::Pong(_)) => Ok(()),
                Ok(AggregatedMessage::Close(reason)) => {
                    let _ = session.close(reason).await;
                    return;
                }
                Err(error) => {
                    let Some(code) = close_code(&error) else {
                        return;
                    };
                    let _ = session.close(Some(CloseReason::from(code))).await;
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
    });
    Ok(response)
}

/// The code to close with after a protocol error, `None` when the
/// connection itself broke. actix-ws reports both a text that is not UTF-8
/// and reserved bits as `InvalidData` I/O errors; only the first one's text
/// speaks of UTF-8.
fn close_code(error: &ProtocolError) -> Option<CloseCode> {
    match error {
        ProtocolError::Io(io) if io.kind() != std::io::ErrorKind::InvalidData => None,
        ProtocolError::Io(io) if io.to_string().to_lowercase().contains("utf-8") => {
            Some(CloseCode::Invalid)
        }
        _ => Some(CloseCode::Protocol),
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: realworld-actix PORT"))?;
    rt::System::new().block_on(async move {
        let server = HttpServer::new(|| App::new().route("/echo", web::route().to(echo)))
            .workers(1)
            .bind(("127.0.0.1", port))?
            .run();
        println!("ready");
        server.await
    })
}
