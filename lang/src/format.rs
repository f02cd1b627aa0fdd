//! `format`: the canonical layout of a `.pipe` file (docs/grammar.md, "Formatting").
//! It only formats files that parse without errors, and works on the token stream
//! plus comments, so every token and every comment comes out in its original order:
//! the meaning cannot change. Literals keep their spelling (sliced from the source).
//! Layout is a small Wadler/Prettier-style document: a bracket group goes on one
//! line when it fits in `WIDTH` columns and holds no comment, else one element per
//! line with a trailing comma. Both the builder and the printer use explicit
//! stacks; nesting is bounded by the parser's depth cap anyway.

use crate::ast::Comment;
use crate::diagnostic::Diagnostic;
use crate::lexer::{self, Tok, Token};

/// The line width the formatter aims for.
pub const WIDTH: usize = 100;
const INDENT: usize = 4;

/// Formats a file; refuses with its syntax errors when it does not parse cleanly.
pub fn format(file: &str, text: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = crate::parse(file, text);
    if parsed.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(parsed.diagnostics);
    }
    let lexed = lexer::lex(file, text);
    let docs = Builder::new(text).build(&lexed.tokens, &lexed.comments, &lexed.comment_own_line);
    Ok(Printer::default().print(&docs))
}

#[derive(Debug)]
enum Doc {
    Text(String),
    /// A space, unless a line break is pending.
    Space,
    /// A space on one line, a line break when the group breaks.
    Line,
    /// Nothing on one line, a line break when the group breaks.
    SoftLine,
    /// Text printed only when the group breaks (the trailing comma).
    IfBreak(&'static str),
    Comment {
        text: String,
        own_line: bool,
    },
    /// Between top-level statements and comments: always a line break.
    Break {
        blank: bool,
    },
    Group {
        docs: Vec<Doc>,
        broken: bool,
    },
    Indent(Vec<Doc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stmt,
    Args,
    List,
    Record,
    Paren,
    TypeArg,
    Sweep { body: bool },
}

impl Kind {
    fn trailing_comma(self) -> bool {
        matches!(self, Kind::Args | Kind::List | Kind::Record)
    }
}

struct Frame {
    kind: Kind,
    open: &'static str,
    /// Sweeps: the binders part; others: the contents.
    docs: Vec<Doc>,
    /// Sweeps only: the body after `=>`.
    body: Vec<Doc>,
    broken: bool,
    /// No space before the next token (just after an opener, separator or `=>`).
    fresh: bool,
    /// Where in the active list the last element's text ends (comments may follow).
    elem_end: usize,
    has_elems: bool,
    comma_done: bool,
}

impl Frame {
    fn new(kind: Kind, open: &'static str) -> Frame {
        Frame {
            kind,
            open,
            docs: Vec::new(),
            body: Vec::new(),
            broken: false,
            fresh: true,
            elem_end: 0,
            has_elems: false,
            comma_done: false,
        }
    }

    fn active(&mut self) -> &mut Vec<Doc> {
        match self.kind {
            Kind::Sweep { body: true } => &mut self.body,
            _ => &mut self.docs,
        }
    }

    /// The finished document of a bracket group or sweep, and the comments that
    /// trailed a sweep's body: they belong after the sweep, where a following `,`
    /// must not end up inside them.
    fn finish(mut self, close: &'static str) -> (Doc, Vec<Doc>) {
        if let Kind::Sweep { .. } = self.kind {
            let keep = self.elem_end.min(self.body.len());
            let trailing = self.body.split_off(keep);
            let has_comment = |d: &Doc| matches!(d, Doc::Comment { .. });
            self.broken |= self.docs.iter().chain(&self.body).any(has_comment);
            let mut body = vec![Doc::Line];
            body.append(&mut self.body);
            self.docs.push(Doc::Indent(body));
            let group = Doc::Group {
                docs: self.docs,
                broken: self.broken,
            };
            return (group, trailing);
        }
        if self.kind.trailing_comma() && self.has_elems && !self.comma_done {
            let at = self.elem_end.min(self.docs.len());
            self.docs.insert(at, Doc::IfBreak(","));
        }
        let mut docs = vec![Doc::Text(self.open.to_string())];
        if !self.docs.is_empty() {
            let mut inner = vec![Doc::SoftLine];
            inner.append(&mut self.docs);
            docs.push(Doc::Indent(inner));
            docs.push(Doc::SoftLine);
        }
        docs.push(Doc::Text(close.to_string()));
        let group = Doc::Group {
            docs,
            broken: self.broken,
        };
        (group, Vec::new())
    }
}

fn space_between(prev: Tok, next: Tok) -> bool {
    if matches!(
        next,
        Tok::RParen | Tok::RBracket | Tok::RBrace | Tok::Comma | Tok::Colon | Tok::Dot
    ) || matches!(prev, Tok::LParen | Tok::LBracket | Tok::LBrace | Tok::Dot)
    {
        return false;
    }
    !(next == Tok::LParen && prev.ends_operand() || next == Tok::LBracket && prev == Tok::Ident)
}

/// Turns tokens and comments into the layout document.
struct Builder<'a> {
    src: &'a str,
    frames: Vec<Frame>,
    prev: Option<Tok>,
    top: Vec<Doc>,
    /// End of the last top-level item in the source, for blank-line detection.
    last_end: Option<usize>,
}

impl<'a> Builder<'a> {
    fn new(src: &'a str) -> Self {
        Builder {
            src,
            frames: Vec::new(),
            prev: None,
            top: Vec::new(),
            last_end: None,
        }
    }

