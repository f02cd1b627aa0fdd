//! A seeded generator of `.pipe` programs that follow the grammar of
//! docs/language.md, and mutations that break them (token and character edits).
//! Used by the pest-vs-chumsky differential test, the property tests and the
//! parser benchmark. Deterministic for a seed; no dependency on `rand`.

use pipe_lang::units::UNITS;

/// splitmix64: small, fast, good enough for test-case generation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &[
    "a", "digits", "parts", "vit", "x_1", "_t", "usex", "letter", "format", "in_", "forx", "asx",
    "truex", "Falsey", "model", "seed", "bits", "dataset", "train", "quant", "sim", "rows",
];
const TYPES: &[&str] = &[
    "int", "float", "bool", "str", "bytes", "freq", "time", "list",
];
const NUMBERS: &[&str] = &[
    "0", "42", "1_000", "-3", "0.5", "1e-3", "2.5E+4", "-0.1", "7e2", "3.25", "1_0.0_1",
];
const STRINGS: &[&str] = &[
    r#""""#,
    r#""infonce""#,
    r#""a \"quoted\" word""#,
    r#""tab\tnew\nline\\""#,
    r#""\u{e9}t\u{1F600}""#,
    r##""# not a comment""##,
    "\"caf\u{e9} \u{1F600}\"",
];
const SEPARATORS: &[&str] = &[
    " ", " ", " ", " ", " ", " ", " ", " ", "
", "  ", "
    ", " # note
", "

", "	", "
",
];

/// Builds program text token by token with varied whitespace and comments.
struct Out {
    text: String,
    rng: Rng,
}

impl Out {
    fn tok(&mut self, t: &str) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            let sep = self.rng.pick(SEPARATORS);
            self.text.push_str(sep);
        }
        self.text.push_str(t);
    }
}

fn literal(out: &mut Out) {
    let r = out.rng.below(7);
    let number = out.rng.pick(NUMBERS);
    let t = match r {
        0 | 1 => number.to_string(),
        2 => format!("{number}{}", UNITS[out.rng.below(UNITS.len())].0),
        3 => format!("{number}%"),
        4 | 5 => out.rng.pick(STRINGS).to_string(),
        _ => out.rng.pick(&["true", "false"]).to_string(),
    };
    out.tok(&t);
}

fn sequence(out: &mut Out, open: &str, close: &str, depth: usize, item: fn(&mut Out, usize)) {
    out.tok(open);
    let n = out.rng.below(4);
    for i in 0..n {
        if i > 0 {
            out.tok(",");
        }
        item(out, depth);
    }
    if n > 0 && out.rng.chance(30) {
        out.tok(",");
    }
    out.tok(close);
}

fn arg(out: &mut Out, depth: usize) {
    if out.rng.chance(60) {
        let n = out.rng.pick(NAMES);
        out.tok(n);
        out.tok(":");
    }
    expr(out, depth);
}

fn field(out: &mut Out, depth: usize) {
    let n = out.rng.pick(NAMES);
    out.tok(n);
    out.tok(":");
    expr(out, depth);
}

fn primary(out: &mut Out, depth: usize) {
    let choice = if depth == 0 {
        out.rng.below(2)
    } else {
        out.rng.below(6)
    };
    match choice {
        0 => literal(out),
        1 => {
            let n = out.rng.pick(NAMES);
            out.tok(n);
        }
        2 => sequence(out, "[", "]", depth - 1, expr),
        3 => sequence(out, "{", "}", depth - 1, field),
        4 => {
            out.tok("(");
            expr(out, depth - 1);
            out.tok(")");
        }
        _ => {
            let n = out.rng.pick(NAMES);
            out.tok(n);
        }
    }
}

fn postfix(out: &mut Out, depth: usize) {
    primary(out, depth);
    for _ in 0..out.rng.below(3) {
        if out.rng.chance(50) {
            out.tok(".");
            let n = out.rng.pick(NAMES);
            out.tok(n);
        } else if depth > 0 {
            sequence(out, "(", ")", depth - 1, arg);
        }
    }
}

fn expr(out: &mut Out, depth: usize) {
    if depth > 0 && out.rng.chance(10) {
        out.tok("for");
        for i in 0..1 + out.rng.below(2) {
            if i > 0 {
                out.tok(",");
            }
            let n = out.rng.pick(NAMES);
            out.tok(n);
            out.tok("in");
            postfix(out, depth - 1);
        }
        out.tok("=>");
        expr(out, depth - 1);
        return;
    }
    postfix(out, depth);
}

fn type_expr(out: &mut Out) {
    let t = out.rng.pick(TYPES);
    out.tok(t);
    if t == "list" {
        out.tok("[");
        type_expr(out);
        out.tok("]");
    }
}

fn statement(out: &mut Out) {
    if out.rng.chance(15) {
        out.text.push_str("\n## doc line\n");
    }
    match out.rng.below(5) {
        0 => {
            out.tok("use");
            out.tok("\"lib/common.pipe\"");
            out.tok("as");
            let n = out.rng.pick(NAMES);
            out.tok(n);
        }
        1 => {
            out.tok("param");
            let n = out.rng.pick(NAMES);
            out.tok(n);
            if out.rng.chance(60) {
                out.tok(":");
                type_expr(out);
            }
            out.tok("=");
            expr(out, 2);
        }
        _ => {
            out.tok("let");
            let n = out.rng.pick(NAMES);
            out.tok(n);
            out.tok("=");
            let depth = 1 + out.rng.below(4);
            expr(out, depth);
        }
    }
    out.text.push('\n');
}

/// A valid program of 0 to 11 statements.
pub fn program(rng: &mut Rng) -> String {
    let mut out = Out {
        text: String::new(),
        rng: Rng::new(rng.next_u64()),
    };
    if out.rng.chance(20) {
        out.text.push_str("# leading comment\n\n");
    }
    for _ in 0..out.rng.below(12) {
        statement(&mut out);
    }
    out.text
}

/// A valid program of about `lines` lines: the benchmark input.
pub fn program_of_lines(seed: u64, lines: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut text = String::new();
    while text.lines().count() < lines {
        text.push_str(&program(&mut rng));
    }
    text
}

const INSERTS: &[&str] = &[
    "=",
    "=>",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    "let",
    "for",
    "in",
    "use",
    "\"",
    "#",
    "1KiB",
    "1Kib",
    "x",
    "%",
    "-",
    "\\",
    "_",
    "e",
    "\n",
    "\u{0}",
    "\u{e9}",
    "9",
    "99999999999999999999",
];

/// One to three random edits of `text`: deleting, duplicating or swapping
/// characters and token-sized pieces, or inserting tokens and stray characters.
pub fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(chars.len() + 1);
        match rng.below(5) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 if at + 1 < chars.len() => chars.swap(at, at + 1),
            2 if at < chars.len() => {
                let len = 1 + rng.below(6);
                let end = (at + len).min(chars.len());
                chars.drain(at..end);
            }
            3 if at < chars.len() => {
                let len = 1 + rng.below(6);
                let end = (at + len).min(chars.len());
                let piece: Vec<char> = chars[at..end].to_vec();
                let to = rng.below(chars.len() + 1);
                chars.splice(to..to, piece);
            }
            _ => {
                let ins: Vec<char> = rng.pick(INSERTS).chars().collect();
                chars.splice(at..at, ins);
            }
        }
    }
    chars.into_iter().collect()
}
