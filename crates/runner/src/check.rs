//! `wsconform check`: what the YAML loader cannot see by itself.
//!
//! Loading proves each file is well formed. Checking proves the suite makes
//! sense: ids are unique and well formed, every `echo: last` has a message
//! before it, close codes expected are ones a server may actually send, no
//! step needs a chapter after its scenario's own (`stages`), and so on. A scenario that can never pass is a bug in the suite, not in the
//! learner's server.

use std::collections::HashMap;
use std::time::Duration;

use wsconform_wire::CloseCode;

use crate::load::LoadedScenario;
use crate::payload::payload_bytes;
use crate::plan::{PlanError, PlanSettings, Profile, Target, plan};
use crate::quotes::check_requirement;
use crate::scenario::{Action, DataKind, ExpectKind, ProfileNeed, Strength};
use crate::stages::check_staging;

/// One problem found by `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    /// The file.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// A fairness rule (a quoted MUST, a reason for a `should`), not a
    /// scenario that cannot run: `wsconform check` rejects it, `run` only
    /// warns, so learners can run scenarios of their own.
    pub fairness: bool,
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

/// Checks a set of loaded scenarios; returns every problem found.
pub fn check(scenarios: &[LoadedScenario]) -> Vec<CheckError> {
    let mut errors = Vec::new();
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut fairness: Vec<CheckError> = Vec::new();
    for s in scenarios {
        let sc = &s.scenario;
        let mut fair: Vec<String> = Vec::new();
        let mut err = |message: String| {
            errors.push(CheckError {
                path: s.path.clone(),
                message,
                fairness: false,
            })
        };
        if let Some(first) = seen.insert(&sc.id, &s.path) {
            err(format!("duplicate id '{}', also used by {first}", sc.id));
        }
        if !valid_id(&sc.id) {
            err(format!(
                "id '{}' should use only lowercase letters, digits, '.', '-' and '_'",
                sc.id
            ));
        }
        if sc.steps.is_empty() {
            err("a scenario needs at least one step".into());
        }
        if sc.twin.is_some() && !crate::plan::needs_twin(s) {
            err(
                "`twin:` is only played for a scenario that a server closing every connection \
                 would pass (outside the handshake chapter); this one never plays it"
                    .into(),
            );
        }
        for (i, step) in sc.steps.iter().enumerate() {
            let n = i + 1;
            if let Action::Send(send) = &step.action {
                let fragments = send.fragments.len() + 1;
                if send.between.len() >= fragments {
                    err(format!(
                        "step {n}: {} control frames `between` but at most {} gaps between {fragments} fragments; \
                         the extra ones would never be sent",
                        send.between.len(),
                        fragments - 1
                    ));
                }
            }
            if let Action::Expect(e) = &step.action {
                if let ExpectKind::Message {
                    kind: DataKind::Text,
                    payload: Some(p),
                } = &e.kind
                    && std::str::from_utf8(&payload_bytes(p, true)).is_err()
                {
                    err(format!(
                        "step {n}: expects a text message that is not valid UTF-8, which no correct server sends"
                    ));
                }
                match &e.kind {
                    ExpectKind::Close(codes) | ExpectKind::Fail(codes) => {
                        for c in codes {
                            if !CloseCode::from(*c).is_valid_on_wire() {
                                err(format!(
                                    "step {n}: close code {c} can never arrive: it is not allowed in a close frame (RFC 6455 7.4)"
                                ));
                            }
                        }
                    }
                    ExpectKind::Refused { status, .. } => {
                        for st in status {
                            if *st == 101 || !(100..=599).contains(st) {
                                err(format!(
                                    "step {n}: status {st} is not a refusal: use an HTTP error status such as 400 or 426"
                                ));
                            }
                        }
                    }
                    ExpectKind::Silence(d) if d.0 == Duration::ZERO => {
                        err(format!("step {n}: `silence: 0ms` checks nothing"));
                    }
                    _ => {}
                }
            }
        }
        // Fail only where a MUST is broken: a scenario that can fail quotes
        // the MUST it enforces, every quote word for word; a `should` or
        // `may` says why it is not a MUST.
        let can_fail = sc.steps.iter().any(|step| match &step.action {
            Action::Expect(e) => e.strength == Strength::Must,
            Action::Flood(_) => true,
            _ => false,
        });
        fair.extend(check_requirement(sc.requirement.as_deref(), can_fail));
        for (i, step) in sc.steps.iter().enumerate() {
            if let Action::Expect(e) = &step.action
                && e.strength != Strength::Must
                && e.reason.as_deref().is_none_or(|r| r.trim().is_empty())
            {
                fair.push(format!(
                    "step {}: a `{}` expectation needs a `reason`: the quote or sentence that says why it is not a MUST",
                    i + 1,
                    e.strength.word()
                ));
            }
        }
        fairness.extend(fair.into_iter().map(|message| CheckError {
            path: s.path.clone(),
            message,
            fairness: true,
        }));
        // The staging rule: nothing a later chapter teaches.
        for early in check_staging(s) {
            err(early.to_string());
        }
        // Planning for each applicable profile finds what depends on order.
        for profile in [Profile::Echo, Profile::Chat] {
            let applies = match sc.profile {
                ProfileNeed::Any => true,
                ProfileNeed::Echo => profile == Profile::Echo,
                ProfileNeed::Chat => profile == Profile::Chat,
            };
            if !applies {
                continue;
            }
            let settings = PlanSettings {
                target: Target {
                    host: "127.0.0.1".into(),
                    port: 1,
                    path: "/".into(),
                },
                profile,
                timeout: Duration::from_secs(2),
                run_id: 0,
            };
            match plan(s, &settings) {
                Err(PlanError::Invalid { step, message }) => {
                    err(format!("step {}: {message}", step + 1));
                    break;
                }
                Err(PlanError::NotApplicable(why)) if sc.profile == ProfileNeed::Any => {
                    err(format!(
                        "the scenario says `profile: any` but {why} with the {} profile; set `profile:`",
                        profile.name()
                    ));
                }
                _ => {}
            }
        }
    }
    errors.extend(fairness);
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_scenario;

    fn problems(yaml: &str) -> Vec<String> {
        let s = parse_scenario("scenarios/01-x/a.yaml", yaml).unwrap();
        check(&[s]).into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn a_clean_scenario_has_no_problems() {
        assert!(
            problems(
                "id: a.b\ntitle: t\nrequirement: 'Profile echo: \"The echo endpoint sends back every data message it receives\"'\nsteps:\n  - send: { text: hi }\n  - expect: { echo: last }\n"
            )
            .is_empty()
        );
    }

    #[test]
    fn a_scenario_that_can_fail_quotes_its_must_word_for_word() {
        let steps = "steps:\n  - send: { text: hi }\n  - expect: { echo: last }\n";
        let p = problems(&format!("id: a\ntitle: t\n{steps}"));
        assert!(p.iter().any(|m| m.contains("quotes no MUST")), "{p:?}");
        // A fairness problem: `check` rejects it, `run` only warns.
        let s = parse_scenario(
            "scenarios/01-x/a.yaml",
            &format!("id: a\ntitle: t\n{steps}"),
        )
        .unwrap();
        assert!(check(&[s]).iter().all(|e| e.fairness));
        let p = problems(&format!(
            "id: a\ntitle: t\nrequirement: 'RFC 6455 5.5.1: \"the endpoint MUST send a Pong\"'\n{steps}"
        ));
        assert!(
            p.iter()
                .any(|m| m.contains("is not word for word in RFC 6455 section 5.5.1")),
            "{p:?}"
        );
        // Only `should` expectations: nothing to quote, but each needs its reason.
        let p = problems(
            "id: a\ntitle: t\nsteps:\n  - send: { text: hi }\n  - expect: { echo: last, strength: should }\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("needs a `reason`"), "{p:?}");
    }

    #[test]
    fn finds_impossible_expectations() {
        let p =
            problems("id: a\ntitle: t\nsteps:\n  - expect: { message: { text: { hex: ff } } }\n");
        assert!(p.iter().any(|m| m.contains("not valid UTF-8")), "{p:?}");
        let p = problems("id: a\ntitle: t\nsteps:\n  - expect: { refused: { status: [101] } }\n");
        assert!(p.iter().any(|m| m.contains("not a refusal")), "{p:?}");
        let p = problems("id: a\ntitle: t\nsteps:\n  - expect: { pong: last }\n");
        assert!(p.iter().any(|m| m.contains("no ping before")), "{p:?}");
        let p =
            problems("id: A B\ntitle: t\nsteps:\n  - send: { text: hi, between: [{ ping: x }] }\n");
        assert!(p.iter().any(|m| m.contains("would never be sent")), "{p:?}");
        assert!(
            p.iter().any(|m| m.contains("should use only lowercase")),
            "{p:?}"
        );
    }

    #[test]
    fn a_twin_that_would_never_be_played_is_an_error() {
        let p = problems(
            "id: a\ntitle: t\nsteps:\n  - send: { text: hi }\n  - expect: { echo: last }\ntwin:\n  - send: { text: hi }\n",
        );
        assert!(p.iter().any(|m| m.contains("never plays it")), "{p:?}");
    }

    #[test]
    fn a_step_from_a_later_chapter_is_named_with_its_chapter() {
        let s = parse_scenario(
            "scenarios/02-frames/a.yaml",
            "id: a\ntitle: t\nrequirement: 'Profile echo: \"sends back every data message\"'\nsteps:\n  - send: { text: hi }\n  - expect: { echo: last }\n  - send: { close: 1000 }\n",
        )
        .unwrap();
        let errors = check(&[s]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].to_string(),
            "scenarios/02-frames/a.yaml: step 3 uses a close frame, which the closing chapter teaches: \
             move the scenario there or do without it"
        );
    }

    #[test]
    fn any_profile_must_work_in_both() {
        let p = problems(
            "id: a\ntitle: t\nsteps:\n  - as: alice\n    send: { text: hi }\n  - as: bob\n    expect: { echo: alice }\n",
        );
        assert!(p.iter().any(|m| m.contains("set `profile:`")), "{p:?}");
    }
}
