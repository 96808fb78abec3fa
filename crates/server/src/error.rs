//! The errors a caller of this crate can see.
//!
//! Once the server runs, nothing a peer does is an error *of the server*: a
//! bad handshake is answered with an HTTP status, a bad frame with a close
//! code, and both are logged. So the only errors left for the caller are the
//! ones it can fix: a configuration that makes no sense, or an address it
//! cannot listen on.

use std::io;
use std::net::SocketAddr;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket could not be created.
    #[error(
        "cannot listen on {addr}: {source}. Is another program using this port? \
         Pick another port, or port 0 to let the system choose a free one"
    )]
    Bind {
        /// The address from [`Config::bind_addr`](crate::Config::bind_addr).
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A limit in the [`Config`](crate::Config) cannot work, for example a
    /// queue of zero messages.
    #[error("invalid server configuration: {field} {problem}")]
    InvalidConfig {
        /// The name of the offending `Config` field.
        field: &'static str,
        /// What is wrong with it and what it must be instead.
        problem: &'static str,
    },
}
