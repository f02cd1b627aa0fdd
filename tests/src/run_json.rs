//! `pipe run FILE --format json` in a directory, and the nodes of its summary:
//! how the end-to-end tests read what a run did.

use serde_json::Value;
use std::path::Path;
use std::process::Output;

/// `pipe run <file> <args...>` in `dir`, whatever its outcome.
pub fn run_in(dir: &Path, file: &str, args: &[&str]) -> Output {
    crate::pipe()
        .current_dir(dir)
        .arg("run")
        .arg(file)
        .args(args)
        .output()
        .expect("pipe runs")
}

/// The JSON summary of a run that must succeed (its stderr in the failure).
pub fn run_json(dir: &Path, file: &str, args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = run_in(dir, file, &all);
    assert!(
        out.status.success(),
        "pipe run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is exactly the JSON summary")
}

/// The summary's node named `name` (a test failure listing the summary if none).
pub fn node<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["nodes"]
        .as_array()
        .expect("the summary lists nodes")
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no node `{name}` in {summary}"))
}
