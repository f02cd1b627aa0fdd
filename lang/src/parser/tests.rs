//! Parser unit tests: the shapes it builds and the messages it gives.

use super::*;
use crate::ast::ExprKind;

fn messages(src: &str) -> Vec<String> {
    parse("t.pipe", src)
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

#[test]
fn language_example_parses_cleanly() {
    let src = include_str!("../../../tests/fixtures/parse/valid/language_example.pipe");
    let p = parse("ex.pipe", src);
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    assert_eq!(p.ast.stmts.len(), 11);
    assert_eq!(
        p.ast.stmts[0].doc.as_deref(),
        Some("Evol-Q on a small ViT, then the quantized model on three accelerator designs.")
    );
    let StmtKind::Let { value, .. } = &p.ast.stmts[9].kind else {
        panic!("hw is a let: {:?}", p.ast.stmts[9].kind);
    };
    assert!(matches!(value.kind, ExprKind::Sweep { ref binders, .. } if binders.len() == 2));
}

#[test]
fn errors_do_not_hide_later_statements() {
    let m = messages("let a 1\nlet b = f(x: 1 2)\nlet c = [1,, 2]\nparam = 3\n");
    assert_eq!(m.len(), 4, "{m:#?}");
    assert!(
        m[0].contains("expected `=` after the binding name, found `1`"),
        "{m:#?}"
    );
}

#[test]
fn unclosed_delimiter_points_at_opener() {
    let p = parse("t.pipe", "let a = f(1, [2, 3]\nlet b = 2\n");
    assert_eq!(p.diagnostics.len(), 1, "{:#?}", p.diagnostics);
    assert_eq!(p.diagnostics[0].message, "unclosed `(`");
    assert_eq!(p.diagnostics[0].span, Span::new(9, 10));
    assert!(matches!(p.ast.stmts[1].kind, StmtKind::Let { .. }));
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let deep = format!(
        "let a = {}1{}\nlet b = 2\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let m = messages(&deep);
    assert_eq!(m, ["E0113 nesting deeper than 128 levels"]);
    let ok = format!("let a = {}1{}\n", "(".repeat(128), ")".repeat(128));
    assert_eq!(messages(&ok), Vec::<String>::new());
    let members = format!("let a = x{}\n", ".y".repeat(100_000));
    assert_eq!(messages(&members), ["E0113 nesting deeper than 128 levels"]);
    let calls = format!("let a = f{}\n", "()".repeat(100_000));
    assert_eq!(messages(&calls), ["E0113 nesting deeper than 128 levels"]);
    let wide = format!("let a = [{}]\n", "x.y.z(1), ".repeat(10_000));
    assert_eq!(messages(&wide), Vec::<String>::new());
}

#[test]
fn keyword_as_name_gets_a_help_line() {
    let p = parse("t.pipe", "let in = 3\n");
    assert_eq!(p.diagnostics.len(), 1);
    assert_eq!(
        p.diagnostics[0].message,
        "expected a binding name after `let`, found `in`"
    );
    assert!(p.diagnostics[0]
        .help
        .as_deref()
        .is_some_and(|h| h.contains("keywords")));
}
