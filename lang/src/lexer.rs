//! The lexer: source text -> tokens (kind + byte span), comments and lexical
//! diagnostics (E0101..E0107). Hand-written, one pass, no allocation per token.
//! Token *values* are not stored: the parser slices the source by span and
//! decodes with `int_value`, `float_value`, `string_value` and friends, which the
//! lexer has already validated. It never panics and never fails: bad input becomes
//! a diagnostic plus a `Junk` or `BadLit` token so the parser can go on.

use crate::ast::Comment;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::units;

use crate::codes;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tok {
    Use,
    As,
    Param,
    Let,
    For,
    In,
    True,
    False,
    Ident,
    Int,
    Float,
    Quantity,
    Percent,
    Str,
    /// A literal the lexer rejected (already reported); the parser treats it as an
    /// expression that is an `Error` node, so no second diagnostic follows.
    BadLit,
    /// Characters that start no token (already reported).
    Junk,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    Colon,
    Dot,
    Eq,
    FatArrow,
}

impl Tok {
    /// How a diagnostic names this kind of token.
    pub fn describe(self) -> &'static str {
        match self {
            Tok::Use => "`use`",
            Tok::As => "`as`",
            Tok::Param => "`param`",
            Tok::Let => "`let`",
            Tok::For => "`for`",
            Tok::In => "`in`",
            Tok::True => "`true`",
            Tok::False => "`false`",
            Tok::Ident => "a name",
            Tok::Int => "an integer",
            Tok::Float => "a float",
            Tok::Quantity => "a quantity",
            Tok::Percent => "a percentage",
            Tok::Str => "a string",
            Tok::BadLit => "a malformed literal",
            Tok::Junk => "an unexpected character",
            Tok::LParen => "`(`",
            Tok::RParen => "`)`",
            Tok::LBracket => "`[`",
            Tok::RBracket => "`]`",
            Tok::LBrace => "`{`",
            Tok::RBrace => "`}`",
            Tok::Comma => "`,`",
            Tok::Colon => "`:`",
            Tok::Dot => "`.`",
            Tok::Eq => "`=`",
            Tok::FatArrow => "`=>`",
        }
    }

    /// Tokens after which `(` is a call: the end of an operand.
    pub fn ends_operand(self) -> bool {
        matches!(
            self,
            Tok::Ident
                | Tok::Int
                | Tok::Float
                | Tok::Quantity
                | Tok::Percent
                | Tok::Str
                | Tok::BadLit
                | Tok::True
                | Tok::False
                | Tok::RParen
                | Tok::RBracket
                | Tok::RBrace
        )
    }

    /// `use`, `param` and `let` only ever start a statement.
    pub fn starts_stmt(self) -> bool {
        matches!(self, Tok::Use | Tok::Param | Tok::Let)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Tok,
    pub span: Span,
}

/// Everything the lexer produces for one file.
#[derive(Debug, Default)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    pub comments: Vec<Comment>,
    /// For each comment, whether it stands on its own line (else it trails code).
    pub comment_own_line: Vec<bool>,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn lex(file: &str, src: &str) -> Lexed {
    let mut lx = Lexer {
        file,
        src,
        bytes: src.as_bytes(),
        pos: 0,
        line_start: true,
        out: Lexed {
            tokens: Vec::with_capacity(src.len() / 3),
            ..Lexed::default()
        },
    };
    lx.run();
    lx.out
}

