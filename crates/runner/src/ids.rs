//! Scenario ids that changed, and the id each has now.
//!
//! Reports, grades and scripts keep ids (`--filter 'utf8.*'`, a
//! spreadsheet of `ping.echo-payload` results), so an id, once published,
//! keeps working after its scenario is renamed or moved to another chapter:
//! everything that takes an id (selection, `--filter`, `explain`) reads it
//! through this table. Ids match their chapter's name (`text-utf8.*`).

/// Whole families renamed to their chapter's name: (old prefix, new prefix).
pub const RENAMED_PREFIXES: &[(&str, &str)] = &[("utf8.", "text-utf8."), ("ping.", "ping-pong.")];

/// Scenarios moved to the chapter that teaches what they need, or renamed
/// one by one: (old id, id now). Checked before [`RENAMED_PREFIXES`].
pub const RENAMED: &[(&str, &str)] = &[
    (
        "concurrency.chat-20-clients-50-messages",
        "chat.20-clients-50-messages",
    ),
    (
        "concurrency.chat-clients-open-together",
        "chat.clients-open-together",
    ),
    ("fragmentation.fragmented-ping", "ping-pong.fragmented-ping"),
    ("fragmentation.fragmented-pong", "ping-pong.fragmented-pong"),
    ("fragmentation.ping-between", "ping-pong.ping-between"),
    (
        "fragmentation.ping-between-frame-wise",
        "ping-pong.ping-between-frame-wise",
    ),
    (
        "fragmentation.ping-between-octet-wise",
        "ping-pong.ping-between-octet-wise",
    ),
    (
        "fragmentation.pings-while-fragmented",
        "ping-pong.pings-while-fragmented",
    ),
    (
        "fragmentation.pings-while-fragmented-frame-wise",
        "ping-pong.pings-while-fragmented-frame-wise",
    ),
    ("frames.binary", "lengths.binary-126"),
    ("frames.binary-127", "lengths.binary-127"),
    ("frames.binary-128", "lengths.binary-128"),
    ("frames.binary-65535", "lengths.binary-65535"),
    ("frames.binary-65536", "lengths.binary-65536"),
    (
        "frames.binary-65536-chopped",
        "lengths.binary-65536-chopped",
    ),
    ("frames.rsv-bits", "masking.rsv-bits"),
    ("frames.rsv2-after-message", "masking.rsv2-after-message"),
    ("frames.rsv3-frame-wise", "masking.rsv3-frame-wise"),
    ("frames.rsv4-octet-wise", "masking.rsv4-octet-wise"),
    ("frames.rsv5-binary", "masking.rsv5-binary"),
    ("frames.rsv6-binary", "masking.rsv6-binary"),
    ("frames.rsv7-close", "closing.rsv7-close"),
    (
        "handshake.request-and-first-frame",
        "frames.request-and-first-frame",
    ),
    ("masking.key-per-fragment", "fragmentation.key-per-fragment"),
    (
        "masking.server-frames-unmasked",
        "ping-pong.server-frames-unmasked",
    ),
    ("masking.unmasked-ping", "ping-pong.unmasked-ping"),
    (
        "utf8.empty-first-last-fragments",
        "fragmentation.utf8-empty-first-last-fragments",
    ),
    ("utf8.empty-fragments", "fragmentation.utf8-empty-fragments"),
    ("utf8.fail-fast", "fragmentation.utf8-fail-fast"),
    (
        "utf8.fail-fast-one-byte",
        "fragmentation.utf8-fail-fast-one-byte",
    ),
    (
        "utf8.invalid-one-byte-fragments",
        "fragmentation.utf8-invalid-one-byte-fragments",
    ),
    (
        "utf8.valid-greek-one-byte-fragments",
        "fragmentation.utf8-valid-greek-one-byte-fragments",
    ),
    (
        "utf8.valid-one-byte-fragments",
        "fragmentation.utf8-valid-one-byte-fragments",
    ),
    (
        "utf8.valid-two-fragments",
        "fragmentation.utf8-valid-two-fragments",
    ),
];

/// The id a scenario has now, for an id that may be an old one.
pub fn current(id: &str) -> String {
    if let Some((_, now)) = RENAMED.iter().find(|(old, _)| *old == id) {
        return (*now).to_string();
    }
    for (old, new) in RENAMED_PREFIXES {
        if let Some(rest) = id.strip_prefix(old) {
            return format!("{new}{rest}");
        }
    }
    id.to_string()
}

/// The ids a scenario had before, for its id now (empty when it kept it).
pub fn former(id: &str) -> Vec<String> {
    let mut ids: Vec<String> = RENAMED
        .iter()
        .filter(|(_, now)| *now == id)
        .map(|(old, _)| (*old).to_string())
        .collect();
    for (old, new) in RENAMED_PREFIXES {
        if let Some(rest) = id.strip_prefix(new) {
            let before = format!("{old}{rest}");
            if current(&before) == id {
                ids.push(before);
            }
        }
    }
    ids
}

/// Whether `id` (a scenario's id now) is named by `wanted`, its id now or
/// one it had.
pub fn names(id: &str, wanted: &str) -> bool {
    id == wanted || current(wanted) == id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::bundled;

    #[test]
    fn old_ids_lead_to_new_ones() {
        assert_eq!(current("utf8.surrogate-1"), "text-utf8.surrogate-1");
        assert_eq!(current("ping.echo-payload"), "ping-pong.echo-payload");
        assert_eq!(
            current("utf8.valid-two-fragments"),
            "fragmentation.utf8-valid-two-fragments"
        );
        assert_eq!(current("frames.binary"), "lengths.binary-126");
        assert_eq!(current("lengths.16bit-126"), "lengths.16bit-126");
        assert_eq!(former("text-utf8.surrogate-1"), ["utf8.surrogate-1"]);
        assert_eq!(
            former("fragmentation.utf8-valid-two-fragments"),
            ["utf8.valid-two-fragments"]
        );
        assert!(former("text-utf8.valid-two-fragments").is_empty());
        assert!(former("lengths.16bit-126").is_empty());
        assert!(names("ping-pong.empty", "ping.empty"));
        assert!(!names("ping-pong.empty", "ping.ten-pings"));
    }

    #[test]
    fn every_alias_leads_to_a_scenario_and_none_is_taken() {
        let suite = bundled().unwrap_or_default();
        let ids: Vec<&str> = suite.iter().map(|s| s.scenario.id.as_str()).collect();
        assert!(ids.len() > 300, "the bundled suite loads");
        for (old, now) in RENAMED {
            assert!(
                ids.contains(now),
                "{old} leads to {now}, which no scenario has"
            );
            assert!(!ids.contains(old), "{old} is an alias and a scenario's id");
        }
        for id in &ids {
            for (old, _) in RENAMED_PREFIXES {
                assert!(!id.starts_with(old), "{id} uses the old prefix {old}");
            }
        }
    }
}
