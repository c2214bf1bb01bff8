"""Are two pipeline runs the same? Compare every output of two `enhancerlm run` result directories.

Usage: python benchmarks/compare_runs.py BEFORE AFTER

For a change that must not change results (a refactoring): run `enhancerlm run --profile test --outdir X` before
and after it, with the same X (paths are recorded in the outputs), move each result away, and compare. JSON files
are compared without timing fields (seconds, rates, dates), gzip files by their content (their headers hold a
time), TSV files without timing columns; MultiQC's own output, the tabix indexes and the run's step records and
summary (which hold times and keys) are left out. Prints each file that differs or exists on one side only, and
exits 1 if there is one.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

TIMING = re.compile(r"seconds|started|finished|elapsed|per_second|time|date|created|duration|wall", re.IGNORECASE)
TIMING_COLUMNS = re.compile(r"^(Seconds|Windows/s)$")
LEFT_OUT = re.compile(r"^multiqc/|^pipeline_info/(params_|steps/|run_summary)|\.tbi$")


def without_timing(value):
    if isinstance(value, dict):
        return {key: without_timing(item) for key, item in value.items() if not TIMING.search(key)}
    if isinstance(value, list):
        return [without_timing(item) for item in value]
    return value


def tsv_without_timing(text: str) -> list[list[str]]:
    rows = [line.split("\t") for line in text.splitlines() if not line.startswith("#")]
    if not rows:
        return []
    kept = [index for index, name in enumerate(rows[0]) if not TIMING_COLUMNS.match(name)]
    return [[row[index] for index in kept if index < len(row)] for row in rows]


def content(path: Path):
    """What must be equal: the file's bytes (decompressed), its JSON without timing fields, its TSV rows without
    timing columns."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if path.suffix == ".json":
        return without_timing(json.loads(raw))
    if path.suffix == ".tsv":
        return tsv_without_timing(raw.decode())
    return raw


def compare(before: Path, after: Path) -> tuple[list[str], int]:
    """The differing files (with the reason) and how many were equal."""
    files = {side: {p.relative_to(side) for p in side.rglob("*") if p.is_file()} for side in (before, after)}
    compared = {name for name in files[before] | files[after] if not LEFT_OUT.search(name.as_posix())}
    problems = [f"only in {side}: {name}" for side in (before, after) for name in sorted(compared - files[side])]
    equal = 0
    for name in sorted(compared & files[before] & files[after]):
        if content(before / name) != content(after / name):
            problems.append(f"differs: {name}")
        else:
            equal += 1
    return problems, equal


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    problems, equal = compare(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join([*problems, f"{equal} files equal, {len(problems)} differ"]))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
