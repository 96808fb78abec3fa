//! Every YAML example in the book's scenario-format appendix loads: blocks
//! starting with `id:` as whole scenarios, blocks of `- ` items as steps.

use wsconform_runner::load::{from_yaml, parse_scenario};
use wsconform_runner::scenario::Step;

const APPENDIX: &str = include_str!("../../../book/src/appendix/scenario-format.md");

fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_start() == "```yaml" => current = Some(String::new()),
            Some(block) if line.trim_start() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn every_yaml_example_in_the_appendix_loads() {
    let blocks = yaml_blocks(APPENDIX);
    assert!(
        blocks.len() >= 15,
        "only {} yaml blocks found",
        blocks.len()
    );
    for block in blocks {
        if block.starts_with("id:") {
            if let Err(e) = parse_scenario("appendix.yaml", &block) {
                panic!("{e}\n{block}");
            }
        } else {
            let steps: Result<Vec<Step>, String> = from_yaml(&block);
            if let Err(e) = steps {
                panic!("{e}\n{block}");
            }
        }
    }
}

#[test]
fn the_documented_error_message_is_the_real_one() {
    let text = "id: a\ntitle: t\nsteps:\n  - send: { text: hi }\n  - sned: { text: hi }\n";
    let err = parse_scenario("scenarios/03-lengths/x.yaml", text)
        .unwrap_err()
        .to_string();
    let documented = err.replacen(":5:5:", ":7:5:", 1);
    assert!(
        APPENDIX.contains(&documented),
        "the appendix should show: {documented}"
    );
}
