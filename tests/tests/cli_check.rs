//! `pipe check` and `pipe fmt` as a user runs them: real files in a temporary
//! directory, the real binary, the real stdlib catalog. Checks the first line of
//! text output, the JSON shape, exit codes (0 clean or warnings, 1 errors, 2 I/O
//! or usage), several files per run and every error of a file in one run.

use pipe_tests::pipe;
use std::path::{Path, PathBuf};
use std::process::Output;

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn run(dir: &Path, args: &[&str]) -> Output {
    pipe().current_dir(dir).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const TWO_ERRORS: &str = "param bits = 4\nlet a = bitz\nlet d = dataset.digits()\nlet b = dataset.digitz()\nlet out = {a: a, b: b, bits: bits, d: d}\n";

#[test]
fn clean_file_exits_zero_and_prints_no_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.pipe", b"let d = dataset.digits()\n");
    let o = run(dir.path(), &["check", "ok.pipe"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn text_output_starts_with_file_line_col_and_lists_every_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "two.pipe", TWO_ERRORS.as_bytes());
    let o = run(dir.path(), &["check", "two.pipe"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert_eq!(
        out.lines().next(),
        Some("two.pipe:2:9: error[E0201]: unknown name `bitz`")
    );
    assert!(out.contains("did you mean `bits`?"), "{out}");
    assert!(
        out.contains("two.pipe:4:9: error[E0203]: unknown stage `dataset.digitz`"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "no colors when piped");
}

#[test]
fn warnings_alone_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "w.pipe", b"param unused = 3\n");
    let o = run(dir.path(), &["check", "w.pipe"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("w.pipe:1:7: warning[W0602]: unused param `unused`"));
}

#[test]
fn json_output_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "two.pipe", TWO_ERRORS.as_bytes());
    let o = run(dir.path(), &["check", "--format", "json", "two.pipe"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2);
    let first = &items[0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "code",
            "column",
            "end_column",
            "end_line",
            "file",
            "help",
            "labels",
            "line",
            "message",
            "severity"
        ]
    );
    assert_eq!(first["file"], "two.pipe");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "E0201");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(2), Some(9))
    );
    assert_eq!(
        (first["end_line"].as_u64(), first["end_column"].as_u64()),
        (Some(2), Some(13))
    );
    assert_eq!(first["help"], "did you mean `bits`?");
    let label = &first["labels"][0];
    assert_eq!(
        (label["line"].as_u64(), label["column"].as_u64()),
        (Some(2), Some(9))
    );
    assert!(label["message"].is_string());
    write(dir.path(), "clean.pipe", b"let d = dataset.digits()\n");
    let o = run(dir.path(), &["check", "--format", "json", "clean.pipe"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v, serde_json::json!([]));
    write(dir.path(), "warn.pipe", b"param p = 1\n");
    let o = run(dir.path(), &["check", "--format", "json", "warn.pipe"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["severity"], "warning");
    assert!(v[0]["help"].is_string());
}

#[test]
fn several_files_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ok.pipe", b"let d = dataset.digits()\n");
    write(dir.path(), "bad.pipe", b"let x = y\n");
    let o = run(dir.path(), &["check", "ok.pipe", "bad.pipe"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).starts_with("bad.pipe:1:9: error[E0201]"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("checked 2 files: 1 error"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unreadable_files_exit_two_with_a_reason_and_others_are_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.pipe", b"let x = y\n");
    write(dir.path(), "latin1.pipe", b"let s = \"caf\xe9\"\n");
    std::fs::create_dir(dir.path().join("folder.pipe")).unwrap();
    let cases = [
        ("missing.pipe", "no such file"),
        ("folder.pipe", "is a directory"),
        ("latin1.pipe", "not UTF-8"),
    ];
    for (file, reason) in cases {
        let o = run(dir.path(), &["check", file, "bad.pipe"]);
        assert_eq!(o.status.code(), Some(2), "{file}");
        let err = stderr(&o);
        assert!(err.contains(file) && err.contains(reason), "{file}: {err}");
        assert!(
            stdout(&o).contains("bad.pipe:1:9"),
            "{file}: other files still checked"
        );
    }
}

#[test]
fn no_files_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(dir.path(), &["check"]).status.code(), Some(2));
    assert_eq!(
        run(dir.path(), &["check", "--format", "xml", "a.pipe"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn imports_are_relative_to_the_importing_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "exp/lib/common.pipe", b"param seed = 3\n");
    write(
        dir.path(),
        "exp/main.pipe",
        b"use \"lib/common.pipe\" as c\nuse \"nope.pipe\" as n\nlet d = dataset.split(dataset.digits(), seed: c.seed)\nlet e = n.x\n",
    );
    let o = run(dir.path(), &["check", "exp/main.pipe"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.starts_with("exp/main.pipe:2:5: error[E0501]: cannot import `nope.pipe`: no such file"),
        "{out}"
    );
    assert_eq!(out.matches("error[").count(), 1, "{out}");
}

#[test]
fn import_cycles_name_the_whole_cycle() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.pipe", b"use \"b.pipe\" as b\nlet x = b.y\n");
    write(dir.path(), "b.pipe", b"use \"a.pipe\" as a\nlet y = a.x\n");
    let o = run(dir.path(), &["check", "a.pipe"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("a.pipe:1:5: error[E0502]: import cycle: a.pipe -> b.pipe -> a.pipe"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn fmt_check_lists_unformatted_files_and_fmt_rewrites_them() {
    let dir = tempfile::tempdir().unwrap();
    let messy = b"let   d=dataset.digits( )\nparam  bits =4 # keep me\n";
    let path = write(dir.path(), "messy.pipe", messy);
    let o = run(dir.path(), &["fmt", "--check", "messy.pipe"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("messy.pipe"));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        messy,
        "--check changes nothing"
    );
    let o = run(dir.path(), &["fmt", "messy.pipe"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let formatted = std::fs::read_to_string(&path).unwrap();
    assert_ne!(formatted.as_bytes(), messy);
    assert!(formatted.contains("# keep me"));
    let o = run(dir.path(), &["fmt", "--check", "messy.pipe"]);
    assert_eq!(o.status.code(), Some(0), "formatting is idempotent");
}

#[test]
fn fmt_refuses_files_with_syntax_errors_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let broken = b"let = = 3\n";
    let path = write(dir.path(), "broken.pipe", broken);
    let o = run(dir.path(), &["fmt", "broken.pipe"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("broken.pipe:1:"), "{}", stderr(&o));
    assert!(stderr(&o).contains("syntax errors"));
    assert_eq!(std::fs::read(&path).unwrap(), broken);
    let o = run(dir.path(), &["fmt", "missing.pipe"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such file"));
}
