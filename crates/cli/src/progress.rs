//! The progress bar shown while a suite runs.
//!
//! A full run takes seconds to minutes, and a terminal that shows nothing
//! for that long looks hung. On a terminal we draw an indicatif bar on
//! standard error (standard output stays clean for the report), with the
//! count, the elapsed time and the last scenario that finished with its
//! mark (`✗ lengths.16bit-126`). The bar is cleared at the end, where the
//! grouped report takes its place.
//!
//! No bar is drawn where nobody watches it or where it would only add noise:
//! when standard error is not a terminal (piped, redirected to a file), when
//! `CI` is set (CI logs keep every redraw as a new line), or with
//! `--no-progress`. `NO_COLOR` keeps the bar but drops its colours.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use wsconform_runner::report::human::mark;
use wsconform_runner::verdict::ScenarioResult;

/// Whether to draw a bar: a terminal on standard error, not under CI, not
/// turned off with `--no-progress`.
pub fn wanted(no_progress: bool) -> bool {
    !no_progress
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

/// The bar for a run of `total` scenarios, or a hidden one (every call on
/// it does nothing) when `show` is false.
pub fn bar(total: usize, show: bool, color: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let template = if color {
        "{spinner:.cyan} [{elapsed_precise}] [{bar:30.cyan/blue}] {pos}/{len} {wide_msg}"
    } else {
        "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} {wide_msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Advances the bar for one finished scenario, showing its mark and id.
pub fn advance(bar: &ProgressBar, r: &ScenarioResult) {
    bar.set_message(format!("{} {}", mark(r.outcome), r.id));
    bar.inc(1);
}
