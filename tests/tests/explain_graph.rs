//! `pipe explain` and `pipe graph` on real files: cached or why a node would
//! rerun (argument, input, file content), and the graph as DOT and Mermaid.

use pipe_tests::pipe;
use std::path::Path;

const PIPELINE: &str = "\
param seed: int = 0
let digits = dataset.digits()
let parts = dataset.split(digits, test: 0.2, seed: 1)
let calib = dataset.sample(parts.train, n: 64, seed: seed)
";

fn pipe_out(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = pipe().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn explain_says_cached_or_names_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).unwrap();
    let (_, never, _) = pipe_out(dir.path(), &["explain", "p.pipe", "calib"]);
    assert!(
        never.contains("`calib` would run") && never.contains("never run"),
        "{never}"
    );
    assert_eq!(pipe_out(dir.path(), &["run", "p.pipe"]).0, 0);
    let (code, cached, _) = pipe_out(dir.path(), &["explain", "p.pipe", "calib"]);
    assert_eq!(code, 0);
    assert!(cached.contains("`calib` is cached"), "{cached}");
    let (_, set, _) = pipe_out(
        dir.path(),
        &["explain", "p.pipe", "calib", "--set", "seed=3"],
    );
    assert!(set.contains("argument `seed` changed: 0 -> 3"), "{set}");
    std::fs::write(
        dir.path().join("p.pipe"),
        PIPELINE.replace("test: 0.2", "test: 0.3"),
    )
    .unwrap();
    let (_, input, _) = pipe_out(dir.path(), &["explain", "p.pipe", "calib"]);
    assert!(
        input.contains("input `data` changed: `parts` has a new key"),
        "{input}"
    );
    let (_, parts, _) = pipe_out(dir.path(), &["explain", "p.pipe", "parts"]);
    assert!(
        parts.contains("argument `test` changed: 0.2 -> 0.3"),
        "{parts}"
    );
    let (code, _, err) = pipe_out(dir.path(), &["explain", "p.pipe", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no binding named `nope`"), "{err}");
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).unwrap();
    let (code, dot, _) = pipe_out(dir.path(), &["graph", "p.pipe"]);
    assert_eq!(code, 0);
    assert!(dot.starts_with("digraph pipe {"), "{dot}");
    assert!(
        dot.contains("n1 [label=\"parts\\ndataset.split\"];"),
        "{dot}"
    );
    assert!(dot.contains("n0 -> n1 [label=\"data\"];"), "{dot}");
    let (_, mermaid, _) = pipe_out(dir.path(), &["graph", "p.pipe", "--format", "mermaid"]);
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
    assert!(mermaid.contains("n1 -->|data| n2"), "{mermaid}");
}
