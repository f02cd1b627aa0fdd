//! Fuzz target: `pipe fmt` on valid programs. Each input is used twice: as text
//! (when it parses cleanly, which the seed corpus of real programs makes common)
//! and as the seed of the test suite's grammar-following program generator, so
//! every run formats at least one valid program. Formatting must succeed on a
//! valid program, be idempotent (fmt(fmt(x)) == fmt(x)), and give text that
//! parses cleanly to the same tree, spans aside. Anything else is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/src/ast_eq.rs"]
mod ast_eq;
#[path = "../../tests/src/generate.rs"]
#[allow(dead_code)]
mod generate;

fn assert_formats_stably(text: &str) {
    let Ok(once) = pipe_lang::format("fuzz.pipe", text) else {
        panic!("a program that parses cleanly does not format: {text:?}");
    };
    let again = pipe_lang::parse("fuzz.pipe", &once);
    assert!(
        again.diagnostics.iter().all(|d| !d.is_error()),
        "formatted text has errors: {:?}\n{once}",
        again.diagnostics
    );
    let twice = pipe_lang::format("fuzz.pipe", &once);
    assert_eq!(twice.as_ref(), Ok(&once), "not idempotent on {text:?}");
    ast_eq::assert_same_tree(text, &once);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = pipe_lang::parse("fuzz.pipe", &text);
    if parsed.diagnostics.iter().all(|d| !d.is_error()) {
        assert_formats_stably(&text);
    }
    let mut seed = [0u8; 8];
    for (i, b) in data.iter().enumerate() {
        seed[i % 8] ^= b.rotate_left(i as u32 / 8);
    }
    let program = generate::program(&mut generate::Rng::new(u64::from_le_bytes(seed)));
    assert_formats_stably(&program);
});
