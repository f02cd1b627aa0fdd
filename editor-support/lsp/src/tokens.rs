//! A forgiving tokenizer for editor queries on text that is being typed: it never
//! fails, never loses a byte, and knows just enough of the lexical grammar
//! (docs/language.md "Lexical structure") to tell where the cursor is: in a comment,
//! in a string, after a number, after a dot, inside which call. It does not replace
//! the front end's lexer and reports no errors.

use pipe_lang::span::Span;

pub const KEYWORDS: &[&str] = &["use", "as", "param", "let", "for", "in", "true", "false"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Ident,
    Keyword,
    /// A number with its unit suffix or `%`; `digits_end` is where the digits stop.
    Number {
        digits_end: usize,
    },
    /// `closed` is false for a string cut short by the end of its line.
    Str {
        closed: bool,
    },
    Comment {
        doc: bool,
    },
    /// `( ) [ ] { } , : . = =>` and any other single character.
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl Token {
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.span.start..self.span.end).unwrap_or("")
    }

    pub fn is_punct(&self, text: &str, p: &str) -> bool {
        self.kind == TokenKind::Punct && self.text(text) == p
    }
}

/// Every token of `text` except whitespace, in order.
pub fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (kind, end) = match b {
            b'#' => comment(bytes, i),
            b'"' => string(bytes, i),
            b'0'..=b'9' => number(bytes, i),
            b'=' if bytes.get(i + 1) == Some(&b'>') => (TokenKind::Punct, i + 2),
            _ if is_ident_start(b) => ident(text, i),
            _ => (TokenKind::Punct, next_char(text, i)),
        };
        tokens.push(Token {
            kind,
            span: Span::new(i, end),
        });
        i = end;
    }
    tokens
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn next_char(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(i + 1, |c| i + c.len_utf8())
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn comment(bytes: &[u8], i: usize) -> (TokenKind, usize) {
    let doc = bytes.get(i + 1) == Some(&b'#');
    (TokenKind::Comment { doc }, line_end(bytes, i))
}

fn string(bytes: &[u8], i: usize) -> (TokenKind, usize) {
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'"' => return (TokenKind::Str { closed: true }, j + 1),
            b'\n' => return (TokenKind::Str { closed: false }, j),
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
    (TokenKind::Str { closed: false }, bytes.len())
}

fn digits(bytes: &[u8], mut j: usize) -> usize {
    while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'_') {
        j += 1;
    }
    j
}

fn number(bytes: &[u8], i: usize) -> (TokenKind, usize) {
    let digit_at = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_digit);
    let mut j = digits(bytes, i);
    if bytes.get(j) == Some(&b'.') && digit_at(j + 1) {
        j = digits(bytes, j + 1);
    }
    if matches!(bytes.get(j), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(j + 1), Some(b'+' | b'-')));
        if digit_at(j + 1 + sign) {
            j = digits(bytes, j + 1 + sign);
        }
    }
    let digits_end = j;
    if bytes.get(j) == Some(&b'%') {
        j += 1;
    } else {
        while j < bytes.len() && is_ident_char(bytes[j]) {
            j += 1;
        }
    }
    (TokenKind::Number { digits_end }, j)
}

fn ident(text: &str, i: usize) -> (TokenKind, usize) {
    let bytes = text.as_bytes();
    let mut j = i;
    while j < bytes.len() && is_ident_char(bytes[j]) {
        j += 1;
    }
    let kind = if KEYWORDS.contains(&&text[i..j]) {
        TokenKind::Keyword
    } else {
        TokenKind::Ident
    };
    (kind, j)
}

/// Index of the last token that starts before `offset`.
pub fn last_before(tokens: &[Token], offset: usize) -> Option<usize> {
    tokens
        .partition_point(|t| t.span.start < offset)
        .checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(TokenKind, &str)> {
        tokenize(text)
            .into_iter()
            .map(|t| (t.kind, t.text(text)))
            .collect()
    }

    #[test]
    fn numbers_keep_units_and_percent() {
        let text = "128KiB 1.2GHz 1e-3 20% 1_000 2.5E+4um2";
        let got: Vec<_> = kinds(text).into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            got,
            ["128KiB", "1.2GHz", "1e-3", "20%", "1_000", "2.5E+4um2"]
        );
        let first = tokenize(text)[0];
        assert_eq!(first.kind, TokenKind::Number { digits_end: 3 });
    }

    #[test]
    fn strings_comments_and_keywords() {
        let text = "## doc\nlet s = \"a \\\" # b\" # tail\nuse \"x";
        let got = kinds(text);
        assert_eq!(got[0], (TokenKind::Comment { doc: true }, "## doc"));
        assert_eq!(got[1], (TokenKind::Keyword, "let"));
        assert_eq!(got[4], (TokenKind::Str { closed: true }, "\"a \\\" # b\""));
        assert_eq!(got[5], (TokenKind::Comment { doc: false }, "# tail"));
        assert_eq!(got[7], (TokenKind::Str { closed: false }, "\"x"));
    }

    #[test]
    fn punctuation_and_non_ascii_never_lose_bytes() {
        let text = "for p in [1, 2] => f(x: é)";
        let tokens = tokenize(text);
        assert!(tokens.iter().any(|t| t.is_punct(text, "=>")));
        assert!(tokens.iter().any(|t| t.text(text) == "é"));
        let covered: usize = tokens.iter().map(|t| t.span.len()).sum();
        let non_space: usize = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(char::len_utf8)
            .sum();
        assert_eq!(covered, non_space);
    }

    #[test]
    fn trailing_backslash_in_string_stays_in_bounds() {
        let text = "\"abc\\";
        let tokens = tokenize(text);
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].span.end, text.len());
    }
}
