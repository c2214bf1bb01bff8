"""Peak memory of `enhancerlm variants` and of DeepVRegulome on the same VCFs of 20,000 and 500,000 SNVs.

Usage: python benchmarks/variants_memory_vs_deepvregulome.py [--counts 20000,500000] [--window 31] [--threads 2]
           [--cap-gb 12] [--outdir DIR]

Needs the peer, as variants_vs_deepvregulome.py does (`pip install --no-deps deepvregulome`, never copied here).
A micro DNABERT-6-layout `BertForSequenceClassification` checkpoint (random weights, hidden 32, one layer: the
network costs little, so what is measured is each tool's handling of the records) is read by both tools from the
peer's Hub-cache layout; both score the same synthetic SNVs (one every 20 bp along a random genome of 1 Mb
contigs, variants_memory.py's) in windows of `--window` bp centred on the variant (the peer's `flank`), forward
strand, batches of 64. Each (tool, count) runs in a fresh process whose resident memory, with its child
processes' (the peer extracts sequences in a process pool), is sampled every 0.2 s as PSS; a run whose memory passes
`--cap-gb` is stopped there and reported as such, with the time it got to, so the machine is not driven out of
memory. Results: a Markdown table on stdout and DIR/variants_memory_vs_deepvregulome.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from measure import monitored
from variants_memory import CONTIG, SPACING, write_genome, write_vcf
from variants_vs_deepvregulome import build_checkpoint, peer_environment, worker_command

TOOLS = ("enhancerlm", "peer")


def print_table(results: dict) -> None:
    print("| SNVs | tool | alleles scored | seconds | peak RSS, process (MB) | peak PSS sampled, with children (MB) |")
    print("|---|---|---|---|---|---|")
    for count, row in results.items():
        for tool, r in row.items():
            name = "enhancerlm" if tool == "enhancerlm" else "DeepVRegulome"
            if "alleles" not in r:
                outcome = r.get("stopped") or f"failed: {r.get('error')}"
                print(
                    f"| {int(count):,} | {name} | {outcome} after {r['wall_seconds']} s | | | "
                    f"> {r['sampled_peak_pss_mb']:,.0f} |"
                )
                continue
            print(
                f"| {int(count):,} | {name} | {r['alleles']:,} | {r['seconds']:.1f} | {r['peak_rss_mb']:,.1f} | "
                f"{r['sampled_peak_pss_mb']:,.1f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="20000,500000", help="Numbers of SNVs, comma-separated.")
    parser.add_argument("--window", type=int, default=31)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cap-gb", type=float, default=12.0, help="Stop a run whose memory passes this.")
    parser.add_argument("--outdir", type=Path, default=None)
    args = parser.parse_args()
    from deepvregulome import ModelRegistry

    counts = [int(c) for c in args.counts.split(",")]
    directory = args.outdir or Path(tempfile.mkdtemp(prefix="memory_vs_deepvregulome_"))
    directory.mkdir(parents=True, exist_ok=True)
    hub = directory / "hub"
    model = build_checkpoint("micro", hub, ModelRegistry().list()[0].name)
    sequences = write_genome(directory / "genome.fa", -(-max(counts) * SPACING // (CONTIG - 200)))
    results: dict[int, dict] = {}
    for count in counts:
        vcf = write_vcf(directory / f"snvs_{count}.vcf.gz", sequences, count)
        for tool in TOOLS:
            command = worker_command(tool, model, directory / "genome.fa", vcf, args.threads, args.window, False)
            results.setdefault(count, {})[tool] = monitored(command, peer_environment(hub), args.cap_gb * 1024)
            print(f"{count} SNVs, {tool}: {results[count][tool]}", file=sys.stderr, flush=True)
    (directory / "variants_memory_vs_deepvregulome.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


if __name__ == "__main__":
    main()
