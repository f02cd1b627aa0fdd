#!/usr/bin/env python3
"""Runs SCALE-Sim v3 (PyPI `scalesim`, 3.0.0) on layers and prints its cycles as JSON.

Used by the pipe-sim cross-check test (stdlib/sim/tests/scalesim_crosscheck.rs) and the
benchmark (bench/sim/sim_bench.rs). Input on stdin, one JSON object:
  {"points": [{"layer": [name, ifmap_h, ifmap_w, filt_h, filt_w, channels, filters, stride],
               "dataflow": "os"|"ws"|"is", "rows": R, "cols": C}, ...]}
(or "gemm": [name, M, N, K] instead of "layer"). A layer whose name contains `DP` is
depthwise: SCALE-Sim runs it as one layer per channel, and the cycles are summed.
Output on stdout: {"scalesim": VERSION, "points": [{"cycles": N, "stalls": S, "seconds": T}, ...]}
`cycles` is SCALE-Sim's total_cycles minus its stall cycles (the stall-free compute cycles);
SRAMs are sized so large that no stall occurs. Exit code 3 when scalesim cannot be imported.
"""
import builtins
import json
import os
import sys
import tempfile
import time

try:
    from importlib.metadata import version
    import numpy as np
    from scalesim.scale_config import scale_config
    from scalesim.topology_utils import topologies
    from scalesim.layout_utils import layouts
    from scalesim.single_layer_sim import single_layer_sim
    import scalesim.memory.double_buffered_scratchpad_mem as dbsp
except ImportError as e:
    print(f"scalesim not importable ({e}); install it with: pip install scalesim==3.0.0", file=sys.stderr)
    sys.exit(3)


def _scalar_max(*args):
    # scalesim 3.0.0 calls int(max(...)) over one-element arrays, which numpy >= 2
    # rejects; this max returns the plain number, so the package runs unmodified
    # on either numpy. Values are unchanged.
    items = args[0] if len(args) == 1 else args
    return builtins.max(np.asarray(v).reshape(-1)[0] for v in items)


dbsp.max = _scalar_max

CONFIG = """[general]
run_name = pipe_crosscheck

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 6144
FilterSramSzkB: 6144
OfmapSramSzkB: 6144
IfmapOffset: 0
FilterOffset: 100000000
OfmapOffset: 200000000
Bandwidth: 10
Dataflow: {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

GEMM_HEADER = "Layer, M, N, K,\n"
HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def run_point(point, workdir):
    cfg_path = os.path.join(workdir, "scale.cfg")
    topo_path = os.path.join(workdir, "topo.csv")
    with open(cfg_path, "w") as f:
        f.write(CONFIG.format(rows=point["rows"], cols=point["cols"], dataflow=point["dataflow"]))
    gemm = "gemm" in point
    with open(topo_path, "w") as f:
        if gemm:
            f.write(GEMM_HEADER + ", ".join(str(x) for x in point["gemm"]) + ",\n")
        else:
            f.write(HEADER + ", ".join(str(x) for x in point["layer"]) + ",\n")
    config = scale_config()
    config.read_conf_file(cfg_path)
    topo = topologies()
    topo.load_arrays(topo_path, mnk_inputs=gemm)
    cycles = stalls = 0
    start = time.perf_counter()
    for layer_id in range(topo.get_num_layers()):
        sim = single_layer_sim()
        sim.set_params(layer_id=layer_id, config_obj=config, topology_obj=topo, layout_obj=layouts(),
                       verbose=False)
        sim.run()
        sim.calc_report_data()
        cycles += int(sim.total_cycles) - int(sim.stall_cycles)
        stalls += int(sim.stall_cycles)
    seconds = time.perf_counter() - start
    return {"cycles": cycles, "stalls": stalls, "seconds": seconds}


def main():
    request = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as workdir:
        results = [run_point(p, workdir) for p in request["points"]]
    json.dump({"scalesim": version("scalesim"), "points": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
