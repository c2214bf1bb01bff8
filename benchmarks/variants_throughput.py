"""Variant-scoring throughput: `enhancerlm variants` against the bare forward pass and a naive per-variant loop.

Usage: python benchmarks/variants_throughput.py --genome GENOME.fa --vcf SITES.vcf.gz
           [--tiny-records 0] [--base-records 64] [--naive-records 2000] [--threads 1] [--outdir DIR]

For a DNABERT-base-shaped model (the scratch-base preset: BERT, 12 layers, hidden 768, k = 6 vocabulary, random
weights) and for scratch-tiny (k = 6), both saved as trained models (window 200, both strands), on the first
records of the VCF (`--tiny-records`, 0 = all; `--base-records`), it times

  (a) variants: `enhancerlm.commands.variants.score_variants` end to end: loading the model, reading the VCF and the
      genome, building and scoring the windows, writing the scored VCF (bgzip + tabix), the TSV and the report;
  (b) bare: the classifier's forward pass alone over the same windows (a reference and an alternative window per
      scored allele, both strands of each), tokenized and batched (64 sequences) beforehand;
  (c) naive: one `predict_proba([ref, alt], both_strands=True)` call per allele, the loop a user would write
      (on the first `--naive-records` records; its rate is per allele like the others).

Model loading is inside (a) only. Each (model, method) runs in a fresh subprocess, so the peak RSS reported
(VmHWM) is its own. Results: a Markdown table on stdout and DIR/variants_throughput.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from measure import bare_forward_seconds, print_ratio_table, rss_mb, run_worker

WINDOW = 200
BATCH = 64
METHODS = ("variants", "bare", "naive")
MODELS = ("scratch-base", "scratch-tiny")


def build_models(directory: Path) -> None:
    """Random-weight models saved as trained enhancerlm models."""
    import torch

    from enhancerlm.models.checkpoint import load_model, save_model

    for preset in MODELS:
        torch.manual_seed(0)
        save_model(
            load_model(preset, kmer=6),
            directory / preset,
            {
                "model_id": preset,
                "type": "language-model",
                "labels": {"0": "background", "1": "enhancer"},
                "window": WINDOW,
                "threshold": 0.5,
                "strand_mode": "both",
            },
        )


def head_of_vcf(vcf: Path, records: int, target: Path) -> Path:
    """The header and the first `records` records (0: all) as a plain VCF."""
    opener = gzip.open if vcf.read_bytes()[:2] == b"\x1f\x8b" else open
    kept = 0
    with opener(vcf, "rt") as source, open(target, "w") as out:
        for line in source:
            if not line.startswith("#"):
                if records and kept == records:
                    break
                kept += 1
            out.write(line)
    return target


def allele_windows_of(genome_path: Path, vcf: Path) -> np.ndarray:
    """(reference window, alternative window) of every allele `variants` scores, as an (n, 2, WINDOW) array."""
    import cyvcf2

    from enhancerlm.analysis.variant_effect import allele_kind, allele_windows, window_span
    from enhancerlm.formats.genome import open_genome

    pairs = []
    with open_genome(genome_path) as genome:
        for record in cyvcf2.VCF(str(vcf)):
            chrom, pos, ref = record.CHROM, record.POS - 1, record.REF.upper()
            if chrom not in genome.sizes or pos + len(ref) > genome.sizes[chrom]:
                continue
            if genome.fetch(chrom, pos, pos + len(ref)) != ref:
                continue
            for alt in record.ALT:
                start, end = window_span(pos, len(ref), len(alt), WINDOW, WINDOW // 2)  # centred
                if allele_kind(alt) or start < 0 or end > genome.sizes[chrom]:
                    continue
                window = genome.fetch(chrom, start, end)
                pairs.append(allele_windows(window, len(ref), alt.upper(), WINDOW, WINDOW // 2))
    return np.frombuffer("".join(a + b for a, b in pairs).encode(), dtype=np.uint8).reshape(-1, 2, WINDOW)


def run_variants(model_dir: Path, genome: Path, vcf: Path, scratch: Path) -> dict:
    from enhancerlm.commands.variants import VariantOptions, score_variants

    started = time.perf_counter()
    report = score_variants(
        str(model_dir),
        genome,
        vcf,
        scratch / "variants",
        prefix="bench",
        options=VariantOptions(batch_size=BATCH, device="cpu"),
    )
    return {
        "seconds": time.perf_counter() - started,
        "alleles": report["alleles"]["scored"],
        "records": report["records"]["reported"],
    }


def run_bare(model_dir: Path, genome: Path, vcf: Path, scratch: Path) -> dict:
    from enhancerlm.models.scorer import load_trained

    model = load_trained(str(model_dir))
    windows = allele_windows_of(genome, vcf).reshape(-1, WINDOW)
    return {"seconds": bare_forward_seconds(model, windows, BATCH), "alleles": len(windows) // 2}


def run_naive(model_dir: Path, genome: Path, vcf: Path, scratch: Path) -> dict:
    from enhancerlm.models.scorer import load_trained

    model = load_trained(str(model_dir))
    pairs = allele_windows_of(genome, vcf)
    texts = [(pair[0].tobytes().decode(), pair[1].tobytes().decode()) for pair in pairs]
    started = time.perf_counter()
    for ref, alt in texts:
        model.predict_proba([ref, alt], batch_size=BATCH, device="cpu", both_strands=True)
    return {"seconds": time.perf_counter() - started, "alleles": len(texts)}


def worker(method: str, model_dir: Path, genome: Path, vcf: Path, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    runner = {"variants": run_variants, "bare": run_bare, "naive": run_naive}[method]
    with tempfile.TemporaryDirectory() as scratch:
        result = runner(model_dir, genome, vcf, Path(scratch))
    result["peak_rss_mb"] = round(rss_mb(), 1)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genome", type=Path, help="Genome FASTA of the VCF (required).")
    parser.add_argument("--vcf", type=Path, help="VCF of the sites to score (required).")
    parser.add_argument("--tiny-records", type=int, default=0, help="Records for scratch-tiny (0: all).")
    parser.add_argument("--base-records", type=int, default=64, help="Records for scratch-base.")
    parser.add_argument(
        "--naive-records",
        type=int,
        default=2000,
        help="Records for the naive loop (both models at most their own count).",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads in every method.")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--outdir", type=Path, default=None)
    parser.add_argument(
        "--worker", nargs=5, metavar=("METHOD", "MODEL", "GENOME", "VCF", "THREADS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        method, model_dir, genome, vcf, threads = args.worker
        worker(method, Path(model_dir), Path(genome), Path(vcf), int(threads))
        return
    if not args.genome or not args.vcf:
        parser.error("--genome and --vcf are required")
    models = args.models.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.outdir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        build_models(directory)
        results = {}
        for preset in models:
            records = args.tiny_records if preset == "scratch-tiny" else args.base_records
            naive = min(filter(None, (records, args.naive_records)))
            for method in METHODS:
                count = naive if method == "naive" else records
                vcf = head_of_vcf(args.vcf, count, directory / f"{preset}_{method}.vcf")
                result = run_worker(__file__, method, directory / preset, args.genome, vcf, args.threads)
                result["alleles_per_second"] = result["alleles"] / result["seconds"]
                results[f"{preset}/{method}"] = result
                print(f"{preset} {method}: {result}", file=sys.stderr, flush=True)
        if args.outdir:
            (directory / "variants_throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    print_ratio_table(results, models, METHODS, "alleles", compared=METHODS)


if __name__ == "__main__":
    main()
