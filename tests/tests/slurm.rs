//! `pipe run --executor slurm` against a real single-node Slurm
//! (`ops/start-slurm.sh`): a 1,000-node sweep through few `sbatch`
//! calls with the keys and metrics of a local run, a killed task retried, Ctrl-C
//! leaving no job queued or running, and a rerun after the controller was killed
//! submitting nothing again. Skipped (with a note) when `sinfo` is missing,
//! unless PIPE_REQUIRE_SLURM=1 (CI). The error tests for a missing or
//! unreachable Slurm run everywhere.

use pipe_tests::{pipe, pipe_bin};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn slurm_available() -> bool {
    let present = Command::new("sinfo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        assert_ne!(
            std::env::var("PIPE_REQUIRE_SLURM").as_deref(),
            Ok("1"),
            "PIPE_REQUIRE_SLURM=1 but `sinfo` is not on PATH: run ops/start-slurm.sh"
        );
        eprintln!("note: Slurm (`sinfo`) is not installed; skipping (see ops/README.md)");
    }
    present
}

/// A directory with the pipeline and an `sbatch` wrapper that logs each call
/// (`<job id> <script>`), keeps a copy of the array's task list as
/// `tasks-<job id>`, and runs the real `sbatch`.
struct Setup {
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Setup {
    fn new(source: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.pipe"), source).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let real = String::from_utf8(
            Command::new("sh")
                .args(["-c", "command -v sbatch"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let log = dir.path().join("sbatch.log");
        let wrapper = format!(
            "#!/bin/sh\nout=$('{}' \"$@\") || exit $?\nfor last; do :; done\ncp \"$(dirname \"$last\")/tasks\" '{}/tasks-'\"${{out%%;*}}\"\necho \"$out $last\" >> '{}'\necho \"$out\"\n",
            real.trim(),
            dir.path().display(),
            log.display()
        );
        let path = bin.join("sbatch");
        std::fs::write(&path, wrapper).unwrap();
        Command::new("chmod").arg("+x").arg(&path).status().unwrap();
        Setup { dir, log }
    }

    fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    fn command(&self, cache: &str, extra: &[&str]) -> Command {
        let mut c = pipe();
        c.current_dir(self.dir.path())
            .env("PATH", self.path_env())
            .args(["run", "p.pipe", "--format", "json", "--cache", cache])
            .args(["--executor", "slurm", "--slurm-poll", "0.3"])
            .args(extra);
        c
    }

    /// Each `sbatch` call so far: (job id, the keys of each array task).
    fn submissions(&self) -> Vec<(String, Vec<Vec<String>>)> {
        let Ok(text) = std::fs::read_to_string(&self.log) else {
            return Vec::new();
        };
        // `sbatch --version` (the controller's probe) is logged too; only
        // submissions name a batch script.
        text.lines()
            .filter(|line| line.ends_with("job.sh"))
            .map(|line| {
                let (id, _script) = line.split_once(' ').unwrap();
                // The wrapper copied the task list at submission: the controller
                // removes an array's folder once every task in it succeeded.
                let id = id.split(';').next().unwrap_or(id);
                let tasks = self.dir.path().join(format!("tasks-{id}"));
                let tasks = std::fs::read_to_string(tasks).unwrap();
                let keys = tasks
                    .lines()
                    .map(|l| l.split_whitespace().map(String::from).collect())
                    .collect();
                (id.to_string(), keys)
            })
            .collect()
    }

    fn submitted_keys(&self) -> Vec<String> {
        self.submissions()
            .into_iter()
            .flat_map(|(_, tasks)| tasks.into_iter().flatten())
            .collect()
    }
}

fn summary(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// name -> (key, metrics) of every node of a summary.
fn by_name(summary: &Value) -> BTreeMap<String, (Value, Value)> {
    summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                (n["key"].clone(), n["metrics"].clone()),
            )
        })
        .collect()
}

fn local_run(dir: &Path, cache: &str) -> Value {
    let out = pipe()
        .current_dir(dir)
        .args(["run", "p.pipe", "--format", "json", "--cache", cache])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    summary(&out)
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the controller did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child_output(child)
}

fn child_output(child: &mut Child) -> Output {
    use std::io::Read;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_end(&mut stdout).unwrap();
    }
    if let Some(mut s) = child.stderr.take() {
        s.read_to_end(&mut stderr).unwrap();
    }
    Output {
        status: child.wait().unwrap(),
        stdout,
        stderr,
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} {pid}");
}

