//! `wsconform-fuzz TARGET`: one fuzz target as a program. Built with the
//! `afl` feature (by `cargo afl build`), AFL++ drives it in a persistent
//! loop; without it, it runs the target once on its standard input, which
//! replays a crashing input by hand.

use std::process::ExitCode;

fn main() -> ExitCode {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = wsconform_fuzz::target(&name) else {
        let names: Vec<&str> = wsconform_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "usage: wsconform-fuzz TARGET (one of: {})",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    run(target)
}

#[cfg(feature = "afl")]
fn run(target: wsconform_fuzz::Target) -> ExitCode {
    afl::fuzz!(|data: &[u8]| target(data));
    ExitCode::SUCCESS
}

#[cfg(not(feature = "afl"))]
fn run(target: wsconform_fuzz::Target) -> ExitCode {
    use std::io::Read;

    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("cannot read standard input: {e}");
        return ExitCode::FAILURE;
    }
    target(&input);
    ExitCode::SUCCESS
}
