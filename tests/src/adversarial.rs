//! The adversarial inputs of issue 25, as families of texts by nesting level:
//! unclosed calls, records, lists, parentheses, sweeps and mixes of them,
//! mismatched closers, and balanced nesting with an error at the bottom. Used by
//! the linear-time test (`tests/front_end_linear.rs`) and the worst-case
//! benchmark (`benches/front_end_worst.rs`).

use pipe_lang::lexer::{self, Tok, Token};
use pipe_lang::parser::structure::{self, Structure};

/// A family of inputs: the text at `n` levels.
pub struct Family {
    pub name: &'static str,
    pub build: fn(usize) -> String,
}

fn nest(prefix: &str, open: &str, n: usize, tail: &str) -> String {
    format!("{prefix}{}{tail}", open.repeat(n))
}

/// `open` repeated `n` times around `inner`, closed with `close` repeated.
fn wrap(prefix: &str, open: &str, n: usize, inner: &str, close: &str) -> String {
    format!("{prefix}{}{inner}{}", open.repeat(n), close.repeat(n))
}

/// One level of each kind, cycling: call, list, record, sweep, parenthesis.
fn mixed(n: usize) -> String {
    const LEVELS: [&str; 5] = ["f(", "[", "{a: ", "for b in g(", "("];
    let mut s = "let x = ".to_string();
    for i in 0..n {
        s.push_str(LEVELS[i % LEVELS.len()]);
    }
    s.push_str("1 =");
    s
}

pub const FAMILIES: &[Family] = &[
    Family {
        name: "issue 25 reproducer",
        build: |n| nest("let'l=e", "(", n, "e(="),
    },
    Family {
        name: "unclosed call arguments",
        build: |n| nest("let x = f", "(", n, "a: 1, ="),
    },
    Family {
        name: "unclosed stage call",
        build: |n| nest("let x = model.mlp", "(", n, "input: ="),
    },
    Family {
        name: "nested unclosed calls",
        build: |n| nest("let x = ", "f(", n, "1 ="),
    },
    Family {
        name: "unclosed records",
        build: |n| nest("let x = ", "{a: ", n, "1 ="),
    },
    Family {
        name: "unclosed lists",
        build: |n| nest("let x = ", "[", n, "1 ="),
    },
    Family {
        name: "unclosed parentheses",
        build: |n| nest("let x = ", "(", n, "1 ="),
    },
    Family {
        name: "unclosed sweeps",
        build: |n| nest("let x = ", "for a in f(", n, "1 ="),
    },
    Family {
        name: "unclosed sweep bodies",
        build: |n| nest("let x = ", "for a in [1] => f(", n, "1 ="),
    },
    Family {
        name: "mixed unclosed",
        build: mixed,
    },
    Family {
        name: "mismatched closers",
        build: |n| wrap("let x = f", "(", n, "1", "]"),
    },
    Family {
        name: "unclosed, then more statements",
        build: |n| {
            format!(
                "{}\nlet y = 2\nlet z = y\n",
                nest("let x = ", "f(", n, "1 =")
            )
        },
    },
    Family {
        name: "balanced calls, error inside",
        build: |n| wrap("let x = ", "f(", n, "1 2", ")"),
    },
    Family {
        name: "balanced lists, error inside",
        build: |n| wrap("let x = ", "[", n, "1 2", "]"),
    },
    Family {
        name: "balanced records, error inside",
        build: |n| wrap("let x = ", "{a: ", n, "1 2", "}"),
    },
];

/// The most levels (at most 120) at which `family` still reaches the grammar:
/// below the depth cap, where recursion and recovery are deepest. Asks the
/// iterative pre-pass only, so a slow grammar cannot hang the search.
pub fn deepest_parsed(family: &Family) -> usize {
    (40..=120)
        .rev()
        .find(|&n| {
            let text = (family.build)(n);
            let tokens: Vec<Token> = lexer::lex("adv.pipe", &text)
                .tokens
                .into_iter()
                .filter(|t| t.kind != Tok::Junk)
                .collect();
            structure::check("adv.pipe", &tokens, &mut Vec::new()) != Structure::TooDeep
        })
        .unwrap_or(40)
}
