#!/usr/bin/env python3
"""`pipe lsp` and starlark's language server side by side on the same file.

Both servers run as processes over stdio, are driven alternately (one round of
pipe, then one of each starlark mode, repeated), and see the same edits, so the
load of the machine weighs on them alike. Measured per round:

- didChange (full text) -> publishDiagnostics of that version;
- hover sent right after a didChange -> its response;
- completion sent right after a didChange -> its response.

The pipe file is N lines of params, stage calls, sweeps and comments (the
`lsp_latency` bench's blocks); the Starlark file has the same statements in
Starlark syntax (calls to functions named like the stages, sweeps as list
comprehensions). starlark runs in two modes: `--lsp` (parse + lints: syntax
only) and `--lsp --prelude` with a prelude defining the called functions (the
lints then also resolve names).

After the rounds it prints each server process's CPU time (user + system, from
/proc), which the machine's load does not inflate the way it inflates latency.

Usage: python3 bench/lsp/side_by_side.py STARLARK_BIN [--pipe PIPE_BIN]
       [--lines 5000] [--rounds 40] [--only-pipe]
starlark_bin 0.14.2 provides STARLARK_BIN (`cargo install starlark_bin
--version 0.14.2`). Prints one markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import queue
import time

BLOCK_LINES = 10


def pipe_block(i, rows):
    return (
        f"## Block {i}.\n"
        f"param rows_{i}: int = {rows}\n"
        f"let data_{i} = dataset.digits()\n"
        f"let parts_{i} = dataset.split(data_{i}, test: 0.2, seed: {i})\n"
        f"let net_{i} = model.mlp(input: parts_{i}.train, seed: {i})\n"
        f"let hw_{i} = sim.accelerator(model: net_{i}, pe: \"int8\", rows: rows_{i},\n"
        f"    cols: rows_{i}, glb: 128KiB, freq: 1GHz)\n"
        f"let sw_{i} = for pe in [\"int8\", \"int4\"] => "
        f"sim.accelerator(model: net_{i}, pe: pe, rows: rows_{i})\n"
        f"let all_{i} = [hw_{i}, sw_{i}]\n"
        f"# end of block {i}\n"
    )


def star_block(i, rows):
    return (
        f"# Block {i}.\n"
        f"rows_{i} = {rows}\n"
        f"data_{i} = dataset_digits()\n"
        f"parts_{i} = dataset_split(data_{i}, test = 0.2, seed = {i})\n"
        f"net_{i} = model_mlp(input = parts_{i}[\"train\"], seed = {i})\n"
        f"hw_{i} = sim_accelerator(model = net_{i}, pe = \"int8\", rows = rows_{i},\n"
        f"    cols = rows_{i}, glb = 131072, freq = 1000000000)\n"
        f"sw_{i} = [sim_accelerator(model = net_{i}, pe = pe, rows = rows_{i}) "
        f"for pe in [\"int8\", \"int4\"]]\n"
        f"all_{i} = [hw_{i}, sw_{i}]\n"
        f"# end of block {i}\n"
    )


PRELUDE = """\
def dataset_digits():
    return {"train": [], "test": []}

def dataset_split(data, test, seed):
    return {"train": data, "test": data}

def model_mlp(input, seed):
    return input

def sim_accelerator(model, pe, rows, cols = 0, glb = 0, freq = 0):
    return model
