"""A chunked genome scan as the pipeline runs it (chunks -> predict per chunk -> merge-predictions), timed with this
checkout and, with --before, with an older one on the same inputs in the same session; the merged files of the two
must be byte-identical (give --strand-mode when the two versions choose strands differently).

Usage: python benchmarks/chunked_scan.py --model DIR --genome FASTA [--size 10000000] [--before SRC]
       [-- predict options...]
Prints a Markdown table: seconds of the chunk scans and of the merge, files a chunk wrote, and the ratio.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN_CLI = "import sys; from enhancerlm.cli import main; main(sys.argv[1:], prog_name='enhancerlm')"
MERGED = ("windows.bedgraph", "enhancers.bed", "calibration.tsv")


def enhancerlm(argv: list, env: dict) -> float:
    """Seconds of one `enhancerlm` command in a fresh process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN_CLI, "-q", *map(str, argv)], check=True, env=env)
    return time.perf_counter() - started


def chunked_scan(args: argparse.Namespace, work: Path, env: dict) -> dict:
    """Run the scan chunk by chunk and merge it; the seconds of each part and what the chunks wrote."""
    enhancerlm(["chunks", "--genome", args.genome, "--size", args.size, "--output", work / "chunks.bed"], env)
    chunks = [line.split("\t")[3].strip() for line in (work / "chunks.bed").read_text().splitlines()]
    scan = 0.0
    for number, chunk in enumerate(chunks):
        argv = ["predict", "--model", args.model, "--genome", args.genome, "--chunk", chunk, "--prefix", "scan"]
        scan += enhancerlm([*argv, "--outdir", work / f"chunk{number}", "--device", "cpu", *args.predict], env)
    inputs = [item for number in range(len(chunks)) for item in ("--input", work / f"chunk{number}")]
    merge = enhancerlm(
        ["merge-predictions", *inputs, "--genome", args.genome, "--outdir", work / "merged", "--prefix", "scan"], env
    )
    written = sorted(path.name for path in (work / "chunk0").iterdir())
    return {"chunks": len(chunks), "scan": scan, "merge": merge, "written": written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--genome", required=True)
    parser.add_argument("--size", default=10_000_000, type=int)
    parser.add_argument("--before", type=Path, default=None, help="src folder of an older checkout")
    parser.add_argument("predict", nargs="*", help="further predict options (after --)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {"this checkout": (Path(tmp) / "after", env)}
        if args.before:
            runs["before"] = (Path(tmp) / "before", {**env, "PYTHONPATH": str(args.before)})
        results = {}
        for name, (work, run_env) in runs.items():
            work.mkdir()
            results[name] = chunked_scan(args, work, run_env)
        print("| code | chunks | chunk scans (s) | merge (s) | total (s) | a chunk wrote |")
        print("|---|---:|---:|---:|---:|---|")
        for name, r in results.items():
            total = r["scan"] + r["merge"]
            written = ", ".join(r["written"])
            print(f"| {name} | {r['chunks']} | {r['scan']:.1f} | {r['merge']:.1f} | {total:.1f} | {written} |")
        if args.before:
            after, before = (results[name] for name in ("this checkout", "before"))
            ratio = (before["scan"] + before["merge"]) / (after["scan"] + after["merge"])
            same = all(
                filecmp.cmp(
                    Path(tmp) / "after/merged" / f"scan.{name}",
                    Path(tmp) / "before/merged" / f"scan.{name}",
                    shallow=False,
                )
                for name in MERGED
                if (Path(tmp) / "before/merged" / f"scan.{name}").exists()
            )
            print(f"\nbefore / this checkout: {ratio:.2f}; merged {', '.join(MERGED)} byte-identical: {same}")


if __name__ == "__main__":
    main()
