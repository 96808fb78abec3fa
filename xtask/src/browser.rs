//! `cargo xtask browser`: the pages people open, checked in a real browser.
//!
//! Unit tests prove the server speaks RFC 6455 and that the HTML report is
//! escaped; neither proves that a browser's own WebSocket client talks to the
//! reference server, or that the report renders. This task does, with
//! headless Chromium (Debian's `chromium` package, at `/usr/bin/chromium` or
//! `$CHROMIUM`):
//!
//! 1. It starts the reference server in this process on a free loopback
//!    port, opens its chat page twice, types a message in the first page and
//!    waits until it appears in **both** — the chat's `chat.js` running for
//!    real against `/socket`. The message contains markup, which must show
//!    as text and never become an element.
//! 2. It runs the bundled suite against a testbed server with one bug (so
//!    the page has failures, transcripts and carets to show), writes the
//!    HTML report, opens it, and checks that every scenario of the run is in
//!    it (one grid cell and one detail each), that a grid link opens its
//!    detail, and that on a phone-sized screen nothing is wider than the
//!    screen.
//!
//! Screenshots of each step go to `target/browser/` for a person to look
//! at. The task is not part of `cargo test`: it needs a browser that the
//! machine may not have, and it installs nothing itself. CI installs
//! `chromium` and runs it; without Chromium it fails with the install
//! command.
//!
//! The browser is driven with `chromiumoxide`, a client of the Chrome
//! DevTools Protocol on tokio: it talks to Chromium directly (no separate
//! chromedriver package to install and keep in step with the browser), runs
//! in the same runtime as the in-process server, and has screenshots and
//! device emulation built in.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chromiumoxide::Page;
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::page::ScreenshotParams;
use futures_util::StreamExt;
use wsconform_runner::load::bundled;
use wsconform_runner::plan::{PlanSettings, Profile, Target};
use wsconform_runner::report::html;
use wsconform_runner::suite::{RunReport, run_suite};
use wsconform_runner::verdict::Outcome;
use wsconform_testbed::{Bug, Server};

use crate::project_root;

/// Where Debian's package puts the browser.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// How long any one wait in a page may take before the check fails (a hang
/// guard: on a healthy machine each takes milliseconds).
const WAIT: Duration = Duration::from_secs(15);

/// A hang guard for the whole check (it takes seconds).
const WHOLE_CHECK: Duration = Duration::from_secs(180);

/// The message typed into the chat. The markup must be displayed as text.
const MESSAGE: &str = "hello from the browser check <b>not bold</b>";

/// The testbed bug the report is made from: long frames carry a
/// little-endian length, so the report has failures with carets to show.
const REPORT_BUG: Bug = Bug::WrongLongLength;

/// Runs the browser check.
pub fn run() -> Result<()> {
    let chromium = chromium_path()?;
    let out_dir = project_root().join("target").join("browser");
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime
        .block_on(async { tokio::time::timeout(WHOLE_CHECK, check(&chromium, &out_dir)).await })
        .map_err(|_| {
            anyhow::anyhow!(
                "the browser check did not finish within {} s",
                WHOLE_CHECK.as_secs()
            )
        })??;
    eprintln!(
        "browser check passed in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        out_dir.display()
    );
    Ok(())
}

/// The browser to use: `$CHROMIUM` or `/usr/bin/chromium`, which must exist.
fn chromium_path() -> Result<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CHROMIUM));
    existing_browser(path)
}

/// `path` if it is a file; otherwise an error that says how to install one.
fn existing_browser(path: PathBuf) -> Result<PathBuf> {
    if !path.is_file() {
        bail!(
            "Chromium not found at {}: the browser check needs headless Chromium.\n\
             Install it (Debian/Ubuntu): sudo apt-get update && sudo apt-get install -y chromium\n\
             or point CHROMIUM at another Chromium or Chrome binary.",
            path.display()
        );
    }
    Ok(path)
}

async fn check(chromium: &Path, out_dir: &Path) -> Result<()> {
    // The reference server, for the chat page.
    let server = wsconform_server::spawn(wsconform_server::Config::ephemeral())
        .await
        .context("cannot start the reference server")?;
    let addr = server.local_addr();

    // The report to look at, made before the browser starts.
    let report = report_with_failures().await?;
    let report_path = out_dir.join("report.html");
    std::fs::write(&report_path, html::render(&report))
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    eprintln!(
        "wrote {} ({} scenarios against {})",
        report_path.display(),
        report.results.len(),
        REPORT_BUG.name()
    );

    let profile_dir = out_dir.join(format!("profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile_dir);
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .disable_default_args()
        .no_sandbox()
        .user_data_dir(&profile_dir)
        .window_size(1280, 900)
        .viewport(None)
        .launch_timeout(Duration::from_secs(30))
        .args([
            "disable-gpu",
            "disable-quic",
            "no-first-run",
            "disable-background-networking",
            "disable-component-update",
            "disable-sync",
        ])
        .build()
        .map_err(|e| anyhow::anyhow!("cannot configure Chromium: {e}"))?;
    let (mut browser, mut handler) = Browser::launch(config).await.with_context(|| {
        format!(
            "cannot start {} (is it a working Chromium? try `{} --headless --version`)",
            chromium.display(),
            chromium.display()
        )
    })?;
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });

    let outcome = async {
        chat(&browser, &format!("http://{addr}/"), out_dir).await?;
        report_page(&browser, &report_path, &report, out_dir).await
    }
    .await;

    // Ask the browser to quit, and kill it if it does not within seconds.
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = browser.close().await;
        let _ = browser.wait().await;
    })
    .await;
    if closed.is_err() {
        let _ = browser.kill().await;
    }
    events.abort();
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&profile_dir);
    outcome
}

