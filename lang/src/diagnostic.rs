//! The one diagnostic type of the project: every phase (lexer, parser, resolver,
//! checker, and later the interpreter) reports problems as `Diagnostic`s. Rendering
//! lives in `render.rs`; this module never formats for a terminal.

use crate::span::Span;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary (or the primary) annotated span in the same file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `E0101`; listed in docs/diagnostics.md.
    pub code: &'static str,
    /// One line, lower case, no trailing period.
    pub message: String,
    /// Path of the file the spans point into, as the loader named it.
    pub file: String,
    /// The primary span.
    pub span: Span,
    /// The primary label first, then secondary ones.
    pub labels: Vec<Label>,
    /// "did you mean `population`?" and similar.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: &str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: file.to_string(),
            span,
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, file: &str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, span, message)
        }
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
