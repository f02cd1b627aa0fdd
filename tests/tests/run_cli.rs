//! `pipe run` as a real process on real files with the real dataset stages:
//! caching across runs, `--set`, edits that change nothing, the JSON summary, the
//! run directory, exit codes and messages for bad input.

use pipe_tests::pipe;
use pipe_tests::run_json::{node, run_in, run_json};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const PIPELINE: &str = "\
param seed: int = 0
let digits = dataset.digits()
let parts = dataset.split(digits, test: 0.2, seed: 1)
let calib = dataset.sample(parts.train, n: 64, seed: seed)
let sizes = for n in [8, 16] => dataset.sample(parts.test, n: n)
";

fn run(dir: &Path, args: &[&str]) -> Output {
    run_in(dir, "p.pipe", args)
}

fn json_run(dir: &Path, args: &[&str]) -> Value {
    run_json(dir, "p.pipe", args)
}

fn status_of(summary: &Value, name: &str) -> String {
    node(summary, name)["status"]
        .as_str()
        .expect("a status")
        .to_string()
}

fn statuses(summary: &Value) -> Vec<String> {
    summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn second_run_is_all_cached_with_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).unwrap();
    let first = json_run(dir.path(), &[]);
    assert_eq!(first["ok"], true);
    assert!(statuses(&first).iter().all(|s| s == "ran"), "{first}");
    let names: Vec<&str> = first["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["digits", "parts", "calib", "sizes[n=8]", "sizes[n=16]"]
    );
    let node = &first["nodes"][0];
    for field in ["name", "stage", "key", "status", "seconds", "metrics"] {
        assert!(node.get(field).is_some(), "missing `{field}` in {node}");
    }
    assert_eq!(node["metrics"]["samples"], 1797.0);
    let second = json_run(dir.path(), &[]);
    assert!(statuses(&second).iter().all(|s| s == "cached"), "{second}");
    for (a, b) in first["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(second["nodes"].as_array().unwrap())
    {
        assert_eq!(a["key"], b["key"]);
        assert_eq!(a["metrics"], b["metrics"]);
    }
}

#[test]
fn set_reruns_only_the_dependents_of_the_param() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).unwrap();
    json_run(dir.path(), &[]);
    let set = json_run(dir.path(), &["--set", "seed=3"]);
    assert_eq!(status_of(&set, "digits"), "cached");
    assert_eq!(status_of(&set, "parts"), "cached");
    assert_eq!(status_of(&set, "sizes[n=8]"), "cached");
    assert_eq!(status_of(&set, "calib"), "ran");
}

#[test]
fn a_comment_or_formatting_edit_reruns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).unwrap();
    json_run(dir.path(), &[]);
    let edited = "\
## Digits, split and sampled.
param seed: int = 0   # the sampling seed

let digits = dataset.digits()
let sizes = for n in [8, 16] =>
    dataset.sample(parts.test, n: n)
let parts = dataset.split(digits,
                          test: 20%, seed: 1)
let calib = dataset.sample(parts.train, n: 64, seed: seed)
";
    // `sizes` moved above `parts` is a use before definition; keep the order valid.
    let edited = edited.replace(
        "let sizes = for n in [8, 16] =>\n    dataset.sample(parts.test, n: n)\nlet parts = dataset.split(digits,\n                          test: 20%, seed: 1)\n",
        "let parts = dataset.split(digits,\n                          test: 20%, seed: 1)\nlet sizes = for n in [8, 16] =>\n    dataset.sample(parts.test, n: n)\n",
    );
    std::fs::write(dir.path().join("p.pipe"), edited).unwrap();
    let again = json_run(dir.path(), &[]);
    assert!(statuses(&again).iter().all(|s| s == "cached"), "{again}");
}

#[test]
fn named_bindings_run_only_what_they_need() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).unwrap();
    let only = json_run(dir.path(), &["calib"]);
    let names: Vec<&str> = only["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["digits", "parts", "calib"]);
}

