//! Moving what was computed for one statement to where the same statement text
//! now stands in an edited file: every span inside the statement's old range is
//! shifted by the distance the statement moved; a span outside it (another
//! statement's definition named in a label) is left as it is. Incremental parsing
//! and checking use it; it changes spans only, never anything else, and walks
//! trees with an explicit stack.

use crate::ast::{Expr, ExprKind, StmtKind, TypeExpr};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// A statement that stood at `from` and now starts at `to`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shift {
    from: Span,
    to: usize,
}

impl Shift {
    pub fn new(from: Span, to: usize) -> Self {
        Shift { from, to }
    }

    pub fn is_identity(self) -> bool {
        self.from.start == self.to
    }

    pub fn span(self, s: Span) -> Span {
        let inside = self.from.start <= s.start && s.end <= self.from.end;
        if !inside {
            return s;
        }
        let moved = |offset: usize| offset - self.from.start + self.to;
        Span::new(moved(s.start), moved(s.end))
    }

    pub fn diagnostic(self, d: &mut Diagnostic) {
        d.span = self.span(d.span);
        for label in &mut d.labels {
            label.span = self.span(label.span);
        }
    }

    pub fn stmt_kind(self, kind: &mut StmtKind) {
        match kind {
            StmtKind::Use { path, alias } => {
                path.span = self.span(path.span);
                alias.span = self.span(alias.span);
            }
            StmtKind::Param { name, ty, value } => {
                name.span = self.span(name.span);
                if let Some(ty) = ty {
                    self.type_expr(ty);
                }
                self.expr(value);
            }
            StmtKind::Let { name, value } => {
                name.span = self.span(name.span);
                self.expr(value);
            }
            StmtKind::Error => {}
        }
    }

    fn type_expr(self, t: &mut TypeExpr) {
        let mut next = Some(t);
        while let Some(t) = next {
            t.span = self.span(t.span);
            t.name.span = self.span(t.name.span);
            next = t.arg.as_deref_mut();
        }
    }

    fn expr(self, root: &mut Expr) {
        let mut stack = vec![root];
        while let Some(e) = stack.pop() {
            e.span = self.span(e.span);
            match &mut e.kind {
                ExprKind::Name(id) => id.span = self.span(id.span),
                ExprKind::Member { target, field } => {
                    field.span = self.span(field.span);
                    stack.push(target);
                }
                ExprKind::Call { callee, args } => {
                    stack.push(callee);
                    for a in args {
                        a.span = self.span(a.span);
                        if let Some(name) = &mut a.name {
                            name.span = self.span(name.span);
                        }
                        stack.push(&mut a.value);
                    }
                }
                ExprKind::List(items) => stack.extend(items.iter_mut()),
                ExprKind::Record(fields) => {
                    for f in fields {
                        f.span = self.span(f.span);
                        f.name.span = self.span(f.name.span);
                        stack.push(&mut f.value);
                    }
                }
                ExprKind::Sweep { binders, body } => {
                    for b in binders {
                        b.span = self.span(b.span);
                        b.name.span = self.span(b.name.span);
                        stack.push(&mut b.values);
                    }
                    stack.push(body);
                }
                ExprKind::Paren(inner) => stack.push(inner),
                ExprKind::Int(_)
                | ExprKind::Float(_)
                | ExprKind::Quantity { .. }
                | ExprKind::Percent(_)
                | ExprKind::Str(_)
                | ExprKind::Bool(_)
                | ExprKind::Error => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_spans_inside_the_old_range_only() {
        let shift = Shift::new(Span::new(10, 20), 30);
        assert_eq!(shift.span(Span::new(12, 15)), Span::new(32, 35));
        assert_eq!(shift.span(Span::new(10, 20)), Span::new(30, 40));
        assert_eq!(shift.span(Span::new(2, 5)), Span::new(2, 5));
        assert_eq!(shift.span(Span::new(18, 25)), Span::new(18, 25));
        let back = Shift::new(Span::new(30, 40), 10);
        assert_eq!(back.span(Span::new(32, 35)), Span::new(12, 15));
    }

    #[test]
    fn moves_a_parsed_statement_like_a_parse_at_the_new_place() {
        let text = "let a = f(x: [1, {b: 2}], y: for i in [1] => i.c)";
        let here = crate::parse("m.pipe", text);
        let moved_text = format!("\n\n   {text}");
        let there = crate::parse("m.pipe", &moved_text);
        let mut kind = here.ast.stmts[0].kind.clone();
        Shift::new(here.ast.stmts[0].span, there.ast.stmts[0].span.start).stmt_kind(&mut kind);
        assert_eq!(kind, there.ast.stmts[0].kind);
    }
}
