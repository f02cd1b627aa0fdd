//! Hashing `path` inputs and reading `use` imports on hostile file systems, with
//! the real binary and a deadline on every call: symlink loops end, FIFOs are
//! skipped with a warning, `dir: "."` is cached on the second run (its `runs/` and
//! cache are not part of it) and its digests are kept in the cache, a `use` of a
//! FIFO or `/dev/zero` fails at once; a big sparse file hashes in bounded memory
//! (measured in a child process through `/proc/self/status`).
#![cfg(unix)]

use pipe_interp::digest_cache::DigestCache;
use pipe_interp::input_hash::InputHasher;
use pipe_tests::pipe;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Two CIFAR-10 records (label, then 3,072 pixel bytes each): a `test_batch.bin`.
fn cifar_batch() -> Vec<u8> {
    let mut v = Vec::new();
    for label in [3u8, 7] {
        v.push(label);
        v.extend((0..3072).map(|i| (i % 256) as u8));
    }
    v
}

/// Runs `pipe ARGS` in `dir`, failing the test if it takes over `secs`.
fn pipe_within(dir: &Path, args: &[&str], secs: u64) -> Output {
    let child = pipe()
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pipe starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(out) => out.expect("pipe ran"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("`pipe {}` did not finish within {secs}s", args.join(" "));
        }
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

fn statuses(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "pipe run failed: {}", stderr(out));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_symlink_loop_in_an_input_directory_ends() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("test_batch.bin"), cifar_batch()).unwrap();
    std::os::unix::fs::symlink(".", d.join("a")).unwrap();
    std::os::unix::fs::symlink(".", d.join("b")).unwrap();
    std::fs::write(
        dir.path().join("p.pipe"),
        "let c = dataset.cifar10(dir: \"d\", split: \"test\")\n",
    )
    .unwrap();
    for args in [
        &["graph", "p.pipe"][..],
        &["explain", "p.pipe", "c"],
        &["run", "p.pipe", "--format", "json"],
    ] {
        let out = pipe_within(dir.path(), args, 60);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let again = pipe_within(dir.path(), &["run", "p.pipe", "--format", "json"], 60);
    assert_eq!(statuses(&again), ["cached"]);
}

#[test]
fn a_fifo_in_an_input_directory_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("test_batch.bin"), cifar_batch()).unwrap();
    mkfifo(&d.join("pipe.fifo"));
    std::fs::write(
        dir.path().join("p.pipe"),
        "let c = dataset.cifar10(dir: \"d\", split: \"test\")\n",
    )
    .unwrap();
    let out = pipe_within(dir.path(), &["run", "p.pipe", "--format", "json"], 60);
    assert_eq!(statuses(&out), ["ran"]);
    let err = stderr(&out);
    assert!(
        err.contains("warning: input `") && err.contains("skipped `pipe.fifo` (a FIFO"),
        "{err}"
    );
}

#[test]
fn the_project_directory_as_an_input_is_cached_on_the_second_run() {
    for cache in [None, Some("inner-cache")] {
        let dir = tempfile::tempdir().unwrap();
        let batch = dir.path().join("test_batch.bin");
        std::fs::write(&batch, cifar_batch()).unwrap();
        std::fs::write(
            dir.path().join("p.pipe"),
            "let c = dataset.cifar10(dir: \".\", split: \"test\")\n",
        )
        .unwrap();
        // Older than the digest cache's racy margin, so its digest is kept.
        std::thread::sleep(Duration::from_millis(2100));
        let mut args = vec!["run", "p.pipe", "--format", "json"];
        args.extend(cache.iter().flat_map(|c| ["--cache", *c]));
        assert_eq!(statuses(&pipe_within(dir.path(), &args, 60)), ["ran"]);
        assert!(dir.path().join("runs").is_dir());
        let again = pipe_within(dir.path(), &args, 60);
        assert_eq!(statuses(&again), ["cached"], "{cache:?}");
        let cache_dir = dir.path().join(cache.unwrap_or(".pipe-cache"));
        let digests = std::fs::read_to_string(cache_dir.join("input-digests.json")).unwrap();
        assert!(digests.contains("test_batch.bin"), "{digests}");
    }
}

#[test]
fn a_use_of_a_fifo_or_a_device_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("lib.pipe"));
    for (target, kind) in [("lib.pipe", "a FIFO"), ("/dev/zero", "a device")] {
        std::fs::write(
            dir.path().join("p.pipe"),
            format!("use \"{target}\" as m\nlet d = dataset.digits()\n"),
        )
        .unwrap();
        let start = Instant::now();
        let out = pipe_within(dir.path(), &["check", "p.pipe"], 30);
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(text.contains("p.pipe:1:"), "{text}");
        assert!(
            text.contains(&format!(
                "cannot import `{target}`: is {kind}, not a regular file"
            )),
            "{text}"
        );
    }
}

/// The environment variable naming the file `hash_in_a_child` hashes.
const CHILD_FILE: &str = "PIPE_TEST_HASH_FILE";

/// Not a test of its own: the body of the child process of
/// `a_big_sparse_file_hashes_in_bounded_memory`, which runs it by name.
#[test]
#[ignore = "run by a_big_sparse_file_hashes_in_bounded_memory in a child process"]
fn hash_in_a_child() {
    let file = std::env::var(CHILD_FILE).expect("run by its parent test");
    let hasher = InputHasher::detached(DigestCache::empty(Duration::ZERO));
    hasher.hash_path(Path::new(&file)).unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    println!("bytes_read={}", hasher.bytes_read());
    println!("{hwm}");
}

#[test]
fn a_big_sparse_file_hashes_in_bounded_memory() {
    const SIZE: u64 = 1 << 30;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sparse.bin");
    std::fs::File::create(&file).unwrap().set_len(SIZE).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["hash_in_a_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_FILE, &file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains(&format!("bytes_read={SIZE}")), "{text}");
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {text}"));
    // Reading the file whole would need over 1,048,576 kB.
    assert!(kb < 128 * 1024, "peak resident set {kb} kB hashing 1 GiB");
}

/// Starts `pipe ARGS`, sends SIGINT after 1.5 s and returns the exit code and
/// stderr, failing if it is still running 15 s later.
fn interrupt_after_start(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = pipe()
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = sent + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`pipe {}`: Ctrl-C while hashing was ignored for 15 s",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.code(), err)
}

#[test]
fn ctrl_c_while_hashing_a_huge_input_exits_130_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // Sparse: no disk used, but tens of seconds to hash.
    let big = dir.path().join("big.csv");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 << 30)
        .unwrap();
    std::fs::write(
        dir.path().join("p.pipe"),
        "let t = sim.topology(file: \"big.csv\")\n",
    )
    .unwrap();
    let (code, err) = interrupt_after_start(dir.path(), &["run", "p.pipe"]);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(!dir.path().join("runs").exists(), "nothing ran");
    // Its own handler, not the default action (which a background start ignores).
    let (code, err) = interrupt_after_start(dir.path(), &["graph", "p.pipe"]);
    assert_eq!(code, Some(130), "{err}");
}
