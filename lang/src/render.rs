//! Diagnostics for people and for tools: `render` draws one with ariadne (byte
//! spans, colors optional) under a first line `file:line:col: error[CODE]: message`
//! that editors and terminals turn into a link; `to_json` gives the machine form
//! of `pipe check --format json`. Nothing here decides what is wrong, only how it reads.

use crate::diagnostic::{Diagnostic, Severity};
use crate::span::{line_col, Span};
use ariadne::{Config, IndexType, Label, Report, ReportKind, Source};
use serde::Serialize;

/// One diagnostic as text. `source` is the text of `diag.file`.
pub fn render(diag: &Diagnostic, source: &str, color: bool) -> String {
    let (line, col) = line_col(source, diag.span.start);
    let mut out = format!(
        "{}:{line}:{col}: {}[{}]: {}\n",
        diag.file,
        severity_name(diag.severity),
        diag.code,
        diag.message
    );
    out.push_str(&snippet(diag, source, color));
    out
}

/// The ariadne drawing of the source lines, without ariadne's own header line: the
/// first line written by `render` already says what ariadne's header would.
fn snippet(diag: &Diagnostic, source: &str, color: bool) -> String {
    let file = diag.file.as_str();
    let clamp = |s: Span| {
        let end = s.end.min(source.len());
        s.start.min(end)..end
    };
    let kind = match diag.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    let config = Config::default()
        .with_color(color)
        .with_index_type(IndexType::Byte);
    let mut report = Report::build(kind, (file, clamp(diag.span)))
        .with_config(config)
        .with_code(diag.code)
        .with_message(&diag.message);
    if diag.labels.is_empty() {
        report = report.with_label(Label::new((file, clamp(diag.span))));
    }
    for label in &diag.labels {
        report =
            report.with_label(Label::new((file, clamp(label.span))).with_message(&label.message));
    }
    if let Some(help) = &diag.help {
        report = report.with_help(help);
    }
    let mut buf = Vec::new();
    if report
        .finish()
        .write((file, Source::from(source)), &mut buf)
        .is_err()
    {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    text.split_once('\n')
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_default()
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The JSON shape of `pipe check --format json` (one element of the array).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    pub severity: Severity,
    pub code: String,
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub labels: Vec<JsonLabel>,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonLabel {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One diagnostic in its JSON form; lines and columns are 1-based, columns in chars.
pub fn json_of(diag: &Diagnostic, source: &str) -> JsonDiagnostic {
    let (line, column) = line_col(source, diag.span.start);
    let (end_line, end_column) = line_col(source, diag.span.end);
    JsonDiagnostic {
        file: diag.file.clone(),
        severity: diag.severity,
        code: diag.code.to_string(),
        message: diag.message.clone(),
        line,
        column,
        end_line,
        end_column,
        labels: diag
            .labels
            .iter()
            .map(|l| {
                let (line, column) = line_col(source, l.span.start);
                JsonLabel {
                    line,
                    column,
                    message: l.message.clone(),
                }
            })
            .collect(),
        help: diag.help.clone(),
    }
}

/// Every diagnostic in JSON form; `source_of` gives a file's text by name (an
/// unknown file counts as empty, so positions read 1:1).
pub fn to_json<'s>(
    diags: &[Diagnostic],
    source_of: impl Fn(&str) -> Option<&'s str>,
) -> Vec<JsonDiagnostic> {
    diags
        .iter()
        .map(|d| json_of(d, source_of(&d.file).unwrap_or("")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Diagnostic, &'static str) {
        let src = "let a = 1\nlet b = zebra\n";
        let d = Diagnostic::error("E0201", "x.pipe", Span::new(18, 23), "unknown name `zebra`")
            .with_label(Span::new(18, 23), "not defined")
            .with_help("did you mean `a`?");
        (d, src)
    }

    #[test]
    fn first_line_is_file_line_col_and_snippet_follows() {
        let (d, src) = sample();
        let text = render(&d, src, false);
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("x.pipe:2:9: error[E0201]: unknown name `zebra`")
        );
        assert!(text.contains("let b = zebra"), "{text}");
        assert!(text.contains("not defined"), "{text}");
        assert!(text.contains("did you mean `a`?"), "{text}");
        assert!(!text.contains('\u{1b}'), "no colors asked: {text:?}");
    }

    #[test]
    fn spans_past_the_end_do_not_panic() {
        let (mut d, src) = sample();
        d.span = Span::new(500, 900);
        d.labels[0].span = Span::new(500, 900);
        assert!(render(&d, src, true).starts_with("x.pipe:3:1:"));
    }

    #[test]
    fn json_positions_are_one_based() {
        let (d, src) = sample();
        let j = json_of(&d, src);
        assert_eq!((j.line, j.column, j.end_line, j.end_column), (2, 9, 2, 14));
        assert_eq!(j.labels[0].line, 2);
        assert_eq!(j.help.as_deref(), Some("did you mean `a`?"));
        assert_eq!(j.severity, Severity::Error);
    }
}
