//! The language server's incremental check (`pipe_lang::check::Incremental`)
//! against the full check (`pipe_lang::check`, what `pipe check` runs): seeded
//! random edits to every shipped pipeline and every checker fixture, and after
//! each edit the two programs must be equal: diagnostics, bindings, the type of
//! every expression (what hover shows), resolved calls and param values.

use pipe_lang::check::{Incremental, Reuse};
use pipe_lang::program::{Program, SourceLoader};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::Cell;
use std::path::{Path, PathBuf};

const EDITS_PER_FILE: usize = 40;

/// The edited root from memory, its imports from the disk.
struct Loader {
    root: String,
    text: String,
}

impl SourceLoader for Loader {
    fn resolve(&self, from: &str, relative: &str) -> String {
        let base = Path::new(from).parent().unwrap_or(Path::new(""));
        base.join(relative).to_string_lossy().into_owned()
    }

    fn load(&self, name: &str) -> Result<String, String> {
        if name == self.root {
            return Ok(self.text.clone());
        }
        std::fs::read_to_string(name).map_err(|e| e.to_string())
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["pipelines", "tests/fixtures/check"] {
        let entries = std::fs::read_dir(repo().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.extension().is_some_and(|x| x == "pipe") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 15, "only {} files", files.len());
    files
}

/// Text an edit inserts: statements, names, broken syntax, comments.
const SNIPPETS: &[&str] = &[
    "x",
    "_",
    "1",
    " ",
    "\n",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    ":",
    "=",
    "\"",
    "# note\n",
    "## doc\n",
    "KiB",
    "0.5",
    "seed",
    "let q = 1\n",
    "let q = q\n",
    "param p: int = 3\n",
    "param p: str = 1\n",
    "let r = dataset.digits()\n",
    "let s = for a in [1, 2] => a\n",
    "let t = {a: 1, b: \"x\"}\n",
    "let u = model.mlp(input: r)\n",
    "use \"nowhere.pipe\" as gone\n",
    "let é = 1\n",
];

/// A char boundary of `text` at or before `at`.
fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// One random edit: an insertion, a deletion, a line copied elsewhere (a
/// redefinition), a line deleted, or a name replaced everywhere.
fn edit(text: &mut String, rng: &mut ChaCha8Rng) {
    let at = boundary(text, rng.gen_range(0..=text.len()));
    match rng.gen_range(0..6) {
        0 | 1 => {
            let snippet = SNIPPETS[rng.gen_range(0..SNIPPETS.len())];
            text.insert_str(at, snippet);
        }
        2 => {
            let end = boundary(text, at + rng.gen_range(1..24));
            text.replace_range(at..end, "");
        }
        3 => {
            let starts = line_starts(text);
            let from = starts[rng.gen_range(0..starts.len())];
            let to = text[from..].find('\n').map_or(text.len(), |i| from + i + 1);
            let line = text[from..to].to_string();
            let dest = starts[rng.gen_range(0..starts.len())];
            text.insert_str(dest, &line);
        }
        4 => {
            let starts = line_starts(text);
            let from = starts[rng.gen_range(0..starts.len())];
            let to = text[from..].find('\n').map_or(text.len(), |i| from + i + 1);
            text.replace_range(from..to, "");
        }
        _ => {
            let word: String = text[at..]
                .chars()
                .skip_while(|c| !c.is_ascii_alphabetic())
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                *text = text.replace(&word, &format!("{word}2"));
            }
        }
    }
}

fn full(loader: &Loader) -> Program {
    pipe_lang::check(&loader.root, loader, pipe_stdlib::Stdlib::get())
}

fn incremental(memo: &mut Incremental, loader: &Loader) -> Program {
    memo.check(&loader.root, loader, pipe_stdlib::Stdlib::get(), &|| false)
        .unwrap_or_else(|| panic!("a check that nothing cancels returned nothing"))
}

#[test]
fn random_edits_check_exactly_like_the_full_check() {
    let mut reused = 0;
    for (n, path) in sources().into_iter().enumerate() {
        let root = path.to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{root}: {e}"));
        let mut loader = Loader { root, text };
        let mut memo = Incremental::new();
        let mut rng = ChaCha8Rng::seed_from_u64(23 + n as u64);
        assert_eq!(
            incremental(&mut memo, &loader),
            full(&loader),
            "{}",
            loader.root
        );
        for step in 0..EDITS_PER_FILE {
            edit(&mut loader.text, &mut rng);
            let expected = full(&loader);
            let got = incremental(&mut memo, &loader);
            if got != expected {
                panic!(
                    "{} after edit {step}: incremental and full checks differ\n--- text\n{}\n--- full\n{:#?}\n--- incremental\n{:#?}",
                    loader.root, loader.text, expected.diagnostics, got.diagnostics
                );
            }
            reused += memo.last_reuse().reused;
        }
    }
    assert!(reused > 0, "no statement was ever reused");
}

#[test]
fn an_edit_rechecks_the_edited_statement_and_what_reads_it() {
    let text = "param rows: int = 16\nlet a = 1\nlet b = [rows, 2]\nlet c = \"x\"\n";
    let mut loader = Loader {
        root: "/mem/m.pipe".to_string(),
        text: text.to_string(),
    };
    let mut memo = Incremental::new();
    incremental(&mut memo, &loader);
    assert_eq!(
        memo.last_reuse(),
        Reuse {
            reused: 0,
            checked: 4
        }
    );
    // Same type, new value: `b` reads the value of `rows`, `a` and `c` do not.
    loader.text = text.replace("16", "17");
    assert_eq!(incremental(&mut memo, &loader), full(&loader));
    assert_eq!(
        memo.last_reuse(),
        Reuse {
            reused: 2,
            checked: 2
        }
    );
    // Moving every statement down reuses them all, at their new place.
    loader.text = format!("# moved\n\n{}", loader.text);
    assert_eq!(incremental(&mut memo, &loader), full(&loader));
    assert_eq!(
        memo.last_reuse(),
        Reuse {
            reused: 4,
            checked: 0
        }
    );
}

#[test]
fn a_cancelled_check_returns_nothing_and_the_next_is_whole() {
    let path = repo().join("pipelines/quickstart.pipe");
    let root = path.to_string_lossy().into_owned();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{root}: {e}"));
    let mut loader = Loader { root, text };
    let mut memo = Incremental::new();
    let asked = Cell::new(0);
    let after_three = || {
        asked.set(asked.get() + 1);
        asked.get() > 3
    };
    let catalog = pipe_stdlib::Stdlib::get();
    assert!(memo
        .check(&loader.root, &loader, catalog, &|| true)
        .is_none());
    assert!(memo
        .check(&loader.root, &loader, catalog, &after_three)
        .is_none());
    assert!(asked.get() > 3, "the check never asked whether to go on");
    loader.text.push_str("\nlet late = 1\n");
    assert_eq!(incremental(&mut memo, &loader), full(&loader));
}
