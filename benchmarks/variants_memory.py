"""Does `enhancerlm variants` use memory that grows with the VCF? Score 20,000 and 500,000 SNVs and compare.

Usage: python benchmarks/variants_memory.py [--counts 20000,500000] [--window 32] [--threads 1] [--heap] [--no-model]

A micro model (scratch-tiny, k = 3, random weights, window 32, forward strand) scores synthetic SNVs, one every
20 bp along a random genome of 1 Mb contigs (10 Mb, the same genome for every count), each count in a fresh
subprocess after importing, indexing the genome and loading the model: the peak resident memory (VmHWM) of the
run against the resident memory before it. `--heap` adds a second run per count under tracemalloc for the
Python heap's peak (numpy arrays included); `--no-model` replaces the model's scores by random numbers, to
measure the bookkeeping alone in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from measure import measure_memory, run_worker

CONTIG = 1_000_000
SPACING = 20


def write_genome(path: Path, contigs: int) -> list[str]:
    """Random contigs of CONTIG bp; returns their sequences."""
    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    sequences = []
    with open(path, "w") as handle:
        for contig in range(contigs):
            sequence = letters[rng.integers(0, 4, size=CONTIG)].tobytes().decode()
            sequences.append(sequence)
            handle.write(f">chr{contig + 1}\n")
            handle.write("".join(sequence[i : i + 100] + "\n" for i in range(0, CONTIG, 100)))
    return sequences


def write_vcf(path: Path, sequences: list[str], count: int) -> Path:
    """`count` SNVs, one every SPACING bp from position 100 of each contig on, bgzipped."""
    import pysam

    per_contig = (CONTIG - 200) // SPACING
    plain = path.with_suffix("")
    with open(plain, "w") as handle:
        handle.write(
            "##fileformat=VCFv4.2\n"
            + "".join(f"##contig=<ID=chr{i + 1},length={CONTIG}>\n" for i in range(len(sequences)))
        )
        handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for number in range(count):
            contig, offset = divmod(number, per_contig)
            pos = 100 + offset * SPACING
            ref = sequences[contig][pos - 1]
            handle.write(f"chr{contig + 1}\t{pos}\tv{number}\t{ref}\t{'ACGT'[('ACGT'.index(ref) + 1) % 4]}\t.\t.\t.\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


def worker(model: Path, genome: Path, vcf: Path, mode: str, threads: int, no_model: bool) -> None:
    import torch

    from enhancerlm.commands.variants import VariantOptions, score_variants
    from enhancerlm.formats.genome import contig_sizes
    from enhancerlm.models.baseline import KmerBaseline
    from enhancerlm.models.ensemble import Ensemble
    from enhancerlm.models.language_model import LoadedModel
    from enhancerlm.models.scorer import load_trained

    if no_model:  # every model kind scores at random: the run's own memory without a network
        for kind in (LoadedModel, KmerBaseline, Ensemble):
            kind.score_windows = lambda self, windows, **_: np.random.default_rng(len(windows)).random(len(windows))
    torch.set_num_threads(threads)
    contig_sizes(genome)  # index, import and load once outside the measurement
    load_trained(str(model))
    with tempfile.TemporaryDirectory() as scratch:

        def score() -> dict:
            report = score_variants(
                str(model), genome, vcf, scratch, prefix="memory", options=VariantOptions(device="cpu")
            )
            return {"alleles": report["alleles"]["scored"]}

        result = measure_memory(mode, score)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="20000,500000", help="Numbers of SNVs, comma-separated.")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--heap", action="store_true", help="Also measure the Python heap's peak (tracemalloc).")
    parser.add_argument("--no-model", action="store_true", help="Random scores instead of the model's.")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, genome, vcf, mode, threads, no_model = args.worker
        worker(Path(model), Path(genome), Path(vcf), mode, int(threads), no_model == "1")
        return
    import torch

    from enhancerlm.models.checkpoint import load_model, save_model

    counts = [int(c) for c in args.counts.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        torch.manual_seed(0)
        save_model(
            load_model("scratch-tiny", kmer=3, max_positions=64),
            directory / "model",
            {
                "model_id": "micro",
                "type": "language-model",
                "window": args.window,
                "threshold": 0.5,
                "strand_mode": "forward",
            },
        )
        contigs = -(-max(counts) * SPACING // (CONTIG - 200))
        sequences = write_genome(directory / "genome.fa", contigs)
        for count in counts:
            vcf = write_vcf(directory / f"snvs_{count}.vcf.gz", sequences, count)
            for mode in ("rss", "heap") if args.heap else ("rss",):
                results.setdefault(count, {}).update(
                    run_worker(
                        __file__,
                        directory / "model",
                        directory / "genome.fa",
                        vcf,
                        mode,
                        args.threads,
                        int(args.no_model),
                    )
                )
            print(f"{count} SNVs: {results[count]}", file=sys.stderr, flush=True)
    print("| SNVs | alleles scored | seconds | RSS before (MB) | peak RSS (MB) | heap peak (MB) |")
    print("|---|---|---|---|---|---|")
    for count, r in results.items():
        heap = f"{r['heap_peak_mb']:.2f}" if "heap_peak_mb" in r else "-"
        print(
            f"| {count:,} | {r['alleles']:,} | {r['seconds']} | {r['rss_before_mb']:.1f} | {r['peak_rss_mb']:.1f} | "
            f"{heap} |"
        )
    small, large = results[min(results)], results[max(results)]
    print(
        f"\npeak RSS growth {min(results):,} -> {max(results):,} SNVs: "
        f"{large['peak_rss_mb'] - small['peak_rss_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
