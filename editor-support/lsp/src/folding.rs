//! Folding ranges: each statement that spans several lines (a long call, a
//! sweep), and each run of two or more comment lines. Read from the parsed tree
//! and the tokenizer only; it never checks anything.

use crate::analysis::Analysis;
use crate::documents::Document;
use crate::tokens::{self, TokenKind};
use lsp_types::{FoldingRange, FoldingRangeKind};

pub fn folding_ranges(doc: &Document, analysis: &Analysis) -> Vec<FoldingRange> {
    let line = |offset: usize| doc.index.position(&doc.text, offset).line;
    let mut out: Vec<FoldingRange> = analysis
        .root()
        .ast
        .stmts
        .iter()
        .map(|s| (line(s.span.start), line(s.span.end)))
        .filter(|(start, end)| end > start)
        .map(|(start, end)| fold(start, end, None))
        .collect();
    let mut run: Option<(u32, u32)> = None;
    for tok in tokens::tokenize(&doc.text) {
        if !matches!(tok.kind, TokenKind::Comment { .. }) {
            continue;
        }
        let at = line(tok.span.start);
        run = match run {
            Some((start, end)) if at == end + 1 => Some((start, at)),
            Some((start, end)) => {
                push_comment_run(&mut out, start, end);
                Some((at, at))
            }
            None => Some((at, at)),
        };
    }
    if let Some((start, end)) = run {
        push_comment_run(&mut out, start, end);
    }
    out
}

fn push_comment_run(out: &mut Vec<FoldingRange>, start: u32, end: u32) {
    if end > start {
        out.push(fold(start, end, Some(FoldingRangeKind::Comment)));
    }
}

fn fold(start: u32, end: u32, kind: Option<FoldingRangeKind>) -> FoldingRange {
    FoldingRange {
        start_line: start,
        end_line: end,
        kind,
        ..Default::default()
    }
}
