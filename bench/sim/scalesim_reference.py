#!/usr/bin/env python3
"""Regenerates the committed SCALE-Sim v3 reference outputs in bench/sim/scalesim_ref/.

For every `*.cfg` there and every topology (`conv_layers.csv`, conv form; `gemm_layers.csv`,
M/N/K form) it runs SCALE-Sim (PyPI `scalesim` 3.0.0) unmodified and copies its per-layer
COMPUTE_REPORT.csv and DETAILED_ACCESS_REPORT.csv to `<cfg>__<topology>__<REPORT>.csv`.
stdlib/sim/tests/scalesim_parity.rs compares pipe-sim with these files without Python.

Run from the repository root: `python3 bench/sim/scalesim_reference.py`
(about a minute; traces are not written).
"""
import builtins
import glob
import os
import shutil
import sys
import tempfile

import numpy as np
from scalesim.scale_sim import scalesim
import scalesim.memory.double_buffered_scratchpad_mem as dbsp
from scalesim.layout_utils import layouts


def _scalar_max(*args):
    # scalesim 3.0.0 calls int(max(...)) over one-element arrays, which numpy >= 2 rejects;
    # this max returns the plain number, so the package runs unmodified on either numpy.
    items = args[0] if len(args) == 1 else args
    return builtins.max(np.asarray(v).reshape(-1)[0] for v in items)


dbsp.max = _scalar_max
# The configs use no custom SRAM layout, so no layout file exists; SCALE-Sim's driver would
# still open one. Skipping the load changes nothing it computes.
layouts.load_arrays = lambda self, *args, **kwargs: None

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scalesim_ref")
TOPOLOGIES = [("conv_layers.csv", False), ("gemm_layers.csv", True)]
REPORTS = ["COMPUTE_REPORT.csv", "DETAILED_ACCESS_REPORT.csv"]


def run(cfg, topo, gemm):
    with tempfile.TemporaryDirectory() as out:
        sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo,
                       layout="", input_type_gemm=gemm)
        sim.run_scale(top_path=out)
        run_dir = glob.glob(os.path.join(out, "*"))[0]
        stem = os.path.basename(cfg)[:-4] + "__" + os.path.basename(topo)[:-4]
        for report in REPORTS:
            shutil.copy(os.path.join(run_dir, report), os.path.join(HERE, f"{stem}__{report}"))


def main():
    cfgs = sorted(glob.glob(os.path.join(HERE, "*.cfg")))
    if len(sys.argv) > 1:
        cfgs = [c for c in cfgs if any(a in c for a in sys.argv[1:])]
    for cfg in cfgs:
        for topo, gemm in TOPOLOGIES:
            print(f"{os.path.basename(cfg)} x {topo}", file=sys.stderr)
            run(cfg, os.path.join(HERE, topo), gemm)


if __name__ == "__main__":
    main()
