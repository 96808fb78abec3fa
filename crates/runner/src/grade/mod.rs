//! Grading a class: one command for a folder of submissions.
//!
//! Every sub-folder of the submissions folder is one student's server
//! ([`submissions`]). Each is started on its own loopback port, confined
//! and supervised ([`isolation`], [`process`]), played the suite on each
//! endpoint (echo at `/echo`, chat at `/socket` by default), and stopped.
//! The results become one record ([`record`], `grade.json`), rendered as
//! `grades.csv` ([`csv`]) and `overview.html` ([`overview`]), next to each
//! submission's own JSON, HTML and Gradescope reports ([`reports`]).
//! `--shard i/n` grades a stable part of the class and [`merge`] joins the
//! parts; [`baseline`] serves a library's CI (`run --baseline`).

pub mod baseline;
pub mod cgroups;
pub mod csv;
pub mod isolation;
pub mod network;
pub mod overview;
pub mod process;
pub mod record;
pub mod reports;
pub mod selection;
pub mod submissions;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::load::LoadedScenario;
use crate::plan::Profile;
use crate::scenario::ProfileNeed;
use crate::verdict::NonStrictPoints;

use cgroups::Cgroups;
use isolation::{Account, Limits};
use process::{Ports, grade_one};
use record::{Gradebook, RECORD_FILE, Row, Settings};
use selection::Weights;
use submissions::{Shard, Submission};

/// A profile played against a path of every server, with its scenarios.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// echo or chat.
    pub profile: Profile,
    /// `/echo`, `/socket`.
    pub path: String,
    /// The scenarios played there.
    pub scenarios: Vec<LoadedScenario>,
}

/// Splits the selected scenarios between the endpoints so each runs once:
/// echo gets the scenarios for any profile and the echo ones, chat its
/// own (and the any-profile ones when there is no echo endpoint).
/// Scenarios of a profile not graded are left out of the class's points.
pub fn endpoints(wanted: &[(Profile, String)], selected: &[LoadedScenario]) -> Vec<Endpoint> {
    let has_echo = wanted.iter().any(|(p, _)| *p == Profile::Echo);
    wanted
        .iter()
        .map(|(profile, path)| {
            let scenarios = selected
                .iter()
                .filter(|s| match (profile, s.scenario.profile) {
                    (Profile::Echo, ProfileNeed::Any | ProfileNeed::Echo) => true,
                    (Profile::Chat, ProfileNeed::Chat) => true,
                    (Profile::Chat, ProfileNeed::Any) => !has_echo,
                    _ => false,
                })
                .cloned()
                .collect();
            Endpoint {
                profile: *profile,
                path: path.clone(),
                scenarios,
            }
        })
        .collect()
}

/// Everything a class is graded with.
#[derive(Debug, Clone)]
pub struct GradeSettings {
    /// The folder of submissions.
    pub submissions: PathBuf,
    /// The start command, `{port}` and `{dir}` replaced per submission.
    pub start: String,
    /// The endpoints, each with its scenarios ([`endpoints`]).
    pub endpoints: Vec<Endpoint>,
    /// The whole suite loaded, for its fingerprint.
    pub suite: Vec<LoadedScenario>,
    /// `--up-to`, as given (recorded).
    pub up_to: Option<String>,
    /// Point weights per chapter.
    pub weights: Weights,
    /// The base seed.
    pub seed: u64,
    /// Part of the class to grade.
    pub shard: Option<Shard>,
    /// Submissions graded at once.
    pub jobs: usize,
    /// Scenarios run at once within a submission.
    pub scenario_jobs: usize,
    /// Deadline of each step.
    pub step_timeout: Duration,
    /// How long a server gets to accept connections.
    pub start_timeout: Duration,
    /// How long a submission's whole suite may take.
    pub wall_limit: Duration,
    /// Memory, CPU and process limits.
    pub limits: Limits,
    /// The unprivileged user servers run as (when root).
    pub account: Option<Account>,
    /// Private networks per submission, or the shared loopback ([`network::prepare`]).
    pub network: network::Network,
    /// This program, re-run to confine and supervise each server.
    pub program: PathBuf,
    /// The output folder.
    pub out: PathBuf,
    /// What a non-strict result earns.
    pub non_strict_points: NonStrictPoints,
}

