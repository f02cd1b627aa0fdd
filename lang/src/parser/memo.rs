//! The statements of a file's previous parse, by their text, for
//! `parse_reusing`. A statement's tree depends only on its own tokens, and its
//! tokens only on its text (a statement starts at `use`, `param` or `let` and
//! ends at the end of its last token), so the same text parses to the same tree,
//! moved. Only statements that parsed cleanly are kept. It never parses and
//! never decides what a statement means; it holds the last parse only, so its
//! size follows the file.

use crate::ast::StmtKind;
use crate::relocate::Shift;
use crate::span::Span;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct ParseMemo {
    /// The previous parse: statement text -> its tree, at the span it had.
    previous: HashMap<String, (Span, StmtKind)>,
    /// This parse's statements, the next parse's `previous`.
    current: HashMap<String, (Span, StmtKind)>,
}

impl ParseMemo {
    /// The tree of a statement with this text, moved to `start`, when the
    /// previous parse had one.
    pub(crate) fn reuse(&mut self, text: &str, start: usize) -> Option<StmtKind> {
        let (key, (span, kind)) = self.previous.remove_entry(text)?;
        let mut moved = kind.clone();
        let shift = Shift::new(span, start);
        if !shift.is_identity() {
            shift.stmt_kind(&mut moved);
        }
        self.current.insert(key, (span, kind));
        Some(moved)
    }

    /// Keeps a freshly parsed statement for the next parse.
    pub(crate) fn keep(&mut self, text: &str, span: Span, kind: &StmtKind) {
        self.current.insert(text.to_string(), (span, kind.clone()));
    }

    /// Ends a parse: what it did not use is forgotten.
    pub(crate) fn finish(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}
