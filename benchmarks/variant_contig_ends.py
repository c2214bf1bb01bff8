"""Variants near contig ends: alleles scored with centred windows (`--edge center`, the default) and with windows
slid inside the contig (`--edge shift`), on short contigs such as the 500-600 bp elements of a saturation-mutagenesis
screen.

Usage: python benchmarks/variant_contig_ends.py --genome GENOME.fa --vcf SITES.vcf.gz --contig NAME
           [--element-length 550] [--elements 200] [--window 200] [--outdir DIR]

The first `--elements` pieces of `--element-length` bases of `--contig` become contigs of their own, and the VCF's
records on them are moved to those contigs (records whose REF crosses a piece's end are dropped). One scratch-tiny
model (k = 3, random weights, window `--window`, forward strand) scores the same records both ways. Results: the
alleles by status, the share scored and the seconds of each, as a Markdown table on stdout and DIR/contig_ends.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pysam
import torch

from enhancerlm.commands.variants import VariantOptions, score_variants
from enhancerlm.models.checkpoint import load_model, save_model


def cut_elements(genome: Path, vcf: Path, contig: str, length: int, count: int, outdir: Path) -> tuple[Path, Path]:
    """The pieces as a FASTA of their own, and the VCF records on them in piece coordinates."""
    fasta = pysam.FastaFile(str(genome))
    elements = outdir / "elements.fa"
    elements.write_text("".join(f">e{i}\n{fasta.fetch(contig, i * length, (i + 1) * length)}\n" for i in range(count)))
    header = ["##fileformat=VCFv4.2", *(f"##contig=<ID=e{i},length={length}>" for i in range(count))]
    lines = [*header, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for record in pysam.VariantFile(str(vcf)).fetch(contig, 0, count * length):
        piece, position = divmod(record.pos - 1, length)
        if position + len(record.ref) <= length:
            alts = ",".join(record.alts or ["."])
            lines.append(f"e{piece}\t{position + 1}\t{record.id or '.'}\t{record.ref}\t{alts}\t.\t.\t.")
    sites = outdir / "elements.vcf"
    sites.write_text("\n".join(lines) + "\n")
    return elements, sites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genome", type=Path, required=True)
    parser.add_argument("--vcf", type=Path, required=True)
    parser.add_argument("--contig", required=True)
    parser.add_argument("--element-length", type=int, default=550)
    parser.add_argument("--elements", type=int, default=200)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--outdir", type=Path, default=None)
    args = parser.parse_args()
    outdir = args.outdir or Path(tempfile.mkdtemp(prefix="contig_ends_"))
    outdir.mkdir(parents=True, exist_ok=True)
    fasta, vcf = cut_elements(args.genome, args.vcf, args.contig, args.element_length, args.elements, outdir)
    torch.manual_seed(0)
    card = {"model_id": "tiny", "type": "language-model", "window": args.window, "threshold": 0.5}
    save_model(
        load_model("scratch-tiny", kmer=3, max_positions=args.window + 56),
        outdir / "model",
        {**card, "strand_mode": "forward"},
    )
    results = {}
    for edge in ("center", "shift"):
        started = time.perf_counter()
        report = score_variants(
            str(outdir / "model"),
            fasta,
            vcf,
            outdir / edge,
            prefix=edge,
            options=VariantOptions(edge=edge, device="cpu"),
        )
        alleles = report["alleles"]
        results[edge] = {
            "alleles": alleles["total"],
            "by_status": {status: n for status, n in alleles["by_status"].items() if n},
            "scored_share": round(alleles["scored"] / alleles["total"], 4),
            "seconds": round(time.perf_counter() - started, 1),
        }
    (outdir / "contig_ends.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| --edge | alleles | scored | window_off_contig | scored share | seconds |\n|---|---|---|---|---|---|")
    for edge, row in results.items():
        statuses = row["by_status"]
        print(
            f"| {edge} | {row['alleles']} | {statuses.get('scored', 0)} | {statuses.get('window_off_contig', 0)} | "
            f"{row['scored_share']:.1%} | {row['seconds']} |"
        )


if __name__ == "__main__":
    main()
