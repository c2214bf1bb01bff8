"""Cost of the near-duplicate check in `prepare`: time and peak resident memory of `enhancerlm prepare` with
`--near-duplicates on` against `off` on the same input (ratios), at several data-set sizes, each run in a fresh
process, and the check's growth from the smallest to the largest set.

Inputs are random records (half enhancers, a fifth of each class in test), one in twenty of them (drawn at random)
a near copy of another (5 % substitutions, or a window shifted by a third, on a random strand), so the check has
work to confirm.

Usage: python benchmarks/near_duplicates.py [--sets 10000x200,100000x200,10000x3000] [--outdir DIR]
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from measure import enhancerlm_command

from enhancerlm.core.dna import reverse_complement


def near_copy(sequence: str, rng: np.random.Generator) -> str:
    """5 % substitutions or a window shifted by a third (padded with new bases), on a random strand."""
    if rng.random() < 0.5:
        bases = np.array(list(sequence))
        where = rng.choice(len(bases), len(bases) // 20, replace=False)
        bases[where] = rng.choice(list("ACGT"), len(where))
        copy = "".join(bases)
    else:
        shift = len(sequence) // 3
        copy = sequence[shift:] + "".join(rng.choice(list("ACGT"), shift))
    return reverse_complement(copy) if rng.random() < 0.5 else copy


def write_input(directory: Path, records: int, length: int) -> Path:
    """A samplesheet of four FASTA files (train/test x enhancer/non-enhancer)."""
    rng = np.random.default_rng(records + length)
    sequences: list[str] = []
    for index in range(records):
        if index and rng.random() < 0.05:  # drawn, not every 20th: copies land in every split and class
            sequences.append(near_copy(sequences[int(rng.integers(index))], rng))
        else:
            sequences.append("".join(rng.choice(list("ACGT"), length)))
    rows = ["dataset,fasta,label,split"]
    for split, label, part in (("train", "enhancer", 0), ("train", "non-enhancer", 1), ("test", "enhancer", 2)):
        rows.append(f"bench,{split}_{label}.fa,{label},{split}")
    rows.append("bench,test_non-enhancer.fa,non-enhancer,test")
    handles = {name: open(directory / f"{name}.fa", "w") for name in _FILES}
    for index, sequence in enumerate(sequences):
        name = _FILES[(0 if index % 5 < 4 else 2) + index % 2]
        handles[name].write(f">r{index}\n{sequence}\n")
    for handle in handles.values():
        handle.close()
    sheet = directory / "samplesheet.csv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


_FILES = ("train_enhancer", "train_non-enhancer", "test_enhancer", "test_non-enhancer")


def run_prepare(sheet: Path, outdir: Path, near: str) -> dict:
    """`enhancerlm prepare` in its own process: seconds, peak resident memory and the report it wrote."""
    cost = enhancerlm_command("prepare", "--input", str(sheet), "--outdir", str(outdir), "--near-duplicates", near)
    return {**cost, "report": (outdir / "bench.prepare.json").read_text()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="10000x200,100000x200,10000x3000")
    args = parser.parse_args()
    print(
        "| records x length | off: seconds, peak MB | on: seconds, peak MB | time ratio | memory ratio | near copies |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for spec in args.sets.split(","):
        records, length = map(int, spec.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            sheet = write_input(Path(tmp), records, length)
            off = run_prepare(sheet, Path(tmp) / "off", "off")
            on = run_prepare(sheet, Path(tmp) / "on", "on")
        duplicates = json.loads(on["report"])["duplicates"]
        found = duplicates["near_duplicates"]["train_pairs"] + duplicates["train_test"]["near_duplicate"]
        print(
            f"| {records:,} x {length:,} | {off['seconds']:.1f}, {off['peak_mb']:,.0f} | "
            f"{on['seconds']:.1f}, {on['peak_mb']:,.0f} | {on['seconds'] / off['seconds']:.2f} | "
            f"{on['peak_mb'] / off['peak_mb']:.2f} | {found:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
