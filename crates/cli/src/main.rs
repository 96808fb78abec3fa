//! The `wsconform` command line: a thin layer over `wsconform-runner`.

fn main() {}
