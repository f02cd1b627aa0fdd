//! Which call the cursor is in, read from tokens so that it works on a half-typed
//! call that does not parse yet: the callee's dotted path, the index of the
//! argument under the cursor, its name when written (`bits: |`), and the names
//! already given. The backwards scan stops at the start of the statement.

use crate::tokens::{Token, TokenKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// `["quant", "evolq"]` for `quant.evolq(`; empty when `(` follows no name.
    pub callee: Vec<String>,
    /// 0-based index of the argument under the cursor.
    pub arg_index: usize,
    /// The name of the argument under the cursor, when it is `name: ...`.
    pub arg_name: Option<String>,
    /// Whether the cursor is where an argument's name would go (right after `(`
    /// or `,`, possibly in a partly typed name).
    pub at_name: bool,
    /// Names of the arguments already written in this call.
    pub named: Vec<String>,
}

/// The innermost call whose parentheses enclose `offset`, if the cursor is directly
/// among its arguments (not inside a list or record nested in one).
pub fn find(text: &str, tokens: &[Token], offset: usize) -> Option<CallContext> {
    let before = tokens.partition_point(|t| t.span.end <= offset);
    let open = enclosing_paren(text, &tokens[..before])?;
    let callee = callee_path(text, &tokens[..open]);
    let args_end = matching_close(text, tokens, open);
    let mut ctx = CallContext {
        callee,
        arg_index: 0,
        arg_name: None,
        at_name: true,
        named: Vec::new(),
    };
    let mut depth = 0usize;
    let mut arg_start = open + 1;
    let mut segment_start = open + 1;
    for (i, tok) in tokens.iter().enumerate().take(args_end).skip(open + 1) {
        match punct(text, tok) {
            Some("(" | "[" | "{") => depth += 1,
            Some(")" | "]" | "}") => depth = depth.saturating_sub(1),
            Some(",") if depth == 0 => {
                segment_start = i + 1;
                if tok.span.end <= offset {
                    ctx.arg_index += 1;
                    arg_start = i + 1;
                }
            }
            Some(":") if depth == 0 && i == segment_start + 1 => {
                if let Some(name) = ident_text(text, &tokens[segment_start]) {
                    ctx.named.push(name.to_string());
                }
            }
            _ => {}
        }
    }
    let current = &tokens[arg_start..before];
    ctx.at_name = current.is_empty() || (current.len() == 1 && is_ident(&current[0]));
    if current.len() >= 2 && current[1].is_punct(text, ":") {
        ctx.arg_name = ident_text(text, &current[0]).map(str::to_string);
        ctx.at_name = false;
    }
    Some(ctx)
}

fn punct<'t>(text: &'t str, tok: &Token) -> Option<&'t str> {
    (tok.kind == TokenKind::Punct).then(|| tok.text(text))
}

fn is_ident(tok: &Token) -> bool {
    tok.kind == TokenKind::Ident
}

fn ident_text<'t>(text: &'t str, tok: &Token) -> Option<&'t str> {
    is_ident(tok).then(|| tok.text(text))
}

/// Index of the unmatched `(` before the cursor; `None` when an unmatched `[`/`{`
/// or the start of the statement comes first.
fn enclosing_paren(text: &str, before: &[Token]) -> Option<usize> {
    let mut depth = 0usize;
    for (i, tok) in before.iter().enumerate().rev() {
        if tok.kind == TokenKind::Keyword && matches!(tok.text(text), "let" | "param" | "use") {
            return None;
        }
        match punct(text, tok) {
            Some(")" | "]" | "}") => depth += 1,
            Some("(") if depth == 0 => return Some(i),
            Some("[" | "{") if depth == 0 => return None,
            Some("(" | "[" | "{") => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The index one past the `)` closing the `(` at `open`, or where the statement ends.
fn matching_close(text: &str, tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, tok) in tokens.iter().enumerate().skip(open) {
        if tok.kind == TokenKind::Keyword && matches!(tok.text(text), "let" | "param" | "use") {
            return i;
        }
        match punct(text, tok) {
            Some("(" | "[" | "{") => depth += 1,
            Some(")" | "]" | "}") => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// `a.b.c` ending right before the `(`.
fn callee_path(text: &str, before: &[Token]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut i = before.len();
    while i > 0 {
        let Some(name) = ident_text(text, &before[i - 1]) else {
            break;
        };
        parts.push(name.to_string());
        if i >= 2 && before[i - 2].is_punct(text, ".") {
            i -= 2;
        } else {
            break;
        }
    }
    parts.reverse();
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::tokenize;

    fn ctx(marked: &str) -> Option<CallContext> {
        let offset = marked.find('|').unwrap_or(0);
        let text = marked.replacen('|', "", 1);
        find(&text, &tokenize(&text), offset)
    }

    #[test]
    fn arg_name_position_after_paren_and_comma() {
        let c = ctx("let q = quant.evolq(|").unwrap_or_else(|| panic!("no call"));
        assert_eq!(c.callee, ["quant", "evolq"]);
        assert!(c.at_name);
        assert_eq!(c.arg_index, 0);
        let c = ctx("let q = quant.evolq(model: m, bi|)").unwrap_or_else(|| panic!("no call"));
        assert!(c.at_name);
        assert_eq!(c.arg_index, 1);
        assert_eq!(c.named, ["model"]);
    }

    #[test]
    fn value_position_knows_the_argument_name() {
        let c = ctx("let q = quant.evolq(model: f(x, y), loss: \"inf|\")")
            .unwrap_or_else(|| panic!("no call"));
        assert_eq!(c.arg_name.as_deref(), Some("loss"));
        assert!(!c.at_name);
        assert_eq!(c.arg_index, 1);
        assert_eq!(c.named, ["model", "loss"]);
    }

    #[test]
    fn nested_call_is_the_innermost() {
        let c = ctx("let a = eval.classify(data: dataset.sample(p, n: |))")
            .unwrap_or_else(|| panic!("no call"));
        assert_eq!(c.callee, ["dataset", "sample"]);
        assert_eq!(c.arg_name.as_deref(), Some("n"));
    }

    #[test]
    fn no_call_outside_parens_or_inside_a_list() {
        assert_eq!(ctx("let a = f(x)\nlet b = |"), None);
        assert_eq!(ctx("let a = f(xs: [1, |])"), None);
        assert_eq!(ctx("let a = f(1)|"), None);
    }
}
