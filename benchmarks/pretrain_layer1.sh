#!/usr/bin/env bash
# Does masked-LM pre-training on real genome sequence help the layer-1 task? Pre-trains a from-scratch model
# on a genome corpus, fine-tunes it on iEnhancer-2L layer 1, and fine-tunes the same architecture from random
# weights with the same budget, so the two rows differ only in the pre-training.
# Usage: benchmarks/pretrain_layer1.sh CORPUS.fa[.gz] [CORPUS2 ...]
#   env: MODEL=scratch-tiny KMER=3 PRETRAIN_EPOCHS=3 EPOCHS=5 LR=5e-4 OUT=benchmarks/out/pretrain
set -euo pipefail
model=${MODEL:-scratch-tiny}; kmer=${KMER:-3}; pre_epochs=${PRETRAIN_EPOCHS:-3}; epochs=${EPOCHS:-5}
lr=${LR:-5e-4}; out=${OUT:-benchmarks/out/pretrain}
corpus=(); for fasta in "$@"; do corpus+=(--fasta "$fasta"); done
mkdir -p "$out"
enhancerlm -q prepare --input assets/samplesheets/ienhancer2l_layer1.csv --outdir "$out/prepare" >/dev/null
dataset="$out/prepare/ienhancer2l_layer1.dataset.tsv"
start=$(date +%s)
enhancerlm pretrain "${corpus[@]}" --kmer "$kmer" --model "$model" --window 200 --stride 100 \
    --max-n-fraction 0 --epochs "$pre_epochs" --batch-size 32 --lr 1e-3 --outdir "$out/lm" --device cpu
pretrained=$(date +%s)
for base in "$out/lm" "$model"; do
    id=$([ "$base" = "$model" ] && echo "from_scratch" || echo "pretrained")
    enhancerlm -q train --dataset "$dataset" --model "$base" --kmer "$kmer" --epochs "$epochs" --lr "$lr" \
        --outdir "$out/$id" --model-id "$id" --device cpu --cv
    enhancerlm -q evaluate --model "$out/$id" --dataset "$dataset" --outdir "$out/evaluate" --prefix "$id" >/dev/null
done
python3 - "$out" "$((pretrained - start))" <<'PY'
import json, sys
out = sys.argv[1]
card = json.load(open(f"{out}/lm/pretrain.json"))
print(f"pre-training: {card['windows']} windows, {sys.argv[2]} s, masked-LM loss by epoch "
      + ", ".join(f"{h['loss']:.3f}" for h in card["history"]))
for name in ("from_scratch", "pretrained"):
    metrics = json.load(open(f"{out}/evaluate/{name}.metrics.json"))["subsets"]
    cv = json.load(open(f"{out}/{name}/cv.json"))
    row = [f"{name:13s}"]
    for subset in ("all", "leak_free"):
        m = metrics[subset]
        row.append(f"{subset} Acc {m['accuracy']:.4f} MCC {m['mcc']:.4f} AUC {m['auc']:.4f}")
    row.append(f"CV Acc {cv['accuracy']['mean']:.4f}+-{cv['accuracy']['sd']:.4f} AUC {cv['auc']['mean']:.4f}+-{cv['auc']['sd']:.4f}")
    print(" | ".join(row))
PY
