#!/usr/bin/env python3
"""Peak memory of `dataset.image_folder` in memory vs streamed (`stream: true`).

Writes class-per-folder trees of N PNG images (SIDE x SIDE, RGB noise, so PNG
cannot compress them away), then times `pipe run` of a pipeline that lists the
folder, trains a small MLP for one epoch and evaluates it, once with the images
decoded into memory and once streamed; prints peak RSS (from /usr/bin/time -v)
for each N. Streaming keeps one batch of decoded images, so its peak should not
grow with N; the in-memory path grows with the decoded set (N * 3 * SIZE^2 * 4
bytes, plus the copy written to the cache).

    python3 bench/image_folder/stream_memory.py target/release/pipe /tmp/imgbench \
        --counts 1000 4000 --side 96 --size 64

Needs Pillow and numpy (CI's requirements) and GNU time.
"""
import argparse
import os
import re
import shutil
import subprocess
import time

import numpy as np
from PIL import Image

PIPELINE = """\
let data = dataset.image_folder(dir: "photos", size: {size}, stream: {stream})
let net = model.mlp(input: data, hidden: [32], seed: 1)
let fit = train.supervised(model: net, data: data, epochs: 1, batch_size: 64, seed: 1)
let acc = eval.classify(model: fit.model, data: data)
"""


def write_tree(root, count, side, classes=4):
    rng = np.random.default_rng(0)
    for i in range(count):
        d = os.path.join(root, "photos", f"c{i % classes}")
        os.makedirs(d, exist_ok=True)
        px = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        Image.fromarray(px).save(os.path.join(d, f"{i:07d}.png"))


def folder_bytes(root):
    total = 0
    for base, _, files in os.walk(os.path.join(root, "photos")):
        total += sum(os.path.getsize(os.path.join(base, f)) for f in files)
    return total


def peak_rss_mb(pipe, work, stream, size):
    with open(os.path.join(work, "p.pipe"), "w") as f:
        f.write(PIPELINE.format(size=size, stream=str(stream).lower()))
    cache = os.path.join(work, f"cache-{stream}")
    shutil.rmtree(cache, ignore_errors=True)
    start = time.time()
    out = subprocess.run(
        ["/usr/bin/time", "-v", pipe, "run", "p.pipe", "--cache", cache],
        cwd=work, capture_output=True, text=True,
    )
    wall = time.time() - start
    if out.returncode != 0:
        raise SystemExit(f"pipe run failed:\n{out.stderr}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return kb / 1024, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pipe")
    ap.add_argument("work")
    ap.add_argument("--counts", type=int, nargs="+", default=[1000, 4000])
    ap.add_argument("--side", type=int, default=96, help="side of the files")
    ap.add_argument("--size", type=int, default=64, help="declared size")
    args = ap.parse_args()
    pipe = os.path.abspath(args.pipe)
    print(f"files {args.side}x{args.side} RGB PNG, declared size {args.size}, load {os.getloadavg()[0]:.1f}")
    print("| images | folder MB | decoded set MB | in memory: peak RSS MB (s) | streamed: peak RSS MB (s) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for count in args.counts:
        work = os.path.join(args.work, f"n{count}")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        write_tree(work, count, args.side)
        decoded = count * 3 * args.size * args.size * 4 / 2**20
        mem, mem_s = peak_rss_mb(pipe, work, False, args.size)
        st, st_s = peak_rss_mb(pipe, work, True, args.size)
        print(f"| {count} | {folder_bytes(work) / 2**20:.0f} | {decoded:.0f} | "
              f"{mem:.0f} ({mem_s:.1f}) | {st:.0f} ({st_s:.1f}) |")


if __name__ == "__main__":
    main()
