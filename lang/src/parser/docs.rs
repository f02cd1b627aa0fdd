//! Attaches `##` doc comments to statements: the run of own-line `##` lines
//! directly above a statement (no blank line, no code in between) becomes its
//! `doc`, one line each, joined with `\n`, with one leading space removed.

use crate::ast::{Comment, Stmt};

pub fn attach(src: &str, comments: &[Comment], own_line: &[bool], stmts: &mut [Stmt]) {
    let mut next = 0;
    for stmt in stmts.iter_mut() {
        while next < comments.len() && comments[next].span.start < stmt.span.start {
            next += 1;
        }
        let mut first = next;
        let mut boundary = stmt.span.start;
        while first > 0 {
            let c = &comments[first - 1];
            let gap = src.get(c.span.end..boundary).unwrap_or("x");
            let single_newline = gap.bytes().all(|b| b.is_ascii_whitespace())
                && gap.bytes().filter(|&b| b == b'\n').count() == 1;
            if !(c.doc && own_line[first - 1] && single_newline) {
                break;
            }
            boundary = c.span.start;
            first -= 1;
        }
        if first == next {
            continue;
        }
        let lines: Vec<&str> = comments[first..next]
            .iter()
            .map(|c| c.text.strip_prefix(' ').unwrap_or(&c.text))
            .collect();
        stmt.doc = Some(lines.join("\n"));
    }
}
