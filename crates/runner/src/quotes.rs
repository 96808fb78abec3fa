//! Quotes in a scenario's `requirement`, checked word for word.
//!
//! A scenario that can `fail` a server must say which MUST it enforces,
//! quoted from the RFC (`RFC 6455 5.5.1: "... MUST send a Close frame in
//! response."`) or from a profile's contract (`Profile echo: "..."`), and
//! the quote must really be there. The texts are committed under `rfc/` at
//! the workspace root: the RFCs as published (page headers and footers
//! included) and `profiles.txt`, the contracts the RFC leaves to the
//! application.
//!
//! Comparison ignores line breaks, runs of whitespace, page headers and
//! footers, and the case of a quote's first letter (a quote may start a
//! sentence). The RFC's own double quotes are written as single quotes
//! inside a quotation (`"The 'Payload data' is text data encoded as UTF-8."`). `...` or `…` inside a quote skips words: each part must appear,
//! in order. A quote is looked up in the section cited before it, with its
//! subsections (`5.5` holds `5.5.1`); a quote with no section is looked up in
//! the whole text.

use std::sync::OnceLock;

/// The texts that quotes are checked against: RFC number (0 for the profile
/// contracts) and the file as committed.
const TEXTS: &[(u32, &str)] = &[
    (6455, include_str!("../../../rfc/rfc6455.txt")),
    (PROFILES, include_str!("../../../rfc/profiles.txt")),
];

/// The pseudo RFC number of `rfc/profiles.txt`.
const PROFILES: u32 = 0;

/// One committed text, split into sections of normalised words.
struct Document {
    number: u32,
    /// (section number or profile name, its normalised text).
    sections: Vec<(String, String)>,
}

fn documents() -> &'static [Document] {
    static DOCS: OnceLock<Vec<Document>> = OnceLock::new();
    DOCS.get_or_init(|| {
        TEXTS
            .iter()
            .map(|(number, text)| Document {
                number: *number,
                sections: split_sections(*number, text),
            })
            .collect()
    })
}

/// Whether a line is a page footer (`Fette & Melnikov ... [Page 12]`) or
/// header (`RFC 6455   The WebSocket Protocol   December 2011`).
fn page_furniture(line: &str) -> bool {
    let t = line.trim_end();
    t.contains('\u{c}') || (t.ends_with(']') && t.contains("[Page ")) || t.starts_with("RFC ")
}

/// A section heading at the start of a line: `5.5.1.  Close` gives `5.5.1`;
/// in the profile contracts, a word alone (`echo`).
fn heading(number: u32, line: &str) -> Option<String> {
    if line.starts_with(' ') || line.is_empty() {
        return None;
    }
    if number == PROFILES {
        let word = line.trim();
        return (!word.contains(' ')).then(|| word.to_string());
    }
    let (first, _) = line.split_once("  ")?;
    let section = first.strip_suffix('.')?;
    section
        .split('.')
        .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
        .then(|| section.to_string())
}

fn split_sections(number: u32, text: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, String)> = vec![(String::new(), String::new())];
    for line in text.lines() {
        if page_furniture(line) {
            continue;
        }
        if let Some(name) = heading(number, line) {
            sections.push((name, String::new()));
            continue;
        }
        if let Some((_, body)) = sections.last_mut() {
            body.push(' ');
            body.push_str(line);
        }
    }
    sections
        .into_iter()
        .map(|(name, body)| (name, comparable(&normalise(&body))))
        .collect()
}

/// Words separated by single spaces.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a quote is compared on: double quotes inside the RFC's sentences
/// ("Payload data") are written as single quotes inside a quotation.
fn comparable(text: &str) -> String {
    text.replace('"', "'")
}

/// Where a quote says it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An RFC, with the section cited (if any).
    Rfc {
        /// 6455, 7692, ...
        number: u32,
        /// `5.5.1`.
        section: Option<String>,
    },
    /// A profile's contract (`server`, `echo`, `chat`).
    Profile(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Rfc {
                number,
                section: Some(s),
            } => write!(f, "RFC {number} section {s}"),
            Source::Rfc {
                number,
                section: None,
            } => write!(f, "RFC {number}"),
            Source::Profile(p) => write!(f, "the {p} profile's contract (rfc/profiles.txt)"),
        }
    }
}

/// One quotation in a requirement, with the source cited before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// The cited source.
    pub source: Source,
    /// The quoted words, whitespace normalised.
    pub text: String,
}

impl Quote {
    /// Whether the quote states a requirement the scenario may fail on: an
    /// RFC MUST / MUST NOT / REQUIRED / SHALL, or a profile's contract.
    pub fn is_binding(&self) -> bool {
        match self.source {
            Source::Profile(_) => true,
            Source::Rfc { .. } => ["MUST", "REQUIRED", "SHALL"]
                .iter()
                .any(|word| self.text.contains(word)),
        }
    }
}

