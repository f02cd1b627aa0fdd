#!/usr/bin/env python3
"""Runs the Rust tensor benchmark and the PyTorch reference in one invocation,
both on 2 threads, and prints a Markdown table. Ratio = PyTorch time / our
time: above 1 we are faster.

    python3 bench/tensor/compare.py            # from the repository root
Needs torch (python3 -m pip install torch; see torch_ref.py).
"""
import json
import os
import subprocess
import sys

THREADS = "2"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rows(cmd, env=None):
    out = subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return {(r["model"], r["data"]): r for r in map(json.loads, filter(None, out.splitlines()))}


def main():
    env = dict(os.environ, RAYON_NUM_THREADS=THREADS)
    ours = rows(["cargo", "bench", "-q", "-p", "pipe-nn", "--bench", "tensor"], env)
    theirs = rows([sys.executable, os.path.join(ROOT, "bench/tensor/torch_ref.py"), THREADS],
                  dict(os.environ, OMP_NUM_THREADS=THREADS))
    print(f"| model | data | params (ours / torch) | train step b64 ms (ours / torch) | ratio "
          f"| inference b256 ms (ours / torch) | ratio | train peak MiB (ours) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, o in ours.items():
        t = theirs.get(key)
        if t is None:
            continue
        tr = t["train_ms"] / o["train_ms"]
        ir = t["infer_ms"] / o["infer_ms"]
        print(f"| {key[0]} | {key[1]} | {o['params']} / {t['params']} "
              f"| {o['train_ms']:.2f} / {t['train_ms']:.2f} | {tr:.2f}x "
              f"| {o['infer_ms']:.2f} / {t['infer_ms']:.2f} | {ir:.2f}x | {o['train_peak_mib']:.1f} |")


if __name__ == "__main__":
    main()
