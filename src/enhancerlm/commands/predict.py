"""Genome-wide enhancer prediction: score windows along a genome and call enhancer regions.

Windows of `window` nt lie on a grid every `stride` nt anchored at each contig's start. Each
window's probability (both strands averaged unless `forward`) is written to a bedGraph on the
window's centre `stride` bases, so the track tiles without overlap. Everything else (regions,
score distribution, bigWig, FDR, precision and recall) is computed from that bedGraph and the
window grid alone, which is why chunk outputs gathered by `merge_predictions` give the same
files as one whole-genome run. Coordinates are 0-based and half-open.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm.analysis.calibration import CalibrationSample, calibration_tsv, score_shuffled
from enhancerlm.analysis.scan import GROUP_WINDOWS, ScoreCounts, parse_chunk, regroup, select_contigs, window_blocks
from enhancerlm.commands.runtime import return_large_blocks
from enhancerlm.commands.scan_report import (
    ScanScope,
    calling_rule,
    finish_chunk,
    finish_report,
    output_paths,
    staged_outputs,
    write_results,
)
from enhancerlm.core.probability import format_probability, parse_probabilities, to_millionths
from enhancerlm.defaults import CALIBRATION_WINDOWS, DEFAULT_EXCLUDE, DEFAULT_FDR
from enhancerlm.errors import InputError
from enhancerlm.formats.bed import RegionIndex, read_bed
from enhancerlm.formats.files import write_text
from enhancerlm.formats.genome import open_genome
from enhancerlm.formats.tracks import bedgraph_lines, tile_offset, write_score_counts
from enhancerlm.models.card import both_strands, model_summary, strand_mode
from enhancerlm.models.classifier import resolve_device
from enhancerlm.models.scorer import Scorer, load_trained, scan_window
from enhancerlm.versions import software_versions

log = logging.getLogger(__name__)


@dataclass
class ScanOptions:
    """What to scan and how. Regions are called at the empirical `fdr` against shuffled windows, or at a raw
    probability `threshold` when one is given; `window` None takes the model card's."""

    window: int | None = None
    stride: int = 50
    threshold: float | None = None
    fdr: float = DEFAULT_FDR
    merge_gap: int = 0
    max_n_fraction: float = 0.1
    strand_mode: str | None = None  # None: as the model card says
    include_contigs: list[str] | None = None
    exclude_contigs: str | None = None  # None: DEFAULT_EXCLUDE; "": none
    chunk: str | None = None
    regions: Path | None = None
    blacklist: Path | None = None
    truth: Path | None = None
    calibrate: bool = True
    calibration_windows: int = CALIBRATION_WINDOWS
    seed: int = 42
    batch_size: int = 64
    device: str = "auto"


def predict(
    model_spec: str,
    genome_path: str | Path,
    outdir: str | Path,
    *,
    prefix: str | None = None,
    options: ScanOptions | None = None,
    fai: str | Path | None = None,
    gzi: str | Path | None = None,
) -> dict:
    """Scan a genome (or a chunk of it) with a trained model; write the bedGraph, bigWig, regions and report.

    Every output appears only when the whole scan succeeded. Returns the report (NAME.predict.json).
    """
    options = options or ScanOptions()
    started = time.perf_counter()
    model = load_trained(model_spec)
    window = scan_window(model, options.window)
    options = replace(options, strand_mode=strand_mode(model.card, options.strand_mode))
    calling = calling_rule(options.threshold, options.fdr, calibrate=options.calibrate)
    prefix = prefix or model.card["model_id"]
    device = resolve_device(options.device)
    return_large_blocks()
    with open_genome(genome_path, fai=fai, gzi=gzi) as genome:
        sizes = genome.sizes
        targets, excluded, chunk = scan_targets(sizes, options)
        regions = _region_index(read_bed(options.regions, sizes)) if options.regions else None
        blacklist = _region_index(read_bed(options.blacklist)) if options.blacklist else None
        paths = output_paths(Path(outdir), prefix, calibrate=options.calibrate, chunk=chunk is not None)
        with staged_outputs(paths) as staged:
            null, scores, skipped = score_genome(
                staged, genome, model, targets, chunk, (regions, blacklist), window, options, device
            )
            windows = {"scored": scores.total, "skipped": skipped}
            scope: ScanScope = {
                "prefix": prefix,
                "model": model_summary(model.card, model_spec),
                "genome": str(genome_path),
                "parameters": _parameters(options, window, calling),
                **_scanned(chunk, targets, excluded, sizes, window, windows),
                "throughput": {"seconds": None, "device": str(device), "batch_size": options.batch_size},
                "versions": software_versions(),
            }
            if chunk:  # a piece of a scan: merge-predictions calls the regions and builds the tracks
                return finish_chunk(paths, staged, scope, _throughput(scope, started))
            summary = write_results(
                staged,
                prefix=prefix,
                sizes=sizes,
                window=window,
                stride=options.stride,
                calling=calling,
                merge_gap=options.merge_gap,
                scanned=targets,
                scores=scores,
                truth=options.truth,
                null=null,
            )
            return finish_report(paths, staged, scope, summary, _throughput(scope, started))


def _throughput(scope: ScanScope, started: float) -> dict:
    return {**scope["throughput"], "seconds": round(time.perf_counter() - started, 2)}