struct Lexer<'a> {
    file: &'a str,
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Nothing but whitespace so far on the current line: a comment here stands
    /// on its own line, which the formatter keeps.
    line_start: bool,
    out: Lexed,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn keyword(word: &str) -> Tok {
    match word {
        "use" => Tok::Use,
        "as" => Tok::As,
        "param" => Tok::Param,
        "let" => Tok::Let,
        "for" => Tok::For,
        "in" => Tok::In,
        "true" => Tok::True,
        "false" => Tok::False,
        _ => Tok::Ident,
    }
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn push(&mut self, kind: Tok, start: usize) {
        self.out.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
        });
        self.line_start = false;
    }

    fn error(&mut self, code: &'static str, span: Span, message: String) -> &mut Diagnostic {
        self.out
            .diagnostics
            .push(Diagnostic::error(code, self.file, span, message));
        let last = self.out.diagnostics.len() - 1;
        &mut self.out.diagnostics[last]
    }

    fn run(&mut self) {
        while let Some(b) = self.peek(0) {
            let start = self.pos;
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line_start = true;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => self.comment(),
                b'"' => self.string(),
                b'0'..=b'9' => self.number(),
                b'-' if self.peek(1).is_some_and(|c| c.is_ascii_digit()) => self.number(),
                _ if is_ident_start(b) => {
                    while self.peek(0).is_some_and(is_ident_continue) {
                        self.pos += 1;
                    }
                    let kind = keyword(&self.src[start..self.pos]);
                    self.push(kind, start);
                }
                _ => self.punct(b, start),
            }
        }
    }

    fn punct(&mut self, b: u8, start: usize) {
        let kind = match b {
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b'{' => Tok::LBrace,
            b'}' => Tok::RBrace,
            b',' => Tok::Comma,
            b':' => Tok::Colon,
            b'.' => Tok::Dot,
            b'=' if self.peek(1) == Some(b'>') => {
                self.pos += 2;
                self.push(Tok::FatArrow, start);
                return;
            }
            b'=' => Tok::Eq,
            _ => return self.junk(start),
        };
        self.pos += 1;
        self.push(kind, start);
    }

    /// A run of characters that start no token: one diagnostic for the run.
    fn junk(&mut self, start: usize) {
        let Some(first) = self.src[start..].chars().next() else {
            return;
        };
        self.pos += first.len_utf8();
        let message = match first {
            '-' => "unexpected `-`: a negative number is written without a space, e.g. `-3`"
                .to_string(),
            c if c.is_control() => format!("unexpected control character U+{:04X}", c as u32),
            c => format!("unexpected character `{c}`"),
        };
        let span = Span::new(start, self.pos);
        let help = match first {
            '\'' => Some("strings use double quotes: \"...\""),
            ';' => Some("statements need no separator; start the next one on a new line"),
            '+' | '*' | '/' => {
                Some("`.pipe` has no arithmetic; compute values with a stage or a builtin")
            }
            _ => None,
        };
        let d = self.error(codes::UNEXPECTED_CHAR, span, message);
        d.labels.push(crate::diagnostic::Label {
            span,
            message: "not part of any token".into(),
        });
        if let Some(h) = help {
            d.help = Some(h.into());
        }
        self.push(Tok::Junk, start);
    }

    fn comment(&mut self) {
        let start = self.pos;
        let doc = self.peek(1) == Some(b'#');
        let text_start = start + if doc { 2 } else { 1 };
        let end = self.src[start..]
            .find('\n')
            .map_or(self.src.len(), |i| start + i);
        self.pos = end;
        let text = self.src[text_start..end].trim_end();
        self.out.comments.push(Comment {
            span: Span::new(start, text_start + text.len()),
            text: text.to_string(),
            doc,
        });
        self.out.comment_own_line.push(self.line_start);
    }

    fn string(&mut self) {
        let start = self.pos;
        self.pos += 1;
        let mut bad = false;
        loop {
            match self.peek(0) {
                None | Some(b'\n') => {
                    let span = Span::new(start, self.pos);
                    let d = self.error(
                        codes::UNTERMINATED_STRING,
                        span,
                        "unterminated string".into(),
                    );
                    d.labels.push(crate::diagnostic::Label {
                        span: Span::new(start, start + 1),
                        message: "this string is never closed".into(),
                    });
                    d.help = Some(
                        "close it with `\"` on the same line; write a newline as `\\n`".into(),
                    );
                    self.push(Tok::BadLit, start);
                    return;
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => bad |= !self.escape(),
                Some(_) => self.pos += 1,
            }
        }
        self.push(if bad { Tok::BadLit } else { Tok::Str }, start);
    }

    /// Consumes one escape at `\`; reports and returns false when it is invalid.
    fn escape(&mut self) -> bool {
        let start = self.pos;
        self.pos += 1;
        match self.peek(0) {
            Some(b'"' | b'\\' | b'n' | b't') => {
                self.pos += 1;
                true
            }
            Some(b'u') => self.unicode_escape(start),
            Some(b'\n') | None => {
                self.bad_escape(start, "`\\` at the end of a line".into());
                false
            }
            Some(_) => {
                let c = self.src[self.pos..].chars().next().unwrap_or('?');
                self.pos += c.len_utf8();
                self.bad_escape(start, format!("unknown escape `\\{c}`"));
                false
            }
        }
    }

    fn unicode_escape(&mut self, start: usize) -> bool {
        self.pos += 1;
        if self.peek(0) != Some(b'{') {
            self.bad_escape(start, "`\\u` must be followed by `{hex}`".into());
            return false;
        }
        self.pos += 1;
        let digits_start = self.pos;
        while self.peek(0).is_some_and(|b| b.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        let digits = &self.src[digits_start..self.pos];
        if self.peek(0) != Some(b'}') || digits.is_empty() || digits.len() > 6 {
            self.bad_escape(
                start,
                "`\\u{...}` needs 1 to 6 hex digits and a closing `}`".into(),
            );
            return false;
        }
        self.pos += 1;
        let ok = u32::from_str_radix(digits, 16)
            .ok()
            .and_then(char::from_u32)
            .is_some();
        if !ok {
            let d = self.error(
                codes::NOT_A_SCALAR,
                Span::new(start, self.pos),
                format!("`\\u{{{digits}}}` is not a Unicode scalar value"),
            );
            d.help = Some("use a code point up to 10FFFF outside D800..DFFF".into());
        }
        ok
    }

    fn bad_escape(&mut self, start: usize, message: String) {
        let d = self.error(codes::BAD_ESCAPE, Span::new(start, self.pos), message);
        d.help = Some("valid escapes: `\\\"` `\\\\` `\\n` `\\t` `\\u{hex}`".into());
    }

    fn digits(&mut self) {
        while self.peek(0).is_some_and(|b| b.is_ascii_digit())
            || (self.peek(0) == Some(b'_') && self.peek(1).is_some_and(|b| b.is_ascii_digit()))
        {
            self.pos += 1;
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        if self.peek(0) == Some(b'-') {
            self.pos += 1;
        }
        self.digits();
        let mut float = false;
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
            self.digits();
            float = true;
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if self.peek(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1 + sign;
                self.digits();
                float = true;
            }
        }
        let number_end = self.pos;
        let kind = if self.peek(0) == Some(b'%') {
            self.pos += 1;
            Tok::Percent
        } else if self.peek(0).is_some_and(is_ident_start) {
            self.unit_suffix(number_end)
        } else if float {
            Tok::Float
        } else {
            Tok::Int
        };
        let kind = self.check_range(kind, start, number_end);
        self.push(kind, start);
    }

    /// Reads the suffix after a number; an unknown one is reported.
    fn unit_suffix(&mut self, suffix_start: usize) -> Tok {
        while self.peek(0).is_some_and(is_ident_continue) {
            self.pos += 1;
        }
        let suffix = &self.src[suffix_start..self.pos];
        if units::lookup(suffix).is_some() {
            return Tok::Quantity;
        }
        let span = Span::new(suffix_start, self.pos);
        let suggestion = units::suggest(suffix);
        let d = self.error(
            codes::UNKNOWN_UNIT,
            span,
            format!("unknown unit `{suffix}`"),
        );
        d.labels.push(crate::diagnostic::Label {
            span,
            message: "not a unit of the language".into(),
        });
        d.help = Some(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => "units: B KB MB GB KiB MiB GiB b ns us ms s min h Hz kHz MHz GHz uW mW W pJ nJ uJ mJ J nm um mm um2 mm2 degC mV V".into(),
        });
        Tok::BadLit
    }

    /// Integers must fit in i64 and floats must be finite.
    fn check_range(&mut self, kind: Tok, start: usize, number_end: usize) -> Tok {
        let text = &self.src[start..number_end];
        let span = Span::new(start, number_end);
        match kind {
            Tok::Int if int_value(text).is_none() => {
                let d = self.error(
                    codes::INT_OUT_OF_RANGE,
                    span,
                    format!("integer `{text}` does not fit in 64 bits"),
                );
                d.help = Some("integers range from -9223372036854775808 to 9223372036854775807; write a float (`1e20`) for larger numbers".into());
                Tok::BadLit
            }
            Tok::Float | Tok::Quantity | Tok::Percent
                if !float_value(text).is_some_and(f64::is_finite) =>
            {
                let d = self.error(
                    codes::FLOAT_OUT_OF_RANGE,
                    span,
                    format!("number `{text}` is too large for a 64-bit float"),
                );
                d.help = Some("the largest float is about 1.8e308".into());
                Tok::BadLit
            }
            _ => kind,
        }
    }
}

