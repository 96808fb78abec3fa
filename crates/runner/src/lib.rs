//! wsconform-runner: replays YAML scenarios against a WebSocket server over
//! raw TCP, judges what comes back, and reports.
//!
//! The data flow is one line:
//! `scenario.yaml --load--> Scenario --plan(profile)--> Plan --execute(target)--> Transcript --judge--> Verdict --report--> text | json`.
//! Each arrow is a module here.

pub mod bench;
pub mod check;
pub mod decode;
pub mod exec;
pub mod hex;
pub mod load;
pub mod payload;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod spawn;
pub mod suite;
pub mod transcript;
pub mod verdict;
