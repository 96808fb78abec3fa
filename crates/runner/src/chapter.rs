//! A chapter is a folder of the suite, `NN-name`: the number orders the
//! chapters, the name is how people (and `--chapter`) call it. Everything
//! that reads the `NN-` prefix asks this module.

/// The chapter name without its number: `lengths` for `03-lengths`. A folder
/// without a number (a course's own) is its own name.
pub fn name(folder: &str) -> &str {
    match folder.split_once('-') {
        Some((number, name)) if number.chars().all(|c| c.is_ascii_digit()) => name,
        _ => folder,
    }
}

/// The chapter number: 3 for `03-lengths`; `None` for a folder without one
/// (a course's own), which reports place by their order instead.
pub fn number(folder: &str) -> Option<usize> {
    folder
        .split_once('-')
        .map_or(folder, |(number, _)| number)
        .parse()
        .ok()
}

/// Whether `--chapter WANTED` selects `folder`: its whole name, its name
/// without the number, or its number as written (`03-lengths` is selected by
/// `03-lengths`, `lengths` and `03`).
pub fn matches(folder: &str, wanted: &str) -> bool {
    folder == wanted
        || folder
            .split_once('-')
            .is_some_and(|(number, name)| name == wanted || number == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_number_only() {
        assert_eq!(name("03-lengths"), "lengths");
        assert_eq!(name("10-concurrency"), "concurrency");
        assert_eq!(name("my-chapter"), "my-chapter");
        assert_eq!(name("plain"), "plain");
        assert_eq!(name("05-text-utf8"), "text-utf8");
    }

    #[test]
    fn numbers_and_selection() {
        assert_eq!(number("03-lengths"), Some(3));
        assert_eq!(number("my-chapter"), None);
        assert!(matches("03-lengths", "lengths"));
        assert!(matches("03-lengths", "03"));
        assert!(matches("03-lengths", "03-lengths"));
        assert!(!matches("03-lengths", "3"));
    }
}
