//! The executor: plays a plan over raw TCP, records a transcript of typed
//! events, and has each step judged.
//!
//! Raw TCP, not a WebSocket library: the runner must be able to send what no
//! library would (unmasked frames, lies about lengths, one byte at a time),
//! and must see exactly what the server sent back, byte for byte.
//!
//! Three rules keep it safe against any server:
//! * every wait has a deadline ([`tokio::time::timeout_at`]); a step that
//!   runs out of time says what it was waiting for;
//! * reads are bounded ([`crate::limits`]), so a server streaming forever
//!   cannot exhaust memory;
//! * nothing the server sends can panic the runner: every index is checked.
//!
//! | module | what it does |
//! |---|---|
//! | `conn` | TCP connections, deadline I/O, recording into the transcript |
//! | `read` | the server's frames and messages as the judge's events |
//! | [`judge`] | a pure function of the expectation and the events |
//! | [`describe`] | the `Expected:` and `Actual:` texts, the rules broken |

mod conn;
pub mod deflate;
pub mod describe;
pub mod judge;
mod read;

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::{Instant, timeout_at};

use self::conn::{Conn, Run};
use self::describe::{describe_expected, incomplete_caret, incomplete_frame, seconds};
use self::judge::{Before, Judging, Progress};
use crate::connect::{ConnectError, PeerEnd, connect};
use crate::load::LoadedScenario;
use crate::plan::{Expected, FloodPlan, Op, PlanError, PlanSettings, PlannedStep, Profile, plan};
use crate::scenario::{Chunks, Strength};
use crate::transcript::{Caret, Event, LineKind};
use crate::verdict::{Failure, Note, Outcome, ScenarioResult, Twin};

/// The result of one step.
enum StepResult {
    Met,
    Unmet(Failure),
    /// The target could not be reached at all.
    Unreachable(String),
    /// The scenario does not apply to this target (it declined an extension).
    NotApplicable(String),
}

/// How long the waits of a scenario last. The default waits every step's
/// deadline in full; the suite cuts the waits for a target that has shown
/// it answers nothing after its handshake ([`crate::silence`]), or nothing
/// at all any more ([`crate::stall`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pace {
    /// A bound on each wait for the server's bytes after an accepted
    /// handshake (the handshake's own answer still gets the full step
    /// deadline; scenario pauses are kept).
    pub answer_wait: Option<Duration>,
    /// A bound on every wait, the handshake's answer included.
    pub any_wait: Option<Duration>,
    /// Why the waits are cut, as a transcript says it.
    pub why: &'static str,
}

impl Pace {
    /// How long a wait of `timeout` lasts at this pace, on a connection
    /// the server `upgraded` (or not).
    pub fn wait(&self, timeout: Duration, upgraded: bool) -> Duration {
        let answer = if upgraded { self.answer_wait } else { None };
        [answer, self.any_wait]
            .into_iter()
            .flatten()
            .fold(timeout, Duration::min)
    }
}

/// Plays one scenario and judges it.
pub async fn run_scenario(loaded: &LoadedScenario, settings: &PlanSettings) -> ScenarioResult {
    run_scenario_paced(loaded, settings, Pace::default()).await
}

/// [`run_scenario`] at a given [`Pace`].
pub async fn run_scenario_paced(
    loaded: &LoadedScenario,
    settings: &PlanSettings,
    pace: Pace,
) -> ScenarioResult {
    let started = std::time::Instant::now();
    let scenario = &loaded.scenario;
    let mut result = ScenarioResult::for_scenario(loaded, Outcome::Pass);
    let steps = match plan(loaded, settings) {
        Ok(s) => s,
        Err(PlanError::NotApplicable(why)) => {
            result.outcome = Outcome::Skip;
            result.message = why;
            return result;
        }
        Err(PlanError::Invalid { step, message }) => {
            result.outcome = Outcome::Error;
            result.message = format!("invalid scenario, step {}: {message}", step + 1);
            return result;
        }
    };
    let total = scenario_deadline(&steps, settings);
    let mut run = Run {
        settings,
        start: Instant::now(),
        transcript: Default::default(),
        conns: HashMap::new(),
        nonces: steps
            .iter()
            .filter_map(|s| match &s.op {
                Op::Write {
                    message: Some(m), ..
                }
                | Op::Handshake {
                    message: Some(m), ..
                } => m.chat.as_ref().map(|c| c.nonce.clone()),
                Op::SendCompressed(send) => send
                    .message
                    .as_ref()
                    .and_then(|m| m.chat.as_ref().map(|c| c.nonce.clone())),
                _ => None,
            })
            .collect(),
        limits: crate::limits::sized_to(largest_sent(&steps)),
        pace,
    };
    let deadline = Instant::now() + total;
    let played = timeout_at(deadline, play(&mut run, &steps, &mut result)).await;
    if played.is_err() {
        let at = run.now();
        run.transcript.note(
            at,
            "",
            format!("scenario deadline of {} passed", seconds(total)),
        );
        result.outcome = Outcome::Fail;
        result.message = format!("the scenario did not finish within {}", seconds(total));
    }
    if let Some(hint) = result
        .failure
        .as_ref()
        .and_then(|f| f.step)
        .and_then(|i| scenario.steps.get(i))
        .and_then(|s| s.hint.clone())
    {
        result.hint = Some(hint);
    }
    result.transcript = run.transcript;
    if result.outcome == Outcome::Fail {
        result.diagnosis = crate::diagnose::diagnose(&result);
    }
    result.duration = started.elapsed();
    result.settle();
    result
}

