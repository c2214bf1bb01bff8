"""`enhancerlm merge-variants`: the outputs of chunked variant runs gathered into those of one unchunked run."""

from __future__ import annotations

import contextlib
import gzip
import heapq
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

from enhancerlm.commands.scatter import merged_throughput, read_reports, require_same
from enhancerlm.commands.variants import (
    CONVENTIONS,
    TSV_COLUMNS,
    VariantScope,
    finish_report,
    output_paths,
    staged_outputs,
)
from enhancerlm.errors import InputError
from enhancerlm.formats.vcf import UNPLACED, next_line, replace_command, vcf_header_of, write_index
from enhancerlm.versions import software_versions


def merge_variants(inputs: list[str | Path], outdir: str | Path, *, prefix: str) -> dict:
    """Gather the outputs of chunked runs into the files one unchunked run writes: the TSV and the VCF records
    in input order, byte for byte; every input record must be in exactly one chunk."""
    started = time.perf_counter()
    reports = _read_reports(inputs)
    first_path, first = reports[0]
    require_same(reports, "runs")
    for path, report in reports[1:]:
        if (report["vcf"]["records"], report["vcf"]["header_sha256"]) != (
            first["vcf"]["records"],
            first["vcf"]["header_sha256"],
        ):
            raise InputError(f"{path}: scored another VCF than {first_path} (record count or header differ)")
    labels = [label for _, r in reports for label in (r["chunks"] or ["(unchunked)"])]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise InputError(f"chunk {repeated[0]} is among the inputs more than once")
    expected = first["vcf"]["records"]
    options = [*(a for i in inputs for a in ("--input", str(i))), "--outdir", str(outdir), "--prefix", prefix]
    command = shlex.join(["enhancerlm", "merge-variants", *options])
    paths = output_paths(Path(outdir), prefix)
    with staged_outputs(paths) as (staged, stack):
        written = _merge_chunks(staged, reports, command)
        if written != expected:
            if written > expected:
                raise InputError(f"the chunks hold {written} records, but the input VCF has {expected}")
            _missing_or_repeated(expected + 1, written, None)
        index = write_index(staged, stack, paths["vcf"], all(r["vcf"]["sorted"] for _, r in reports))
        scope: VariantScope = {
            "prefix": prefix,
            "model": first["model"],
            "genome": first["genome"],
            "vcf": {key: first["vcf"][key] for key in ("path", "records", "header_sha256", "sorted")},
            "parameters": first["parameters"],
            "conventions": CONVENTIONS,
            "chunks": sorted(labels),
            "contigs": _merged_contigs([r["contigs"] for _, r in reports]),
            "throughput": merged_throughput(reports),
            "command": command,
            "versions": software_versions(),
        }
        return finish_report(paths, staged, scope, index, started, merged=True)


def _merge_chunks(staged: dict[str, Path], reports: list[tuple[Path, dict]], command: str) -> int:
    """Write the chunks' TSV rows and VCF records in input order under one header; the number of records."""
    import pysam.libcbgzf

    first_path, first = reports[0]
    with (
        contextlib.ExitStack() as readers,
        open(staged["tsv"], "w") as tsv,
        pysam.libcbgzf.BGZFile(str(staged["vcf"]), "wb") as out,
    ):
        streams = [
            _chunk_records(path.parent / report["outputs"]["tsv"], path.parent / report["outputs"]["vcf"], readers)
            for path, report in reports
        ]
        header = vcf_header_of(first_path.parent / first["outputs"]["vcf"])
        out.write(replace_command(header, command).encode())
        tsv.write("\t".join(TSV_COLUMNS) + "\n")
        written = 0
        for number, rows, line, source in heapq.merge(*streams, key=lambda item: item[0]):
            if number != written + 1:
                _missing_or_repeated(number, written, source)
            tsv.write(rows)
            out.write(line.encode())
            written = number
    return written


def _read_reports(inputs: list[str | Path]) -> list[tuple[Path, dict]]:
    """The variants.json of each input, whose TSV and VCF must be beside it."""
    reports = read_reports(inputs, "variants")
    for path, report in reports:
        for key in ("tsv", "vcf"):
            if not (path.parent / report["outputs"][key]).is_file():
                raise InputError(f"{path}: its {key} file {report['outputs'][key]} is missing")
    return reports


def _chunk_records(tsv: Path, vcf: Path, stack: contextlib.ExitStack) -> Iterator[tuple[int, str, str, Path]]:
    """(record number, its TSV rows, its VCF line, source) of one chunk's outputs, in order."""
    rows = stack.enter_context(open(tsv))
    lines = stack.enter_context(gzip.open(vcf, "rt"))
    next(rows)
    body = (line for line in lines if not line.startswith("#"))
    current, text = None, []
    for row in rows:
        number = int(row.rsplit("\t", 1)[1])
        if current is not None and number != current:
            yield current, "".join(text), next_line(body, vcf), tsv
            text = []
        current = number
        text.append(row)
    if current is not None:
        yield current, "".join(text), next_line(body, vcf), tsv
    if next(body, None) is not None:
        raise InputError(f"{vcf}: has more records than {tsv}")


def _missing_or_repeated(number: int, written: int, source: Path | None) -> None:
    if number <= written:
        raise InputError(f"{source}: record {number} of the input VCF is also in another chunk; the chunks overlap")
    missing = f"{written + 1}" if number == written + 2 else f"{written + 1}-{number - 1}"
    raise InputError(
        f"records {missing} of the input VCF are in no chunk: give chunks covering every contig "
        f"of the genome, plus --chunk {UNPLACED} for records off the genome"
    )


def _merged_contigs(reports: list[dict]) -> dict:
    mapping = {k: v for r in reports for k, v in r["mapping"].items()}
    notes = {k: v for r in reports for k, v in r["notes"].items()}
    return {
        "mapping": dict(sorted(mapping.items())),
        "renamed": {k: v for k, v in sorted(mapping.items()) if v is not None and v != k},
        "not_in_genome": sorted(k for k, v in mapping.items() if v is None),
        "notes": dict(sorted(notes.items())),
    }
