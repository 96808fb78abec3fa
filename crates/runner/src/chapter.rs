//! A chapter is a folder of the suite, `NN-name`: the number orders the
//! chapters, the name is how people (and `--chapter`) call it.

/// The chapter name without its number: `lengths` for `03-lengths`. A folder
/// without a number (a course's own) is its own name.
pub fn name(folder: &str) -> &str {
    match folder.split_once('-') {
        Some((number, name)) if number.chars().all(|c| c.is_ascii_digit()) => name,
        _ => folder,
    }
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
}
