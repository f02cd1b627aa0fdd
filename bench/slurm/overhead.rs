//! Overhead per node of `pipe run --executor slurm` against a local run, on a
//! real Slurm (`ops/start-slurm.sh`): a sweep of tiny `sim.nvm_cache`
//! nodes run locally, then through Slurm at several `--slurm-group` sizes, and
//! a short sweep at one node per task. Prints a Markdown table.
//!
//!     cargo bench -p pipe-cli --bench slurm_overhead
//!     BENCH_NODES=1000 BENCH_GROUPS=1000,100,25 BENCH_SINGLE=20 cargo bench ...

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sweep(nodes: usize) -> String {
    format!(
        "let net = sim.workload(name: \"resnet50\")\n\
         let sweep = for r in range(1000, {}) => sim.nvm_cache(workload: net, reads: r, writes: 7)\n",
        1000 + nodes
    )
}

/// Wall seconds of one `pipe run` on a fresh cache.
fn timed_run(dir: &Path, cache: &str, extra: &[&str]) -> f64 {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pipe"))
        .current_dir(dir)
        .args(["run", "p.pipe", "--format", "json", "--cache", cache])
        .args(extra)
        .output()
        .expect("pipe runs");
    let seconds = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "pipe run {extra:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    seconds
}

fn arrays(dir: &Path, cache: &str) -> usize {
    std::fs::read_dir(dir.join(cache).join("slurm/arrays"))
        .map(|d| d.count())
        .unwrap_or(0)
}

struct Row {
    executor: String,
    nodes: usize,
    tasks: usize,
    sbatch: usize,
    seconds: f64,
    local: f64,
}

fn measure(nodes: usize, groups: &[usize]) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("p.pipe"), sweep(nodes)).expect("write p.pipe");
    let local = timed_run(dir.path(), "local", &[]);
    let mut rows = vec![Row {
        executor: "local".into(),
        nodes: nodes + 1,
        tasks: 0,
        sbatch: 0,
        seconds: local,
        local,
    }];
    for &g in groups {
        let cache = format!("slurm-{g}");
        let group = g.to_string();
        let seconds = timed_run(
            dir.path(),
            &cache,
            &[
                "--executor",
                "slurm",
                "--slurm-poll",
                "0.5",
                "--slurm-group",
                &group,
            ],
        );
        rows.push(Row {
            executor: format!("slurm, {g} node(s)/task"),
            nodes: nodes + 1,
            tasks: 1 + nodes.div_ceil(g),
            sbatch: arrays(dir.path(), &cache),
            seconds,
            local,
        });
    }
    rows
}

fn main() {
    let nodes = env_usize("BENCH_NODES", 1000);
    let single = env_usize("BENCH_SINGLE", 20);
    let groups: Vec<usize> = std::env::var("BENCH_GROUPS")
        .unwrap_or_else(|_| "1000,100,25".into())
        .split(',')
        .filter_map(|g| g.trim().parse().ok())
        .filter(|&g| g > 0)
        .collect();
    let mut rows = measure(nodes, &groups);
    if single > 0 {
        rows.extend(measure(single, &[1]));
    }
    println!("| executor | nodes | array tasks | sbatch calls | wall (s) | overhead per node vs local (ms) |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let overhead = (r.seconds - r.local) / r.nodes as f64 * 1e3;
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.1} |",
            r.executor, r.nodes, r.tasks, r.sbatch, r.seconds, overhead
        );
    }
}
