//! The checker's diagnostics as LSP diagnostics for one document: byte spans to
//! UTF-16 ranges, the help line appended to the message, secondary labels as
//! related information.

use crate::documents::Document;
use pipe_lang::diagnostic::{Diagnostic, Severity};

pub fn to_lsp(doc: &Document, diag: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = diag.message.clone();
    if let Some(help) = &diag.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<_> = diag
        .labels
        .iter()
        .filter(|l| l.span != diag.span && !l.message.is_empty())
        .map(|l| lsp_types::DiagnosticRelatedInformation {
            location: lsp_types::Location::new(doc.uri.clone(), doc.index.range(&doc.text, l.span)),
            message: l.message.clone(),
        })
        .collect();
    lsp_types::Diagnostic {
        range: doc.index.range(&doc.text, diag.span),
        severity: Some(match diag.severity {
            Severity::Error => lsp_types::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp_types::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp_types::NumberOrString::String(diag.code.to_string())),
        source: Some("pipe".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

/// The diagnostics of `diags` that belong to the document named `name`.
pub fn for_document(
    doc: &Document,
    name: &str,
    diags: &[Diagnostic],
) -> Vec<lsp_types::Diagnostic> {
    diags
        .iter()
        .filter(|d| d.file == name)
        .map(|d| to_lsp(doc, d))
        .collect()
}

/// Shown at the top of a document the checker panicked on, so the user knows the
/// missing diagnostics are the server's fault and not their file's.
pub fn checker_crashed() -> lsp_types::Diagnostic {
    lsp_types::Diagnostic {
        severity: Some(lsp_types::DiagnosticSeverity::ERROR),
        source: Some("pipe".to_string()),
        message: "internal error: the checker crashed on this file; run `pipe check` on it and report the output".to_string(),
        ..Default::default()
    }
}
