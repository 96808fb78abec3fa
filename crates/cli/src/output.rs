//! Standard output that may be closed early.
//!
//! `wsconform list | head` closes the pipe after ten lines. Rust ignores
//! `SIGPIPE`, so the next write fails with "broken pipe", and `println!`
//! turns that failure into a panic with a stack trace. A reader that has
//! seen enough is not an error: like other command-line tools, the program
//! then stops quietly, with success. Any other failure to write is reported
//! on standard error with exit code 1.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::process::exit;

/// Writes to standard output; on a closed pipe, ends the program quietly
/// with status 0.
pub fn write(args: fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if error.kind() == ErrorKind::BrokenPipe {
            exit(0);
        }
        // The writer may be gone too: ignore a failure to say so.
        let _ = writeln!(
            std::io::stderr(),
            "error: cannot write to standard output: {error}"
        );
        exit(1);
    }
}

/// `print!` that ends the program quietly when standard output is closed.
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write(format_args!($($arg)*)) };
}

/// `println!` that ends the program quietly when standard output is closed.
macro_rules! outln {
    () => { $crate::output::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {out, outln};
