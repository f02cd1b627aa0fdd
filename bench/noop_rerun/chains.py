"""Writes the same N-stage chain for pipe, DVC and Snakemake under WORK.

pipe: dataset.digits then N-1 dataset.sample stages, each reading the previous.
DVC and Snakemake: N stages, each a python3 step that samples lines of the
previous stage's output file. Usage: chains.py WORK N
"""
import os
import sys

work, n = sys.argv[1], int(sys.argv[2])

STEP = """import random, sys
src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src).read().splitlines()
random.Random(seed).shuffle(lines)
open(dst, "w").write("\\n".join(lines[:100]) + "\\n")
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


pipe = ["let n0 = dataset.digits()"]
pipe += [f"let n{i} = dataset.sample(n{i - 1}, n: 100, seed: {i})" for i in range(1, n)]
write(f"{work}/pipe/chain.pipe", "\n".join(pipe) + "\n")

seed_data = "".join(f"{i},{i * 7 % 10}\n" for i in range(1797))
for tool in ("dvc", "snakemake"):
    write(f"{work}/{tool}/step.py", STEP)
    write(f"{work}/{tool}/f0.txt", seed_data)

dvc = ["stages:"]
for i in range(1, n):
    dvc += [
        f"  s{i}:",
        f"    cmd: python3 step.py f{i - 1}.txt f{i}.txt {i}",
        f"    deps: [step.py, f{i - 1}.txt]",
        f"    outs: [f{i}.txt]",
    ]
write(f"{work}/dvc/dvc.yaml", "\n".join(dvc) + "\n")

snake = [f"rule all:\n    input: 'f{n - 1}.txt'\n"]
for i in range(1, n):
    snake.append(
        f"rule s{i}:\n    input: 'f{i - 1}.txt', 'step.py'\n    output: 'f{i}.txt'\n"
        f"    shell: 'python3 step.py f{i - 1}.txt f{i}.txt {i}'\n"
    )
write(f"{work}/snakemake/Snakefile", "\n".join(snake))