    fn build(mut self, toks: &[Token], comments: &[Comment], own_line: &[bool]) -> Vec<Doc> {
        let mut c = 0;
        for (i, t) in toks.iter().enumerate() {
            while c < comments.len() && comments[c].span.start < t.span.start {
                self.comment(&comments[c], own_line[c], Some(t.kind));
                c += 1;
            }
            if t.kind.starts_stmt() {
                self.end_stmt();
                self.top_level_break(t.span.start);
                self.frames.push(Frame::new(Kind::Stmt, ""));
                self.prev = None;
            }
            self.token(*t, toks.get(i + 1).map(|n| n.kind));
            self.last_end = Some(t.span.end);
        }
        for (comment, &own) in comments[c..].iter().zip(&own_line[c..]) {
            self.comment(comment, own, None);
        }
        self.end_stmt();
        self.top
    }

    fn top_level_break(&mut self, start: usize) {
        if let Some(end) = self.last_end {
            let gap = self.src.get(end..start).unwrap_or("");
            let blank = gap.bytes().filter(|&b| b == b'\n').count() >= 2;
            self.top.push(Doc::Break { blank });
        }
    }

    fn end_stmt(&mut self) {
        self.end_sweeps(false);
        while let Some(f) = self.frames.pop() {
            if f.kind == Kind::Stmt {
                self.top.extend(f.docs);
            }
        }
    }

    /// Ends the sweeps on top of the stack (only those in their body when `body_only`).
    fn end_sweeps(&mut self, body_only: bool) {
        while let Some(f) = self.frames.last() {
            let ends = match f.kind {
                Kind::Sweep { body } => body || !body_only,
                _ => false,
            };
            if !ends {
                return;
            }
            if let Some(f) = self.frames.pop() {
                let (doc, trailing) = f.finish("");
                self.emit_elem(doc);
                for c in trailing {
                    self.emit(c);
                }
            }
        }
    }

    fn comment(&mut self, c: &Comment, own_line: bool, next: Option<Tok>) {
        let text = format!("{}{}", if c.doc { "##" } else { "#" }, c.text);
        let doc = Doc::Comment { text, own_line };
        let in_stmt = !self.frames.is_empty() && next.is_some_and(|k| !k.starts_stmt());
        if in_stmt || (!self.frames.is_empty() && !own_line) {
            self.emit(doc);
            self.last_end = Some(c.span.end);
            return;
        }
        self.end_stmt();
        self.top_level_break(c.span.start);
        self.top.push(doc);
        self.last_end = Some(c.span.end);
    }

    /// Emits a doc; a comment breaks its bracket group (sweeps decide when they end).
    fn emit(&mut self, doc: Doc) {
        if let Some(f) = self.frames.last_mut() {
            let bracket = !matches!(f.kind, Kind::Stmt | Kind::Sweep { .. });
            f.broken |= bracket && matches!(doc, Doc::Comment { .. });
            f.active().push(doc);
        }
    }

    /// Emits a token-carrying doc: it extends the current element.
    fn emit_elem(&mut self, doc: Doc) {
        let child_broken = matches!(doc, Doc::Group { broken: true, .. });
        if let Some(f) = self.frames.last_mut() {
            f.broken |= child_broken;
            f.fresh = false;
            f.has_elems = true;
            let list = f.active();
            list.push(doc);
            f.elem_end = match f.kind {
                Kind::Sweep { body: true } => f.body.len(),
                _ => f.docs.len(),
            };
        }
    }