impl GradeSettings {
    /// Every scenario graded, in suite order.
    pub fn graded_scenarios(&self) -> Vec<LoadedScenario> {
        let mut all: Vec<LoadedScenario> = Vec::new();
        for s in &self.suite {
            if self
                .endpoints
                .iter()
                .any(|e| e.scenarios.iter().any(|t| t.scenario.id == s.scenario.id))
            {
                all.push(s.clone());
            }
        }
        all
    }
}

/// Why a class could not be graded at all (a submission's failure is a row, never this).
#[derive(Debug, thiserror::Error)]
pub enum GradeError {
    /// The submissions folder cannot be read.
    #[error("cannot read the submissions folder {path}: {source}")]
    Submissions {
        /// The folder.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// An output folder to merge is not a gradebook, or does not fit the others.
    #[error("{0}")]
    Merge(String),
}

/// The submissions this run grades: the folder's, within the shard.
pub fn class(settings: &GradeSettings) -> Result<Vec<Submission>, GradeError> {
    let all =
        submissions::list(&settings.submissions).map_err(|source| GradeError::Submissions {
            path: settings.submissions.display().to_string(),
            source,
        })?;
    Ok(all
        .into_iter()
        .filter(|s| settings.shard.is_none_or(|shard| shard.holds(&s.name)))
        .collect())
}

fn write(path: &Path, body: impl AsRef<[u8]>) -> Result<(), GradeError> {
    std::fs::write(path, body).map_err(|source| GradeError::Write {
        path: path.display().to_string(),
        source,
    })
}

fn create_dir(path: &Path) -> Result<(), GradeError> {
    std::fs::create_dir_all(path).map_err(|source| GradeError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Grades one submission on a thread of its own, moved into a new network
/// namespace with a single-threaded runtime: the server it starts and every
/// socket the suite opens live in that namespace ([`network`]).
async fn grade_in_private_network(
    submission: &Submission,
    settings: &Arc<GradeSettings>,
    ports: &Arc<Ports>,
    cgroups: Option<Arc<Cgroups>>,
    folder: &Path,
) -> process::Graded {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (submission_, settings_, ports_, folder_) = (
        submission.clone(),
        Arc::clone(settings),
        Arc::clone(ports),
        folder.to_path_buf(),
    );
    let started = std::thread::Builder::new()
        .name(format!("grade {}", submission.name))
        .spawn(move || {
            let graded = match network::enter_private_network().and_then(|()| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            }) {
                Ok(runtime) => runtime.block_on(grade_one(
                    &submission_,
                    &settings_,
                    &ports_,
                    cgroups.as_deref(),
                    &folder_,
                )),
                Err(e) => process::Graded::not_started(
                    format!("no private network for the server: {e}"),
                    process::seed_of(settings_.seed, &submission_.name),
                ),
            };
            let _ = tx.send(graded);
        });
    let seed = process::seed_of(settings.seed, &submission.name);
    if let Err(e) = started {
        return process::Graded::not_started(format!("cannot start a grading thread: {e}"), seed);
    }
    rx.await.unwrap_or_else(|_| {
        process::Graded::not_started("the grading thread ended without a result".into(), seed)
    })
}

/// Grades `class` (from [`class`]), `jobs` submissions at a time, writing
/// every output into `settings.out`. `on_row` is called as each submission
/// is graded (for progress display).
pub async fn grade_class(
    settings: &GradeSettings,
    class: Vec<Submission>,
    on_row: impl Fn(&Row),
) -> Result<Gradebook, GradeError> {
    let folders = settings.out.join("submissions");
    create_dir(&folders)?;
    let cgroups = Cgroups::create().map(Arc::new);
    let scenarios = settings.graded_scenarios();
    let ports = Arc::new(Ports::default());
    let limit = Arc::new(Semaphore::new(settings.jobs.max(1)));
    let shared = Arc::new(settings.clone());
    let mut tasks = JoinSet::new();
    for submission in class {
        let folder = folders.join(&submission.name);
        create_dir(&folder)?;
        let (limit, ports, cgroups, shared) = (
            Arc::clone(&limit),
            Arc::clone(&ports),
            cgroups.clone(),
            Arc::clone(&shared),
        );
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let graded = if shared.network.is_private() {
                grade_in_private_network(&submission, &shared, &ports, cgroups.clone(), &folder)
                    .await
            } else {
                grade_one(&submission, &shared, &ports, cgroups.as_deref(), &folder).await
            };
            (submission, folder, graded)
        });
    }
    let mut rows = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let Ok((submission, folder, graded)) = done else {
            continue;
        };
        reports::write(&folder, &graded, &scenarios, &settings.weights).map_err(|source| {
            GradeError::Write {
                path: folder.display().to_string(),
                source,
            }
        })?;
        let reports: Vec<_> = graded.reports.into_iter().map(|(_, r)| r).collect();
        let row = record::row(
            &submission.name,
            graded.status,
            &graded.detail,
            graded.seed,
            &scenarios,
            &reports,
            &settings.weights,
        );
        on_row(&row);
        rows.push(row);
    }
    rows.sort_by(|a, b| a.submission.cmp(&b.submission));
    let book = Gradebook {
        wsconform_version: env!("CARGO_PKG_VERSION").to_string(),
        suite_version: record::suite_version(),
        suite_hash: record::suite_hash(&settings.suite),
        settings: Settings {
            start: settings.start.clone(),
            endpoints: settings
                .endpoints
                .iter()
                .map(|e| format!("{}={}", e.profile.name(), e.path))
                .collect(),
            up_to: settings.up_to.clone(),
            weights: settings.weights.clone(),
            seed: settings.seed,
            timeouts: format!(
                "step {}, start {}, wall-clock {}",
                humantime::format_duration(settings.step_timeout),
                humantime::format_duration(settings.start_timeout),
                humantime::format_duration(settings.wall_limit)
            ),
            isolation: format!(
                "{}; {}",
                isolation::describe(
                    settings.account.as_ref(),
                    cgroups.as_deref(),
                    &settings.limits
                ),
                settings.network.describe()
            ),
        },
        shards: vec![
            settings
                .shard
                .map_or("1/1".to_string(), |s| format!("{}/{}", s.index, s.count)),
        ],
        chapters: record::chapters_of(&scenarios),
        rows,
    };
    write_outputs(&settings.out, &book)?;
    Ok(book)
}

