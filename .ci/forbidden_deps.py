#!/usr/bin/env python3
"""Fails when a workspace crate depends directly on a crate the layering forbids
(docs/architecture.md, "Forbidden arrows"). Reads `cargo metadata --no-deps`;
every dependency kind counts (normal, build and dev). Usage: python3 .ci/forbidden_deps.py"""
import json
import subprocess
import sys

OURS = "pipe-"
# (crate, forbidden dependency, why); "pipe-*" means every crate of this workspace;
# any other name is one crate (ours or a registry's).
FORBIDDEN = [
    ("pipe-lang", "pipe-*", "the front end stands alone: stages come through the Catalog trait"),
    ("pipe-stdlib", "pipe-interp", "stages never see the interpreter"),
    ("pipe-interp", "pipe-nn", "the interpreter speaks stages, not tensors"),
    ("pipe-interp", "pipe-lsp", "the binary (pipe-cli) wires the language server"),
    ("pipe-interp", "pipe-cli", "the binary sits on top"),
    ("pipe-interp", "clap", "the command line is the binary's (pipe-cli); the interpreter exposes typed APIs"),
    ("pipe-interp", "anyhow", "the interpreter's errors are typed (thiserror); anyhow only in the binary"),
    ("pipe-interp", "ctrlc", "signal handlers are the process's, installed by the binary"),
    ("pipe-lsp", "pipe-interp", "the language server checks; it never runs"),
]


def main():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    deps = {p["name"]: {d["name"] for d in p["dependencies"]} for p in meta["packages"]}
    problems = []
    for crate, banned, why in FORBIDDEN:
        if crate not in deps:
            problems.append(f"{crate}: not a workspace member (update .ci/forbidden_deps.py)")
            continue
        hits = sorted(
            d for d in deps[crate] if d != crate and (d == banned or (banned == "pipe-*" and d.startswith(OURS)))
        )
        problems += [f"{crate} depends on {d}: forbidden ({why})" for d in hits]
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"dependency layering ok: {len(FORBIDDEN)} rules over {len(deps)} crates")


if __name__ == "__main__":
    main()
