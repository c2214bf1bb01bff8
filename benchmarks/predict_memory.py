"""Does `enhancerlm predict` use memory that grows with the genome? Scan a 1 Mb and a 20 Mb genome and compare.

Usage: python benchmarks/predict_memory.py [--sizes 1,20] [--threads 1] [--rss-only] [--no-model]

A micro model (scratch-tiny, k = 3, random weights) scans random genomes of 1 Mb contigs (window 200, stride
200, both strands), each size in a fresh subprocess twice, after importing and loading the model: once for the
peak resident memory (VmHWM) and once under tracemalloc for the Python heap's peak (numpy arrays included).
Reported: the peak RSS of each scan and its growth from 1 Mb to 20 Mb, and the growth of the heap's peak per
extra window. glibc keeps freed memory of PyTorch's per-batch buffers in its heap, so RSS swings by a few
hundred MB during any scan; run with MALLOC_MMAP_THRESHOLD_=65536 in the environment to see the memory actually
in use. `--no-model` replaces the model's scores by random numbers, to measure the scan's own bookkeeping on
large genomes in seconds.
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
WINDOW = 200


def write_genome(path: Path, megabases: int) -> None:
    rng = np.random.default_rng(megabases)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "w") as handle:
        for contig in range(megabases):
            sequence = letters[rng.integers(0, 4, size=CONTIG)].reshape(-1, 100)
            handle.write(f">chr{contig + 1}\n")
            handle.write("\n".join(line.tobytes().decode() for line in sequence) + "\n")


def worker(model: Path, genome: Path, mode: str, threads: int, no_model: bool) -> None:
    import torch

    from enhancerlm.commands.predict import ScanOptions, predict
    from enhancerlm.formats.genome import contig_sizes
    from enhancerlm.models.scorer import load_trained

    if no_model:  # every model kind scores at random: the scan's own memory without a network
        from enhancerlm.models.baseline import KmerBaseline
        from enhancerlm.models.ensemble import Ensemble
        from enhancerlm.models.language_model import LoadedModel

        for kind in (LoadedModel, KmerBaseline, Ensemble):
            kind.score_windows = lambda self, windows, **_: np.random.default_rng(len(windows)).random(len(windows))

    torch.set_num_threads(threads)
    contig_sizes(genome)  # index, import and load once outside the measurement
    load_trained(str(model))
    options = ScanOptions(window=WINDOW, stride=WINDOW, batch_size=64, device="cpu")
    with tempfile.TemporaryDirectory() as scratch:

        def scan() -> dict:
            return {
                "windows": predict(str(model), genome, scratch, prefix="memory", options=options)["windows"]["scored"]
            }

        result = measure_memory(mode, scan)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,20", help="Genome sizes in Mb.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rss-only", action="store_true", help="Skip the tracemalloc runs.")
    parser.add_argument("--no-model", action="store_true", help="Random scores instead of the model's.")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, genome, mode, threads, no_model = args.worker
        worker(Path(model), Path(genome), mode, int(threads), no_model == "1")
        return
    import torch

    from enhancerlm.models.checkpoint import load_model, save_model

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        torch.manual_seed(0)
        save_model(
            load_model("scratch-tiny", kmer=3),
            directory / "model",
            {"model_id": "micro", "type": "language-model", "window": WINDOW, "threshold": 0.5},
        )
        for megabases in map(int, args.sizes.split(",")):
            genome = directory / f"genome_{megabases}mb.fa"
            write_genome(genome, megabases)
            for mode in ("rss",) if args.rss_only else ("rss", "heap"):
                results.setdefault(megabases, {}).update(
                    run_worker(__file__, directory / "model", genome, mode, args.threads, int(args.no_model))
                )
            print(f"{megabases} Mb: {results[megabases]}", file=sys.stderr, flush=True)
    print("| genome | windows | seconds (RSS run) | RSS before scan (MB) | peak RSS (MB) | heap peak (MB) |")
    print("|---|---|---|---|---|---|")
    for megabases, r in results.items():
        heap = f"{r['heap_peak_mb']:.2f}" if "heap_peak_mb" in r else "-"
        print(
            f"| {megabases} Mb | {r['windows']} | {r['seconds']} | {r['rss_before_mb']:.1f} | "
            f"{r['peak_rss_mb']:.1f} | {heap} |"
        )
    small, large = (results[m] for m in (min(results), max(results)))
    print(
        f"\npeak RSS growth {min(results)} -> {max(results)} Mb: {large['peak_rss_mb'] - small['peak_rss_mb']:.1f} MB"
    )
    if not args.rss_only:
        extra = large["windows"] - small["windows"]
        print(
            f"heap peak growth per extra window: {(large['heap_peak_mb'] - small['heap_peak_mb']) * 2**20 / extra:.1f} "
            "bytes"
        )


if __name__ == "__main__":
    main()
