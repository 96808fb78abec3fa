//! Standalone programs the chapters show next to the reference server.
//!
//! The reference server (`crates/server`) is what a server on the open
//! network needs. These listings are what a reader writes first: small,
//! plain, and still checked by the same suite.

pub mod first_server;
