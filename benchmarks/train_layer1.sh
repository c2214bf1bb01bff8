#!/usr/bin/env bash
# Train and evaluate one model on the bundled iEnhancer-2L layer-1 task and report test metrics
# (full split and leak-free subset) with the wall-clock time.
# Usage: benchmarks/train_layer1.sh [MODEL=scratch-small] [KMER=3] [EPOCHS=15] [OUTDIR=benchmarks/out/layer1] [TRAIN OPTIONS...]
set -euo pipefail
model=${1:-scratch-small}; kmer=${2:-3}; epochs=${3:-15}; out=${4:-benchmarks/out/layer1}
shift $(( $# < 4 ? $# : 4 ))
id="layer1_${model}_k${kmer}${1:+_$(echo "$*" | tr -d ' -' )}"
mkdir -p "$out"
enhancerlm -q prepare --input assets/samplesheets/ienhancer2l_layer1.csv --outdir "$out/prepare" >/dev/null
start=$(date +%s)
enhancerlm train --dataset "$out/prepare/ienhancer2l_layer1.dataset.tsv" --model "$model" --kmer "$kmer" \
    --epochs "$epochs" --outdir "$out/$id" --device cpu "$@"
trained=$(date +%s)
enhancerlm -q evaluate --model "$out/$id" --dataset "$out/prepare/ienhancer2l_layer1.dataset.tsv" \
    --outdir "$out/evaluate" --prefix "$id" --device cpu >/dev/null
python3 - "$out/evaluate/$id.metrics.json" "$((trained - start))" <<'PY'
import json, sys
metrics = json.load(open(sys.argv[1]))
print(f"model {metrics['model_id']}  training wall time {sys.argv[2]} s  threshold {metrics['threshold']:.3f}")
for name in ("all", "leak_free"):
    m = metrics["subsets"][name]
    print(f"{name:10s} n={m['n']:3d}  Acc {m['accuracy']:.4f}  Sn {m['sensitivity']:.4f}  Sp {m['specificity']:.4f}"
          f"  MCC {m['mcc']:.4f}  AUC {m['auc']:.4f}  AUPRC {m['auprc']:.4f}")
PY
