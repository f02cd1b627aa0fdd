//! `--set` values meet the checks a value written in the file meets: ranges,
//! allowed strings and stage arguments, with the same codes and the same
//! message at the same place, before anything runs or is cached.

use pipe_tests::pipe;
use std::path::Path;
use std::process::Output;

const FILE: &str = "param glb: bytes = 128KiB\n\
                    param seed: int = 0\n\
                    param n: int = 10\n\
                    param pe: str = \"int8\"\n\
                    let d = dataset.digits()\n\
                    let s = dataset.sample(d, n: n, seed: seed)\n\
                    let net = sim.workload(name: \"mobilenet_v2\")\n\
                    let hw = sim.accelerator(model: net, pe: pe, glb: glb)\n";

fn run(dir: &Path, file: &str, sets: &[&str]) -> Output {
    let mut c = pipe();
    c.current_dir(dir).args(["run", file, "--format", "json"]);
    for s in sets {
        c.args(["--set", s]);
    }
    c.output().unwrap()
}

fn first_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The run with `--set name=value` fails as the file with `value` written in
/// the param would: exit 1, the same first line (file:line:col, code,
/// message), and nothing cached.
fn refused_like_in_the_file(name: &str, value: &str, code: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), FILE).unwrap();
    let set = format!("{name}={value}");
    let out = run(dir.path(), "p.pipe", &[&set]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "--set {set}: {stderr}");
    assert!(
        stderr.contains(&format!("error[{code}]")),
        "--set {set}: {stderr}"
    );
    assert!(
        stderr.contains(&format!("replaced by `--set {set}`")),
        "--set {set}: {stderr}"
    );
    assert!(
        !dir.path().join(".pipe-cache").join("entries").exists()
            && !dir.path().join("runs").exists(),
        "--set {set} ran something"
    );
    let edited = FILE
        .lines()
        .map(|l| match l.strip_prefix(&format!("param {name}: ")) {
            Some(rest) => format!(
                "param {name}: {} = {value}",
                rest.split(" = ").next().unwrap()
            ),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("p.pipe"), edited + "\n").unwrap();
    let in_file = run(dir.path(), "p.pipe", &[]);
    assert_eq!(in_file.status.code(), Some(1));
    assert_eq!(first_line(&out), first_line(&in_file), "--set {set}");
    stderr
}

#[test]
fn a_quantity_above_the_declared_range_is_refused() {
    let stderr = refused_like_in_the_file("glb", "100GiB", "E0406");
    assert!(
        stderr.contains("`glb` of `sim.accelerator` must be between"),
        "{stderr}"
    );
}

#[test]
fn a_negative_seed_is_refused() {
    let stderr = refused_like_in_the_file("seed", "-1", "E0406");
    assert!(stderr.contains("`seed` of `dataset.sample`"), "{stderr}");
}

#[test]
fn a_zero_count_is_refused() {
    let stderr = refused_like_in_the_file("n", "0", "E0406");
    assert!(stderr.contains("`n` of `dataset.sample`"), "{stderr}");
}

#[test]
fn an_unknown_choice_string_is_refused_with_a_suggestion() {
    let stderr = refused_like_in_the_file("pe", "\"int9\"", "E0407");
    assert!(stderr.contains("got \"int9\""), "{stderr}");
    assert!(stderr.contains("did you mean"), "{stderr}");
}

#[test]
fn an_unquoted_choice_string_is_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), FILE).unwrap();
    let out = run(dir.path(), "p.pipe", &["pe=lightpe3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error[E0407]") && stderr.contains("\"lightpe3\""),
        "{stderr}"
    );
}

#[test]
fn values_inside_the_ranges_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), FILE).unwrap();
    let out = run(
        dir.path(),
        "p.pipe",
        &["glb=1GiB", "seed=3", "n=1", "pe=int4"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
}

#[test]
fn a_malformed_set_is_still_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), FILE).unwrap();
    let out = run(dir.path(), "p.pipe", &["glb=12 parsecs"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(dir.path(), "p.pipe", &["seed=\"one\""]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`seed` is a int"), "{stderr}");
}
