//! Load errors name the file, the line and column, and the field.

use wsconform_runner::load::parse_scenario;

fn err(text: &str) -> String {
    match parse_scenario("scenarios/03-lengths/x.yaml", text) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_step_names_line_and_choices() {
    let text = "id: a\ntitle: t\nsteps:\n  - send: { text: hi }\n  - sned: { text: hi }\n";
    let e = err(text);
    println!("{e}");
    assert!(e.starts_with("scenarios/03-lengths/x.yaml:5:"), "{e}");
    assert!(
        e.contains("unknown step 'sned', expected one of handshake, send"),
        "{e}"
    );
}

#[test]
fn an_unquoted_colon_gets_a_hint() {
    let e = err("id: a\ntitle: needs \"Connection: Upgrade\" here\nsteps: []\n");
    assert!(e.starts_with("scenarios/03-lengths/x.yaml:2:"), "{e}");
    assert!(e.contains("must be quoted"), "{e}");
    assert!(!e.contains("(in ?)"), "{e}");
}

#[test]
fn unknown_top_level_field() {
    let e = err("id: a\ntitle: t\npoints: 1\ntagz: [x]\nsteps: []\n");
    println!("{e}");
    assert!(e.starts_with("scenarios/03-lengths/x.yaml:4:"), "{e}");
    assert!(e.contains("unknown field 'tagz'"), "{e}");
}

#[test]
fn bad_hex_and_two_kinds() {
    let e = err("id: a\ntitle: t\nsteps:\n  - raw: \"81 8g\"\n");
    println!("{e}");
    assert!(e.contains(":4:") && e.contains("not a hex digit"), "{e}");
    let e = err("id: a\ntitle: t\nsteps:\n  - send: { text: hi, binary: { hex: '00' } }\n");
    println!("{e}");
    assert!(
        e.contains(":4:") && e.contains("send one thing per step"),
        "{e}"
    );
    let e = err("id: a\ntitle: t\nsteps:\n  - expect: { close: [1000], fail: any }\n");
    println!("{e}");
    assert!(e.contains("exactly one thing"), "{e}");
    let e = err("id: a\ntitle: t\nsteps:\n  - expect: { closee: [1000] }\n");
    println!("{e}");
    assert!(e.contains("unknown expectation 'closee'"), "{e}");
}

#[test]
fn mutated_scenarios_never_panic_the_loader() {
    use wsconform_runner::payload::SplitMix;
    let mut rng = SplitMix::new(7);
    let originals: Vec<&str> = wsconform_runner::load::bundled_sources()
        .iter()
        .map(|(_, text)| *text)
        .collect();
    assert!(!originals.is_empty());
    let alphabet = b"{}[]:,- \n\"'#&*!|>%@`0123456789abcdefxyz";
    for round in 0..2000 {
        let original = originals[round % originals.len()];
        let mut bytes = original.as_bytes().to_vec();
        for _ in 0..1 + rng.next_u64() % 4 {
            let at = (rng.next_u64() % bytes.len() as u64) as usize;
            let c = alphabet[(rng.next_u64() % alphabet.len() as u64) as usize];
            match rng.next_u64() % 3 {
                0 => bytes[at] = c,
                1 => bytes.insert(at, c),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = parse_scenario("scenarios/01-x/m.yaml", &text) {
            assert!(e.to_string().starts_with("scenarios/01-x/m.yaml"), "{e}");
        }
    }
}
