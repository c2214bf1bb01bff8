"""Are two pipeline runs the same? Compare every output of two `enhancerlm run` result directories.

Usage: python benchmarks/compare_runs.py BEFORE AFTER

For a change that must not change results (a refactoring): run `enhancerlm run --profile test --outdir X` before
and after it, move each result away, and compare; or compare a Nextflow run with an `enhancerlm run` of the same
profile. JSON files are compared without timing fields (seconds, rates, dates), the recorded command line and the
samplesheet's name (the workflow writes one per dataset), with every file path reduced to its file name (the
runner records absolute paths, a Nextflow task the names it staged); gzip files by their content (their headers
hold a time), without the `##enhancerlm_command` header line; TSV files without timing columns; the
software-versions YAML without the Nextflow version line, which only a Nextflow run writes. Left out: MultiQC's
own output, the tabix indexes, the runner's step records, work folder and summary, and Nextflow's execution
report, timeline, trace and DAG. Prints each file that differs or exists on one side only, and exits 1 if there
is one.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

TIMING = re.compile(r"seconds|started|finished|elapsed|per_second|time|date|created|duration|wall", re.IGNORECASE)
TIMING_COLUMNS = re.compile(r"^(Seconds|Windows/s)$")
LEFT_OUT = re.compile(r"^multiqc/|^pipeline_info/(params_|steps/|run_summary|work/|execution_|pipeline_dag_)|\.tbi$")
# the command line, and the samplesheet prepare read: the workflow writes one per dataset, the runner reads the user's
PROVENANCE_KEYS = {"command", "samplesheet"}
PROVENANCE = re.compile(r"^(##enhancerlm_command=|    Nextflow: ).*\n", re.M)


def file_names(value):
    """Every path in a JSON value reduced to its file name ('/a/b/x.tsv' and 'x.tsv' are the same file)."""
    if isinstance(value, str) and "/" in value and " " not in value:
        return value.rstrip("/").rsplit("/", 1)[-1]
    if isinstance(value, dict):
        return {key: file_names(item) for key, item in value.items() if key not in PROVENANCE_KEYS}
    if isinstance(value, list):
        return [file_names(item) for item in value]
    return value


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
        return file_names(without_timing(json.loads(raw)))
    if path.suffix == ".tsv":
        return tsv_without_timing(raw.decode())
    if path.name.endswith((".vcf.gz", ".yml")):
        return PROVENANCE.sub("", raw.decode())
    return raw


def compare(before: Path, after: Path) -> tuple[list[str], int]:
    """The differing files (with the reason) and how many were equal."""
    files = {side: {p.relative_to(side) for p in side.rglob("*") if p.is_file()} for side in (before, after)}
    compared = {name for name in files[before] | files[after] if not LEFT_OUT.search(name.as_posix())}
    problems = [
        f"only in {other}: {name}"
        for side, other in ((before, after), (after, before))
        for name in sorted(compared - files[side])
    ]
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
