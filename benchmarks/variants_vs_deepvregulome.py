"""Variant scoring side by side with a peer: `enhancerlm variants` against DeepVRegulome (a DNABERT-based VCF scorer),
the same checkpoint, records and genome, in the same run.

Usage: python benchmarks/variants_vs_deepvregulome.py --genome GENOME.fa --vcf SITES.vcf.gz
           [--shapes small,base] [--records 0] [--base-records 200] [--threads 2] [--outdir DIR]

Needs the peer: `pip install --no-deps deepvregulome` (CC-BY-NC-4.0; it is used here, never copied into this
project). One DNABERT-6-layout `BertForSequenceClassification` checkpoint per shape (random weights; small: hidden
256, 4 layers; base: DNABERT's hidden 768, 12 layers), with DNABERT's 6-mer `vocab.txt`, is written once and read
by both tools: DeepVRegulome through its own `DVR.score_vcf` (Hugging Face `from_pretrained` of its registry's first
model, served offline from a Hub cache that holds this checkpoint), enhancerlm through `score_variants` on the same
directory (a sequence-classification checkpoint scores as its own softmax of label 1). Both use 301 bp windows
centred on the variant, forward strand only, batches of 64 (DeepVRegulome's `batch_size`), CPU, `--threads` torch
threads; everything else is each tool's default. Each (shape, tool) runs in a fresh process, so the peak RSS
(VmHWM) is its own. The first `--records` records (0: all) are scored with the small shape, `--base-records` with
the base one.

Reported: alleles in the input, alleles each tool scored (enhancerlm: by status), alleles/s, the ratio, peak RSS,
and how far the two tools' reference probabilities differ on the SNVs both scored (the same model on the same
window should give the same number). Results: a Markdown table on stdout and DIR/variants_vs_deepvregulome.json;
each tool's raw result, as soon as it ends, in DIR/SHAPE.TOOL.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from measure import dnabert_checkpoint, monitored, rss_mb
from variants_throughput import head_of_vcf

PEER_REPO = "duttaprat/DeepVRegulome"  # the Hub repository DeepVRegulome's registry reads its models from
SNAPSHOT = "0" * 40  # the Hub cache's revision of the local copy
WINDOW, BATCH = 301, 64


def build_checkpoint(shape: str, hub: Path, model_name: str) -> Path:
    """The checkpoint in a Hugging Face Hub cache laid out as the peer's repository (models/<name>/)."""
    repo = hub / f"models--{PEER_REPO.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(SNAPSHOT)
    return dnabert_checkpoint(shape, repo / "snapshots" / SNAPSHOT / "models" / model_name)


def run_enhancerlm(
    model: Path, genome: Path, vcf: Path, scratch: Path, *, window: int = WINDOW, keep_probabilities: bool = True
) -> dict:
    from enhancerlm.commands.variants import VariantOptions, score_variants

    options = VariantOptions(window=window, strand_mode="forward", batch_size=BATCH, device="cpu")
    started = time.perf_counter()
    report = score_variants(str(model), genome, vcf, scratch, prefix="bench", options=options)
    result = {
        "seconds": time.perf_counter() - started,
        "alleles_in": report["alleles"]["total"],
        "alleles": report["alleles"]["scored"],
        "by_status": {status: n for status, n in report["alleles"]["by_status"].items() if n},
    }
    if keep_probabilities:
        rows = [line.split("\t") for line in (scratch / "bench.scores.tsv").read_text().splitlines()]
        column = {name: i for i, name in enumerate(rows[0])}
        result["p_ref"] = {
            ":".join(r[column[field]] for field in ("chrom", "pos", "ref", "alt")): r[column["p_ref"]]
            for r in rows[1:]
            if r[column["status"]] == "scored"
        }
    return result


def run_peer(
    model_name: str, genome: Path, vcf: Path, scratch: Path, *, window: int = WINDOW, keep_probabilities: bool = True
) -> dict:
    from deepvregulome import DVR

    started = time.perf_counter()
    table = DVR(genome=str(genome), device="cpu").score_vcf(
        str(vcf), models=[model_name], batch_size=BATCH, flank=(window - 1) // 2
    )
    result = {"seconds": time.perf_counter() - started, "alleles": len(table)}
    if keep_probabilities:
        keys = table["chrom"].astype(str) + ":" + table["pos"].astype(str) + ":" + table["ref"] + ":" + table["alt"]
        result["p_ref"] = dict(zip(keys, table["prob_ref"].map("{:.6f}".format)))
    return result


