//! Every fixture under tests/fixtures/parse/ gives exactly the syntax
//! diagnostics its `#~` comments expect (none for the files under `valid/`).

use pipe_tests::fixtures::{assert_matches, expectations};
use std::path::{Path, PathBuf};

fn pipe_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pipe"))
        .collect();
    files.sort();
    files
}

fn fixtures(sub: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/parse")
        .join(sub);
    let files = pipe_files(&dir);
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (p.display().to_string(), text)
        })
        .collect()
}

#[test]
fn valid_fixtures_parse_cleanly() {
    for (name, text) in fixtures("valid") {
        let parsed = pipe_lang::parse(&name, &text);
        assert_matches(&name, &text, &parsed.diagnostics);
        assert!(
            expectations(&text).is_empty(),
            "{name}: valid fixtures expect nothing"
        );
        assert!(
            parsed
                .ast
                .stmts
                .iter()
                .all(|s| s.kind != pipe_lang::ast::StmtKind::Error),
            "{name}: an Error statement without a diagnostic"
        );
    }
}

#[test]
fn error_fixtures_report_what_they_expect() {
    for (name, text) in fixtures("errors") {
        let parsed = pipe_lang::parse(&name, &text);
        assert!(
            !expectations(&text).is_empty(),
            "{name}: an error fixture must expect something"
        );
        assert_matches(&name, &text, &parsed.diagnostics);
    }
}

#[test]
fn every_syntax_code_has_a_fixture() {
    let all: String = fixtures("errors").into_iter().map(|(_, t)| t).collect();
    let codes = [
        "E0101", "E0102", "E0103", "E0104", "E0105", "E0106", "E0107", "E0110", "E0111", "E0112",
        "E0113", "E0114",
    ];
    for code in codes {
        assert!(
            all.contains(&format!("[{code}]")),
            "no fixture expects {code}"
        );
    }
}

#[test]
fn statements_after_errors_still_parse() {
    for (name, text) in fixtures("errors") {
        let parsed = pipe_lang::parse(&name, &text);
        let last = parsed.ast.stmts.last().map(|s| &s.kind);
        let good =
            matches!(last, Some(pipe_lang::ast::StmtKind::Let { name, .. }) if name.name != "last");
        let lenient = name.ends_with("statements.pipe");
        assert!(
            good || lenient,
            "{name}: the last statement should parse: {last:?}"
        );
    }
}
