//! Appendix B's committed table of Autobahn cases matches the scenarios.
//!
//! The table is generated from the `autobahn:` fields of `scenarios/` by
//! `wsconform_book::autobahn::autobahn_table` and committed, so a plain
//! `mdbook build book` shows it. When a scenario is added, renamed or
//! retitled, this test fails; regenerate the file with
//!
//! ```text
//! WSCONFORM_BLESS=1 cargo test -p wsconform-book --test autobahn_table
//! ```
//!
//! and review the diff.

use std::path::Path;

use wsconform_book::autobahn::{TABLE_FILE, autobahn_table};
use wsconform_runner::load::load_path;

#[test]
fn the_committed_autobahn_table_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scenarios = load_path(&root.join("scenarios")).unwrap_or_else(|errors| {
        panic!("the scenarios do not load: {errors:?}");
    });
    let table = autobahn_table(&scenarios);
    assert!(
        table.lines().count() > 100,
        "the suite covers hundreds of Autobahn cases; the table has only:\n{table}"
    );

    let path = root.join("book/src").join(TABLE_FILE);
    let committed = std::fs::read_to_string(&path).ok();
    if committed.as_deref() == Some(table.as_str()) {
        return;
    }
    if std::env::var("WSCONFORM_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &table).expect("write the Autobahn table");
        return;
    }
    panic!(
        "book/src/{TABLE_FILE} is {}; regenerate it with \
         `WSCONFORM_BLESS=1 cargo test -p wsconform-book --test autobahn_table` and review the diff",
        if committed.is_some() {
            "stale"
        } else {
            "missing"
        }
    );
}
