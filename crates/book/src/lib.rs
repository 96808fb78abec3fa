//! The wsconform book, compiled.
//!
//! Every chapter of `book/src` becomes one module of this crate, with the
//! chapter as its documentation. `cargo test -p wsconform-book` therefore
//! compiles and runs every Rust block of the book as a doc test, against the
//! workspace's real crates (mdbook's own `mdbook test` cannot see them).
//!
//! The chapters are not included raw: the build script first expands mdbook's
//! `{{#include}}` directives (see [`includes`]), so the doc tests see exactly
//! the code the reader sees, and a listing whose anchor has gone missing fails
//! the build instead of rendering as an empty box.
//!
//! A Rust block whose whole body is one `{{#include file:anchor}}` is a
//! *listing*: a region of the reference crates, compiled and tested there.
//! Cut out of its module it cannot compile alone, so it reaches rustdoc as
//! text (see [`includes::mark_listings`]). Every other Rust block of the
//! book, including whole programs pulled in with `{{#rustdoc_include}}`, is
//! a doc test that must compile and pass.
//!
//! Module names follow file names: `book/src/ping-pong.md` is `ping_pong`
//! (see the generated list below).

pub mod autobahn;
pub mod includes;
pub mod listings;

include!(concat!(env!("OUT_DIR"), "/chapters.rs"));