"""


def texts(block, lines):
    """Two versions of the file that differ in the first block's `rows`."""
    blocks = max(1, lines // BLOCK_LINES)
    rest = "".join(block(i, 16) for i in range(1, blocks))
    return [block(0, 16) + rest, block(0, 17) + rest]


class Server:
    def __init__(self, name, argv, uri, versions, hover_at, complete_at):
        self.name = name
        self.uri = uri
        self.versions = versions
        self.hover_at = hover_at
        self.complete_at = complete_at
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.inbox = queue.Queue()
        # Messages read while waiting for something else.
        self.pending = []
        threading.Thread(target=self._read, daemon=True).start()
        self.next_id = 0
        self.version = 1
        self.samples = {"change": [], "hover": [], "completion": []}
        self.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        self.notify("initialized", {})
        doc = {"uri": uri, "languageId": "x", "version": 1, "text": versions[0]}
        self.notify("textDocument/didOpen", {"textDocument": doc})
        self.wait_diagnostics(1)

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            self.inbox.put(json.loads(out.read(length)))

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        self.next_id += 1
        rid = self.next_id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            msg = self.inbox.get(timeout=60)
            if msg.get("id") == rid and "method" not in msg:
                return msg.get("result")
            self.pending.append(msg)

    def wait_diagnostics(self, version):
        def is_it(msg):
            if msg.get("method") != "textDocument/publishDiagnostics":
                return False
            params = msg["params"]
            return params["uri"] == self.uri and params.get("version") in (version, None)

        for msg in self.pending:
            if is_it(msg):
                self.pending = []
                return
        self.pending = []
        while not is_it(self.inbox.get(timeout=60)):
            pass

    def change(self):
        self.version += 1
        text = self.versions[self.version % 2]
        self.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [{"text": text}],
            },
        )
        return self.version

    def round(self):
        start = time.perf_counter()
        version = self.change()
        self.wait_diagnostics(version)
        self.samples["change"].append(time.perf_counter() - start)
        for kind, method, pos in (
            ("hover", "textDocument/hover", self.hover_at),
            ("completion", "textDocument/completion", self.complete_at),
        ):
            version = self.change()
            start = time.perf_counter()
            self.request(method, {"textDocument": {"uri": self.uri}, "position": pos})
            self.samples[kind].append(time.perf_counter() - start)
            self.wait_diagnostics(version)

    def cpu_seconds(self):
        """User + system CPU time the server process has used so far (Linux)."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        # utime and stime are fields 14 and 15 of stat; [0] here is field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.cpu = self.cpu_seconds() - self.cpu_at_start
        self.request("shutdown", None)
        self.notify("exit", None)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def stats(samples):
    s = sorted(samples)
    n = len(s)
    ms = lambda x: x * 1e3
    return n, ms(s[n // 2]), ms(s[min(n - 1, n * 95 // 100)]), ms(s[-1])


def position_after(text, needle):
    offset = text.rfind(needle) + len(needle)
    line = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return {"line": line, "character": col}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("starlark", help="the starlark binary (starlark_bin 0.14.2)")
    ap.add_argument("--pipe", default="pipe", help="the pipe binary (default: on PATH)")
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--only-pipe", action="store_true", help="measure pipe alone")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="lsp-side-by-side-")
    prelude = os.path.join(work, "prelude.star")
    with open(prelude, "w") as f:
        f.write(PRELUDE)
    pipe_texts = texts(pipe_block, args.lines)
    star_texts = texts(star_block, args.lines)
    last = max(1, args.lines // BLOCK_LINES) - 1
    pipe_hover = position_after(pipe_texts[0], f"let net_{last}")
    star_hover = position_after(star_texts[0], f"net_{last}")
    pipe_complete = position_after(pipe_texts[0], f"sim.accelerator(model: net_{last}, ")
    star_complete = position_after(star_texts[0], f"sim_accelerator(model = net_{last}, ")

    servers = [
        Server(
            "pipe lsp",
            [args.pipe, "lsp"],
            "file://" + os.path.join(work, "big.pipe"),
            pipe_texts,
            pipe_hover,
            pipe_complete,
        )
    ]
    if not args.only_pipe:
        for name, argv, stem in (
            ("starlark --lsp (syntax)", [args.starlark, "--lsp"], "syntax"),
            (
                "starlark --lsp --prelude (names)",
                [args.starlark, "--lsp", "--prelude", prelude],
                "names",
            ),
        ):
            uri = "file://" + os.path.join(work, f"big_{stem}.star")
            servers.append(Server(name, argv, uri, star_texts, star_hover, star_complete))

    load_before = os.getloadavg()
    for server in servers:
        server.cpu_at_start = server.cpu_seconds()
    for _ in range(args.rounds):
        for server in servers:
            server.round()
    for server in servers:
        server.close()

    lines = len(pipe_texts[0].splitlines())
    load = os.getloadavg()
    print(f"file: {lines} lines; {args.rounds} rounds, servers alternated; "
          f"load average before {load_before[0]:.1f} {load_before[1]:.1f} {load_before[2]:.1f}, "
          f"after {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print()
    print("| server | measurement | n | median ms | p95 ms | max ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    names = {
        "change": "didChange -> publishDiagnostics",
        "hover": "hover right after a didChange",
        "completion": "completion right after a didChange",
    }
    for kind in ("change", "hover", "completion"):
        for server in servers:
            n, med, p95, mx = stats(server.samples[kind])
            print(f"| {server.name} | {names[kind]} | {n} | {med:.2f} | {p95:.2f} | {mx:.2f} |")
    print()
    print("CPU time of each server process over the rounds (3 edits and 2 requests a round):")
    print()
    print("| server | CPU s | CPU ms per round |")
    print("| --- | ---: | ---: |")
    for server in servers:
        print(f"| {server.name} | {server.cpu:.2f} | {server.cpu * 1e3 / args.rounds:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
