"""No-op reruns at scale (issue 20): pipe alone, on a sim.accelerator sweep of
SIDE x SIDE points and a dataset.sample chain of DEPTH stages.

Usage: scale.py PIPE WORK [--side 100] [--depth 20000] [--reps 5]
For each workload: the first run (seconds, CPU seconds, peak RSS), then REPS
no-op reruns (median seconds and CPU seconds, peak RSS), checked to run
nothing; the cache's size on disk (du, per point) and the files each no-op
rerun writes under runs/. CPU time (user + system) is the steady figure on a
shared machine; the load average is printed with the table. Then one
entry file is changed and one deleted, and the next rerun must rerun exactly
those two nodes (the stat stamps must not hide a change).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def sweep(side):
    return (
        'let net = sim.workload(name: "mobilenet_v2")\n'
        f"let hw = for rows in range(1, {side + 1}), cols in range(1, {side + 1}) =>\n"
        '    sim.accelerator(model: net, pe: "int8", rows: rows, cols: cols, dataflow: "os",\n'
        "                    glb: 128KiB, spad: 64B, freq: 1GHz, bandwidth: 16.0)\n"
    )


def chain(depth):
    lines = ["let n0 = dataset.digits()"]
    lines += [f"let n{i} = dataset.sample(n{i - 1}, n: 100, seed: {i})" for i in range(1, depth)]
    return "\n".join(lines) + "\n"


def timed(pipe, cwd):
    """Runs `pipe run p.pipe --format json` in a child; (seconds, CPU seconds,
    peak RSS MB, json)."""
    out = subprocess.run(
        ["/usr/bin/env", "python3", "-c", RSS_CHILD, pipe, cwd],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit(f"pipe run failed in {cwd}:\n{out.stderr[-2000:]}")
    rss_kb, seconds, cpu, stdout = out.stdout.split("\n", 3)
    return float(seconds), float(cpu), int(rss_kb) / 1024, json.loads(stdout)


# The child measures only pipe: its own RUSAGE_CHILDREN after pipe exits.
RSS_CHILD = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
out = subprocess.run([sys.argv[1], "run", "p.pipe", "--format", "json"], cwd=sys.argv[2],
                     capture_output=True, text=True)
dt = time.perf_counter() - t0
if out.returncode != 0:
    sys.stderr.write(out.stderr)
    sys.exit(1)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(usage.ru_maxrss)
print(dt)
print(usage.ru_utime + usage.ru_stime)
sys.stdout.write(out.stdout)
"""


def du_bytes(path):
    out = subprocess.run(["du", "-sk", path], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) * 1024


def count_files(path):
    return sum(len(files) for _, _, files in os.walk(path))


def statuses(v):
    counts = {}
    for n in v["nodes"]:
        counts[n["status"]] = counts.get(n["status"], 0) + 1
    return counts


def damage_two(work, v):
    """Changes one entry file (same size) and deletes another; returns the names
    of the nodes that must rerun. A packed entry is damaged by flipping a byte in
    the middle of its pack (whichever record that byte belongs to must rerun, so
    then at least one node must)."""
    nodes = [n for n in v["nodes"] if n["key"]]
    picked = [nodes[len(nodes) // 3], nodes[2 * len(nodes) // 3]]
    must = set()
    for i, n in enumerate(picked):
        entry = os.path.join(work, ".pipe-cache/entries", n["key"])
        if not os.path.isdir(entry):
            continue
        files = sorted(
            os.path.join(d, f)
            for d, _, fs in os.walk(entry)
            for f in fs
            if f not in ("manifest.json", "stamp")
        )
        if i == 0:
            with open(files[0], "r+b") as f:
                b = f.read(1)
                f.seek(0)
                f.write(bytes([b[0] ^ 1]))
        else:
            os.remove(files[0])
        must.add(n["name"])
    if not must:
        packs = os.path.join(work, ".pipe-cache/packs")
        biggest = max(
            (os.path.join(packs, p) for p in os.listdir(packs) if p.endswith(".pack")),
            key=os.path.getsize,
        )
        with open(biggest, "r+b") as f:
            f.seek(os.path.getsize(biggest) // 2)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0x55]))
    return must


def bench(name, text, pipe, root, reps):
    work = os.path.join(root, name)
    os.makedirs(work)
    with open(os.path.join(work, "p.pipe"), "w") as f:
        f.write(text)
    first_s, first_cpu, first_rss, v = timed(pipe, work)
    points = len(v["nodes"])
    cache = du_bytes(os.path.join(work, ".pipe-cache"))
    runs_before = count_files(os.path.join(work, "runs"))
    times, cpus, rss = [], [], []
    for _ in range(reps):
        s, c, r, v = timed(pipe, work)
        if statuses(v).get("ran"):
            sys.exit(f"{name}: a no-op rerun ran {statuses(v)}")
        times.append(s)
        cpus.append(c)
        rss.append(r)
    runs_after = count_files(os.path.join(work, "runs"))
    damaged = damage_two(work, v)
    time.sleep(0.05)
    _, _, _, after = timed(pipe, work)
    reran = {n["name"] for n in after["nodes"] if n["status"] == "ran"}
    if not damaged <= reran or not reran:
        sys.exit(f"{name}: changed entries {damaged} were not rerun (reran {sorted(reran)[:5]})")
    print(
        f"{name:<22} {points:>7} {first_s:>8.2f} {first_cpu:>8.2f} {first_rss:>8.0f} "
        f"{statistics.median(times) * 1000:>9.0f} {statistics.median(cpus) * 1000:>8.0f} "
        f"{max(rss):>7.0f} "
        f"{cache / 2**20:>9.1f} {cache / points:>8.0f} {(runs_after - runs_before) / reps:>7.0f}"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pipe")
    ap.add_argument("work")
    ap.add_argument("--side", type=int, default=100)
    ap.add_argument("--depth", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    print(f"no-op reruns at scale, median of {a.reps} (first run, then no-ops; RSS peak)")
    print(f"load average at start: {os.getloadavg()}")
    print(
        f"{'workload':<22} {'nodes':>7} {'first s':>8} {'1st CPU':>8} {'1st MB':>8} "
        f"{'no-op ms':>9} {'CPU ms':>8} {'RSS MB':>7} {'cache MB':>9} {'B/node':>8} {'files':>7}"
    )
    if a.side:
        bench(f"sweep {a.side}x{a.side}", sweep(a.side), a.pipe, a.work, a.reps)
    if a.depth:
        bench(f"chain {a.depth}", chain(a.depth), a.pipe, a.work, a.reps)
    print("(files: files a no-op rerun adds under runs/; a changed and a deleted entry file were rerun)")
    print(f"load average at end: {os.getloadavg()}")


main()
