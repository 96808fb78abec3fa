//! Replays the committed corpus: every target on every one of its inputs,
//! without AFL. A crash the fuzzer found and saved here stays fixed.

use std::path::Path;

#[test]
fn every_target_survives_its_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (name, target) in wsconform_fuzz::TARGETS {
        let dir = root.join(name);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        assert!(entries.len() >= 3, "{name} has {} seeds", entries.len());
        for path in entries {
            let input = std::fs::read(&path).unwrap();
            target(&input);
        }
    }
}

#[test]
fn every_target_is_reachable_by_name() {
    for (name, _) in wsconform_fuzz::TARGETS {
        assert!(wsconform_fuzz::target(name).is_some());
    }
    assert!(wsconform_fuzz::target("no-such-target").is_none());
}