    fn space_before(&mut self, kind: Tok) {
        let fresh = self.frames.last().is_none_or(|f| f.fresh);
        if let (false, Some(prev)) = (fresh, self.prev) {
            if space_between(prev, kind) {
                self.emit(Doc::Space);
            }
        }
    }

    fn text(&self, t: Token) -> String {
        self.src
            .get(t.span.start..t.span.end)
            .unwrap_or("")
            .to_string()
    }

    fn token(&mut self, t: Token, next: Option<Tok>) {
        match t.kind {
            Tok::LParen | Tok::LBracket | Tok::LBrace => {
                let prev = self.prev.unwrap_or(Tok::Eq);
                let (kind, open) = match t.kind {
                    Tok::LParen if prev.ends_operand() => (Kind::Args, "("),
                    Tok::LParen => (Kind::Paren, "("),
                    Tok::LBracket if prev == Tok::Ident => (Kind::TypeArg, "["),
                    Tok::LBracket => (Kind::List, "["),
                    _ => (Kind::Record, "{"),
                };
                self.space_before(t.kind);
                self.frames.push(Frame::new(kind, open));
            }
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                self.end_sweeps(false);
                let close = match t.kind {
                    Tok::RParen => ")",
                    Tok::RBracket => "]",
                    _ => "}",
                };
                if let Some(f) = self.frames.pop() {
                    let (doc, _) = f.finish(close);
                    self.emit_elem(doc);
                }
            }
            Tok::Comma => self.comma(next),
            Tok::For => {
                self.space_before(t.kind);
                let mut f = Frame::new(Kind::Sweep { body: false }, "");
                f.docs.push(Doc::Text("for".into()));
                f.fresh = false;
                self.frames.push(f);
            }
            Tok::FatArrow => {
                self.emit(Doc::Space);
                self.emit(Doc::Text("=>".into()));
                if let Some(f) = self.frames.last_mut() {
                    f.kind = Kind::Sweep { body: true };
                    f.fresh = true;
                }
            }
            _ => {
                self.space_before(t.kind);
                let text = self.text(t);
                self.emit_elem(Doc::Text(text));
            }
        }
        self.prev = Some(t.kind);
    }

    fn comma(&mut self, next: Option<Tok>) {
        self.end_sweeps(true);
        let Some(f) = self.frames.last_mut() else {
            return;
        };
        if !f.kind.trailing_comma() {
            f.docs.push(Doc::Text(",".into()));
            return;
        }
        let trailing = matches!(next, Some(Tok::RParen | Tok::RBracket | Tok::RBrace));
        let at = f.elem_end.min(f.docs.len());
        if trailing {
            f.docs.insert(at, Doc::IfBreak(","));
            f.comma_done = true;
        } else {
            f.docs.insert(at, Doc::Text(",".into()));
            f.docs.push(Doc::Line);
        }
        f.elem_end = at + 1;
        f.fresh = true;
    }
}

/// Prints a document: explicit stack, Prettier's "fits" rule.
#[derive(Default)]
struct Printer {
    out: String,
    col: usize,
    /// A line break waits; the number is the next line's indentation.
    pending: Option<usize>,
    blank: bool,
    /// The current line already ends in a comment: the next one needs its own line.
    line_has_comment: bool,
}

type Cmd<'d> = (usize, bool, &'d Doc);

impl Printer {
    fn print(mut self, docs: &[Doc]) -> String {
        let mut stack: Vec<Cmd<'_>> = docs.iter().rev().map(|d| (0, false, d)).collect();
        while let Some((indent, flat, doc)) = stack.pop() {
            match doc {
                Doc::Text(s) => {
                    self.after_comment(indent);
                    self.text(s);
                }
                Doc::Space => {
                    if self.pending.is_none() {
                        self.text(" ");
                    }
                }
                Doc::Line if flat => {
                    if self.pending.is_none() {
                        self.text(" ");
                    }
                }
                Doc::Line | Doc::SoftLine if !flat => self.pending = Some(indent),
                Doc::SoftLine | Doc::Line => {}
                Doc::IfBreak(s) => {
                    if !flat {
                        self.after_comment(indent);
                        self.text(s);
                    }
                }
                Doc::Comment { text, own_line } => self.comment(text, *own_line, indent),
                Doc::Break { blank } => {
                    self.pending = Some(0);
                    self.blank |= *blank;
                }
                Doc::Group { docs, broken } => {
                    let start = self.pending.unwrap_or(self.col);
                    let flat = flat || (!broken && fits(WIDTH.saturating_sub(start), docs, &stack));
                    stack.extend(docs.iter().rev().map(|d| (indent, flat, d)));
                }
                Doc::Indent(docs) => {
                    stack.extend(docs.iter().rev().map(|d| (indent + INDENT, flat, d)));
                }
            }
        }
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }

