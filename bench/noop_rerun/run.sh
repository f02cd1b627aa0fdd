#!/usr/bin/env bash
# No-op rerun of a fully cached 50-stage chain: `pipe run` vs `dvc repro` vs
# `snakemake`, timed in the same run on the same machine (medians of REPS runs).
#   bash bench/noop_rerun/run.sh            # N=50 stages, REPS=15
#   N=200 REPS=9 bash bench/noop_rerun/run.sh
# Needs python3 (a venv with dvc and snakemake is made under the work dir, or
# give VENV=/path/to/venv that has them). PIPE=/path/to/pipe skips the build.
# Large sweeps and deep chains, pipe alone: bench/noop_rerun/scale.py (see its
# docstring and docs/performance.md, "No-op reruns at scale").
set -euo pipefail
N=${N:-50}
REPS=${REPS:-15}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pipe-noop-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -z "${PIPE:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p pipe-cli --bin pipe)
  PIPE="${CARGO_TARGET_DIR:-$ROOT/target}/release/pipe"
fi
if [ -z "${VENV:-}" ]; then
  VENV="$WORK/venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q dvc snakemake
fi
export PATH="$VENV/bin:$PATH"

python3 "$ROOT/bench/noop_rerun/chains.py" "$WORK" "$N"
(cd "$WORK/pipe" && "$PIPE" run chain.pipe > /dev/null)
(cd "$WORK/dvc" && dvc init -q --no-scm && dvc repro -q > /dev/null)
(cd "$WORK/snakemake" && snakemake -q --cores 1 > /dev/null 2>&1)
python3 "$ROOT/bench/noop_rerun/timing.py" "$WORK" "$REPS" "$PIPE" "$N"