/// Runs the bundled suite (echo profile) against a testbed server with one
/// bug, in this process.
async fn report_with_failures() -> Result<RunReport> {
    let scenarios = bundled().map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the bundled suite does not load:\n{}", lines.join("\n"))
    })?;
    let (addr, handle) = wsconform_testbed::start(
        Server::Mutant(Some(REPORT_BUG)),
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .context("cannot start the testbed server")?;
    let target = Target::parse(&format!("ws://{addr}/echo"))
        .map_err(|e| anyhow::anyhow!("bad target: {e}"))?;
    let settings = PlanSettings {
        target,
        profile: Profile::Echo,
        timeout: Duration::from_secs(2),
        run_id: 1,
    };
    let report = run_suite(&scenarios, &settings, 2, |_| {}).await;
    handle.shutdown().await;
    if report.passed() {
        bail!(
            "the testbed server with {} passed every scenario; the report would show no failure",
            REPORT_BUG.name()
        );
    }
    Ok(report)
}

/// Evaluates `expression` in `page`'s main frame and reads the result as
/// `T`. This is the protocol's `Runtime.evaluate` with the value returned
/// as JSON; each call is bounded by [`WAIT`].
async fn eval<T: serde::de::DeserializeOwned>(page: &Page, expression: &str) -> Result<T> {
    let params = EvaluateParams::builder()
        .expression(expression)
        .return_by_value(true)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build an evaluation: {e}"))?;
    let reply = tokio::time::timeout(WAIT, page.execute(params))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "the page did not evaluate `{expression}` within {} s",
                WAIT.as_secs()
            )
        })?
        .with_context(|| format!("evaluating `{expression}` failed"))?;
    if let Some(exception) = &reply.result.exception_details {
        bail!("`{expression}` threw: {}", exception.text);
    }
    let value = reply
        .result
        .result
        .value
        .clone()
        .unwrap_or(serde_json::Value::Null);
    serde_json::from_value(value).with_context(|| format!("unexpected result of `{expression}`"))
}

/// Polls `expression` until it is true, or fails after [`WAIT`] with `what`.
async fn wait_until(page: &Page, expression: &str, what: &str) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        if eval::<bool>(page, expression).await.unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out after {} s waiting until {what}", WAIT.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn screenshot(page: &Page, path: &Path, full_page: bool) -> Result<()> {
    page.save_screenshot(
        ScreenshotParams::builder().full_page(full_page).build(),
        path,
    )
    .await
    .with_context(|| format!("cannot save the screenshot {}", path.display()))?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// Runs one browser command, bounded by [`WAIT`]; `what` names it in errors.
async fn bounded<T>(
    what: &str,
    command: impl std::future::Future<Output = chromiumoxide::Result<T>>,
) -> Result<T> {
    tokio::time::timeout(WAIT, command)
        .await
        .map_err(|_| anyhow::anyhow!("timed out after {} s {what}", WAIT.as_secs()))?
        .with_context(|| format!("{what} failed"))
}

/// Clicks the field `selector` and types `text` into it, key by key, as a
/// person would.
async fn type_into(page: &Page, selector: &str, text: &str) -> Result<()> {
    let field = bounded(&format!("finding {selector}"), page.find_element(selector)).await?;
    bounded(&format!("clicking {selector}"), field.click()).await?;
    bounded(&format!("typing into {selector}"), field.type_str(text)).await?;
    Ok(())
}