    fn text(&mut self, s: &str) {
        if let Some(indent) = self.pending.take() {
            if !self.out.is_empty() {
                self.line_has_comment = false;
                self.out.push('\n');
                if std::mem::take(&mut self.blank) {
                    self.out.push('\n');
                }
            }
            self.out.extend(std::iter::repeat_n(' ', indent));
            self.col = indent;
        }
        self.raw(s);
    }

    /// Code never follows a comment on its line (it would become comment text).
    fn after_comment(&mut self, indent: usize) {
        if self.line_has_comment && self.pending.is_none() {
            self.pending = Some(indent);
        }
    }

    /// Text on the current line, ignoring a pending break.
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
        self.col += s.chars().count();
    }

    fn comment(&mut self, text: &str, own_line: bool, indent: usize) {
        if own_line || self.out.is_empty() || self.line_has_comment {
            if self.pending.is_none() && !self.out.is_empty() {
                self.pending = Some(indent);
            }
            self.text(text);
        } else {
            self.raw(" ");
            self.raw(text);
        }
        self.pending = Some(self.pending.unwrap_or(indent));
        self.line_has_comment = true;
    }
}

/// Whether `docs`, on one line, plus what follows up to the next line break, fit in `width`.
fn fits(width: usize, docs: &[Doc], rest: &[Cmd<'_>]) -> bool {
    let mut budget = width as isize;
    let mut local: Vec<(bool, &Doc)> = docs.iter().rev().map(|d| (true, d)).collect();
    let mut rest_at = rest.len();
    loop {
        let (flat, doc) = match local.pop() {
            Some(x) => x,
            None if rest_at == 0 => return true,
            None => {
                rest_at -= 1;
                let (_, flat, doc) = rest[rest_at];
                (flat, doc)
            }
        };
        match doc {
            Doc::Text(s) => budget -= s.chars().count() as isize,
            Doc::Space => budget -= 1,
            Doc::Line if flat => budget -= 1,
            Doc::IfBreak(s) if !flat => budget -= s.len() as isize,
            Doc::Line | Doc::SoftLine if !flat => return true,
            Doc::Comment { .. } | Doc::Break { .. } => return true,
            Doc::Group { docs, broken } => {
                let flat = flat && !broken;
                local.extend(docs.iter().rev().map(|d| (flat, d)));
            }
            Doc::Indent(docs) => local.extend(docs.iter().rev().map(|d| (flat, d))),
            Doc::SoftLine | Doc::Line | Doc::IfBreak(_) => {}
        }
        if budget < 0 {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format;

    fn fmt(src: &str) -> String {
        match format("t.pipe", src) {
            Ok(s) => s,
            Err(d) => panic!("does not parse: {d:#?}"),
        }
    }

    #[test]
    fn canonical_spacing() {
        assert_eq!(
            fmt("let  a=f( x ,y:1 ,)\nparam b : list [ int ]=[ 1,2 ]"),
            "let a = f(x, y: 1)\nparam b: list[int] = [1, 2]\n"
        );
    }

    #[test]
    fn long_calls_break_with_trailing_comma() {
        let long = format!("\"{}\"", "x".repeat(90));
        let src = format!("let a = f(alpha: {long}, beta: 2)\n");
        assert_eq!(
            fmt(&src),
            format!("let a = f(\n    alpha: {long},\n    beta: 2,\n)\n")
        );
    }

    #[test]
    fn comments_stay_and_break_groups() {
        let src = "# top\n\n\n## doc\nlet a = [1, # one\n  2] # tail\nlet b = 2\n";
        assert_eq!(
            fmt(src),
            "# top\n\n## doc\nlet a = [\n    1, # one\n    2,\n] # tail\nlet b = 2\n"
        );
    }

    #[test]
    fn sweep_body_indents_when_long() {
        let body = format!(
            "sim.acc(model: m, pe: pe, rows: rows, cols: rows, glb: 128KiB, name: \"{}\")",
            "x".repeat(10)
        );
        let src = format!("let hw = for pe in [1, 2], rows in [8, 16] => {body}\n");
        assert_eq!(
            fmt(&src),
            format!("let hw = for pe in [1, 2], rows in [8, 16] =>\n    {body}\n")
        );
    }
}