def score_genome(
    staged: dict[str, Path],
    genome,
    model: Scorer,
    targets: list[str],
    chunk,
    masks: tuple,
    window: int,
    options: ScanOptions,
    device,
) -> tuple[np.ndarray | None, ScoreCounts, dict[str, int]]:
    """Score every window of the targets (inside the regions, outside the blacklist: `masks`) into the staged
    bedGraph (and, for a chunk, their score counts); with calibration, also the shuffled sample of the windows.
    Returns the sample's probabilities (the null of the FDR), the windows' score counts, and the windows skipped,
    by reason."""
    skipped = {"n_fraction": 0, "blacklist": 0}
    blocks = window_blocks(
        genome,
        targets,
        window=window,
        stride=options.stride,
        chunk=chunk,
        regions=masks[0],
        blacklist=masks[1],
        max_n_fraction=options.max_n_fraction,
        skipped=skipped,
    )
    sample = CalibrationSample(options.calibration_windows, options.seed) if options.calibrate else None
    scores = ScoreCounts()
    with open(staged["bedgraph"], "w") as handle:
        write_window_scores(handle, blocks, model, options, genome.sizes, window, device, sample, scores)
    if "score_counts" in staged:
        write_score_counts(staged["score_counts"], scores.counts)
    null = calibration_null(staged["calibration"], sample, model, genome, window, options, device) if sample else None
    return null, scores, skipped


def scan_targets(sizes: dict[str, int], options: ScanOptions) -> tuple[list[str], list[str], tuple | None]:
    """The contigs to scan (the chunk's alone when one is given), the contigs excluded, and the chunk."""
    contigs, excluded = select_contigs(sizes, options.include_contigs, options.exclude_contigs)
    chunk = parse_chunk(options.chunk, sizes) if options.chunk else None
    if chunk and chunk[0] not in contigs:
        raise InputError(
            f"chunk {options.chunk}: contig {chunk[0]} is excluded by include_contigs or exclude_contigs",
            parameters=("chunk", "include_contigs", "exclude_contigs"),
        )
    return ([chunk[0]] if chunk else contigs), excluded, chunk


def _scanned(chunk, targets: list[str], excluded: list[str], sizes: dict[str, int], window: int, windows: dict) -> dict:
    """The report's account of what was scanned: the chunk, the contigs, those shorter than a window, skips."""
    return {
        "chunks": [f"{chunk[0]}:{chunk[1]}-{chunk[2]}"] if chunk else None,
        "contigs": {"scanned": targets, "excluded": excluded},
        "short_contigs": [c for c in targets if sizes[c] < window],
        "windows": windows,
    }


def write_window_scores(
    handle,
    blocks,
    model: Scorer,
    options: ScanOptions,
    sizes: dict[str, int],
    window: int,
    device,
    sample: CalibrationSample | None,
    scores: ScoreCounts,
) -> None:
    """Score the windows group by group, write their bedGraph lines and count their scores; offer each window to
    the calibration sample."""
    for pieces, windows in regroup(blocks, options.batch_size * max(1, GROUP_WINDOWS // options.batch_size)):
        millionths = to_millionths(
            model.score_windows(
                windows, both_strands=both_strands(options.strand_mode), batch_size=options.batch_size, device=device
            )
        )
        scores.add(millionths)
        for chrom, starts in pieces:
            handle.write(
                bedgraph_lines(
                    chrom, starts, millionths[: len(starts)], window=window, stride=options.stride, length=sizes[chrom]
                )
            )
            millionths = millionths[len(starts) :]
            if sample:
                sample.offer(chrom, starts)


def calibration_null(
    path: Path, sample: CalibrationSample, model: Scorer, genome, window: int, options: ScanOptions, device
) -> np.ndarray:
    """Score the shuffled calibration windows, write their table, and return their probabilities (the null)."""
    table = sample.table()
    table["probability"] = [
        format_probability(v)
        for v in score_shuffled(
            model,
            genome,
            table,
            window=window,
            both_strands=both_strands(options.strand_mode),
            batch_size=options.batch_size,
            device=device,
        )
    ]
    write_text(path, calibration_tsv(table))
    return parse_probabilities(table["probability"])


def _parameters(options: ScanOptions, window: int, calling: dict) -> dict:
    """The settings that decide a scan's results (chunks merge only when these agree)."""
    return {
        "window": int(window),
        "stride": options.stride,
        "tile_offset": tile_offset(window, options.stride),
        "strand_mode": options.strand_mode,
        **calling,
        "merge_gap": options.merge_gap,
        "max_n_fraction": options.max_n_fraction,
        "include_contigs": options.include_contigs,
        "exclude_contigs": DEFAULT_EXCLUDE if options.exclude_contigs is None else options.exclude_contigs,
        "regions": _path_or_none(options.regions),
        "blacklist": _path_or_none(options.blacklist),
        "truth": _path_or_none(options.truth),
        "calibrate": options.calibrate,
        "calibration_windows": options.calibration_windows if options.calibrate else None,
        "seed": options.seed,
    }


def _region_index(table: pd.DataFrame) -> RegionIndex:
    return RegionIndex(table[["chrom", "start", "end"]].itertuples(index=False))


def _path_or_none(path: str | Path | None) -> str | None:
    return str(path) if path else None
