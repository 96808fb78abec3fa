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
