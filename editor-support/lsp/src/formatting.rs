//! Formatting: exactly `pipe fmt`'s output, as one edit replacing the document.
//! A file that does not parse is left alone (its diagnostics say why).

use crate::documents::Document;
use lsp_types::{Position, Range, TextEdit};

pub fn format(doc: &Document, name: &str) -> Vec<TextEdit> {
    let Ok(formatted) = pipe_lang::format(name, &doc.text) else {
        return Vec::new();
    };
    if formatted == doc.text {
        return Vec::new();
    }
    let end = doc.index.position(&doc.text, doc.text.len());
    vec![TextEdit::new(
        Range::new(Position::new(0, 0), end),
        formatted,
    )]
}
