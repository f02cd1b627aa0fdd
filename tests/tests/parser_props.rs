//! Property tests of the front end's syntax half, run by `cargo test`: any text
//! (random strings, random bytes read lossily, pipe-like character soup, mutated
//! valid programs) parses and formats without panicking, diagnostics point inside
//! the text, and whatever formats does so idempotently with the same tree.

use pipe_tests::ast_eq::assert_same_tree;
use pipe_tests::generate::{mutate, program, Rng};
use proptest::prelude::*;

fn check_text(text: &str) {
    let parsed = pipe_lang::parse("p.pipe", text);
    for d in &parsed.diagnostics {
        assert!(
            d.span.start <= d.span.end && d.span.end <= text.len(),
            "{d:?}"
        );
        assert!(
            text.is_char_boundary(d.span.start) && text.is_char_boundary(d.span.end),
            "{d:?}"
        );
        assert!(d.code.starts_with("E01"), "a syntax code: {d:?}");
    }
    let errors = parsed.diagnostics.iter().any(|d| d.is_error());
    let error_stmt = parsed
        .ast
        .stmts
        .iter()
        .any(|s| s.kind == pipe_lang::ast::StmtKind::Error);
    assert!(
        errors || !error_stmt,
        "an Error statement without a diagnostic in {text:?}"
    );
    match pipe_lang::format("p.pipe", text) {
        Ok(once) => {
            assert!(!errors, "format accepted a file with errors: {text:?}");
            let twice = pipe_lang::format("p.pipe", &once);
            assert_eq!(twice.as_ref(), Ok(&once), "not idempotent on {text:?}");
            assert_same_tree(text, &once);
        }
        Err(diags) => assert!(!diags.is_empty() && errors),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_strings(text in any::<String>()) {
        check_text(&text);
    }

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_text(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn pipe_like_soup(text in "(let|param|use|for|in|as|=>|[a-z_]{1,3}|[0-9._eE%-]{1,4}|[()\\[\\]{},:.=#\" \\n\\\\]|KiB|GHz){0,60}") {
        check_text(&text);
    }

    #[test]
    fn mutated_programs(seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let valid = program(&mut rng);
        check_text(&mutate(&mut rng, &valid));
    }

    #[test]
    fn valid_programs(seed in any::<u64>()) {
        let text = program(&mut Rng::new(seed));
        prop_assert!(pipe_lang::parse("v.pipe", &text).diagnostics.is_empty(), "{}", text);
        check_text(&text);
    }
}

#[test]
fn control_characters_and_empty_input() {
    for text in [
        "",
        "\0",
        "\u{7f}",
        "\r",
        "let\0a = 1",
        "\u{feff}let a = 1",
        "#",
        "##",
        "\"\\",
    ] {
        check_text(text);
    }
}
