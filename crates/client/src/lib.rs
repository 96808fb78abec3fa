//! The wsconform reference client: what RFC 6455 asks of a client, built
//! on the sans-IO [`wsconform_wire`] crate and tokio.
//!
//! A client has duties no server test can see, and this crate is where
//! they are written down once:
//!
//! * a fresh, random 16-byte `Sec-WebSocket-Key` per connection (§4.1);
//! * the server's `101` checked: `Upgrade`, `Connection`, and
//!   `Sec-WebSocket-Accept` computed from our key — anything else fails the
//!   connection before a frame is sent (§4.1);
//! * every frame masked with a fresh, unpredictable key (§5.3);
//! * masked frames from the server, reserved bits and opcodes, bad UTF-8
//!   and bad close payloads refused with the right close code (§5.1, §7.1.7);
//! * pings answered; the closing handshake answered, then the server left
//!   to close the TCP connection first (§7.1.1), with a bound on the wait.
//!
//! | module | what it does |
//! |---|---|
//! | [`url`] | the `ws://host:port/path` a client connects to |
//! | [`connection`] | connect and handshake, send, receive, close |
//! | [`echo`] | the contract of a client under test: echo every message |

pub mod connection;
pub mod echo;
pub mod url;

pub use connection::{Client, ClientError, Closing, Options, Received};
pub use url::WsUrl;
