//! The cache under damage and concurrency, with real processes: corrupted and
//! truncated entries are reported and recomputed, a run killed with SIGKILL
//! leaves a cache the next run uses correctly, two concurrent runs leave a
//! consistent cache, and `pipe cache ls | gc` inspect and prune it.

use pipe_tests::pipe;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const SMALL: &str = "\
let digits = dataset.digits()
let parts = dataset.split(digits, test: 0.2, seed: 1)
let calib = dataset.sample(parts.train, n: 64, seed: 2)
";

/// Big enough that writing its entries takes a while, so kills land mid-write.
const HEAVY: &str = "\
let big = dataset.shapes(n: 4000, size: 32, seed: 1)
let a = dataset.sample(big, n: 3000, seed: 1)
let b = dataset.sample(big, n: 3000, seed: 2)
let c = dataset.sample(a, n: 2000, seed: 3)
let d = dataset.split(b, test: 0.5, seed: 4)
";

fn setup(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.pipe");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

fn run_cmd(dir: &Path) -> Command {
    let mut c = pipe();
    c.current_dir(dir)
        .args(["run", "p.pipe", "--format", "json"]);
    c
}

fn run_json(dir: &Path) -> (Value, String) {
    let out: Output = run_cmd(dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "pipe run failed:\n{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

fn statuses(v: &Value) -> Vec<(String, String)> {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn key_of(v: &Value, name: &str) -> String {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string()
}

fn entry_file(dir: &Path, key: &str, suffix: &str) -> PathBuf {
    let entry = dir.join(".pipe-cache/entries").join(key).join("out");
    std::fs::read_dir(&entry)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no `{suffix}` file in {}", entry.display()))
}

#[test]
fn a_flipped_byte_is_reported_and_recomputed() {
    let (dir, _) = setup(SMALL);
    let (first, _) = run_json(dir.path());
    let key = key_of(&first, "parts");
    let victim = dir
        .path()
        .join(".pipe-cache/entries")
        .join(&key)
        .join("field-train/x.f32");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    let (second, stderr) = run_json(dir.path());
    assert!(
        stderr.contains(&format!("cache entry {}", &key[..12])),
        "{stderr}"
    );
    assert!(stderr.contains("does not match its hash"), "{stderr}");
    let s = statuses(&second);
    assert!(s.contains(&("parts".into(), "ran".into())), "{s:?}");
    assert!(s.contains(&("digits".into(), "cached".into())), "{s:?}");
    assert_eq!(key_of(&second, "parts"), key);
    let (third, stderr) = run_json(dir.path());
    assert!(
        statuses(&third).iter().all(|(_, s)| s == "cached"),
        "{third}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn truncated_missing_and_garbled_files_are_reported_and_recomputed() {
    let (dir, _) = setup(SMALL);
    let (first, _) = run_json(dir.path());
    let digits = key_of(&first, "digits");
    // `parts` is big enough to be an entry directory (`calib` is packed).
    let parts = key_of(&first, "parts");
    let truncated = entry_file(dir.path(), &digits, "x.f32");
    let len = std::fs::metadata(&truncated).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    std::fs::write(
        dir.path()
            .join(".pipe-cache/entries")
            .join(&parts)
            .join("manifest.json"),
        b"{not json",
    )
    .unwrap();
    let (second, stderr) = run_json(dir.path());
    assert!(
        stderr.contains(&format!("cache entry {}", &digits[..12])),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("cache entry {}", &parts[..12])),
        "{stderr}"
    );
    let s = statuses(&second);
    assert!(s.contains(&("digits".into(), "ran".into())), "{s:?}");
    assert!(s.contains(&("parts".into(), "ran".into())), "{s:?}");
    std::fs::remove_file(entry_file(dir.path(), &digits, "dataset.json")).unwrap();
    let (third, stderr) = run_json(dir.path());
    assert!(stderr.contains("digits"), "{stderr}");
    assert!(statuses(&third).contains(&("digits".into(), "ran".into())));
}

#[test]
fn a_run_killed_mid_write_leaves_a_cache_the_next_run_uses_correctly() {
    let (dir, _) = setup(HEAVY);
    let (clean, _) = {
        let reference = tempfile::tempdir().unwrap();
        std::fs::write(reference.path().join("p.pipe"), HEAVY).unwrap();
        run_json(reference.path())
    };
    for delay_ms in [30u64, 120, 250, 400, 700] {
        let mut child = run_cmd(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
    }
    let (after, stderr) = run_json(dir.path());
    assert_eq!(after["ok"], true, "{stderr}");
    for (a, b) in clean["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["nodes"].as_array().unwrap())
    {
        assert_eq!(a["key"], b["key"]);
        assert_eq!(
            a["metrics"], b["metrics"],
            "{} differs after the kills",
            a["name"]
        );
    }
    let (again, stderr) = run_json(dir.path());
    assert!(
        statuses(&again).iter().all(|(_, s)| s == "cached"),
        "{again}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    let leftovers = std::fs::read_dir(dir.path().join(".pipe-cache/tmp"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "tmp/ still holds copies from killed runs");
}

#[test]
fn two_concurrent_runs_leave_a_consistent_cache() {
    let (dir, _) = setup(HEAVY);
    let a = run_cmd(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = run_cmd(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ok"], true);
    }
    let va: Value = serde_json::from_slice(&a.stdout).unwrap();
    let vb: Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_eq!(
        va["nodes"].as_array().unwrap().len(),
        vb["nodes"].as_array().unwrap().len()
    );
    for (x, y) in va["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(vb["nodes"].as_array().unwrap())
    {
        assert_eq!(x["metrics"], y["metrics"]);
    }
    let (third, stderr) = run_json(dir.path());
    assert!(
        statuses(&third).iter().all(|(_, s)| s == "cached"),
        "{third}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    let entries = std::fs::read_dir(dir.path().join(".pipe-cache/entries"))
        .unwrap()
        .count();
    assert_eq!(entries, third["nodes"].as_array().unwrap().len());
}

#[test]
fn cache_ls_names_entries_and_gc_frees_unreachable_ones() {
    let (dir, file) = setup(SMALL);
    run_json(dir.path());
    std::fs::write(&file, SMALL.replace("seed: 2", "seed: 5")).unwrap();
    run_json(dir.path());
    let ls = pipe()
        .current_dir(dir.path())
        .args(["cache", "ls", "p.pipe"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ls.stdout);
    assert!(ls.status.success());
    assert!(
        text.contains("dataset.split") && text.contains("parts") && text.contains("4 entries"),
        "{text}"
    );
    let gc = pipe()
        .current_dir(dir.path())
        .args(["cache", "gc", "p.pipe"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&gc.stdout);
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(
        text.contains("removed")
            && text.contains("dataset.sample")
            && text.contains("in 1 entries"),
        "{text}"
    );
    let (after, _) = run_json(dir.path());
    assert!(statuses(&after).iter().all(|(_, s)| s == "cached"));
    let none = pipe()
        .current_dir(dir.path())
        .args(["cache", "gc"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2));
    let bad_age = pipe()
        .current_dir(dir.path())
        .args(["cache", "gc", "--older-than", "3w"])
        .output()
        .unwrap();
    assert_eq!(bad_age.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_age.stderr).contains("unknown unit"));
}
