//! The chapter names of the bugs are the suite's real folder names: a
//! mutant must fail a scenario *in the chapter of its bug*, so a chapter
//! that matches no folder could never be checked.

use std::path::Path;

use wsconform_testbed::{Bug, CHAPTERS};

#[test]
fn every_chapter_is_a_scenario_folder_and_a_book_page() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let folders: Vec<String> = std::fs::read_dir(root.join("scenarios"))
        .expect("the scenarios folder is readable")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for chapter in CHAPTERS {
        let folder = folders.iter().find(|folder| {
            wsconform_runner::chapter::number(folder).is_some()
                && wsconform_runner::chapter::name(folder) == chapter
        });
        assert!(
            folder.is_some(),
            "no scenarios/NN-{chapter} folder; folders are {folders:?}"
        );
        let page = root.join("book/src").join(format!("{chapter}.md"));
        assert!(page.is_file(), "no book page {}", page.display());
    }
    for bug in Bug::ALL {
        assert!(CHAPTERS.contains(&bug.chapter()), "{bug}");
    }
}
