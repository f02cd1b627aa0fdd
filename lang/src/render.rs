//! Diagnostics for people and for tools: `render` draws one with ariadne (byte
//! spans, colors optional) under a first line `file:line:col: error[CODE]: message`
//! that editors and terminals turn into a link; `to_json` gives the machine form
//! of `pipe check --format json`. Nothing here decides what is wrong, only how it reads.
//! A file's text is indexed once per `Renderer` (line starts, ariadne's line
//! table), so rendering many diagnostics costs per diagnostic only the lines it
//! shows: rendering must stay linear in the number of diagnostics.

use crate::diagnostic::{Diagnostic, Severity};
use crate::program::Program;
use crate::span::Span;
use ariadne::{Config, IndexType, Label, Report, ReportKind, Source};
use serde::Serialize;
use std::collections::HashMap;

/// One diagnostic as text. `source` is the text of `diag.file`. Indexes the
/// text on every call: use a `Renderer` for more than one diagnostic.
pub fn render(diag: &Diagnostic, source: &str, color: bool) -> String {
    Renderer::new(source).render(diag, color)
}

/// One file's text, indexed for rendering any number of its diagnostics.
pub struct Renderer<'a> {
    text: &'a str,
    /// Byte offset of the start of each line (after each `\n`).
    line_starts: Vec<usize>,
    source: Source<&'a str>,
}

impl<'a> Renderer<'a> {
    pub fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Renderer {
            text,
            line_starts,
            source: Source::from(text),
        }
    }

    /// 1-based line and column (in chars) of a byte offset, as
    /// `span::line_col` counts them, by binary search.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        // `line >= 1`: the first line starts at 0.
        let line_start = self.line_starts[line - 1];
        let col = self
            .text
            .get(line_start..offset)
            .map(|s| s.chars().count())
            .unwrap_or(offset - line_start)
            + 1;
        (line, col)
    }

    /// One diagnostic as text (see `render`).
    pub fn render(&self, diag: &Diagnostic, color: bool) -> String {
        let (line, col) = self.line_col(diag.span.start);
        let mut out = format!(
            "{}:{line}:{col}: {}[{}]: {}\n",
            diag.file,
            severity_name(diag.severity),
            diag.code,
            diag.message
        );
        out.push_str(&self.snippet(diag, color));
        out
    }

    /// The ariadne drawing of the source lines, without ariadne's own header
    /// line: the first line written by `render` already says what ariadne's
    /// header would.
    fn snippet(&self, diag: &Diagnostic, color: bool) -> String {
        let file = diag.file.as_str();
        let len = self.text.len();
        let clamp = |s: Span| {
            let end = s.end.min(len);
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
            report = report
                .with_label(Label::new((file, clamp(label.span))).with_message(&label.message));
        }
        if let Some(help) = &diag.help {
            report = report.with_help(help);
        }
        let mut buf = Vec::new();
        if report
            .finish()
            .write((file, &self.source), &mut buf)
            .is_err()
        {
            return String::new();
        }
        let text = String::from_utf8_lossy(&buf);
        text.split_once('\n')
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default()
    }

    /// One diagnostic in its JSON form (see `json_of`).
    pub fn json(&self, diag: &Diagnostic) -> JsonDiagnostic {
        let (line, column) = self.line_col(diag.span.start);
        let (end_line, end_column) = self.line_col(diag.span.end);
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
                    let (line, column) = self.line_col(l.span.start);
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
}

/// Renderers for the modules of a program, each made the first time one of
/// its diagnostics is rendered. A file the program does not hold renders
/// against an empty text (positions read 1:1).
pub struct ProgramRenderer<'p> {
    texts: HashMap<&'p str, &'p str>,
    renderers: HashMap<&'p str, Renderer<'p>>,
    empty: Renderer<'static>,
}

impl<'p> ProgramRenderer<'p> {
    pub fn new(program: &'p Program) -> Self {
        ProgramRenderer {
            texts: program
                .modules
                .iter()
                .map(|m| (m.name.as_str(), m.text.as_str()))
                .collect(),
            renderers: HashMap::new(),
            empty: Renderer::new(""),
        }
    }

    fn for_file(&mut self, file: &str) -> &Renderer<'_> {
        let Some((&name, &text)) = self.texts.get_key_value(file) else {
            return &self.empty;
        };
        self.renderers
            .entry(name)
            .or_insert_with(|| Renderer::new(text))
    }

    pub fn render(&mut self, diag: &Diagnostic, color: bool) -> String {
        self.for_file(&diag.file).render(diag, color)
    }

    pub fn json(&mut self, diag: &Diagnostic) -> JsonDiagnostic {
        self.for_file(&diag.file).json(diag)
    }

    /// Every diagnostic of `diags` as text, in order.
    pub fn render_all(&mut self, diags: &[Diagnostic], color: bool) -> String {
        diags.iter().map(|d| self.render(d, color)).collect()
    }
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

/// One diagnostic in its JSON form; lines and columns are 1-based, columns in
/// chars. Indexes the text on every call: use a `Renderer` for more than one.
pub fn json_of(diag: &Diagnostic, source: &str) -> JsonDiagnostic {
    Renderer::new(source).json(diag)
}

/// Every diagnostic in JSON form; `source_of` gives a file's text by name (an
/// unknown file counts as empty, so positions read 1:1). Each file is indexed once.
pub fn to_json<'s>(
    diags: &[Diagnostic],
    source_of: impl Fn(&str) -> Option<&'s str>,
) -> Vec<JsonDiagnostic> {
    let mut renderers: HashMap<&str, Renderer<'s>> = HashMap::new();
    diags
        .iter()
        .map(|d| {
            renderers
                .entry(d.file.as_str())
                .or_insert_with(|| Renderer::new(source_of(&d.file).unwrap_or("")))
                .json(d)
        })
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
    fn indexed_positions_equal_the_scanned_ones() {
        let text = "é = 1\n\nlet b = \"ü\"\r\nlast";
        let r = Renderer::new(text);
        for offset in 0..text.len() + 3 {
            assert_eq!(
                r.line_col(offset),
                crate::span::line_col(text, offset),
                "offset {offset}"
            );
        }
        assert_eq!(Renderer::new("").line_col(5), (1, 1));
    }

    #[test]
    fn one_renderer_draws_each_diagnostic_as_render_does() {
        let (d, src) = sample();
        let mut other = d.clone();
        other.span = Span::new(4, 5);
        other.labels.clear();
        let r = Renderer::new(src);
        for diag in [&d, &other] {
            assert_eq!(r.render(diag, false), render(diag, src, false));
            assert_eq!(r.json(diag), json_of(diag, src));
        }
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
