//! The recipes in `recipes/` run as written: the Gradescope autograder on
//! an `/autograder`-style folder, the GitHub Classroom script on a
//! checkout, and the sharded grading with the merge command of the
//! Kubernetes and CI-matrix examples.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WSCONFORM: &str = env!("CARGO_BIN_EXE_wsconform");

fn recipes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes")
}

/// PATH with this build's `wsconform` first, as an installed one would be.
fn path() -> String {
    let bin = Path::new(WSCONFORM).parent().unwrap().display().to_string();
    format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
}

/// A temp folder the unprivileged server user can enter.
fn open_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn good_server(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("start.sh"),
        format!("exec '{WSCONFORM}' serve --port \"$1\"\n"),
    )
    .unwrap();
}

fn run(command: &mut Command) -> Output {
    let output = command.env("PATH", path()).output().unwrap();
    eprintln!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn gradescope(submission: impl Fn(&Path)) -> serde_json::Value {
    let root = open_tempdir();
    let autograder = root.path().join("autograder");
    submission(&autograder.join("submission"));
    let output = run(Command::new("timeout")
        .arg("120")
        .arg(recipes().join("gradescope/run_autograder"))
        .env("AUTOGRADER_ROOT", &autograder)
        .env("WSCONFORM_START_TIMEOUT", "3s")
        .env(
            "WSCONFORM_ARGS",
            "--up-to 01-handshake --profile echo --timeout 1s",
        ));
    assert!(output.status.success());
    let text = std::fs::read_to_string(autograder.join("results/results.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_gradescope_autograder_writes_results_for_a_good_and_a_dead_server() {
    let good = gradescope(good_server);
    let tests = good["tests"].as_array().unwrap();
    assert!(tests.len() > 10, "{good}");
    let max: u64 = tests.iter().map(|t| t["max_score"].as_u64().unwrap()).sum();
    assert_eq!(good["score"].as_u64(), Some(max), "{good}");

    let dead = gradescope(|dir| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("start.sh"), "exit 3\n").unwrap();
    });
    assert_eq!(dead["score"].as_u64(), Some(0));
    let tests = dead["tests"].as_array().unwrap();
    assert!(!tests.is_empty());
    assert!(tests.iter().all(|t| t["status"] == "failed"));
    assert!(
        tests[0]["output"]
            .as_str()
            .unwrap()
            .contains("exited (exit status: 3)"),
        "{dead}"
    );
}

#[test]
fn the_classroom_workflow_grades_the_checkout() {
    let template = recipes().join("github-classroom");
    let workflow =
        std::fs::read_to_string(template.join(".github/workflows/wsconform.yml")).unwrap();
    assert!(workflow.contains("run: bash .github/wsconform-classroom.sh"));

    let root = open_tempdir();
    let checkout = root.path().join("checkout");
    good_server(&checkout);
    std::fs::create_dir_all(checkout.join(".github")).unwrap();
    std::fs::copy(
        template.join(".github/wsconform-classroom.sh"),
        checkout.join(".github/wsconform-classroom.sh"),
    )
    .unwrap();
    let summary = root.path().join("summary.md");
    let output = run(Command::new("timeout")
        .args(["120", "bash", ".github/wsconform-classroom.sh"])
        .current_dir(&checkout)
        .env("GITHUB_REPOSITORY", "course/hello-alice")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("OUT", root.path().join("grades"))
        .env("WSCONFORM_ARGS", "--up-to 01-handshake --timeout 1s"));
    assert_eq!(output.status.code(), Some(0));
    let said = std::fs::read_to_string(&summary).unwrap();
    assert!(said.contains("### wsconform: "), "{said}");
    assert!(said.contains("\nhello-alice,"), "{said}");
}

#[test]
fn shards_graded_apart_merge_with_the_examples_command() {
    let root = open_tempdir();
    let class = root.path().join("class");
    let submissions = class.join("submissions");
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        good_server(&submissions.join(name));
    }
    std::fs::create_dir_all(submissions.join("fay")).unwrap();
    std::fs::write(submissions.join("fay/start.sh"), "exit 1\n").unwrap();
    for i in 0..2 {
        let output = run(Command::new("timeout")
            .arg("120")
            .arg(recipes().join("sharded/grade-shard.sh"))
            .env("SUBMISSIONS", &submissions)
            .env("OUT_ROOT", class.join("out"))
            .env("JOB_COMPLETION_INDEX", i.to_string())
            .env("SHARD_COUNT", "2")
            .env(
                "WSCONFORM_ARGS",
                "--up-to 01-handshake --profile echo --timeout 1s --start-timeout 3s",
            ));
        assert!(output.status.success());
    }
    // The merge Job's command, with the volume at our temp folder.
    let job = std::fs::read_to_string(recipes().join("kubernetes/merge-job.yaml")).unwrap();
    let line = job
        .lines()
        .find(|l| l.contains("wsconform grade merge"))
        .unwrap();
    let merge = line[line.find("wsconform grade merge").unwrap()..]
        .trim_end_matches(['"', ']'])
        .replace(" /class/", &format!(" {}/", class.display()));
    let output = run(Command::new("sh").arg("-c").arg(&merge));
    assert!(output.status.success(), "{merge}");
    let csv = std::fs::read_to_string(class.join("out/class/grades.csv")).unwrap();
    let names: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(names, ["ann", "ben", "cat", "dan", "eve", "fay"]);
    assert!(csv.contains("\nfay,0,"), "{csv}");
    assert!(csv.contains(",did-not-start,"), "{csv}");
    // The CI matrix's merge uses the same command.
    let matrix = std::fs::read_to_string(recipes().join("sharded/github-matrix.yml")).unwrap();
    assert!(matrix.contains("wsconform grade merge out/shard-* --out class"));
}
