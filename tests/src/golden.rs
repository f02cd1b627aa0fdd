//! Golden (snapshot) files: a test renders what it checks as text and compares it
//! with a committed file under `tests/golden/`. `UPDATE_GOLDEN=1 cargo test -p
//! pipe-tests` rewrites every golden file from the current output instead of
//! comparing; review the diff before committing it. This module never decides
//! what a test renders, only how the text is compared and stored.

use std::path::Path;

/// Whether this run rewrites golden files (`UPDATE_GOLDEN=1`).
pub fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `actual` with the golden file at `path` (or rewrites it when
/// updating). On a difference, panics with the first differing line of each.
pub fn assert_golden(path: &Path, actual: &str) {
    if updating() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("creating the golden directory");
        }
        std::fs::write(path, actual).expect("writing the golden file");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with UPDATE_GOLDEN=1 cargo test -p pipe-tests",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let (line, want, got) = first_difference(&expected, actual);
    panic!(
        "{} differs at line {line}:\n  expected: {want}\n  actual:   {got}\n\
         (an intended change: UPDATE_GOLDEN=1 cargo test -p pipe-tests, then review the diff)",
        path.display()
    );
}

fn first_difference<'a>(expected: &'a str, actual: &'a str) -> (usize, &'a str, &'a str) {
    let mut want = expected.lines();
    let mut got = actual.lines();
    let mut n = 1;
    loop {
        match (want.next(), got.next()) {
            (Some(w), Some(g)) if w == g => n += 1,
            (w, g) => {
                return (
                    n,
                    w.unwrap_or("<end of file>"),
                    g.unwrap_or("<end of file>"),
                )
            }
        }
    }
}
