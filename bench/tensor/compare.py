#!/usr/bin/env python3
"""Runs the Rust tensor benchmark and the PyTorch reference, both on 2 threads,
alternately for a number of rounds (default 3), and prints a Markdown table of
the per-row medians over the rounds. Ratio = PyTorch time / our time: above 1
we are faster. The ratio range is the lowest and highest ratio of a single
round, which shows how much the shared machine moved the numbers.

    python3 bench/tensor/compare.py            # from the repository root
    python3 bench/tensor/compare.py --rounds 5
Needs torch (python3 -m pip install torch; see torch_ref.py).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

THREADS = "2"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rows(cmd, env=None):
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return {(r["model"], r["data"]): r for r in map(json.loads, filter(None, out.splitlines()))}


def median(runs, key, field):
    return statistics.median(r[key][field] for r in runs)


def ratio_range(ours, theirs, key, field):
    ratios = [t[key][field] / o[key][field] for o, t in zip(ours, theirs)]
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    if rounds < 1:
        parser.error(f"--rounds must be at least 1, got {rounds}")
    env = dict(os.environ, RAYON_NUM_THREADS=THREADS)
    torch_env = dict(os.environ, OMP_NUM_THREADS=THREADS)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(rows(["cargo", "bench", "-q", "-p", "pipe-nn", "--bench", "tensor"], env))
        theirs.append(rows([sys.executable, os.path.join(ROOT, "bench/tensor/torch_ref.py"),
                            THREADS], torch_env))
    print(f"Medians of {rounds} alternating rounds (ms); ratio = PyTorch / ours.\n")
    print("| model | data | params (ours / torch) | train step b64 ms (ours / torch) | ratio "
          "| ratio range | inference b256 ms (ours / torch) | ratio | ratio range "
          "| train peak MiB (ours) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, o in ours[0].items():
        if any(key not in t for t in theirs):
            continue
        cells = []
        for field in ("train_ms", "infer_ms"):
            mine, ref = median(ours, key, field), median(theirs, key, field)
            cells.append(f"{mine:.2f} / {ref:.2f} | {ref / mine:.2f}x "
                         f"| {ratio_range(ours, theirs, key, field)}")
        print(f"| {key[0]} | {key[1]} | {o['params']} / {theirs[0][key]['params']} "
              f"| {cells[0]} | {cells[1]} | {median(ours, key, 'train_peak_mib'):.1f} |")


if __name__ == "__main__":
    main()
