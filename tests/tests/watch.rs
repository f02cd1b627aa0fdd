//! `pipe watch`: a real process reruns what a save invalidated and stops cleanly
//! on Ctrl-C (SIGINT); as a library with a slow test stage, a save that changes
//! a running node's inputs cancels it and starts over.

mod run_support;

use pipe_interp::watch::{watch, WatchOptions};
use pipe_tests::pipe;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Waits for a line containing `needle`, returning every line seen.
fn wait_for(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, needle: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return;
            }
        }
    }
    panic!(
        "no line with `{needle}` within {secs}s; saw:\n{}",
        seen.join("\n")
    );
}

#[test]
fn watch_reruns_after_a_save_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.pipe");
    std::fs::write(&file, "param seed: int = 0\nlet d = dataset.digits()\nlet s = dataset.sample(d, n: 10, seed: seed)\n").unwrap();
    let mut child = pipe()
        .current_dir(dir.path())
        .args(["watch", "p.pipe"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    wait_for(&rx, &mut seen, "run 1: 2 ran", 60);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&file, "param seed: int = 0\nlet d = dataset.digits()\nlet s = dataset.sample(d, n: 10, seed: 7)\n").unwrap();
    wait_for(&rx, &mut seen, "run 2: 1 ran, 1 cached", 60);
    assert!(
        seen.iter()
            .any(|l| l.starts_with("ran") && l.contains(" s ")),
        "{seen:?}"
    );
    // An error is shown at once; nothing runs until it is fixed.
    std::fs::write(&file, "let d = dataset.digts()\n").unwrap();
    wait_for(&rx, &mut seen, "fix the errors above", 60);
    assert!(seen.iter().any(|l| l.contains("p.pipe:1:")), "{seen:?}");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for(&rx, &mut seen, "stopped watching", 30);
    let code = child.wait().unwrap();
    assert_eq!(code.code(), Some(0));
}

#[test]
fn a_save_that_changes_a_running_node_cancels_it_and_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.pipe");
    std::fs::write(&file, "let slow = sim.source(value: 1.0, ms: 20000)\n").unwrap();
    let opts = WatchOptions {
        file: file.clone(),
        names: vec![],
        sets: vec![],
        cache_dir: dir.path().join(".pipe-cache"),
        jobs: 2,
    };
    let table = run_support::stages(1);
    let stop = AtomicBool::new(false);
    let lines = Mutex::new(Vec::<String>::new());
    let (tx, rx) = mpsc::channel::<String>();
    let tx = Mutex::new(tx);
    let emit = |l: &str| {
        lines.lock().unwrap().push(l.to_string());
        let _ = tx.lock().unwrap().send(l.to_string());
    };
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| watch(&opts, &table, &stop, &emit).unwrap());
        std::thread::sleep(Duration::from_millis(700));
        std::fs::write(&file, "let slow = sim.source(value: 2.0, ms: 50)\n").unwrap();
        let mut seen = Vec::new();
        wait_for(&rx, &mut seen, "run 2: 1 ran", 15);
        stop.store(true, Ordering::SeqCst);
    });
    let lines = lines.into_inner().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "the stale node was not cancelled"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cancelling 1 running node")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("failed") && l.contains("cancelled")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ran") && l.contains("value=2")),
        "{lines:?}"
    );
}
