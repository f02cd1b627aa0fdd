//! Property tests of the whole front end (parse + resolve + check) against the
//! real stage catalog, run by `cargo test`: random text, mutated generated
//! programs and mutated real pipelines and fixtures never panic the checker, and
//! every diagnostic points inside the file it names.

use pipe_lang::program::Program;
use pipe_stdlib::Stdlib;
use pipe_tests::generate::{mutate, program, Rng};
use pipe_tests::memory_loader::MemoryLoader;
use proptest::prelude::*;
use std::path::Path;

/// Real `.pipe` texts to mutate: the pipelines and the checker fixtures.
fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut texts = Vec::new();
    for dir in [
        "pipelines",
        "tests/fixtures/check",
        "tests/fixtures/parse/valid",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "pipe") {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    texts.push(text);
                }
            }
        }
    }
    assert!(
        texts.len() >= 5,
        "the corpus of real .pipe files was not found"
    );
    texts
}

fn check_text(text: &str) -> Program {
    let mut loader = MemoryLoader::new([("main.pipe", text)]);
    loader.insert(
        "common.pipe",
        "param bits: int = 4\nlet d = dataset.digits()\n",
    );
    let program = pipe_lang::check("main.pipe", &loader, Stdlib::get());
    for d in &program.diagnostics {
        let module = program
            .modules
            .iter()
            .find(|m| m.name == d.file)
            .unwrap_or_else(|| panic!("diagnostic names an unknown file: {d:?}"));
        let len = module.text.len();
        assert!(d.span.start <= d.span.end && d.span.end <= len, "{d:?}");
        for label in &d.labels {
            assert!(label.span.end <= len, "label outside the file: {d:?}");
        }
    }
    program
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_text(text in any::<String>()) {
        check_text(&text);
    }

    #[test]
    fn mutated_generated_programs(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let valid = program(&mut rng);
        check_text(&mutate(&mut rng, &valid));
    }

    #[test]
    fn mutated_real_pipelines(seed in any::<u64>(), pick in any::<usize>()) {
        let corpus = corpus();
        let mut rng = Rng::new(seed);
        let mut text = corpus[pick % corpus.len()].clone();
        for _ in 0..1 + rng.below(4) {
            text = mutate(&mut rng, &text);
        }
        check_text(&text);
    }
}

#[test]
fn every_shipped_pipeline_checks_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipelines");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("pipelines/").flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "pipe") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable pipeline");
        let program = check_text(&text);
        assert!(
            program.diagnostics.is_empty(),
            "{}: {:#?}",
            path.display(),
            program.diagnostics
        );
        seen += 1;
    }
    assert!(seen >= 4, "expected the shipped pipelines, saw {seen}");
}
