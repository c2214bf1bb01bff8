"""Replay steps of an earlier `enhancerlm run` with this checkout, on that run's own inputs and models, and compare
what they write with what the run wrote (as `compare_runs.py` compares). For a change that alters results on
purpose: give the option that restores the old behaviour, and every file must come out the same.

Usage: python benchmarks/replay_steps.py RUN OUT [--steps PREDICT,MERGEPREDICTIONS,VARIANTS]
       [--option "VERB=OPTIONS"]...
  e.g. --option "predict=--strand-mode both" --option "variants=--strand-mode both"
Each step's recorded command line (RUN/pipeline_info/steps/*.json) runs with its --outdir (and a merge's --input)
moved from RUN to OUT; the outputs of each replayed step's folder under OUT are compared with RUN's (files there that
no replayed step writes are counted as not replayed). Exits 1 if any differs or is missing.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from compare_runs import compare

RUN_CLI = "import sys; from enhancerlm.cli import main; main(sys.argv[1:], prog_name='enhancerlm')"
MOVED = {"--outdir", "--input"}  # the options that name where a step writes (or a merge reads its chunks)


def moved(argv: list[str], run: Path, out: Path) -> list[str]:
    """The command line with every --outdir and --input under RUN moved under OUT."""
    return [
        value.replace(str(run), str(out), 1)
        if index and argv[index - 1] in MOVED and value.startswith(str(run))
        else value
        for index, value in enumerate(argv)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", default="PREDICT,MERGEPREDICTIONS,VARIANTS")
    parser.add_argument("--option", action="append", default=[], help="VERB=OPTIONS added to that verb's steps")
    args = parser.parse_args()
    added = {verb: shlex.split(options) for verb, options in (item.split("=", 1) for item in args.option)}
    folders = set()
    for step in args.steps.split(","):
        for record in sorted((args.run / "pipeline_info" / "steps").glob(f"{step}_*.json")):
            argv = moved(json.loads(record.read_text())["argv"], args.run.resolve(), args.out.resolve())
            argv += added.get(argv[0], [])
            subprocess.run([sys.executable, "-c", RUN_CLI, "-q", *argv], check=True)
            outdir = Path(argv[argv.index("--outdir") + 1])
            if not outdir.is_relative_to(args.out.resolve() / "pipeline_info"):
                folders.add(outdir.relative_to(args.out.resolve()))
    failed = False
    for folder in sorted(folders):
        problems, equal = compare(args.run / folder, args.out / folder)
        # files of the run that another step wrote into the same folder (the chunk summary, say)
        others = [p for p in problems if p.startswith(f"only in {args.run / folder}")]
        problems = [p for p in problems if p not in others]
        print(
            "\n".join([*problems, f"{folder}: {equal} files equal, {len(problems)} differ, {len(others)} not replayed"])
        )
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
