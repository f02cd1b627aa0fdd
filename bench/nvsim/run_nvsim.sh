#!/usr/bin/env bash
# Regenerates the committed NVSim reference outputs under bench/nvsim/out/.
#
# Usage: bench/nvsim/run_nvsim.sh NVSIM_SOURCE_DIR [JOBS]
#   NVSIM_SOURCE_DIR: a checkout of github.com/SEAL-UCSB/NVSim at commit 6334d00
#   ("Update README"); it is copied to a scratch directory and built there.
#   JOBS: NVSim runs in parallel (default 2).
#
# Build: `make CXXFLAGS="-Wall -std=c++98 -O2"`. The stock Makefile's flags fail on
# g++ >= 11 (C++17's std::data makes NVSim's enum value `data` ambiguous), hence
# -std=c++98; -O2 only speeds it up (the sample's output is byte-identical to -O0).
#
# Runs, all from the cells/ directory (NVSim opens the cell file relative to it):
#   - cfg/sample_STTRAM_cache.cfg: NVSim's own sample, unchanged (8 MB, 22 nm,
#     16-way, 64-byte lines, sequential access, ReadEDP, HP devices, 350 K).
#   - cfg/<tech>_<MB>MB.cfg: that sample with only the capacity and the cell file
#     replaced; tech sram (NVSim's SRAM.cell), stt (NVSim's sample_STTRAM.cell),
#     sot (cells/SOT.cell, the project's own cell, see its header).
# Capacities are powers of two (NVSim rejects e.g. 12 MB: "DATA capacity violation"),
# 4-64 MB: each run took 0.5-1 CPU minute (more at 64 MB), and 1-2 MB did not fit the
# time the project had on its shared machine; below 4 MB the model extrapolates.
# cfg/refused_sram_12MB.cfg (12 MB) and cfg/refused_sram_12MB_12way.cfg (12 MB, 12 ways) are
# kept with their outputs out/refused_*.txt as the record of both refusals (this script does not
# rerun them: `cd cells && nvsim ../cfg/refused_sram_12MB.cfg`).
# These outputs are the rows of stdlib/sim/data/nvm_default.csv; the parity test
# (stdlib/sim/tests/nvm_nvsim_parity.rs) predicts every interior capacity from the
# table without that row (leave-one-out) and compares with NVSim's output.
set -euo pipefail
src=${1:?usage: run_nvsim.sh NVSIM_SOURCE_DIR [JOBS]}
jobs=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
build=$(mktemp -d)
cp -r "$src"/. "$build"
make -C "$build" CXXFLAGS="-Wall -std=c++98 -O2" >/dev/null
nvsim="$build/nvsim"

mkdir -p "$here/cfg" "$here/out"
for tech in sram stt sot; do
    case $tech in
        sram) cell=SRAM.cell ;;
        stt) cell=sample_STTRAM.cell ;;
        sot) cell=SOT.cell ;;
    esac
    for mb in 4 8 16 32 64; do
        sed -e "s/^-Capacity (MB): .*/-Capacity (MB): $mb/" \
            -e "s/^-MemoryCellInputFile: .*/-MemoryCellInputFile: $cell/" \
            "$here/cfg/sample_STTRAM_cache.cfg" >"$here/cfg/${tech}_${mb}MB.cfg"
    done
done

cd "$here/cells"
ls "$here/cfg" | sed 's/\.cfg$//' | sort -t_ -k2 -n -r |
    xargs -P "$jobs" -I{} sh -c "'$nvsim' '../cfg/{}.cfg' > '../out/{}.txt'"
rm -rf "$build"