/// The value of an integer token's text (`1_000`, `-3`); `None` when out of range.
pub fn int_value(text: &str) -> Option<i64> {
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    digits.parse().ok()
}

/// The numeric value of a float, quantity or percent token's number part.
pub fn float_value(text: &str) -> Option<f64> {
    let end = number_len(text);
    let digits: String = text[..end].chars().filter(|&c| c != '_').collect();
    digits.parse().ok()
}

/// Length of the number at the start of a quantity/percent token (before unit or `%`).
pub fn number_len(text: &str) -> usize {
    let b = text.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    while i < b.len() {
        match b[i] {
            b'0'..=b'9' | b'_' | b'.' => i += 1,
            b'e' | b'E'
                if b.get(i + 1)
                    .is_some_and(|c| c.is_ascii_digit() || *c == b'+' || *c == b'-') =>
            {
                i += 2;
            }
            _ => break,
        }
    }
    i
}

/// The decoded contents of a valid string token (with its quotes).
pub fn string_value(text: &str) -> String {
    let inner = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(ch);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex("t.pipe", src).tokens.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn numbers_quantities_and_percentages() {
        assert_eq!(
            kinds("42 1_000 -3 0.5 1e-3 2.5E+4 128KiB 1.2GHz 85degC 20% 3.x"),
            [
                Tok::Int,
                Tok::Int,
                Tok::Int,
                Tok::Float,
                Tok::Float,
                Tok::Float,
                Tok::Quantity,
                Tok::Quantity,
                Tok::Quantity,
                Tok::Percent,
                Tok::Int,
                Tok::Dot,
                Tok::Ident
            ]
        );
        assert_eq!(int_value("1_000"), Some(1000));
        assert_eq!(float_value("1.2GHz"), Some(1.2));
        assert_eq!(float_value("-2.5E+4%"), Some(-25000.0));
    }

    #[test]
    fn unknown_unit_suggests() {
        let l = lex("t.pipe", "let x = 128Kib");
        assert_eq!(l.diagnostics.len(), 1);
        assert_eq!(l.diagnostics[0].code, codes::UNKNOWN_UNIT);
        assert_eq!(
            l.diagnostics[0].help.as_deref(),
            Some("did you mean `KiB`?")
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(string_value(r#""a\"b\\c\n\t\u{e9}""#), "a\"b\\c\n\t\u{e9}");
        let l = lex("t.pipe", "\"ab\\q\" \"open\nlet");
        let codes: Vec<_> = l.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [codes::BAD_ESCAPE, codes::UNTERMINATED_STRING]);
        assert_eq!(kinds("\"open\nlet"), [Tok::BadLit, Tok::Let]);
    }

    #[test]
    fn comments_and_overflow() {
        let l = lex("t.pipe", "## doc  \nlet x = 99999999999999999999 # tail\n");
        assert_eq!(l.comments.len(), 2);
        assert!(l.comments[0].doc && l.comments[0].text == " doc");
        assert_eq!(l.comment_own_line, [true, false]);
        assert_eq!(l.diagnostics[0].code, codes::INT_OUT_OF_RANGE);
    }
}