def worker(
    tool: str, model: Path, genome: Path, vcf: Path, threads: int, window: int, keep_probabilities: bool
) -> None:
    import torch

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as scratch:
        if tool == "enhancerlm":
            result = run_enhancerlm(
                model, genome, vcf, Path(scratch), window=window, keep_probabilities=keep_probabilities
            )
        else:
            result = run_peer(
                model.name, genome, vcf, Path(scratch), window=window, keep_probabilities=keep_probabilities
            )
    result["peak_rss_mb"] = round(rss_mb(), 1)  # this process alone (VmHWM)
    print(json.dumps(result))


def worker_command(
    tool: str, model: Path, genome: Path, vcf: Path, threads: int, window: int = WINDOW, keep_probabilities: bool = True
) -> list[str]:
    """The command line that runs `worker` for one tool in a fresh process."""
    arguments = [tool, model, genome, vcf, threads, window, int(keep_probabilities)]
    return [sys.executable, __file__, "--worker", *map(str, arguments)]


def peer_environment(hub: Path) -> dict:
    """The environment in which the peer reads its model from the Hub cache `hub`, offline."""
    return {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def measure(tool: str, model: Path, hub: Path, genome: Path, vcf: Path, threads: int) -> dict:
    """One tool on one checkpoint in a fresh process, with no memory cap."""
    return monitored(worker_command(tool, model, genome, vcf, threads), peer_environment(hub), math.inf)


def compare(ours: dict, theirs: dict) -> dict:
    """The alleles both scored, and how far their reference probabilities are apart."""
    shared = set(ours["p_ref"]) & set(theirs["p_ref"])
    differences = [abs(float(ours["p_ref"][key]) - float(theirs["p_ref"][key])) for key in shared]
    return {"both_scored": len(shared), "max_p_ref_difference": max(differences, default=None)}


def rate(result: dict) -> float:
    """Alleles scored per second."""
    return result["alleles"] / result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genome", type=Path)
    parser.add_argument("--vcf", type=Path)
    parser.add_argument("--shapes", default="small,base")
    parser.add_argument("--records", type=int, default=0, help="Records for the small shape (0: all).")
    parser.add_argument("--base-records", type=int, default=200, help="Records for the base shape (0: all).")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--outdir", type=Path, default=None)
    parser.add_argument("--worker", nargs=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tool, model, genome, vcf, threads, window, keep = args.worker
        worker(tool, Path(model), Path(genome), Path(vcf), int(threads), int(window), keep == "1")
        return
    if not args.genome or not args.vcf:
        parser.error("--genome and --vcf are required")
    from deepvregulome import ModelRegistry

    model_name = ModelRegistry().list()[0].name  # the model the peer also takes its tokenizer from
    directory = args.outdir or Path(tempfile.mkdtemp(prefix="vs_deepvregulome_"))
    directory.mkdir(parents=True, exist_ok=True)
    results = {}
    for shape in args.shapes.split(","):
        hub = directory / f"hub_{shape}"
        model = build_checkpoint(shape, hub, model_name)
        records = args.records if shape == "small" else args.base_records
        vcf = head_of_vcf(args.vcf, records, directory / f"{shape}.vcf")
        measured = {}
        for tool in ("enhancerlm", "peer"):  # each kept as it ends, so a long run that is cut short keeps its half
            measured[tool] = measure(tool, model, hub, args.genome, vcf, args.threads)
            (directory / f"{shape}.{tool}.json").write_text(json.dumps(measured[tool]) + "\n")
        ours, theirs = measured["enhancerlm"], measured["peer"]
        row = {"enhancerlm": ours, "deepvregulome": theirs}
        if "error" not in ours and "error" not in theirs:
            row["agreement"] = compare(ours, theirs)
        for result in (ours, theirs):
            result.pop("p_ref", None)
            if "seconds" in result:
                result["alleles_per_second"] = round(rate(result), 2)
        results[shape] = row
        print(f"{shape}: {json.dumps(row)}", file=sys.stderr, flush=True)
    (directory / "variants_vs_deepvregulome.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| shape | tool | alleles scored (of input) | seconds | alleles/s | ratio | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|")
    for shape, row in results.items():
        ours, theirs = row["enhancerlm"], row["deepvregulome"]
        for tool, r in (("enhancerlm", ours), ("DeepVRegulome", theirs)):
            if "error" in r:
                print(f"| {shape} | {tool} | failed: {r['error']} | | | | |")
                continue
            ratio = (
                f"{rate(ours) / rate(theirs):.2f}"  # from the unrounded rates
                if tool == "enhancerlm" and "error" not in theirs
                else ""
            )
            print(
                f"| {shape} | {tool} | {r['alleles']} (of {ours.get('alleles_in', '?')}) | {r['seconds']:.1f} | "
                f"{r['alleles_per_second']} | {ratio} | {r['peak_rss_mb']} |"
            )


if __name__ == "__main__":
    main()
