//! `cargo xtask ci`: the checks every change must pass.

use anyhow::Result;

use crate::run_command;

/// Options of `cargo xtask ci`.
#[derive(clap::Args)]
pub struct Args {
    /// Skip `cargo fmt --check` and clippy (only run the tests).
    #[arg(long)]
    pub tests_only: bool,
}

/// The declared rust-version and the owners of shared concepts, formatting,
/// lints, every test of the workspace (unit, integration,
/// property, doc and book-listing tests), then the book itself: it must build
/// and every include, link and anchor in it must resolve.
pub fn run(args: Args) -> Result<()> {
    if !args.tests_only {
        crate::msrv::run()?;
        crate::owners::run()?;
        run_command("cargo", &["fmt", "--all", "--", "--check"])?;
        run_command(
            "cargo",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        )?;
    }
    run_command("cargo", &["test", "--workspace"])?;
    crate::book::run()?;
    Ok(())
}
