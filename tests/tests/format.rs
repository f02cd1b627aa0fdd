//! `pipe_lang::format` on real files: the golden example, every valid fixture
//! and generated programs are formatted idempotently without changing the tree;
//! files with syntax errors are refused with their diagnostics.

use pipe_tests::ast_eq::assert_same_tree;
use pipe_tests::generate::{program, Rng};
use std::path::Path;

fn fixture(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn fmt(name: &str, text: &str) -> String {
    pipe_lang::format(name, text).unwrap_or_else(|d| panic!("{name} does not format: {d:#?}"))
}

fn assert_stable(name: &str, text: &str) -> String {
    let once = fmt(name, text);
    let twice = fmt(name, &once);
    assert_eq!(once, twice, "{name}: formatting is not idempotent");
    assert_same_tree(text, &once);
    once
}

#[test]
fn language_example_matches_golden() {
    let out = assert_stable("example", &fixture("parse/valid/language_example.pipe"));
    assert_eq!(out, fixture("format/language_example.formatted"));
}

#[test]
fn every_construct_matches_golden() {
    let out = assert_stable("constructs", &fixture("parse/valid/every_construct.pipe"));
    assert_eq!(out, fixture("format/every_construct.formatted"));
}

#[test]
fn generated_programs_format_stably() {
    let mut rng = Rng::new(0xf0f0);
    for i in 0..1500 {
        let text = program(&mut rng);
        let out = assert_stable(&format!("generated {i}"), &text);
        assert!(
            out.lines().all(|l| l == l.trim_end()),
            "trailing whitespace:\n{out}"
        );
    }
}

#[test]
fn broken_files_are_refused_with_diagnostics() {
    let err = pipe_lang::format("bad.pipe", "let a = f(1\nlet b = 2\n").err();
    let diags = err.unwrap_or_default();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].message, "unclosed `(`");
}

#[test]
fn empty_and_comment_only_files() {
    assert_eq!(fmt("e", ""), "");
    assert_eq!(fmt("e", "\n\n  \n"), "");
    assert_eq!(
        fmt("c", "# only\n\n\n# comments   \n"),
        "# only\n\n# comments\n"
    );
}

#[test]
fn doc_comments_stay_attached() {
    let src = "## about a\nlet a = 1\n\n## not attached\n\nlet b = 2\n";
    let out = assert_stable("docs", src);
    let ast = pipe_lang::parse("docs", &out).ast;
    assert_eq!(ast.stmts[0].doc.as_deref(), Some("about a"));
    assert_eq!(ast.stmts[1].doc, None);
}
