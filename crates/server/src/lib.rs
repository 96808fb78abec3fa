//! The wsconform reference WebSocket server.
//!
//! This is the server the wsconform book builds chapter by chapter: the chat
//! application of the lecture (a page at `/`, a chat room at `/socket`), an
//! echo endpoint at `/echo` for conformance testing, and the limits a server
//! on the open network needs. It speaks RFC 6455 strictly and is built only on
//! the sans-IO protocol core [`wsconform_wire`] plus tokio: every byte it puts
//! on the wire can be traced to a function in this crate or in the core.
//!
//! # Running it in-process
//!
//! Tests and tools start the server on an ephemeral port with [`spawn`] and
//! stop it through the handle it returns:
//!
//! ```no_run
//! # async fn demo() -> Result<(), wsconform_server::ServerError> {
//! use wsconform_server::{Config, spawn};
//!
//! let server = spawn(Config::ephemeral()).await?;
//! let addr = server.local_addr();
//! println!("chat at ws://{addr}/socket, echo at ws://{addr}/echo");
//! wsconform_server::shutdown_signal().await;
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! [`bind`] and [`Server::run`] are the two halves of [`spawn`], for a
//! binary that runs the server in the foreground.
//!
//! # How the crate is laid out
//!
//! One concept per module, in the order a request meets them:
//!
//! - [`config`]: every limit, with its safe default.
//! - [`server`]: the listener and its accept loop; owns all connection tasks.
//! - `http`: reads the request head and routes it: a page, a WebSocket
//!   endpoint, or an HTTP error.
//! - `connection`: one task per connection: the opening handshake, the read
//!   loop, frame handling and the closing handshake.
//! - [`chat`]: the chat application protocol (what a chat message is).
//! - `hub`: the chat room's broadcast hub with a queue per client bounded
//!   in bytes.
//! - `budget`: the memory budget all buffered messages share.
//! - [`memory`]: returning freed memory to the operating system.
//! - [`shutdown`]: graceful shutdown, sending 1001 to every client.
//!
//! # Peer input never panics the server
//!
//! The crate denies `unwrap`, `expect` and unchecked indexing outside tests:
//! every byte a peer sends is handled by code that checks lengths and returns
//! errors instead of panicking.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod budget;
pub mod chat;
mod compression;
pub mod config;
mod connection;
mod error;
mod http;
mod hub;
mod limits;
pub mod memory;
pub mod server;
pub mod shutdown;

pub use config::Config;
pub use error::ServerError;
pub use server::{RunningServer, Server, bind, spawn};
pub use shutdown::shutdown_signal;
