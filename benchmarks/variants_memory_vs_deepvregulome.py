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
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import rss_mb
from variants_memory import CONTIG, SPACING, write_genome, write_vcf
from variants_vs_deepvregulome import build_checkpoint, run_enhancerlm, run_peer

TOOLS = ("enhancerlm", "peer")
SAMPLE_SECONDS = 0.2


def tree_pss_mb(pid: int) -> float:
    """Proportional resident memory (PSS: a page shared by n processes counts 1/n in each, so forked children
    are not counted twice) of a process and its descendants now, in MB (0 once it has gone)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/smaps_rollup").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Pss:")), 0) / 1024
        pending.extend(int(child) for child in children)
    return total


def monitored(command: list[str], env: dict, cap_mb: float) -> dict:
    """Run a worker, sampling its memory; stop it (and its children) if it passes `cap_mb`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    peak, stopped = 0.0, False
    while process.poll() is None:
        peak = max(peak, tree_pss_mb(process.pid))
        if peak > cap_mb:
            os.killpg(process.pid, signal.SIGKILL)
            stopped = True
            break
        time.sleep(SAMPLE_SECONDS)
    stdout, stderr = process.communicate()
    outcome = {"sampled_peak_pss_mb": round(peak, 1), "wall_seconds": round(time.perf_counter() - started, 1)}
    if stopped:
        return {**outcome, "stopped": f"passed the {cap_mb:,.0f} MB cap"}
    if process.returncode != 0:
        return {**outcome, "error": stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {process.returncode}"}
    return {**outcome, **json.loads(stdout.strip().splitlines()[-1])}


def worker(tool: str, model: Path, genome: Path, vcf: Path, window: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as scratch:
        if tool == "enhancerlm":
            result = run_enhancerlm(model, genome, vcf, Path(scratch), window=window, keep_probabilities=False)
        else:
            result = run_peer(model.name, genome, vcf, Path(scratch), window=window, keep_probabilities=False)
    result["peak_rss_mb"] = round(rss_mb(), 1)  # this process alone (VmHWM)
    print(json.dumps(result))


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
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tool, model, genome, vcf, window, threads = args.worker
        worker(tool, Path(model), Path(genome), Path(vcf), int(window), int(threads))
        return
    from deepvregulome import ModelRegistry

    counts = [int(c) for c in args.counts.split(",")]
    directory = args.outdir or Path(tempfile.mkdtemp(prefix="memory_vs_deepvregulome_"))
    directory.mkdir(parents=True, exist_ok=True)
    hub = directory / "hub"
    model = build_checkpoint("micro", hub, ModelRegistry().list()[0].name)
    sequences = write_genome(directory / "genome.fa", -(-max(counts) * SPACING // (CONTIG - 200)))
    env = {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    results: dict[int, dict] = {}
    for count in counts:
        vcf = write_vcf(directory / f"snvs_{count}.vcf.gz", sequences, count)
        for tool in TOOLS:
            arguments = [tool, model, directory / "genome.fa", vcf, args.window, args.threads]
            command = [sys.executable, __file__, "--worker", *map(str, arguments)]
            results.setdefault(count, {})[tool] = monitored(command, env, args.cap_gb * 1024)
            print(f"{count} SNVs, {tool}: {results[count][tool]}", file=sys.stderr, flush=True)
    (directory / "variants_memory_vs_deepvregulome.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


if __name__ == "__main__":
    main()
