#!/usr/bin/env python3
"""Opens a run's report.html in real headless Chromium and checks what a person sees.

Usage: check_report.py RUN_DIR/report.html

- the page renders: the DOM Chromium built holds the stage graph and every plot;
- the SVGs are visible: a screenshot has pixels of the graph's status colours;
- nothing is fetched from outside: Chromium's network log has no request but the
  file itself (the page's Content-Security-Policy forbids every fetch; this checks
  that the browser saw none).

Needs Debian's `chromium` and Pillow (.ci/requirements.txt). Exits non-zero with a
message on the first failed check.
"""
import json
import pathlib
import subprocess
import sys
import tempfile

from PIL import Image

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]
# Status fills of interp/src/report_html.rs, as RGB.
STATUS_FILLS = {"ran": (0x7C, 0xC4, 0x7C), "cached": (0x8F, 0xB3, 0xE0)}


def chromium(args, profile):
    cmd = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def fail(message):
    print(f"check_report: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def page_requests(net_log):
    """Every URL the page itself asked for, from Chromium's NetLog JSON. The
    browser's own background requests (update checks, account probes) carry the
    initiator "not an origin"; a request made by a file:// page carries its opaque
    origin, "null"."""
    log = json.loads(net_log.read_text() or "{}")
    start_job = log.get("constants", {}).get("logEventTypes", {}).get("URL_REQUEST_START_JOB")
    urls = set()
    for event in log.get("events", []):
        params = event.get("params", {})
        if event.get("type") != start_job or "url" not in params:
            continue
        if params.get("initiator") != "not an origin":
            urls.add(params["url"])
    return urls


def main():
    if len(sys.argv) != 2:
        fail("usage: check_report.py RUN_DIR/report.html")
    page = pathlib.Path(sys.argv[1]).resolve()
    if not page.is_file():
        fail(f"{page} does not exist")
    url = page.as_uri()
    html = page.read_text()
    plots = html.count("<figure><svg")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        net_log = tmp / "net.json"
        dom = chromium([f"--log-net-log={net_log}", "--dump-dom", url], tmp / "p1")
        if dom.returncode != 0:
            fail(f"chromium --dump-dom exited {dom.returncode}: {dom.stderr[-2000:]}")
        if 'class="graph"' not in dom.stdout and "too many to draw" not in dom.stdout:
            fail("the rendered DOM has no stage graph")
        if dom.stdout.count("<figure><svg") != plots:
            fail(f"the rendered DOM has {dom.stdout.count('<figure><svg')} plots, the file {plots}")
        outside = {u for u in page_requests(net_log) if u != url}
        if outside:
            fail(f"the page fetched {sorted(outside)}")

        shot = tmp / "shot.png"
        run = chromium([f"--screenshot={shot}", "--window-size=1400,3000", url], tmp / "p2")
        if run.returncode != 0 or not shot.exists():
            fail(f"chromium --screenshot failed: {run.stderr[-2000:]}")
        raw = Image.open(shot).convert("RGB").tobytes()
        pixels = [tuple(raw[i:i + 3]) for i in range(0, len(raw), 3)]
        counts = {name: pixels.count(rgb) for name, rgb in STATUS_FILLS.items()}
        statuses = [s for s in STATUS_FILLS if f'fill="#{"%02x%02x%02x" % STATUS_FILLS[s]}"' in html]
        for status in statuses:
            if counts[status] < 100:
                fail(f"graph boxes of status {status!r} are not visible ({counts[status]} pixels)")
    print(f"check_report: ok: {page.name} renders, graph visible ({counts}), "
          f"{plots} plots, nothing fetched")


if __name__ == "__main__":
    main()
