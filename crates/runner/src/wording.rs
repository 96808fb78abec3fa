//! Counts and lists in report texts, said the way people say them: "1 byte",
//! "2 bytes", "1000 or 1001", "a, b and c". Every text that puts a number
//! before a noun or joins alternatives goes through here, so "1 scenarios"
//! or "1000 or 1000" cannot appear in one place and be fixed in another.

/// `n` and the noun, plural unless `n` is 1: `count(1, "byte")` is
/// `1 byte`, `count(3, "byte")` is `3 bytes`. Nouns whose plural is not
/// the singular plus `s` use [`count_as`].
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// [`count`] with an irregular plural: `count_as(2, "class", "classes")`.
pub fn count_as(n: impl Into<u64>, singular: &str, plural: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// The noun alone, plural unless `n` is 1 (for a count written elsewhere).
pub fn noun(n: impl Into<u64>, singular: &str) -> String {
    if n.into() == 1 {
        singular.to_string()
    } else {
        format!("{singular}s")
    }
}

/// Alternatives: `a`, `a or b`, `a, b or c`; repeated items said once.
pub fn either<S: AsRef<str>>(items: &[S]) -> String {
    join(items, "or")
}

/// A list: `a`, `a and b`, `a, b and c`; repeated items said once.
pub fn all<S: AsRef<str>>(items: &[S]) -> String {
    join(items, "and")
}

fn join<S: AsRef<str>>(items: &[S], word: &str) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for item in items {
        if !unique.contains(&item.as_ref()) {
            unique.push(item.as_ref());
        }
    }
    match unique.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} {word} {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(count(0u64, "byte"), "0 bytes");
        assert_eq!(count(1u64, "byte"), "1 byte");
        assert_eq!(count(2u64, "scenario"), "2 scenarios");
        assert_eq!(count_as(1u64, "class", "classes"), "1 class");
        assert_eq!(count_as(3u64, "class", "classes"), "3 classes");
        assert_eq!(noun(1u64, "frame"), "frame");
        assert_eq!(noun(7u64, "frame"), "frames");
    }

    #[test]
    fn lists_say_each_item_once() {
        assert_eq!(either(&["1000", "1000"]), "1000");
        assert_eq!(either(&["1000", "1001"]), "1000 or 1001");
        assert_eq!(either(&["a", "b", "a", "c"]), "a, b or c");
        assert_eq!(all(&["x", "y", "z"]), "x, y and z");
        assert_eq!(either::<&str>(&[]), "");
    }
}
