//! A chapter is a folder of the suite, `NN-name`: the number orders the
//! chapters, the name is how people (and `--chapter`) call it. Everything
//! that reads the `NN-` prefix asks this module, and [`CHAPTERS`] is the
//! course's table of contents: the order of the main chain, which chapters
//! are optional, where a server may still serve one client at a time.

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

/// A chapter of the course: the book page that teaches it and the scenario
/// folder that checks it share its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chapter {
    /// The name: `lengths`; the folder is `NN-lengths`, the page `lengths.md`.
    pub name: &'static str,
    /// Off the server's main chain: `--up-to` never requires it, and the
    /// chapter before it need not fail anything of it.
    pub optional: bool,
}

impl Chapter {
    /// The book page that teaches the chapter.
    pub fn page(self) -> String {
        format!("book/src/{}.md", self.name)
    }
}

const fn main(name: &'static str) -> Chapter {
    Chapter {
        name,
        optional: false,
    }
}

/// Every chapter in the order the book teaches them. The main chain is the
/// server a reader builds chapter by chapter; an optional chapter builds on
/// all of it and sits outside it.
pub const CHAPTERS: &[Chapter] = &[
    main("handshake"),
    main("frames"),
    main("lengths"),
    main("masking"),
    main("text-utf8"),
    main("fragmentation"),
    main("ping-pong"),
    main("closing"),
    main("concurrency"),
    main("chat"),
    main("hardening"),
    Chapter {
        name: "compression",
        optional: true,
    },
    // The client side: `role: client` scenarios, played by
    // `run --client-cmd` against a client, never against a server.
    Chapter {
        name: "client",
        optional: true,
    },
];

/// The first chapter whose server serves several connections at once.
/// Before it a server may serve one connection at a time (a plain accept
/// loop), so its chapters' scenarios run one at a time.
pub const CONCURRENCY: &str = "concurrency";

/// The chapter a folder (`03-lengths`) or name (`lengths`, `03`) stands
/// for, with its place in [`CHAPTERS`]; `None` for a chapter the course
/// does not know (a course's own folder).
pub fn find(folder: &str) -> Option<(usize, Chapter)> {
    let wanted = name(folder);
    let by_number = number(folder)
        .filter(|_| !folder.contains('-'))
        .and_then(|n| n.checked_sub(1));
    CHAPTERS
        .iter()
        .enumerate()
        .find(|(i, c)| c.name == wanted || by_number == Some(*i))
        .map(|(i, c)| (i, *c))
}

/// Where a folder's chapter stands in the course, for ordering features by
/// chapter: its place in [`CHAPTERS`], optional chapters after the whole
/// main chain.
pub fn rank(folder: &str) -> Option<usize> {
    find(folder).map(|(i, _)| i)
}

/// Whether a server from this chapter may still serve one connection at a
/// time: the chapter comes before [`CONCURRENCY`], or is optional (the
/// compression chapter follows closing, so a server that takes it may not
/// have reached concurrency yet).
pub fn serves_one_at_a_time(folder: &str) -> bool {
    match (find(folder), rank(CONCURRENCY)) {
        (Some((chapter, c)), Some(concurrency)) => chapter < concurrency || c.optional,
        _ => false,
    }
}

/// The main-chain chapters from the first up to and including `wanted`
/// (`--up-to`), by name; an error names the chapters there are.
pub fn up_to(wanted: &str) -> Result<Vec<&'static str>, String> {
    match find(wanted) {
        Some((_, chapter)) if chapter.optional => Err(format!(
            "{} is an optional chapter, outside the main chain: use --chapter {}",
            chapter.name, chapter.name
        )),
        Some((i, _)) => Ok(CHAPTERS
            .iter()
            .take(i + 1)
            .filter(|c| !c.optional)
            .map(|c| c.name)
            .collect()),
        None => Err(format!(
            "no chapter '{wanted}' in the main chain: {}",
            CHAPTERS
                .iter()
                .filter(|c| !c.optional)
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The main-chain chapter after `name`, if any: what `--up-to` points to
/// once everything up to `name` passes.
pub fn next(name: &str) -> Option<Chapter> {
    let (i, _) = find(name)?;
    CHAPTERS.iter().skip(i + 1).find(|c| !c.optional).copied()
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

    #[test]
    fn the_table_orders_the_chapters() {
        assert_eq!(rank("03-lengths"), Some(2));
        assert_eq!(rank("lengths"), Some(2));
        assert_eq!(rank("03"), Some(2));
        assert_eq!(rank("my-chapter"), None);
        assert!(rank("09-concurrency") < rank("10-chat"));
        assert!(serves_one_at_a_time("08-closing"));
        assert!(!serves_one_at_a_time("09-concurrency"));
        assert!(!serves_one_at_a_time("10-chat"));
        assert!(serves_one_at_a_time("12-compression"));
        assert!(!serves_one_at_a_time("my-chapter"));
        assert_eq!(
            find("lengths").map(|(_, c)| c.page()).as_deref(),
            Some("book/src/lengths.md")
        );
    }

    #[test]
    fn up_to_is_the_main_chain_only() {
        assert_eq!(up_to("frames"), Ok(vec!["handshake", "frames"]));
        assert_eq!(up_to("03").map(|c| c.len()), Ok(3));
        let all = up_to("hardening").unwrap_or_default();
        assert_eq!(all.len(), 11);
        assert!(!all.contains(&"compression"));
        assert!(up_to("compression").is_err_and(|e| e.contains("optional")));
        assert!(up_to("nope").is_err_and(|e| e.contains("handshake, frames")));
        assert_eq!(next("lengths").map(|c| c.name), Some("masking"));
        assert_eq!(next("closing").map(|c| c.name), Some("concurrency"));
        assert_eq!(next("hardening"), None);
    }
}