/// Array tasks of `job_ids` Slurm still queues or runs (squeue's default states).
fn alive_tasks(job_ids: &[String]) -> String {
    let out = Command::new("squeue")
        .args(["--noheader", "--array", "--format=%i %T"])
        .arg(format!("--jobs={}", job_ids.join(",")))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn cache_has(dir: &Path, cache: &str, key: &str) -> bool {
    dir.join(cache)
        .join("entries")
        .join(key)
        .join("manifest.json")
        .is_file()
}

/// `n` thermal simulations of about a second each (9,000 s in 1 ms steps).
fn thermal_sweep(n: usize) -> String {
    let points: Vec<String> = (0..n).map(|i| format!("{}s", 9000 + i)).collect();
    format!(
        "let large = sim.workload(name: \"mobilenet_v2\")\n\
         let small = sim.workload(name: \"mobilenet_v2_0.5\")\n\
         let runs = for d in [{}] =>\n    \
         sim.thermal(models: [large, small], duration: d, step: 1ms, sample: 1000s, accuracy: [0.72, 0.654])\n",
        points.join(", ")
    )
}

#[test]
fn a_sweep_of_1000_nodes_matches_a_local_run_in_few_sbatch_calls() {
    if !slurm_available() {
        return;
    }
    let source = "let net = sim.workload(name: \"resnet50\")\n\
                  let sweep = for r in range(1000, 2000) => sim.nvm_cache(workload: net, reads: r, writes: 7)\n";
    let s = Setup::new(source);
    let local = local_run(s.dir.path(), "local-cache");
    let out = s
        .command("slurm-cache", &["--slurm-group", "100"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let remote = summary(&out);
    assert_eq!(remote["nodes"].as_array().unwrap().len(), 1001);
    assert_eq!(by_name(&local), by_name(&remote));
    let submissions = s.submissions();
    assert!(
        (1..=20).contains(&submissions.len()),
        "{} sbatch calls",
        submissions.len()
    );
    assert_eq!(s.submitted_keys().len(), 1001, "every node submitted once");
}

/// Issue 20: with no flags at all (default group, default poll), a cold
/// 1,000-point `sim.accelerator` sweep is packed into a few array tasks by the
/// stage's cost class: at most 20 `sbatch` calls and well under 5 minutes,
/// where one task per node took about 20 minutes on this Slurm.
#[test]
fn a_1000_node_accelerator_sweep_needs_no_flags() {
    if !slurm_available() {
        return;
    }
    let source = "let net = sim.workload(name: \"mobilenet_v2\")\n\
                  let hw = for rows in range(1, 1001) => sim.accelerator(model: net, rows: rows, cols: 16)\n";
    let s = Setup::new(source);
    let start = Instant::now();
    let mut command = pipe();
    command
        .current_dir(s.dir.path())
        .env("PATH", s.path_env())
        .args([
            "run",
            "p.pipe",
            "--format",
            "json",
            "--cache",
            "slurm-cache",
        ])
        .args(["--executor", "slurm"]);
    // The summary of 1,001 nodes outgrows a pipe's buffer: read it while the
    // controller runs (`output`), on a thread so the wait can time out.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(command.output()));
    let out = receiver
        .recv_timeout(Duration::from_secs(300))
        .expect("the sweep did not finish within 5 minutes")
        .unwrap();
    let wall = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let submissions = s.submissions();
    let tasks: usize = submissions.iter().map(|(_, t)| t.len()).sum();
    eprintln!(
        "1,001 nodes in {:.1} s: {} sbatch calls, {tasks} array tasks",
        wall.as_secs_f64(),
        submissions.len()
    );
    assert!(
        (1..=20).contains(&submissions.len()),
        "{} sbatch calls",
        submissions.len()
    );
    assert!(tasks <= 20, "{tasks} array tasks for cheap nodes");
    assert_eq!(s.submitted_keys().len(), 1001, "every node submitted once");
    let remote = summary(&out);
    let local = local_run(s.dir.path(), "local-cache");
    assert_eq!(by_name(&local), by_name(&remote));
    let times = s.dir.path().join("slurm-cache/slurm/stage-seconds.json");
    let times = std::fs::read_to_string(&times).expect("the recorded stage times");
    assert!(times.contains("sim.accelerator"), "{times}");
}

#[test]
fn a_task_killed_mid_run_is_retried_and_the_result_is_correct() {
    if !slurm_available() {
        return;
    }
    let s = Setup::new(&thermal_sweep(6));
    let mut child = s
        .command("cache", &["--slurm-group", "6"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The sweep's one task: wait until it finished a node, then kill its worker.
    wait_until("the sweep's task", Duration::from_secs(60), || {
        s.submissions().iter().any(|(_, t)| t[0].len() == 6)
    });
    let (_, first) = s
        .submissions()
        .into_iter()
        .find(|(_, t)| t[0].len() == 6)
        .unwrap();
    let dir = s.dir.path();
    wait_until("a finished node", Duration::from_secs(60), || {
        first[0].iter().any(|k| cache_has(dir, "cache", k))
    });
    let pid = worker_pid(dir).expect("the worker is still running");
    signal(pid, "-KILL");
    let done_at_kill: Vec<&String> = first[0]
        .iter()
        .filter(|k| cache_has(dir, "cache", k))
        .collect();
    let out = wait_exit(&mut child, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resubmitted: Vec<String> = s.submissions()[2..]
        .iter()
        .flat_map(|(_, t)| t.iter().flatten().cloned())
        .collect();
    assert!(!resubmitted.is_empty(), "the killed task was not retried");
    for k in done_at_kill {
        assert!(
            !resubmitted.contains(k),
            "{k} finished before the kill but was resubmitted"
        );
    }
    let local = local_run(dir, "local-cache");
    assert_eq!(by_name(&local), by_name(&summary(&out)));
}

/// The pid of a `pipe worker` whose task list is under `dir`.
fn worker_pid(dir: &Path) -> Option<u32> {
    let needle = dir.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.get(1).map(String::as_str) == Some("worker")
            && args.iter().any(|a| a.contains(&needle))
        {
            return Some(pid);
        }
    }
    None
}

#[test]
fn ctrl_c_cancels_every_submitted_job() {
    if !slurm_available() {
        return;
    }
    let nodes = 20;
    let s = Setup::new(&thermal_sweep(nodes));
    let mut child = s
        .command("cache", &["--slurm-group", "10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the sweep's array", Duration::from_secs(60), || {
        s.submissions().len() == 2
    });
    let ids: Vec<String> = s.submissions().into_iter().map(|(id, _)| id).collect();
    wait_until("a running task", Duration::from_secs(60), || {
        alive_tasks(&ids[1..]).contains("RUNNING")
    });
    signal(child.id(), "-INT");
    let out = wait_exit(&mut child, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(alive_tasks(&ids), "", "jobs left after Ctrl-C");
    let v = summary(&out);
    let cancelled = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["error"] == "cancelled")
        .count();
    assert_eq!(cancelled, nodes, "{v}");
}

#[test]
fn a_rerun_after_killing_the_controller_resubmits_nothing_that_finished() {
    if !slurm_available() {
        return;
    }
    let s = Setup::new(&thermal_sweep(5));
    let mut first = s
        .command("cache", &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dir = s.dir.path();
    wait_until("the sweep's array", Duration::from_secs(60), || {
        s.submissions().len() == 2
    });
    let sweep: Vec<String> = s.submissions()[1].1.iter().flatten().cloned().collect();
    wait_until("a finished sweep node", Duration::from_secs(60), || {
        sweep.iter().any(|k| cache_has(dir, "cache", k))
    });
    signal(first.id(), "-KILL");
    let _ = first.wait();
    let before = s.submitted_keys();
    let out = s.command("cache", &[]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        s.submitted_keys(),
        before,
        "the rerun submitted nodes again"
    );
    let v = summary(&out);
    let statuses: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"cached"), "{v}");
    let local = local_run(dir, "local-cache");
    assert_eq!(by_name(&local), by_name(&v));
}

#[test]
fn without_slurm_commands_the_error_names_what_was_tried() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), "let net = sim.workload()\n").unwrap();
    let out = Command::new(pipe_bin())
        .current_dir(dir.path())
        .env("PATH", dir.path().join("no-bin"))
        .args(["run", "p.pipe", "--executor", "slurm"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`sbatch --version`") && stderr.contains("not on PATH"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_controller_is_reported_with_the_squeue_call() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), "let net = sim.workload()\n").unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for (name, body) in [
        ("sbatch", "echo 'slurm 22.05.8'"),
        ("scancel", "echo 'slurm 22.05.8'"),
        (
            "squeue",
            "echo 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)' >&2; exit 1",
        ),
    ] {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    }
    let out = Command::new(pipe_bin())
        .current_dir(dir.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .args(["run", "p.pipe", "--executor", "slurm"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`squeue --noheader --me --format=%i` failed")
            && stderr.contains("Unable to contact slurm controller")
            && stderr.contains("sinfo"),
        "{stderr}"
    );
    assert!(!dir.path().join("runs").exists(), "nothing ran");
}
