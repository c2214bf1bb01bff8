#!/usr/bin/env bash
# Scan a real genome region with the k-mer baseline trained on iEnhancer-2L layer 1 and report the windows
# scored, the regions called and the time.
# Usage: benchmarks/predict_chr22.sh CHR22_REGION.fa.gz [OUTDIR=benchmarks/out/chr22] [PREDICT OPTIONS...]
# The FASTA may be plain gzip (it is re-compressed once to a cached BGZF copy).
set -euo pipefail
fasta=${1:?usage: $0 FASTA [OUTDIR] [PREDICT OPTIONS...]}; out=${2:-benchmarks/out/chr22}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p "$out"
enhancerlm -q prepare --input assets/samplesheets/ienhancer2l_layer1.csv --outdir "$out/prepare" >/dev/null
if [ ! -f "$out/kmer-baseline/enhancerlm.json" ]; then
    enhancerlm -q train --dataset "$out/prepare/ienhancer2l_layer1.dataset.tsv" --model kmer-baseline \
        --outdir "$out/kmer-baseline" --device cpu >/dev/null
fi
start=$(date +%s)
enhancerlm -q predict --model "$out/kmer-baseline" --genome "$fasta" --stride 50 --calibrate \
    --outdir "$out/scan" --prefix chr22 --device cpu "$@" >/dev/null
python3 - "$out/scan/chr22.predict.json" "$(( $(date +%s) - start ))" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
windows, regions = report["windows"], report["regions"]
print(f"wall time {sys.argv[2]} s (scan {report['throughput']['seconds']} s, "
      f"{report['throughput']['windows_per_second']} windows/s on {report['throughput']['device']})")
print(f"contigs {', '.join(report['contigs']['scanned'])}; window {report['parameters']['window']}, "
      f"stride {report['parameters']['stride']}, threshold {report['parameters']['threshold']:.3f}")
print(f"windows scored {windows['scored']}, skipped {windows['skipped']}")
print(f"regions {regions['called']}, bases covered {regions['bases_covered']}, "
      f"windows >= threshold {report['score_distribution']['at_or_above_threshold']}")
print("window probability quantiles", report["score_distribution"]["quantiles"])
print("shuffled-window quantiles", report["calibration"]["shuffled_quantiles"])
PY
fdr=$(awk '$10 <= 0.05' "$out/scan/chr22.enhancers.bed" | wc -l)
echo "regions with fdr <= 0.05: $fdr"