#[test]
fn the_run_directory_has_a_summary_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).unwrap();
    let out = run(dir.path(), &[]);
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("node") && table.contains("dataset.split") && table.contains("5 ran"),
        "{table}"
    );
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("runs/p"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1);
    let run_dir = runs[0].path();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["nodes"].as_array().unwrap().len(), 5);
    let report = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        report.contains("| parts | dataset.split | ran |"),
        "{report}"
    );
}

#[test]
fn usage_and_input_errors_have_clear_messages_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).unwrap();
    let cases: [(&[&str], i32, &str); 5] = [
        (&["nosuch"], 2, "no binding named `nosuch`"),
        (&["calbi"], 2, "did you mean `calib`?"),
        (
            &["--set", "sed=1"],
            2,
            "no param named `sed` (did you mean `seed`?)",
        ),
        (
            &["--set", "seed=\"x\""],
            2,
            "`seed` is a int, but `\"x\"` is a str",
        ),
        (&["--set", "seed"], 2, "expected NAME=VALUE"),
    ];
    for (args, code, message) in cases {
        let out = run(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(message),
            "{args:?}: expected `{message}` in:\n{stderr}"
        );
    }
    let missing = pipe()
        .current_dir(dir.path())
        .args(["run", "missing.pipe"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("missing.pipe: no such file"));
    std::fs::write(dir.path().join("p.pipe"), "let d = dataset.digts()\n").unwrap();
    let bad = run(dir.path(), &[]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("p.pipe:1:"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn a_missing_input_file_fails_its_node_and_skips_its_dependents() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.pipe"),
        "let m = dataset.mnist(images: \"none.idx\", labels: \"none-labels.idx\")\nlet s = dataset.sample(m, n: 5)\nlet d = dataset.digits()\n",
    )
    .unwrap();
    let out = run(dir.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ok"], false);
    assert_eq!(status_of(&summary, "m"), "failed");
    assert_eq!(status_of(&summary, "s"), "skipped");
    assert_eq!(status_of(&summary, "d"), "ran");
    let m = summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "m")
        .unwrap();
    assert!(m["error"].as_str().unwrap().contains("none.idx"), "{m}");
}

#[test]
fn tables_and_plots_are_written_to_the_run_directory_even_when_cached() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.pipe"),
        "let net = sim.workload(name: \"resnet50\")\n\
         let caches = for tech in [\"sram\", \"stt\"] =>\n    sim.nvm_cache(tech: tech, capacity: 4MiB, node: 22nm, workload: net, mode: \"iso_capacity\")\n\
         let t = report.table(caches, columns: [\"area_mm2\"])\n\
         let plot = report.bar(caches, y: \"area_mm2\")\n",
    )
    .unwrap();
    for expected in ["ran", "cached"] {
        let v = json_run(dir.path(), &[]);
        assert_eq!(status_of(&v, "t"), expected);
        let newest = std::fs::read_dir(dir.path().join("runs/p"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .max()
            .unwrap();
        let csv = std::fs::read_to_string(newest.join("t.csv")).unwrap();
        assert!(
            csv.lines().count() == 3 && csv.contains("area_mm2"),
            "{csv}"
        );
        assert!(std::fs::read_to_string(newest.join("t.md"))
            .unwrap()
            .starts_with('|'));
        assert!(std::fs::read_to_string(newest.join("plot.svg"))
            .unwrap()
            .contains("<svg"));
        let report = std::fs::read_to_string(newest.join("report.md")).unwrap();
        assert!(report.contains("![") && report.contains("## t"), "{report}");
    }
}

#[test]
fn a_str_param_takes_unquoted_text_from_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.pipe"),
        "param images: str = \"i.gz\"\nlet d = dataset.mnist(images: images, labels: images)\n",
    )
    .unwrap();
    for set in [
        "images=/no/such/dir/x-images.gz",
        "images=\"/no/such/dir/x-images.gz\"",
    ] {
        let out = run(dir.path(), &["--set", set]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{set}: {stderr}");
        assert!(
            stderr.contains("/no/such/dir/x-images.gz") && !stderr.contains("does not parse"),
            "{set}: {stderr}"
        );
    }
}
