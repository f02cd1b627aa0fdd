//! Inline expectations in `.pipe` fixture files, shared by the parser and checker
//! fixture tests. A comment `#~ error[E0102]: text` expects a diagnostic of that
//! severity and code whose primary span starts on the comment's line and whose
//! message contains `text`; each `^` right after `#~` moves the line up by one
//! (`#~^ warning[W0604]: unused` points at the line above). This module only
//! compares; it never runs the front end itself.

use pipe_lang::diagnostic::{Diagnostic, Severity};
use pipe_lang::span::line_col;
use std::fmt;

/// One `#~` comment: a diagnostic the fixture expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// 1-based line the diagnostic's primary span must start on.
    pub line: usize,
    pub severity: Severity,
    pub code: String,
    /// A substring of the expected message.
    pub message: String,
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: {}[{}]: {}",
            self.line,
            severity_name(self.severity),
            self.code,
            self.message
        )
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// Every `#~` expectation in a fixture, in line order. Panics on a malformed
/// `#~` comment: a fixture that silently expects nothing would test nothing.
pub fn expectations(text: &str) -> Vec<Expectation> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(at) = line.find("#~") else { continue };
        let rest = &line[at + 2..];
        let carets = rest.chars().take_while(|&c| c == '^').count();
        let line_no = index + 1;
        let target = line_no
            .checked_sub(carets)
            .filter(|&l| l >= 1)
            .unwrap_or_else(|| {
                panic!("fixture line {line_no}: `#~` with {carets} carets points above the file")
            });
        match parse_expectation(rest[carets..].trim()) {
            Some((severity, code, message)) => out.push(Expectation {
                line: target,
                severity,
                code,
                message,
            }),
            None => panic!(
                "fixture line {line_no}: malformed expectation `{}`; write `#~ error[E0101]: message text`",
                line[at..].trim_end()
            ),
        }
    }
    out
}

/// `error[E0102]: text` -> (severity, code, text).
fn parse_expectation(s: &str) -> Option<(Severity, String, String)> {
    let (severity, rest) = if let Some(r) = s.strip_prefix("error[") {
        (Severity::Error, r)
    } else if let Some(r) = s.strip_prefix("warning[") {
        (Severity::Warning, r)
    } else {
        return None;
    };
    let (code, rest) = rest.split_once(']')?;
    let message = rest.strip_prefix(':')?.trim();
    if code.is_empty() || message.is_empty() {
        return None;
    }
    Some((severity, code.to_string(), message.to_string()))
}

fn describe(text: &str, d: &Diagnostic) -> String {
    let (line, col) = line_col(text, d.span.start);
    format!(
        "{}:{line}:{col}: {}[{}]: {}",
        d.file,
        severity_name(d.severity),
        d.code,
        d.message
    )
}

fn satisfies(text: &str, file: &str, e: &Expectation, d: &Diagnostic) -> bool {
    d.file == file
        && d.severity == e.severity
        && d.code == e.code
        && line_col(text, d.span.start).0 == e.line
        && d.message.contains(&e.message)
}

/// Panics with a list of unexpected and missing diagnostics unless `diags` are
/// exactly what the `#~` comments of `text` expect, one diagnostic per comment.
/// Diagnostics of other files than `file` count as unexpected: give such a fixture
/// only the diagnostics of the file it describes.
pub fn assert_matches(file: &str, text: &str, diags: &[Diagnostic]) {
    let expected = expectations(text);
    let mut used = vec![false; diags.len()];
    let mut missing = Vec::new();
    for e in &expected {
        let hit = diags
            .iter()
            .enumerate()
            .position(|(i, d)| !used[i] && satisfies(text, file, e, d));
        match hit {
            Some(i) => used[i] = true,
            None => missing.push(e),
        }
    }
    let unexpected: Vec<String> = diags
        .iter()
        .zip(&used)
        .filter(|(_, &u)| !u)
        .map(|(d, _)| describe(text, d))
        .collect();
    if missing.is_empty() && unexpected.is_empty() {
        return;
    }
    let mut report = format!("{file}: diagnostics differ from the `#~` expectations\n");
    for m in &missing {
        report.push_str(&format!("  missing:    {m}\n"));
    }
    for u in &unexpected {
        report.push_str(&format!("  unexpected: {u}\n"));
    }
    panic!("{report}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_lang::span::Span;

    const FIXTURE: &str = "let a = 1\nlet b = ?  #~ error[E0101]: unexpected\nlet c = 2\n#~^ warning[W0604]: unused\n";

    #[test]
    fn reads_same_line_and_caret_expectations() {
        let e = expectations(FIXTURE);
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].line, e[0].severity, e[0].code.as_str()),
            (2, Severity::Error, "E0101")
        );
        assert_eq!(e[0].message, "unexpected");
        assert_eq!((e[1].line, e[1].severity), (3, Severity::Warning));
    }

    #[test]
    fn accepts_exact_match() {
        let at = FIXTURE.find('?').unwrap_or(0);
        let c = FIXTURE.find("let c").unwrap_or(0);
        let diags = [
            Diagnostic::error(
                "E0101",
                "f.pipe",
                Span::new(at, at + 1),
                "unexpected character `?`",
            ),
            Diagnostic::warning(
                "W0604",
                "f.pipe",
                Span::new(c + 4, c + 5),
                "unused binding `c`",
            ),
        ];
        assert_matches("f.pipe", FIXTURE, &diags);
    }

    #[test]
    #[should_panic(expected = "missing:    line 3: warning[W0604]")]
    fn reports_missing() {
        let at = FIXTURE.find('?').unwrap_or(0);
        let diags = [Diagnostic::error(
            "E0101",
            "f.pipe",
            Span::new(at, at + 1),
            "unexpected character",
        )];
        assert_matches("f.pipe", FIXTURE, &diags);
    }

    #[test]
    #[should_panic(expected = "unexpected: f.pipe:1:1: error[E0999]")]
    fn reports_unexpected() {
        assert_matches(
            "f.pipe",
            "let a = 1\n",
            &[Diagnostic::error(
                "E0999",
                "f.pipe",
                Span::new(0, 3),
                "boom",
            )],
        );
    }

    #[test]
    #[should_panic(expected = "malformed expectation")]
    fn rejects_malformed() {
        expectations("let a = 1 #~ eror[E0101]: x\n");
    }
}
