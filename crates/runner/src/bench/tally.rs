//! What the load tasks of one run share (the budget that tells them when to
//! stop), what each brings back (its tally), and the collector that stops
//! them on time and adds their tallies up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::histogram::LatencyHistogram;
use super::settings::{MAX_DURATION, Settings, StopCondition};

/// What one connection's task brings back, and (added up) what a run
/// measured.
#[derive(Default)]
pub(super) struct ClientTally {
    pub(super) messages: u64,
    pub(super) seconds: f64,
    pub(super) latency: LatencyHistogram,
    pub(super) failed: usize,
    pub(super) first_error: Option<String>,
    pub(super) cut_short: bool,
    pub(super) cpu_seconds: f64,
    /// Bytes written to and read from the server in the measured messages.
    pub(super) wire_sent: u64,
    pub(super) wire_received: u64,
}

impl ClientTally {
    /// Adds another task's tally to this one.
    pub(super) fn absorb(&mut self, other: ClientTally) {
        self.messages += other.messages;
        self.latency.merge(&other.latency);
        self.failed += other.failed;
        self.wire_sent += other.wire_sent;
        self.wire_received += other.wire_received;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The tally of a task that failed with `error`.
    pub(super) fn failure(error: String) -> ClientTally {
        ClientTally {
            failed: 1,
            first_error: Some(error),
            ..ClientTally::default()
        }
    }

    /// Marks this tally's task as failed with `error`.
    pub(super) fn fail(&mut self, error: String) {
        self.failed = 1;
        self.first_error = Some(error);
    }
}

/// What the tasks of one run share: when to stop.
pub(super) struct LoadBudget {
    /// Set when the time is up (duration mode).
    pub(super) stop: AtomicBool,
    /// Messages still to send (count mode); `u64::MAX` in duration mode.
    pub(super) tickets: AtomicU64,
    /// Chat deliveries so far, over all clients: the sender's window.
    pub(super) delivered: AtomicU64,
}

impl LoadBudget {
    pub(super) fn new(stop: StopCondition) -> LoadBudget {
        let tickets = match stop {
            StopCondition::Count(n) => n,
            StopCondition::After(_) => u64::MAX,
        };
        LoadBudget {
            stop: AtomicBool::new(false),
            tickets: AtomicU64::new(tickets),
            delivered: AtomicU64::new(0),
        }
    }

    /// May one more message be sent?
    pub(super) fn take_ticket(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        self.tickets
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// Waits for the tasks to end, stopping them when the time is up, and adds
/// up what they measured.
pub(super) async fn collect(
    settings: &Settings,
    mut tasks: JoinSet<ClientTally>,
    budget: &LoadBudget,
    start: Instant,
) -> ClientTally {
    let mut total = ClientTally::default();
    let hard_stop = start + settings.deadline;
    let soft_stop = match settings.stop {
        StopCondition::After(d) => start + d.min(settings.deadline),
        StopCondition::Count(_) => hard_stop,
    };
    let mut stop_timer = std::pin::pin!(tokio::time::sleep_until(soft_stop.into()));
    let mut stopped = false;
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(tally)) => total.absorb(tally),
                Some(Err(e)) => total.absorb(ClientTally::failure(format!("task failed: {e}"))),
                None => break,
            },
            () = &mut stop_timer => {
                if stopped {
                    // The grace period is over too: give up on the rest.
                    total.cut_short = true;
                    tasks.abort_all();
                    stop_timer.set(tokio::time::sleep(MAX_DURATION));
                    continue;
                }
                budget.stop.store(true, Ordering::Relaxed);
                stopped = true;
                if matches!(settings.stop, StopCondition::Count(_)) {
                    total.cut_short = true;
                }
                // Every task now finishes the message in flight; one that
                // waits on a silent server is cut off after a grace period.
                let grace = hard_stop.max(Instant::now()) + Duration::from_secs(2);
                stop_timer.set(tokio::time::sleep_until(grace.into()));
            }
        }
    }
    total.seconds = start.elapsed().as_secs_f64();
    total
}