/// Two chat pages; a message typed in one appears in both.
async fn chat(browser: &Browser, url: &str, out_dir: &Path) -> Result<()> {
    let alice = browser
        .new_page(url)
        .await
        .context("cannot open the chat page")?;
    let bob = browser
        .new_page(url)
        .await
        .context("cannot open the second chat page")?;
    let connected = "document.getElementById('status').textContent === 'Connected.'";
    wait_until(&alice, connected, "the first chat page is connected").await?;
    wait_until(&bob, connected, "the second chat page is connected").await?;

    // Input goes to the tab in front; the second page opened last.
    bounded(
        "bringing the first page to the front",
        alice.bring_to_front(),
    )
    .await?;
    type_into(&alice, "#username", "alice").await?;
    type_into(&alice, "#message", MESSAGE).await?;
    let send = bounded(
        "finding the send button",
        alice.find_element("#chat-form button"),
    )
    .await?;
    bounded("clicking the send button", send.click()).await?;

    let arrived = format!(
        "Array.from(document.querySelectorAll('#messages li')).some(li => \
         li.querySelector('.username') && li.querySelector('.username').textContent === 'alice' \
         && li.textContent.includes({}))",
        serde_json::to_string(MESSAGE)?
    );
    wait_until(
        &alice,
        &arrived,
        "the message is shown in the page that sent it",
    )
    .await?;
    wait_until(&bob, &arrived, "the message is shown in the other page").await?;
    for (name, page) in [("first", &alice), ("second", &bob)] {
        let markup: usize = eval(page, "document.querySelectorAll('#messages b').length").await?;
        if markup != 0 {
            bail!(
                "the {name} chat page turned a message's markup into elements: it must show text"
            );
        }
    }
    eprintln!("chat: a message typed in one page appeared in both");
    screenshot(&alice, &out_dir.join("chat-sender.png"), false).await?;
    screenshot(&bob, &out_dir.join("chat-receiver.png"), false).await?;
    Ok(())
}

/// The HTML report: every scenario is in it, links open details, and a
/// phone-sized screen does not scroll sideways.
async fn report_page(
    browser: &Browser,
    path: &Path,
    report: &RunReport,
    out_dir: &Path,
) -> Result<()> {
    let url = format!("file://{}", path.display());
    let page = browser
        .new_page(url.as_str())
        .await
        .context("cannot open the HTML report")?;
    wait_until(
        &page,
        "document.readyState === 'complete'",
        "the report is loaded",
    )
    .await?;

    let details: Vec<String> = eval(
        &page,
        "Array.from(document.querySelectorAll('details.scenario')).map(d => d.dataset.id)",
    )
    .await?;
    let cells: usize = eval(&page, "document.querySelectorAll('#grid a.cell').length").await?;
    let missing: Vec<&str> = report
        .results
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !details.iter().any(|d| d == id))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} scenarios are missing from the HTML report, e.g. {}",
            missing.len(),
            missing
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if details.len() != report.results.len() || cells != report.results.len() {
        bail!(
            "the HTML report shows {} details and {} grid cells for {} scenarios",
            details.len(),
            cells,
            report.results.len()
        );
    }
    eprintln!(
        "report: all {} scenarios are in the page (grid and details)",
        details.len()
    );
    screenshot(&page, &out_dir.join("report-top.png"), false).await?;

    // Following a grid link to a passing scenario (closed by default) opens it.
    let Some(passing) = report.results.iter().find(|r| r.outcome == Outcome::Pass) else {
        bail!("the report run has no passing scenario to open");
    };
    let anchor = html::anchor(&passing.id);
    eval::<bool>(
        &page,
        &format!("(document.querySelector('#grid a[href=\"#{anchor}\"]').click(), true)"),
    )
    .await?;
    wait_until(
        &page,
        &format!("document.getElementById('{anchor}').open === true"),
        "a grid link opens the scenario's detail",
    )
    .await?;

    // A failure's detail, with its transcript, for a person to look at.
    let with_caret = report
        .results
        .iter()
        .find(|r| r.failure.as_ref().is_some_and(|f| f.caret.is_some()));
    let failed = with_caret.or_else(|| report.results.iter().find(|r| r.outcome == Outcome::Fail));
    if let Some(failed) = failed {
        let anchor = html::anchor(&failed.id);
        eval::<bool>(
            &page,
            &format!("(location.hash = '#{anchor}', document.getElementById('{anchor}').scrollIntoView(), true)"),
        )
        .await?;
        screenshot(&page, &out_dir.join("report-failure.png"), false).await?;
    }

    // A phone: 390 × 844 CSS pixels, as a mobile device.
    page.execute(SetDeviceMetricsOverrideParams::new(390, 844, 2.0, true))
        .await
        .context("cannot emulate a phone screen")?;
    eval::<bool>(&page, "(window.scrollTo(0, 0), true)").await?;
    wait_until(&page, "screen.width <= 400", "the phone screen applies").await?;
    let overflow: i64 = eval(
        &page,
        "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    )
    .await?;
    if overflow > 0 {
        bail!("on a phone-sized screen the report is {overflow} px wider than the screen");
    }
    eprintln!("report: no sideways scrolling on a 390 px wide phone screen");
    screenshot(&page, &out_dir.join("report-phone.png"), false).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_browser_is_an_error_with_the_install_command() {
        let missing = project_root().join("target").join("no-such-chromium");
        let message = format!("{:#}", existing_browser(missing).unwrap_err());
        assert!(message.contains("no-such-chromium"), "{message}");
        assert!(message.contains("apt-get install -y chromium"), "{message}");
    }

    #[test]
    fn an_existing_file_is_accepted() {
        let manifest = project_root().join("xtask").join("Cargo.toml");
        assert_eq!(existing_browser(manifest.clone()).unwrap(), manifest);
    }
}
