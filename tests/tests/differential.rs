//! pest (lang/src/pipe.pest, the reference grammar) against the chumsky parser:
//! on every fixture and on a few thousand generated programs, valid ones and
//! mutated ones, pest must accept exactly when `parse` reports no syntax error.
//! Codes for limits a grammar cannot express (integer/float range, Unicode scalar
//! values, the nesting cap) are left out of the comparison.

use pest::Parser as _;
use pipe_tests::generate::{mutate, program, Rng};
use std::path::Path;

#[derive(pest_derive::Parser)]
#[grammar = "../lang/src/pipe.pest"]
struct Reference;

/// Limits outside the grammar: reported by the parser only.
const NOT_GRAMMAR: &[&str] = &["E0105", "E0106", "E0107", "E0113"];

fn chumsky_accepts(text: &str) -> bool {
    pipe_lang::parse("d.pipe", text)
        .diagnostics
        .iter()
        .all(|d| !d.code.starts_with("E01") || NOT_GRAMMAR.contains(&d.code))
}

fn pest_accepts(text: &str) -> bool {
    Reference::parse(Rule::file, text).is_ok()
}

fn assert_agree(what: &str, text: &str) {
    let chumsky = chumsky_accepts(text);
    let pest = pest_accepts(text);
    if chumsky != pest {
        let diags: Vec<String> = pipe_lang::parse("d.pipe", text)
            .diagnostics
            .iter()
            .map(|d| format!("{} {} at {:?}", d.code, d.message, d.span))
            .collect();
        let pest_err = Reference::parse(Rule::file, text)
            .err()
            .map(|e| e.to_string());
        panic!(
            "{what}: chumsky accepts = {chumsky}, pest accepts = {pest}\n--- text ---\n{text}\n--- chumsky ---\n{diags:#?}\n--- pest ---\n{pest_err:?}"
        );
    }
}

fn fixture_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            fixture_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "pipe") {
            out.push(p);
        }
    }
}

#[test]
fn fixtures_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files = Vec::new();
    fixture_files(&root, &mut files);
    assert!(!files.is_empty(), "no fixtures under {}", root.display());
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        assert_agree(&f.display().to_string(), &text);
    }
}

#[test]
fn generated_programs_agree_and_parse() {
    let mut rng = Rng::new(0x5eed_0001);
    for i in 0..2000 {
        let text = program(&mut rng);
        assert!(
            pest_accepts(&text),
            "generated program {i} is not in the grammar:\n{text}"
        );
        assert_agree(&format!("generated {i}"), &text);
    }
}

#[test]
fn mutated_programs_agree() {
    let mut rng = Rng::new(0x5eed_0002);
    let mut rejected = 0;
    for i in 0..5000 {
        let valid = program(&mut rng);
        let text = mutate(&mut rng, &valid);
        rejected += usize::from(!pest_accepts(&text));
        assert_agree(&format!("mutant {i}"), &text);
    }
    assert!(
        rejected > 1000,
        "mutations should mostly break programs, {rejected} did"
    );
}
