"""Times the no-op reruns (everything already up to date) and prints a table.

Usage: timing.py WORK REPS PIPE N. Each command runs once untimed (warm-up),
then REPS times; the table shows medians and how many times slower each tool
is than pipe. Also checks each no-op rerun really did nothing.
"""
import statistics
import subprocess
import sys
import time

work, reps, pipe, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

commands = {
    "pipe run": ([pipe, "run", "chain.pipe", "--format", "json"], f"{work}/pipe"),
    "dvc repro": (["dvc", "repro"], f"{work}/dvc"),
    "snakemake": (["snakemake", "--cores", "1"], f"{work}/snakemake"),
}


def once(cmd, cwd):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return dt, out.stdout + out.stderr


medians = {}
for name, (cmd, cwd) in commands.items():
    _, text = once(cmd, cwd)
    if name == "pipe run" and '"status":"ran"' in text:
        sys.exit("pipe reran something on a no-op rerun")
    if name == "dvc repro" and "up to date" not in text:
        sys.exit(f"dvc repro was not a no-op:\n{text}")
    if name == "snakemake" and "Nothing to be done" not in text:
        sys.exit(f"snakemake was not a no-op:\n{text}")
    times = [once(cmd, cwd)[0] for _ in range(reps)]
    medians[name] = statistics.median(times)

base = medians["pipe run"]
print(f"no-op rerun of a cached {n}-stage chain, median of {reps} runs")
print(f"{'tool':<12} {'median ms':>10} {'x pipe':>8}")
for name, m in medians.items():
    print(f"{name:<12} {m * 1000:>10.1f} {m / base:>8.1f}")
