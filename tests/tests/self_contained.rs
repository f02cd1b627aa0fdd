//! The repository stands on its own: no tracked file refers to a path outside it.
//!
//! A fresh clone has nothing beside it, so a pipeline, test, benchmark or doc that
//! reads or points at `../something` above the repository root breaks for a
//! newcomer. Two checks over every tracked text file (`git ls-files`):
//! - no relative path climbs above the repository root, resolved from the file's
//!   directory (where `include_str!` and links start; a crate-relative
//!   `CARGO_MANIFEST_DIR` join starts higher, so a climb out of it may pass this
//!   check, but then it names what it reaches, which the second check catches);
//! - no file names the workspace folder that sits beside the repository on the
//!   developers' machines (`shared/` with its `data`, `design`, `ops`, `reference`).
//!
//! `.ci/run` is the one exception: CI may look outside (it is handed a copy of that
//! folder).

use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Files allowed to look outside the repository.
const EXEMPT: &[&str] = &[".ci/run"];

/// Names of the folder beside the repository on the developers' machines.
const OUTSIDE_NAMES: &[&str] = &[
    "shared/data",
    "shared/design",
    "shared/ops",
    "shared/reference",
    "PAPERS.md",
    "LANGUAGE.md",
    "STDLIB.md",
    "ARCHITECTURE.md",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

fn tracked_files(root: &Path) -> Vec<String> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("git runs (the repository is a git checkout)");
    assert!(out.status.success(), "git ls-files failed: {out:?}");
    String::from_utf8(out.stdout)
        .expect("tracked paths are UTF-8")
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Depth below the repository root of the file's directory.
fn base_depth(path: &str) -> usize {
    Path::new(path)
        .parent()
        .unwrap_or(Path::new(""))
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count()
}

/// Each run of `../` that starts a path (not in the middle of a longer one), with
/// its byte offset and how many levels it climbs.
fn climbs(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(at) = text[i..].find("../") {
        let start = i + at;
        let mut levels = 0;
        let mut end = start;
        while text[end..].starts_with("../") {
            levels += 1;
            end += 3;
        }
        let starts_path = start == 0 || !is_path_byte(bytes[start - 1]);
        if starts_path {
            found.push((start, levels));
        }
        i = end;
    }
    found
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'~' | b'$')
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Every reference to a path outside the repository in one file, as `path:line: why`.
fn outside_references(path: &str, text: &str) -> Vec<String> {
    let depth = base_depth(path);
    let mut problems: Vec<String> = climbs(text)
        .into_iter()
        .filter(|&(_, levels)| levels > depth)
        .map(|(at, levels)| {
            format!(
                "{path}:{}: climbs {levels} levels from a directory {depth} deep",
                line_of(text, at)
            )
        })
        .collect();
    for name in OUTSIDE_NAMES {
        for (at, _) in text.match_indices(name) {
            problems.push(format!("{path}:{}: names `{name}`", line_of(text, at)));
        }
    }
    problems
}

#[test]
fn no_tracked_file_refers_outside_the_repository() {
    let root = repo_root();
    let this_file = "tests/tests/self_contained.rs";
    let mut problems = Vec::new();
    for path in tracked_files(&root) {
        if EXEMPT.contains(&path.as_str()) || path == this_file {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(&path)) else {
            continue; // binary data (gzip, images): no paths to follow
        };
        problems.extend(outside_references(&path, &text));
    }
    assert!(
        problems.is_empty(),
        "tracked files refer to paths outside the repository (a fresh clone has nothing \
         beside it; ship the file or describe it in docs/):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checks_catch_what_they_are_for() {
    let escapes = outside_references("pipelines/x.pipe", "let d = \"../../data/a.gz\"\n");
    assert_eq!(escapes.len(), 1, "{escapes:?}");
    assert!(escapes[0].starts_with("pipelines/x.pipe:1: climbs 2 levels"));
    let inside = outside_references("pipelines/x.pipe", "p = \"../stdlib/data/a.gz\"");
    assert!(inside.is_empty(), "{inside:?}");
    let from_deep = outside_references("stdlib/src/data/idx.rs", "(\"../../../../x\")");
    assert_eq!(from_deep.len(), 1, "{from_deep:?}");
    let within = outside_references("stdlib/src/data/idx.rs", "(\"../../../x\")");
    assert!(within.is_empty(), "{within:?}");
    let named = outside_references("docs/a.md", "see\nthe `shared/reference` notes");
    assert_eq!(
        named,
        vec!["docs/a.md:2: names `shared/reference`".to_owned()]
    );
    assert!(
        climbs("a/../b").is_empty(),
        "a climb inside a path is not a start"
    );
}