/// A bound on the whole scenario: the sum of its steps' own bounds, plus
/// five seconds. Only a server that keeps the runner busy reaches it.
fn scenario_deadline(steps: &[PlannedStep], settings: &PlanSettings) -> Duration {
    steps
        .iter()
        .map(|s| match &s.op {
            Op::Expect { timeout, .. } => *timeout,
            Op::Pause(d) => *d,
            Op::Write { bytes, pause, .. } => {
                settings.timeout + pause.unwrap_or_default() * (bytes.len().min(100_000) as u32)
            }
            Op::Flood(flood) => flood.hang_guard(settings.timeout) + settings.timeout,
            Op::Handshake {
                request,
                then,
                pause,
                ..
            } => {
                let len = request.len() + then.len();
                settings.timeout * 2 + pause.unwrap_or_default() * (len.min(100_000) as u32)
            }
            _ => settings.timeout,
        })
        .sum::<Duration>()
        + Duration::from_secs(5)
}

/// The most bytes one step of the plan sends: what sizes the readers.
fn largest_sent(steps: &[PlannedStep]) -> usize {
    steps
        .iter()
        .map(|s| match &s.op {
            Op::Write { bytes, .. } => bytes.len(),
            Op::Handshake { then, .. } => then.len(),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

async fn play(run: &mut Run<'_>, steps: &[PlannedStep], result: &mut ScenarioResult) {
    for planned in steps {
        if !planned.twin && result.twin == Twin::None && steps.first().is_some_and(|s| s.twin) {
            result.twin = Twin::Passed;
            summarize_twin(run);
        }
        match play_step(run, planned).await {
            StepResult::Met => {}
            StepResult::Unreachable(why) => {
                result.outcome = Outcome::Error;
                result.message = why;
                return;
            }
            StepResult::NotApplicable(why) => {
                result.outcome = Outcome::Skip;
                result.message = why;
                return;
            }
            StepResult::Unmet(failure) => {
                if let Some(note) = note_of(&planned.op, &failure) {
                    result.notes.push(note);
                    continue;
                }
                result.outcome = Outcome::Fail;
                if planned.twin {
                    result.twin = Twin::Failed;
                    result.message = format!(
                        "{}: expected {}; got {}",
                        Twin::FAILED_NOTE,
                        failure.expected,
                        failure.actual
                    );
                    result.failure = Some(failure);
                    return;
                }
                result.message = if failure.prerequisite {
                    format!("the opening handshake failed: {}", failure.actual)
                } else {
                    format!("expected {}; got {}", failure.expected, failure.actual)
                };
                result.failure = Some(failure);
                return;
            }
        }
    }
}

/// An unmet step that is not a MUST, as a note: the weaker of the step's
/// strength and the judge's (a close code other than the one expected is a
/// `should` whatever the step). A broken protocol rule is always a MUST.
pub(crate) fn note_of(op: &Op, failure: &Failure) -> Option<Note> {
    let (strength, reason) = match op {
        Op::Expect {
            strength, reason, ..
        } if *strength < failure.strength => (*strength, reason.clone()),
        _ => (failure.strength, failure.reason.clone()),
    };
    if strength == Strength::Must || failure.rule.is_some() || failure.prerequisite {
        return None;
    }
    Some(Note {
        strength,
        step: failure.step,
        client: failure.client.clone(),
        expected: failure.expected.clone(),
        actual: failure.actual.clone(),
        reason: reason.unwrap_or_default(),
    })
}

/// Once the twin passed, its lines say nothing a reader of the scenario's
/// own failure needs: they become one note. (A failed twin keeps them: they
/// are the failure.) The raw bytes stay in the transcript's record.
fn summarize_twin(run: &mut Run<'_>) {
    let before = run.transcript.lines.len();
    run.transcript
        .lines
        .retain(|line| !crate::plan::is_twin_client(&line.client));
    let folded = before - run.transcript.lines.len();
    let at = run.now();
    run.transcript.note(
        at,
        &crate::plan::twin_client(crate::plan::DEFAULT_CLIENT),
        format!("the server handled the valid twin ({folded} lines not shown)"),
    );
}

async fn play_step(run: &mut Run<'_>, planned: &PlannedStep) -> StepResult {
    let client = planned.client.as_str();
    match &planned.op {
        Op::Handshake {
            request,
            key,
            then,
            chunks,
            pause,
            ..
        } => {
            let bytes = [request.as_slice(), then.as_slice()].concat();
            handshake(
                run,
                client,
                key,
                &bytes,
                request.len(),
                chunks.as_ref(),
                pause.as_ref(),
            )
            .await
        }
        Op::Write {
            bytes,
            chunks,
            pause,
            ..
        } => {
            write(run, client, bytes, chunks.as_ref(), pause.as_ref()).await;
            StepResult::Met
        }
        Op::SendCompressed(send) => {
            let bytes = run.compressed_frames(client, send);
            write(
                run,
                client,
                &bytes,
                send.chunks.as_ref(),
                send.pause.as_ref(),
            )
            .await;
            StepResult::Met
        }
        Op::Pause(d) => {
            tokio::time::sleep(*d).await;
            StepResult::Met
        }
        Op::Flood(flood) => play_flood(run, planned, flood).await,
        Op::Disconnect => {
            if let Some(c) = run.conns.get_mut(client) {
                c.stream = None;
                c.state.ended = Some(PeerEnd::Reset("disconnected by the scenario".into()));
            }
            let at = run.now();
            run.transcript.note(
                at,
                client,
                "disconnected (TCP closed without a closing handshake)",
            );
            StepResult::Met
        }
        Op::Expect {
            expected,
            timeout,
            prerequisite,
            answer,
            ..
        } => match expect(run, client, expected, *timeout, !*prerequisite, *answer).await {
            None if matches!(expected, Expected::Accepted) => match run.start_deflate(client) {
                Some(why) => StepResult::NotApplicable(why),
                None => StepResult::Met,
            },
            None => StepResult::Met,
            Some(mut failure) => {
                failure.step = planned.step;
                failure.prerequisite = *prerequisite;
                StepResult::Unmet(failure)
            }
        },
    }
}

/// Connects, sends the request (and any `then` frames) as one stream of
/// bytes, cut into pieces only when the scenario says so, and reads the
/// response; the expectation that follows judges it.
async fn handshake(
    run: &mut Run<'_>,
    client: &str,
    key: &str,
    bytes: &[u8],
    request_len: usize,
    chunks: Option<&Chunks>,
    pause: Option<&Duration>,
) -> StepResult {
    let step_timeout = run.settings.timeout;
    let addr = run.settings.target.authority();
    // A server that stopped answering also stops accepting: its backlog
    // fills, and a connection waits like a handshake.
    let connect_wait = run.pace.wait(step_timeout, false);
    let deadline = Instant::now() + connect_wait;
    let stream = match connect(&addr, deadline).await {
        Err(ConnectError::TimedOut) => {
            return StepResult::Unreachable(format!(
                "cannot connect to {addr}: no answer within {}",
                seconds(connect_wait)
            ));
        }
        Err(ConnectError::Io(e)) => {
            return StepResult::Unreachable(format!(
                "cannot connect to {addr}: {e} (is the server running?)"
            ));
        }
        Ok(s) => s,
    };
    let mut conn = Conn::new(stream, key.to_string(), run.limits);
    let (request, then) = bytes.split_at(request_len.min(bytes.len()));
    conn.state.offer = deflate::offered(request);
    conn.state.protocols = deflate::request_header(request, "Sec-WebSocket-Protocol");
    run.conns.insert(client.to_string(), conn);
    let at = run.now();
    run.transcript.http(at, client, LineKind::Sent, request);
    if !then.is_empty() {
        run.transcript.frames(at, client, LineKind::Sent, then);
    }
    let pieces = split_chunks(bytes, chunks);
    note_pieces(run, at, client, pieces.len(), pause);
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0
            && let Some(p) = pause
        {
            tokio::time::sleep(*p).await;
        }
        let deadline = Instant::now() + step_timeout;
        if let Err(e) = run.write(client, piece, deadline).await {
            if let Some(c) = run.conns.get_mut(client) {
                c.state.response = Some(Err(format!("could not send the request: {e}")));
            }
            return StepResult::Met;
        }
    }
    let wait = run.pace.wait(step_timeout, false);
    let deadline = Instant::now() + wait;
    let response = run.read_response(client, deadline, wait).await;
    if let Some(c) = run.conns.get_mut(client) {
        c.state.response = Some(response);
    }
    StepResult::Met
}

/// Writes bytes as the scenario cuts them; a write that fails ends the
/// connection (the expectation that follows says so).
async fn write(
    run: &mut Run<'_>,
    client: &str,
    bytes: &[u8],
    chunks: Option<&Chunks>,
    pause: Option<&Duration>,
) {
    let step_timeout = run.settings.timeout;
    let ended = run
        .conns
        .get(client)
        .is_none_or(|c| c.state.ended.is_some() || c.stream.is_none());
    let at = run.now();
    run.transcript.frames(at, client, LineKind::Sent, bytes);
    if ended {
        run.transcript
            .note(at, client, "(not sent: the connection is already closed)");
        return;
    }
    let pieces = split_chunks(bytes, chunks);
    note_pieces(run, at, client, pieces.len(), pause);
    let scaled = crate::plan::scaled_for(bytes.len());
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0
            && let Some(p) = pause
        {
            tokio::time::sleep(*p).await;
        }
        let deadline = Instant::now() + step_timeout + scaled;
        if let Err(e) = run.write(client, piece, deadline).await {
            let at = run.now();
            run.transcript
                .note(at, client, format!("(write stopped: {e})"));
            if let Some(c) = run.conns.get_mut(client) {
                c.state.ended.get_or_insert(PeerEnd::Reset(e));
            }
            break;
        }
    }
}

/// Plays a `flood` step and records its outcome as notes.
async fn play_flood(run: &mut Run<'_>, planned: &PlannedStep, flood: &FloodPlan) -> StepResult {
    let client = planned.client.as_str();
    let at = run.now();
    run.transcript.note(
        at,
        client,
        format!(
            "flood: {} × {}, {} expected",
            crate::wording::count(flood.clients.len() as u64, "client"),
            crate::wording::count(
                flood.clients.first().map_or(0, |c| c.messages.len()) as u64,
                "message"
            ),
            crate::wording::count_as(
                (flood.expected_per_client() * flood.clients.len()) as u64,
                "delivery",
                "deliveries"
            )
        ),
    );
    // A silent server's flood fails at its first echo: wait for it no
    // longer than for any other answer.
    let timeout = run.pace.wait(run.settings.timeout, true);
    match crate::flood::play_flood(flood, run.settings, timeout).await {
        Ok(report) => {
            let at = run.now();
            run.transcript.note(
                at,
                client,
                format!(
                    "flood: {} messages sent, {} delivered in order in {} ms",
                    report.sent,
                    report.delivered,
                    report.elapsed.as_millis()
                ),
            );
            StepResult::Met
        }
        Err(failed) => {
            let at = run.now();
            run.transcript
                .note(at, &failed.client, format!("flood: {}", failed.actual));
            StepResult::Unmet(Failure {
                step: planned.step,
                client: failed.client,
                expected: match flood.profile {
                    Profile::Chat => "every client to receive every client's messages once each, in the order each sender sent them".into(),
                    Profile::Echo => "every client to get each of its messages back once, in order".into(),
                },
                actual: failed.actual,
                rule: None,
                caret: None,
                prerequisite: false,
                strength: Strength::Must,
                reason: None,
            })
        }
    }
}

/// Waits for `expected` on `client`'s connection: reads event after event,
/// records each, and stops as soon as the judge decides. `None`: met.
async fn expect(
    run: &mut Run<'_>,
    client: &str,
    expected: &Expected,
    full: Duration,
    cut: bool,
    answer: bool,
) -> Option<Failure> {
    // A cut pace shortens only waits on a connection the server upgraded,
    // never the wait for the handshake's own answer, nor what follows a
    // refused handshake.
    let upgraded = cut
        && run
            .conns
            .get(client)
            .is_some_and(|c| matches!(&c.state.response, Some(Ok(r)) if r.status == 101));
    let pace = |d: Duration| run.pace.wait(d, upgraded);
    let timeout = pace(full);
    let deadline = match expected {
        Expected::Silence(d) => Instant::now() + pace(*d),
        _ => Instant::now() + timeout,
    };
    // The judge reads the connection as the step found it; reading below
    // changes the connection, so the judge gets its own copy.
    let state = run.conns.get(client).map(|c| c.state.clone());
    let nonces = run.chat_nonces().map(<[String]>::to_vec);
    let before = Before {
        client,
        conn: state.as_ref(),
        nonces: nonces.as_deref(),
        timeout,
    };
    let (mut judging, mut progress) = Judging::start(expected, before);
    let frames = judging.wants_frames();
    // Whether the wait ended without a whole frame (a timeout or the end of
    // the connection): a frame sent only in part is then worth showing.
    let mut starved = false;
    while progress == Progress::NeedMore {
        let event = if frames {
            run.next_raw_frame(client, deadline).await
        } else {
            run.next_event(client, deadline, answer).await
        };
        let at = run.now();
        run.transcript.event(at, client, &event);
        progress = judging.feed(&event);
        starved = matches!(event, Event::TimedOut | Event::Ended(_));
        if matches!(progress, Progress::Unmet(_)) {
            match &event {
                Event::TimedOut => {
                    let what = describe_expected(expected);
                    let cut = if timeout < full {
                        format!(" (cut from {}: {})", seconds(full), run.pace.why)
                    } else {
                        String::new()
                    };
                    run.transcript.note(
                        at,
                        client,
                        format!(
                            "timed out after {} waiting for {what}{cut}",
                            seconds(timeout)
                        ),
                    );
                }
                Event::Ended(end) => {
                    run.transcript.note(at, client, end.describe());
                }
                _ => {}
            }
        }
    }
    match progress {
        Progress::Unmet(mut failure) => {
            if starved
                && failure.rule.is_none()
                && let Some((line, piece)) = run.record_partial(client)
                && let Some(what) = incomplete_frame(&piece)
            {
                let rest = match failure.actual.strip_prefix("nothing") {
                    Some(after) => format!("nothing more{after}"),
                    None => failure.actual.clone(),
                };
                failure.actual = format!("{what}; then {rest}");
                failure.caret = Some(Caret {
                    line,
                    byte: incomplete_caret(&piece),
                });
            }
            // A 101 that does not hold up ends the connection.
            if matches!(expected, Expected::Accepted)
                && let Some(c) = run.conns.get_mut(client)
                && matches!(c.state.response, Some(Ok(_)))
            {
                c.state.ended = Some(PeerEnd::Reset("handshake not accepted".into()));
            }
            Some(failure)
        }
        _ => None,
    }
}

fn split_chunks<'a>(bytes: &'a [u8], chunks: Option<&Chunks>) -> Vec<&'a [u8]> {
    match chunks {
        None => vec![bytes],
        Some(Chunks::Every(n)) => bytes.chunks((*n).max(1)).collect(),
        Some(Chunks::Sizes(sizes)) => {
            let mut out = Vec::new();
            let mut rest = bytes;
            for size in sizes {
                if rest.is_empty() {
                    break;
                }
                let (piece, after) = rest.split_at((*size).min(rest.len()));
                out.push(piece);
                rest = after;
            }
            if !rest.is_empty() {
                out.push(rest);
            }
            out
        }
    }
}

/// Notes in the transcript that a write was cut into several pieces (a slow
/// client), so a reader of a failure sees how the bytes went out.
fn note_pieces(run: &mut Run, at: Duration, client: &str, pieces: usize, pause: Option<&Duration>) {
    if pieces > 1 {
        let pause_text = pause
            .map(|p| format!(", {} ms apart", p.as_millis()))
            .unwrap_or_default();
        run.transcript.note(
            at,
            client,
            format!(
                "(written in {}{pause_text})",
                crate::wording::count(pieces as u64, "piece")
            ),
        );
    }
}
