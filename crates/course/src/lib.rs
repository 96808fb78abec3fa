//! The from-scratch track of the workbook: one complete, runnable WebSocket
//! server per chapter, in Rust (`src/bin/stepNN_*.rs`) and in Python
//! (`python/stepNN_*.py`). Each step is the previous one plus that
//! chapter's change; `// ANCHOR:` regions let the book include the changed
//! functions. The steps use only `std`, `sha1` and `base64` (Rust) or the
//! Python standard library, and nothing of this workspace.
//!
//! `tests/track.rs` starts every step and plays the suite against it: the
//! chapters up to its own pass, the next one fails something. `STAGING.md`
//! states the staging rule the suite keeps for that.
