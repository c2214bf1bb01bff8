"""Start-up of the command line: what `enhancerlm versions --tool enhancerlm` (run two or three times by every
Nextflow task) and one small `predict` cost, against the same commands with every command module imported first,
as the command line did before it loaded commands lazily. Both run in the same session, each in a fresh process,
so the ratio holds on any machine.

Usage: python benchmarks/cli_startup.py [--repeats 7] [--before SRC]
  --before SRC  also run the commands with PYTHONPATH=SRC: the `src` folder of an older checkout (before/after).
Prints a Markdown table: median wall seconds of each command, and the eager/lazy ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EAGER = (  # every module the command line imported at start-up before it loaded commands lazily
    "import enhancerlm.commands.benchmark, enhancerlm.commands.chunks, enhancerlm.commands.ensemble, "
    "enhancerlm.commands.evaluate, enhancerlm.commands.merge_predictions, enhancerlm.commands.merge_variants, "
    "enhancerlm.commands.motifs, enhancerlm.commands.predict, enhancerlm.commands.prepare, "
    "enhancerlm.commands.pretrain, enhancerlm.commands.train, enhancerlm.commands.variants, "
    "enhancerlm.pipeline.runner, enhancerlm.models.checkpoint; "
)
RUN_CLI = "import sys; from enhancerlm.cli import main; main(sys.argv[1:], prog_name='enhancerlm')"


def wall_seconds(code: str, argv: list[str], env: dict[str, str], repeats: int) -> float:
    """Median wall time of `python -c code argv...` in fresh processes."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def small_scan_inputs(directory: Path) -> list[str]:
    """A 20 kb random genome and a k-mer baseline trained on the bundled mini data set: `predict`'s arguments."""
    rng = np.random.default_rng(0)
    genome = directory / "genome.fa"
    genome.write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 20_000)) + "\n")
    sheet = Path(__file__).resolve().parents[1] / "assets/samplesheets/mini_layer1.csv"
    cli = [sys.executable, "-c", RUN_CLI]
    subprocess.run([*cli, "prepare", "--input", sheet, "--outdir", directory, "--folds", "3"], check=True)
    dataset = directory / "mini_layer1.dataset.tsv"
    model = directory / "baseline"
    subprocess.run([*cli, "train", "--dataset", dataset, "--model", "kmer-baseline", "--outdir", model], check=True)
    return ["predict", "--model", str(model), "--genome", str(genome), "--threshold", "0.5", "--no-calibrate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", type=Path, default=None, help="src folder of an older checkout")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory() as work:
        scan = [*small_scan_inputs(Path(work)), "--outdir", str(Path(work) / "scan")]
        commands = {"versions --tool enhancerlm": ["versions", "--tool", "enhancerlm"], "small predict": scan}
        print(
            "| command | lazy (s) | eager imports first (s) | eager / lazy |" + (" before (s) |" if args.before else "")
        )
        print("|---|---:|---:|---:|" + ("---:|" if args.before else ""))
        floor = wall_seconds("pass", [], env, args.repeats)
        for name, argv in commands.items():
            lazy = wall_seconds(RUN_CLI, argv, env, args.repeats)
            eager = wall_seconds(EAGER + RUN_CLI, argv, env, args.repeats)
            row = f"| `{name}` | {lazy:.2f} | {eager:.2f} | {eager / lazy:.1f} |"
            if args.before:
                before = wall_seconds(RUN_CLI, argv, {**env, "PYTHONPATH": str(args.before)}, args.repeats)
                row += f" {before:.2f} |"
            print(row)
        print(f"\nPython itself (`python -c pass`): {floor:.2f} s; median of {args.repeats} fresh processes each.")


if __name__ == "__main__":
    main()
