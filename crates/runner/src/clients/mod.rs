//! Testing clients: the runner plays the *server*. For each client
//! scenario (`role: client`, the `13-client` chapter) it listens on a
//! loopback port, starts the client under test with that URL, answers its
//! opening handshake as the scenario says, plays the scenario's frames
//! (unmasked, as a server sends them) and judges what the client sends
//! back with the same judge, transcript and reports as for servers.
//!
//! The contract of a client under test is Autobahn's: connect to the URL it
//! is given, echo every message it receives, and close when the server
//! closes (waiting for the server to close the TCP connection first). Its
//! optional part: start the closing handshake when the server sends the
//! text message `wsconform:close` ([`closing`]); a client that echoes it
//! instead is skipped by the scenarios that need it.
//!
//! What only a client can get wrong is checked on every connection: the
//! opening request (§4.1, the rules of [`wsconform_wire::parse_request`]),
//! a fresh key per connection, every frame masked (§5.1, by reading with
//! the server's [`wsconform_wire::FrameReader`]), and masking keys that do
//! not repeat or count up (§5.3).
//!
//! | module | what it does |
//! |---|---|
//! | [`play`] | one scenario: listen, start the client, play, judge |
//! | [`keys`] | the masking-key and handshake-key rules |
//! | [`closing`] | the optional client-initiated close: its trigger, the skip |

pub mod closing;
pub mod keys;
pub mod play;

use std::time::Duration;

use crate::load::LoadedScenario;
use crate::report::RunReport;
use crate::verdict::ScenarioResult;

/// How client scenarios are run.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The command that starts the client under test; `{url}` is replaced
    /// by the URL it must connect to (appended when absent).
    pub command: String,
    /// The default deadline of a step.
    pub timeout: Duration,
    /// How long the client gets to connect after it is started.
    pub connect_timeout: Duration,
}

impl ClientSettings {
    /// The command line for one connection to `url`.
    pub fn command_for(&self, url: &str) -> String {
        if self.command.contains("{url}") {
            self.command.replace("{url}", url)
        } else {
            format!("{} {url}", self.command)
        }
    }
}

/// Runs client scenarios one after another (each starts its own client
/// process on its own port), calling `on_result` as each ends.
pub async fn run_client_suite(
    scenarios: &[LoadedScenario],
    settings: &ClientSettings,
    on_result: impl Fn(&ScenarioResult),
) -> RunReport {
    let started = std::time::Instant::now();
    let mut results = Vec::new();
    for loaded in scenarios {
        let result = play::run_client_scenario(loaded, settings).await;
        on_result(&result);
        results.push(result);
    }
    RunReport {
        target: settings.command.clone(),
        profile: "client".to_string(),
        results,
        cause: None,
        duration: started.elapsed(),
        non_strict_points: Default::default(),
        shortcuts: Vec::new(),
    }
}
