#!/usr/bin/env bash
# The GPU path measured once: train, predict and variants with --device cuda on a DNABERT-base-shaped model, end to
# end against the bare forward pass (see benchmarks/gpu_throughput.py), on a machine with an NVIDIA GPU and this
# package installed. Writes OUTDIR/gpu.csv (the GPU as nvidia-smi sees it), OUTDIR/dmon.txt (the GPU's
# multiprocessor and memory activity each second, which shows where end to end waits), OUTDIR/gpu_throughput.md
# (the table) and OUTDIR/gpu_throughput.json, the files committed under benchmarks/gpu/.
# Usage: benchmarks/gpu_throughput.sh [OUTDIR=benchmarks/gpu] [gpu_throughput.py OPTIONS...]
set -euo pipefail
out=${1:-benchmarks/gpu}
shift $(( $# < 1 ? $# : 1 ))
python3 -c "import torch, sys; sys.exit(None if torch.cuda.is_available() else 'no CUDA device visible to torch')"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv > "$out/gpu.csv"
work=$(mktemp -d)
nvidia-smi dmon -s u -o T > "$out/dmon.txt" &
dmon=$!
trap 'kill "$dmon" 2>/dev/null || true; rm -rf "$work"' EXIT
PYTHONUNBUFFERED=1 python3 benchmarks/gpu_throughput.py --device cuda --outdir "$work" "$@" | tee "$out/gpu_throughput.md"
cp "$work/gpu_throughput.json" "$out/gpu_throughput.json"
