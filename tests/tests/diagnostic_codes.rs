//! The code table (`pipe_lang::codes::ALL`) and docs/diagnostics.md name the same
//! codes: a code emitted but undocumented, or documented but never defined,
//! fails here.

use std::collections::BTreeSet;
use std::path::Path;

/// The codes in the first column of the page's tables (`| E0101 | ...`).
fn documented() -> BTreeSet<String> {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnostics.md");
    let text = std::fs::read_to_string(&page).expect("docs/diagnostics.md is readable");
    text.lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|rest| rest.split(' ').next())
        .filter(|code| is_code(code))
        .map(str::to_string)
        .collect()
}

fn is_code(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('E' | 'W')) && s.len() == 5 && chars.all(|c| c.is_ascii_digit())
}

#[test]
fn the_code_table_and_the_docs_agree() {
    let defined: BTreeSet<String> = pipe_lang::codes::ALL
        .iter()
        .map(|c| c.code.to_string())
        .collect();
    let docs = documented();
    let undocumented: Vec<&String> = defined.difference(&docs).collect();
    let undefined: Vec<&String> = docs.difference(&defined).collect();
    assert!(
        undocumented.is_empty() && undefined.is_empty(),
        "in lang/src/codes.rs but not docs/diagnostics.md: {undocumented:?}; \
         in docs/diagnostics.md but not lang/src/codes.rs: {undefined:?}"
    );
    assert!(
        defined.len() >= 40,
        "the table lost codes: {}",
        defined.len()
    );
}
