"""`enhancerlm merge-predictions`: chunked genome scans gathered into the files one whole-genome scan writes."""

from __future__ import annotations

import contextlib
import heapq
import logging
import time
from pathlib import Path

import numpy as np

from enhancerlm.analysis.calibration import calibration_tsv, read_calibration
from enhancerlm.analysis.scan import ScoreCounts
from enhancerlm.commands.scan_report import (
    ScanScope,
    calling_rule,
    finish_report,
    output_paths,
    staged_outputs,
    write_results,
)
from enhancerlm.commands.scatter import merged_throughput, read_reports, require_same
from enhancerlm.core.probability import parse_probabilities
from enhancerlm.errors import InputError
from enhancerlm.formats.files import write_text
from enhancerlm.formats.genome import genome_sizes
from enhancerlm.formats.tracks import read_score_counts
from enhancerlm.versions import software_versions

log = logging.getLogger(__name__)


def merge_predictions(
    inputs: list[str | Path],
    outdir: str | Path,
    *,
    prefix: str,
    genome: str | Path | None = None,
    fai: str | Path | None = None,
    threshold: float | None = None,
    fdr: float | None = None,
    merge_gap: int | None = None,
) -> dict:
    """Gather the outputs of chunked scans into the files one whole-genome scan would have written.

    The bedGraphs are merged in order (a window scored twice is an error), regions are called
    again across chunk borders (at the chunks' calling rule, or at `threshold` or `fdr` when given), counts are
    summed and the calibration samples pooled.
    """
    started = time.perf_counter()
    reports = read_reports(inputs)
    first = reports[0][1]
    require_same(reports, "scans")
    scoring = sorted({f"{r['throughput']['device']}, batch size {r['throughput']['batch_size']}" for _, r in reports})
    if len(scoring) > 1:
        log.warning(
            "the inputs were scored on %s: a language model's probabilities can then differ from a single "
            "scan's in the last decimal",
            " / ".join(scoring),
        )
    sizes = genome_sizes(genome, fai)
    parameters = dict(first["parameters"])
    if threshold is not None or fdr is not None:
        parameters.update(threshold=threshold, fdr=fdr)
    calling = calling_rule(parameters["threshold"], parameters.get("fdr"), calibrate=parameters["calibrate"])
    parameters.update(calling)
    parameters["merge_gap"] = merge_gap if merge_gap is not None else parameters["merge_gap"]
    window, stride = parameters["window"], parameters["stride"]
    paths = output_paths(Path(outdir), prefix, calibrate=parameters["calibrate"])
    with staged_outputs(paths) as staged:
        _merge_bedgraphs([_sibling(path, report, "bedgraph") for path, report in reports], staged["bedgraph"])
        null = _pooled_calibration(staged["calibration"], reports, parameters) if parameters["calibrate"] else None
        scores = ScoreCounts()
        for path, report in reports:
            scores.add_counts(read_score_counts(_sibling(path, report, "score_counts")))
        scope = _merged_scope(prefix, reports, parameters)
        scanned = scope["contigs"]["scanned"]
        truth = Path(parameters["truth"]) if parameters["truth"] else None
        summary = write_results(
            staged,
            prefix=prefix,
            sizes=sizes,
            window=window,
            stride=stride,
            calling=calling,
            merge_gap=parameters["merge_gap"],
            scanned=scanned,
            scores=scores,
            truth=truth,
            null=null,
        )
        throughput = {**scope["throughput"], "merge_seconds": round(time.perf_counter() - started, 2)}
        return finish_report(paths, staged, scope, summary, throughput)


def _pooled_calibration(path: Path, reports: list[tuple[Path, dict]], parameters: dict) -> np.ndarray:
    """The chunks' calibration samples pooled into one table (written to `path`); its probabilities."""
    table = read_calibration(
        [_sibling(json_path, report, "calibration") for json_path, report in reports], parameters["calibration_windows"]
    )
    write_text(path, calibration_tsv(table))
    return parse_probabilities(table["probability"])


def _merged_scope(prefix: str, reports: list[tuple[Path, dict]], parameters: dict) -> ScanScope:
    """What the chunks covered together, as one whole scan would report it (throughput summed)."""
    first = reports[0][1]
    every = [r for _, r in reports]
    return {
        "prefix": prefix,
        "model": first["model"],
        "genome": first["genome"],
        "parameters": parameters,
        "chunks": sorted(c for r in every for c in (r["chunks"] or [])) or None,
        "contigs": {
            "scanned": sorted({c for r in every for c in r["contigs"]["scanned"]}),
            "excluded": {
                reason: sorted({c for r in every for c in r["contigs"]["excluded"][reason]})
                for reason in first["contigs"]["excluded"]
            },
        },
        "short_contigs": sorted({c for r in every for c in r["short_contigs"]}),
        "windows": {
            "scored": sum(r["windows"]["scored"] for r in every),
            "skipped": {
                reason: sum(r["windows"]["skipped"][reason] for r in every) for reason in first["windows"]["skipped"]
            },
        },
        "throughput": merged_throughput(reports, {"merge_seconds": None}),
        "versions": software_versions(),
    }


def _sibling(json_path: Path, report: dict, key: str) -> Path:
    path = json_path.parent / report["outputs"][key]
    if not path.is_file():
        raise InputError(f"{json_path}: its {key} file {path.name} is missing")
    return path


def _merge_bedgraphs(paths: list[Path], target: Path) -> None:
    """Merge sorted bedGraphs line by line; a tile present twice means overlapping chunks."""
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(path)) for path in paths]
        streams = [
            ((line.split("\t", 2)[0], int(line.split("\t", 2)[1]), line, path) for line in handle)
            for handle, path in zip(handles, paths)
        ]
        previous = None
        with open(target, "w") as out:
            for chrom, start, line, path in heapq.merge(*streams, key=lambda item: item[:2]):
                if previous and previous[:2] == (chrom, start):
                    raise InputError(
                        f"{path}: {chrom}:{start} is also in {previous[2]}; the inputs overlap "
                        "(a window belongs to the one chunk that holds its start)"
                    )
                previous = (chrom, start, path)
                out.write(line)
