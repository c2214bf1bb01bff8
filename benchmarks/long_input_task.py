"""A long-input task on real sequence: kilobase regions cut from the bundled long-regions genome through
`enhancerlm prepare --bed --genome` (one contig held out as the test split, GC-matched negatives), a k-mer language
model trained on them, and its test accuracy, MCC and AUC beside a GC-only score and the k-mer baseline, so the
result says whether the model learned more than composition.

The genome comes with no annotation, so the positives are computed from the sequence: regions of `--length` nt
centred on CpG islands (200 nt windows, step 50, with GC >= 0.55, CpG observed/expected >= 0.65 and at least 12
CpGs, merged; Gardiner-Garden and Frommer's rule, made stricter as Takai and Jones advise), the islands with most
CpGs first, no two regions overlapping. They stand in for super-enhancer candidates to test long-input training;
they are not enhancers. Peak resident memory and time of each training run are measured.

Usage: python benchmarks/long_input_task.py [--genome assets/data/long-regions/long_regions.fa.gz]
       [--test-chroms chr20_block] [--length 3000] [--model scratch-tiny] [--kmer 6] [--epochs 10]
       [--outdir benchmarks/out/long_task] [-- TRAIN OPTIONS]
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from measure import enhancerlm_command

from enhancerlm.core.dna import gc_fraction
from enhancerlm.core.stats import binary_metrics
from enhancerlm.formats.dataset_table import read_dataset
from enhancerlm.formats.genome import open_genome

ISLAND_WINDOW, ISLAND_STEP = 200, 50


def island_windows(sequence: str) -> tuple[np.ndarray, np.ndarray]:
    """Starts of the 200 nt windows (step 50) that pass the CpG-island rule, and their CpG counts."""
    bases = np.frombuffer(sequence.upper().encode(), dtype=np.uint8)
    c, g = bases == ord("C"), bases == ord("G")
    cpg = np.zeros(len(bases), dtype=bool)
    cpg[:-1] = c[:-1] & g[1:]
    sums = {name: np.concatenate([[0], np.cumsum(values)]) for name, values in (("c", c), ("g", g), ("cg", cpg))}
    starts = np.arange(0, max(len(bases) - ISLAND_WINDOW, 0), ISLAND_STEP)
    c_n, g_n, cg_n = (sums[name][starts + ISLAND_WINDOW] - sums[name][starts] for name in ("c", "g", "cg"))
    ratio = cg_n * ISLAND_WINDOW / np.maximum(c_n * g_n, 1)
    passed = ((c_n + g_n) / ISLAND_WINDOW >= 0.55) & (ratio >= 0.65) & (cg_n >= 12)
    return starts[passed], cg_n[passed]


def island_regions(sequence: str, length: int) -> list[tuple[int, int]]:
    """Non-overlapping regions of `length` nt centred on CpG islands, most CpGs first, sorted by start."""
    starts, counts = island_windows(sequence)
    islands: list[list[int]] = []  # start, end, CpGs of the merged islands
    for start, count in zip(starts.tolist(), counts.tolist()):
        if islands and start <= islands[-1][1]:
            islands[-1][1], islands[-1][2] = start + ISLAND_WINDOW, islands[-1][2] + count
        else:
            islands.append([start, start + ISLAND_WINDOW, count])
    chosen: list[tuple[int, int]] = []
    for start, end, _ in sorted(islands, key=lambda island: -island[2]):
        first = (start + end) // 2 - length // 2
        if first < 0 or first + length > len(sequence):
            continue
        if all(first + length <= a or first >= b for a, b in chosen):
            chosen.append((first, first + length))
    return sorted(chosen)


def write_positives(genome: Path, length: int, bed: Path) -> int:
    with open_genome(genome) as reference:
        rows = [
            (contig, start, end)
            for contig in reference.sizes
            for start, end in island_regions(reference.fetch(contig, 0, reference.sizes[contig]), length)
        ]
    bed.write_text("".join(f"{contig}\t{start}\t{end}\n" for contig, start, end in rows))
    return len(rows)


def gc_only(table: pd.DataFrame) -> dict:
    """A logistic regression on GC fraction, fitted on the training records, scored on the test split."""
    from sklearn.linear_model import LogisticRegression

    gc = table["sequence"].map(gc_fraction).to_numpy()[:, None]
    train, test = (table["split"] == "train").to_numpy(), (table["split"] == "test").to_numpy()
    model = LogisticRegression().fit(gc[train], table["label"][train])
    return binary_metrics(table["label"][test].to_numpy(), model.predict_proba(gc[test])[:, 1], 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genome", type=Path, default=Path("assets/data/long-regions/long_regions.fa.gz"))
    parser.add_argument("--test-chroms", default="chr20_block")
    parser.add_argument("--length", type=int, default=3000)
    parser.add_argument("--model", default="scratch-tiny")
    parser.add_argument("--kmer", default="6")
    parser.add_argument("--epochs", default="10")
    parser.add_argument("--outdir", type=Path, default=Path("benchmarks/out/long_task"))
    parser.add_argument("train_options", nargs="*", help="more `enhancerlm train` options, after --")
    args = parser.parse_args()
    out = args.outdir
    out.mkdir(parents=True, exist_ok=True)
    bed = out / f"cpg_islands_{args.length}.bed"
    n_positives = write_positives(args.genome, args.length, bed)
    genome, tests = str(args.genome), args.test_chroms
    enhancerlm_command("prepare", "--bed", str(bed), "--genome", genome, "--test-chroms", tests, "--outdir", str(out))
    dataset = out / f"{bed.stem}.dataset.tsv"
    table = read_dataset(dataset)
    models = {
        f"{args.model}, k = {args.kmer}": ["--model", args.model, "--kmer", args.kmer, "--epochs", args.epochs],
        "k-mer baseline": ["--model", "kmer-baseline"],
    }
    rows = {"GC only (logistic regression on GC fraction)": {**gc_only(table), "seconds": None, "peak_mb": None}}
    for name, options in models.items():
        model_dir = out / name.split(",")[0].replace(" ", "_")
        cost = enhancerlm_command(
            "train", "--dataset", str(dataset), *options, "--outdir", str(model_dir), "--device", "cpu",
            *(args.train_options if "--kmer" in options else []),
        )  # fmt: skip
        enhancerlm_command(
            "evaluate", "--model", str(model_dir), "--dataset", str(dataset), "--outdir", str(out / "evaluate")
        )
        metrics = json.loads((out / "evaluate" / f"{model_dir.name}.metrics.json").read_text())["subsets"]["all"]
        rows[name] = {**metrics, **cost}
    counts = table.groupby(["split", "label"]).size().to_dict()
    print(
        f"{n_positives} positive regions of {args.length:,} nt; train {counts.get(('train', 1), 0)} + "
        f"{counts.get(('train', 0), 0)}, test ({tests}) {counts.get(('test', 1), 0)} + {counts.get(('test', 0), 0)}"
    )
    print("| score | accuracy | MCC | AUC | training seconds | training peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        cells = [f"{row[key]:.3f}" if row[key] is not None else "n/a" for key in ("accuracy", "mcc", "auc")]
        cost = [f"{row['seconds']:.1f}" if row["seconds"] else "", f"{row['peak_mb']:,.0f}" if row["peak_mb"] else ""]
        print(f"| {name} | " + " | ".join(cells + cost) + " |")


if __name__ == "__main__":
    main()