/// A section number written in prose (`5.5.1`, `7.4`), read at `at`.
fn section_at(text: &str, at: usize) -> Option<(String, usize)> {
    let rest = &text[at..];
    let len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let number = rest[..len].trim_end_matches('.');
    let dotted = number.contains('.')
        && number
            .split('.')
            .all(|p| !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit()));
    dotted.then(|| (number.to_string(), len))
}

/// The quotations of a requirement, each with the source cited last before
/// it. `RFC 7230 3.2` sets both; a bare `7.4.1` changes only the section;
/// `Profile echo` switches to a contract.
pub fn quotes(requirement: &str) -> Vec<Quote> {
    let text = normalise(requirement);
    let mut source = Source::Rfc {
        number: 6455,
        section: None,
    };
    let mut out = Vec::new();
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let rest = &text[i..];
        if let Some(after) = rest.strip_prefix("RFC ") {
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(number) = digits.parse::<u32>() {
                source = Source::Rfc {
                    number,
                    section: None,
                };
                i += 4 + digits.len();
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("Profile ") {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
                .collect();
            let name = name.trim_end_matches('-').to_string();
            if !name.is_empty() {
                i += 8 + name.len();
                source = Source::Profile(name);
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '"' || c == '“' {
            let close = if c == '"' { '"' } else { '”' };
            let start = i + c.len_utf8();
            match text[start..].find(close) {
                Some(len) => {
                    out.push(Quote {
                        source: source.clone(),
                        text: text[start..start + len].trim().to_string(),
                    });
                    i = start + len + close.len_utf8();
                }
                None => {
                    out.push(Quote {
                        source: source.clone(),
                        text: text[start..].trim().to_string(),
                    });
                    i = text.len();
                }
            }
            continue;
        }
        let starts_word = i == 0
            || !matches!(
                bytes.get(i.wrapping_sub(1)),
                Some(b'/' | b'.' | b'0'..=b'9')
            );
        if c.is_ascii_digit()
            && starts_word
            && let Some((section, len)) = section_at(&text, i)
        {
            if let Source::Rfc { number, .. } = source {
                source = Source::Rfc {
                    number,
                    section: Some(section),
                };
            }
            i += len;
            continue;
        }
        i += c.len_utf8();
    }
    out
}

/// What is wrong with a quote, or `None` when it is word for word in its
/// source. `Ok(false)`: its RFC's text is not committed, so it cannot be
/// checked.
pub fn verify(quote: &Quote) -> Result<bool, String> {
    let (number, section) = match &quote.source {
        Source::Rfc { number, section } => (*number, section.as_deref()),
        Source::Profile(name) => (PROFILES, Some(name.as_str())),
    };
    let Some(doc) = documents().iter().find(|d| d.number == number) else {
        return Ok(false);
    };
    let wanted = |name: &str| match section {
        None => true,
        Some(s) => name == s || name.starts_with(&format!("{s}.")),
    };
    let body: Vec<&str> = doc
        .sections
        .iter()
        .filter(|(name, _)| wanted(name))
        .map(|(_, body)| body.as_str())
        .collect();
    if body.is_empty() {
        return Err(match &quote.source {
            Source::Profile(name) => {
                let names: Vec<&str> = doc
                    .sections
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .filter(|name| !name.is_empty())
                    .collect();
                format!(
                    "no profile '{name}' in rfc/profiles.txt (there are: {})",
                    names.join(", ")
                )
            }
            _ => format!("{} has no such section", quote.source),
        });
    }
    let body = body.join(" ");
    if found(&body, &comparable(&quote.text)) {
        Ok(true)
    } else {
        Err(format!(
            "the quote \"{}\" is not word for word in {}",
            quote.text, quote.source
        ))
    }
}

/// Whether every part of `quote` (split at `...` or `…`) is in `body`, in
/// order; a part's first letter may differ in case.
fn found(body: &str, quote: &str) -> bool {
    let mut from = 0;
    for part in quote.split("...").flat_map(|p| p.split('…')) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let mut chars = part.chars();
        let Some(first) = chars.next() else {
            continue;
        };
        let tail = chars.as_str();
        let hit = [first.to_ascii_lowercase(), first.to_ascii_uppercase()]
            .iter()
            .filter_map(|f| body[from..].find(&format!("{f}{tail}")))
            .min();
        match hit {
            Some(at) => from += at + part.len(),
            None => return false,
        }
    }
    true
}

/// The problems with a scenario's requirement: each quote not word for word
/// in its source and, when the scenario can fail (`can_fail`), no quote of
/// the MUST it enforces.
pub fn check_requirement(requirement: Option<&str>, can_fail: bool) -> Vec<String> {
    let all = requirement.map(quotes).unwrap_or_default();
    let mut problems: Vec<String> = all.iter().filter_map(|q| verify(q).err()).collect();
    if can_fail && !all.iter().any(Quote::is_binding) {
        problems.push(
            "this scenario can fail a server but its `requirement` quotes no MUST: quote the RFC's MUST \
             (`RFC 6455 5.5.1: \"... MUST ...\"`) or a profile's contract (`Profile echo: \"...\"`, \
             from rfc/profiles.txt), or make its expectations `should`/`may` with a reason"
                .to_string(),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_take_the_source_cited_before_them() {
        let q = quotes(
            "RFC 6455 5.5.1: \"the endpoint MUST send a Close frame\"; 7.4.1: \"1002\" and Profile echo: \"sends back\"",
        );
        assert_eq!(q.len(), 3);
        assert_eq!(
            q[0].source,
            Source::Rfc {
                number: 6455,
                section: Some("5.5.1".into())
            }
        );
        assert_eq!(
            q[1].source,
            Source::Rfc {
                number: 6455,
                section: Some("7.4.1".into())
            }
        );
        assert_eq!(q[2].source, Source::Profile("echo".into()));
        assert!(q[0].is_binding() && !q[1].is_binding() && q[2].is_binding());
    }

    #[test]
    fn http_versions_are_not_sections() {
        let q = quotes("RFC 6455 4.2.1: HTTP/1.1 and \"An HTTP/1.1 or higher GET request\"");
        assert_eq!(
            q[0].source,
            Source::Rfc {
                number: 6455,
                section: Some("4.2.1".into())
            }
        );
        assert_eq!(verify(&q[0]), Ok(true));
    }

    #[test]
    fn a_quote_is_checked_across_line_breaks_and_pages_in_its_section() {
        let good = quotes(
            "RFC 6455 5.5.1: \"If an endpoint receives a Close frame and did not previously send a Close frame, the endpoint MUST send a Close frame in response.\"",
        );
        assert_eq!(verify(&good[0]), Ok(true));
        // The same words cited from the wrong section are not there.
        let elsewhere =
            quotes("RFC 6455 4.2.1: \"the endpoint MUST send a Close frame in response\"");
        assert!(verify(&elsewhere[0]).is_err());
        // One word changed is not word for word.
        let changed =
            quotes("RFC 6455 5.5.1: \"the endpoint SHOULD send a Close frame in response\"");
        let err = verify(&changed[0]).unwrap_err();
        assert!(
            err.contains("not word for word in RFC 6455 section 5.5.1"),
            "{err}"
        );
        // A parent section holds its subsections; `...` skips words.
        let parent = quotes("RFC 6455 5.5: \"the endpoint MUST send ... in response\"");
        assert_eq!(verify(&parent[0]), Ok(true));
    }

    #[test]
    fn a_quote_spanning_a_page_break_is_found() {
        // 5.5.1's "MAY delay sending a Close frame until its current message is
        // sent" sits near page furniture; the first page break in 7.1.7 too.
        let q = quotes(
            "RFC 6455 7.1.7: \"the endpoint SHOULD send a Close frame with an appropriate status code (Section 7.4) before proceeding to _Close the WebSocket Connection_.\"",
        );
        assert_eq!(verify(&q[0]), Ok(true));
    }

    #[test]
    fn profile_contracts_and_uncommitted_rfcs() {
        let echo = quotes(
            "Profile echo: \"The echo endpoint sends back every data message it receives, unchanged\"",
        );
        assert_eq!(verify(&echo[0]), Ok(true));
        let wrong = quotes("Profile echo: \"sends back every other message\"");
        assert!(verify(&wrong[0]).is_err());
        let unknown = quotes("Profile pubsub: \"anything\"");
        let error = verify(&unknown[0]).unwrap_err();
        assert!(error.contains("no profile 'pubsub'"), "{error}");
        assert!(error.contains("client, client-close"), "{error}");
        // A hyphenated contract is its own section, not the client's.
        let closing = quotes(
            "Profile client-close: \"when it receives it, it starts the closing handshake\"",
        );
        assert_eq!(closing[0].source, Source::Profile("client-close".into()));
        assert_eq!(verify(&closing[0]), Ok(true));
        let elsewhere = quotes("Profile client: \"it starts the closing handshake\"");
        assert!(verify(&elsewhere[0]).is_err());
        let other = quotes("RFC 7230 3.2: \"Each header field consists of\"");
        assert_eq!(verify(&other[0]), Ok(false));
    }

    #[test]
    fn a_scenario_that_can_fail_must_quote_a_must() {
        let sentence = "RFC 6455 5.2: opcodes are checked.";
        assert_eq!(check_requirement(Some(sentence), true).len(), 1);
        assert!(check_requirement(Some(sentence), false).is_empty());
        assert_eq!(check_requirement(None, true).len(), 1);
        let quoted = "RFC 6455 5.2: \"If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_.\"";
        assert!(check_requirement(Some(quoted), true).is_empty());
    }
}
