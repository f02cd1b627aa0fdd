//! The checker's diagnostics as LSP diagnostics: byte spans to UTF-16 ranges, the
//! help line appended to the message, secondary labels as related information.
//! A check of an open document also reaches the files it imports: their
//! diagnostics are converted for their own URIs, and each `use` of the open
//! document whose imports have errors gets one summary error, so a broken import
//! shows in the file the user is editing. It decides nothing about publishing.

use crate::documents::Document;
use crate::line_index::LineIndex;
use lsp_types::{DiagnosticRelatedInformation, Location, Uri};
use pipe_lang::ast::StmtKind;
use pipe_lang::diagnostic::{Diagnostic, Severity};
use pipe_lang::program::Program;
use std::collections::{BTreeMap, BTreeSet};

/// How many of an import's errors a summary links to.
const SUMMARY_LINKS: usize = 20;

/// A text diagnostics are converted for.
pub struct Place<'a> {
    pub uri: &'a Uri,
    pub index: &'a LineIndex,
    pub text: &'a str,
}

impl<'a> Place<'a> {
    pub fn of(doc: &'a Document) -> Self {
        Place {
            uri: &doc.uri,
            index: &doc.index,
            text: &doc.text,
        }
    }

    fn location(&self, span: pipe_lang::span::Span) -> Location {
        Location::new(self.uri.clone(), self.index.range(self.text, span))
    }
}

pub fn to_lsp(place: &Place, diag: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = diag.message.clone();
    if let Some(help) = &diag.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<_> = diag
        .labels
        .iter()
        .filter(|l| l.span != diag.span && !l.message.is_empty())
        .map(|l| DiagnosticRelatedInformation {
            location: place.location(l.span),
            message: l.message.clone(),
        })
        .collect();
    lsp_types::Diagnostic {
        range: place.index.range(place.text, diag.span),
        severity: Some(severity(diag.severity)),
        code: Some(lsp_types::NumberOrString::String(diag.code.to_string())),
        source: Some("pipe".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}

fn severity(s: Severity) -> lsp_types::DiagnosticSeverity {
    match s {
        Severity::Error => lsp_types::DiagnosticSeverity::ERROR,
        Severity::Warning => lsp_types::DiagnosticSeverity::WARNING,
    }
}

/// The diagnostics of `diags` that belong to the document named `name`.
pub fn for_document(
    doc: &Document,
    name: &str,
    diags: &[Diagnostic],
) -> Vec<lsp_types::Diagnostic> {
    let place = Place::of(doc);
    diags
        .iter()
        .filter(|d| d.file == name)
        .map(|d| to_lsp(&place, d))
        .collect()
}

/// The diagnostics of every imported module of `program` that has any, by module
/// name, converted for that module's text. `uri_of` names a module's URI.
pub fn for_imports(
    program: &Program,
    uri_of: &dyn Fn(&str) -> Option<Uri>,
) -> BTreeMap<String, Vec<lsp_types::Diagnostic>> {
    let root = &program.root_module().name;
    let mut out = BTreeMap::new();
    for module in &program.modules {
        if &module.name == root {
            continue;
        }
        let mut own = program
            .diagnostics
            .iter()
            .filter(|d| d.file == module.name)
            .peekable();
        if own.peek().is_none() {
            continue;
        }
        let Some(uri) = uri_of(&module.name) else {
            continue;
        };
        let index = LineIndex::new(&module.text);
        let place = Place {
            uri: &uri,
            index: &index,
            text: &module.text,
        };
        out.insert(
            module.name.clone(),
            own.map(|d| to_lsp(&place, d)).collect(),
        );
    }
    out
}

/// One error on each `use` of the root whose imported file, or a file it imports
/// in turn, has errors: how many, the first one, and links to them.
pub fn import_summaries(
    doc: &Document,
    program: &Program,
    uri_of: &dyn Fn(&str) -> Option<Uri>,
) -> Vec<lsp_types::Diagnostic> {
    let root = program.root_module();
    let place = Place::of(doc);
    let mut out = Vec::new();
    for stmt in &root.ast.stmts {
        let StmtKind::Use { path, alias } = &stmt.kind else {
            continue;
        };
        let Some(&target) = root.imports.get(&alias.name) else {
            continue;
        };
        let files = reachable(program, target);
        let errors: Vec<&Diagnostic> = program
            .diagnostics
            .iter()
            .filter(|d| d.is_error() && d.file != root.name && files.contains(d.file.as_str()))
            .collect();
        let Some(first) = errors.first() else {
            continue;
        };
        let count = match errors.len() {
            1 => "1 error".to_string(),
            n => format!("{n} errors"),
        };
        let related = errors
            .iter()
            .take(SUMMARY_LINKS)
            .filter_map(|d| related_in_import(program, d, uri_of))
            .collect::<Vec<_>>();
        out.push(lsp_types::Diagnostic {
            range: place.index.range(place.text, path.span),
            severity: Some(lsp_types::DiagnosticSeverity::ERROR),
            code: Some(lsp_types::NumberOrString::String(first.code.to_string())),
            source: Some("pipe".to_string()),
            message: format!(
                "`{}` has {count}; the first, in {}: {}",
                path.value, first.file, first.message
            ),
            related_information: (!related.is_empty()).then_some(related),
            ..Default::default()
        });
    }
    out
}

/// Names of the module `from` and every module it imports, directly or not
/// (a worklist: import chains are as deep as the user makes them).
fn reachable(program: &Program, from: usize) -> BTreeSet<&str> {
    let mut seen = BTreeSet::from([from]);
    let mut work = vec![from];
    while let Some(id) = work.pop() {
        let Some(module) = program.modules.get(id) else {
            continue;
        };
        for &next in module.imports.values() {
            if seen.insert(next) {
                work.push(next);
            }
        }
    }
    seen.iter()
        .filter_map(|&id| program.modules.get(id))
        .map(|m| m.name.as_str())
        .collect()
}

fn related_in_import(
    program: &Program,
    diag: &Diagnostic,
    uri_of: &dyn Fn(&str) -> Option<Uri>,
) -> Option<DiagnosticRelatedInformation> {
    let module = program.modules.iter().find(|m| m.name == diag.file)?;
    let uri = uri_of(&module.name)?;
    let index = LineIndex::new(&module.text);
    Some(DiagnosticRelatedInformation {
        location: Location::new(uri, index.range(&module.text, diag.span)),
        message: diag.message.clone(),
    })
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