/// Writes `grade.json`, `grades.csv` and `overview.html` into `out`.
pub fn write_outputs(out: &Path, book: &Gradebook) -> Result<(), GradeError> {
    create_dir(out)?;
    let record = serde_json::to_string_pretty(book).unwrap_or_default();
    write(&out.join(RECORD_FILE), record + "\n")?;
    write(&out.join("grades.csv"), csv::render(book))?;
    write(&out.join("overview.html"), overview::render(book))
}

/// `wsconform grade merge`: joins the outputs of shards into one gradebook
/// and overview in `out`, with every submission's folder copied. The parts
/// must have been graded by the same suite and chapters, and hold
/// different submissions.
pub fn merge(parts: &[PathBuf], out: &Path) -> Result<Gradebook, GradeError> {
    let mut merged: Option<Gradebook> = None;
    for part in parts {
        let path = part.join(RECORD_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| GradeError::Merge(format!("{}: {e}", path.display())))?;
        let book: Gradebook = serde_json::from_str(&text)
            .map_err(|e| GradeError::Merge(format!("{}: not a gradebook: {e}", path.display())))?;
        copy_folders(&part.join("submissions"), &out.join("submissions"))?;
        merged = Some(match merged {
            None => book,
            Some(mut all) => {
                if all.suite_hash != book.suite_hash || all.chapters != book.chapters {
                    return Err(GradeError::Merge(format!(
                        "{}: graded with another suite or other chapters ({} / {}) than the first part",
                        part.display(),
                        book.suite_version,
                        book.suite_hash
                    )));
                }
                if let Some(twice) = book
                    .rows
                    .iter()
                    .find(|r| all.rows.iter().any(|a| a.submission == r.submission))
                {
                    return Err(GradeError::Merge(format!(
                        "{} is graded in two parts (the second is {})",
                        twice.submission,
                        part.display()
                    )));
                }
                all.rows.extend(book.rows);
                all.shards.extend(book.shards);
                all
            }
        });
    }
    let mut book = merged.ok_or_else(|| GradeError::Merge("nothing to merge".into()))?;
    book.rows.sort_by(|a, b| a.submission.cmp(&b.submission));
    book.shards.sort();
    write_outputs(out, &book)?;
    Ok(book)
}

/// Copies each submission's report folder (one level of files).
fn copy_folders(from: &Path, to: &Path) -> Result<(), GradeError> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        create_dir(&target)?;
        for file in std::fs::read_dir(entry.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let dest = target.join(file.file_name());
            std::fs::copy(file.path(), &dest).map_err(|source| GradeError::Write {
                path: dest.display().to_string(),
                source,
            })?;
        }
    }
    Ok(())
}
