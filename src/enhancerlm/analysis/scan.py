"""The geometry of a genome scan: contigs and chunks, the window grid in memory-bounded blocks, region calling
and the score histogram. Coordinates are 0-based, half-open."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from enhancerlm.core.dna import AS_N
from enhancerlm.core.probability import SCALE
from enhancerlm.defaults import DEFAULT_EXCLUDE
from enhancerlm.errors import InputError
from enhancerlm.formats.bed import RegionIndex
from enhancerlm.formats.genome import Genome

HISTOGRAM_BIN = 0.05


QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


BLOCK_BASES = 1 << 20  # genome read per block


BLOCK_BYTES = 16 << 20  # at most this much window sequence copied per block


GROUP_WINDOWS = 4096  # windows scored per call (a multiple of the batch size)


def select_contigs(
    sizes: dict[str, int], include: list[str] | None = None, exclude: str | None = None
) -> tuple[list[str], dict[str, list[str]]]:
    """Contigs to scan (sorted by name, the order of every output) and those left out, by reason.

    With `include` only those contigs are candidates; `exclude`, a regular expression searched in
    each name (default DEFAULT_EXCLUDE: alternate haplotypes, unplaced, decoy and fix contigs;
    '' for none), removes more.
    """
    exclude = DEFAULT_EXCLUDE if exclude is None else exclude
    if include:
        unknown = [name for name in include if name not in sizes]
        if unknown:
            raise InputError(
                f"include_contigs: {', '.join(unknown)} not in the genome", parameters=("include_contigs",)
            )
    try:
        pattern = re.compile(exclude) if exclude else None
    except re.error as exc:
        raise InputError(
            f"exclude_contigs {exclude!r} is not a regular expression: {exc}", parameters=("exclude_contigs",)
        ) from exc
    excluded: dict[str, list[str]] = {"include_list": [], "pattern": []}
    scanned = []
    for name in sorted(sizes):
        if include and name not in include:
            excluded["include_list"].append(name)
        elif pattern and pattern.search(name):
            excluded["pattern"].append(name)
        else:
            scanned.append(name)
    return scanned, excluded


def parse_chunk(text: str, sizes: dict[str, int]) -> tuple[str, int, int]:
    """CONTIG:START-END (0-based, half-open; commas allowed) checked against the genome."""
    match = re.fullmatch(r"(.+):([\d,]+)-([\d,]+)", text.strip())
    if not match:
        raise InputError(
            f"chunk {text!r}: expected CONTIG:START-END (0-based, half-open), e.g. chr1:0-10000000",
            parameters=("chunk",),
        )
    chrom, start, end = match[1], int(match[2].replace(",", "")), int(match[3].replace(",", ""))
    if chrom not in sizes:
        raise InputError(f"chunk {text}: contig {chrom!r} is not in the genome", parameters=("chunk",))
    if start >= end:
        raise InputError(f"chunk {text}: start {start} is not less than end {end}", parameters=("chunk",))
    if end > sizes[chrom]:
        raise InputError(
            f"chunk {text}: end {end} is beyond the end of {chrom} ({sizes[chrom]} bp)", parameters=("chunk",)
        )
    return chrom, start, end


def genome_chunks(
    sizes: dict[str, int], size: int, include: list[str] | None = None, exclude: str | None = None
) -> pd.DataFrame:
    """Pieces of at most `size` bp covering every selected contig: chrom, start, end, name (chrom:start-end).

    A window belongs to the chunk that holds its start, so `predict --chunk` over these pieces
    scores every window of a whole-genome run exactly once.
    """
    contigs, _ = select_contigs(sizes, include, exclude)
    rows = [
        (chrom, start, min(start + size, sizes[chrom])) for chrom in contigs for start in range(0, sizes[chrom], size)
    ]
    return pd.DataFrame([(c, s, e, f"{c}:{s}-{e}") for c, s, e in rows], columns=["chrom", "start", "end", "name"])


def start_intervals(
    length: int, window: int, chrom: str, chunk: tuple[str, int, int] | None = None, regions: RegionIndex | None = None
) -> list[tuple[int, int]]:
    """Where window starts may lie on one contig: [low, high) ranges within the chunk and the regions."""
    low, high = 0, length - window + 1
    if chunk:
        low, high = max(low, chunk[1]), min(high, chunk[2])
    spans = regions.intervals(chrom) if regions is not None else [(low, high)]
    return [(max(low, s), min(high, e)) for s, e in spans if max(low, s) < min(high, e)]


def window_blocks(
    genome: Genome,
    contigs: list[str],
    *,
    window: int,
    stride: int,
    chunk: tuple[str, int, int] | None = None,
    regions: RegionIndex | None = None,
    blacklist: RegionIndex | None = None,
    max_n_fraction: float = 0.1,
    skipped: dict[str, int] | None = None,
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(contig, window starts, windows as an (n, window) ASCII array) along each contig, block by block.

    Starts lie on the contig's grid (0, stride, 2*stride, ...); a block reads about 1 Mb of genome,
    so memory does not grow with contig size. Windows overlapping the blacklist or with more than
    `max_n_fraction` N (any base but ACGT) are left out and counted in `skipped`.
    """
    skipped = skipped if skipped is not None else {}
    per_block = max(1, min(BLOCK_BASES // stride, BLOCK_BYTES // window))
    for chrom in contigs:
        for low, high in start_intervals(genome.sizes[chrom], window, chrom, chunk, regions):
            for block_start in range(-(-low // stride) * stride, high, per_block * stride):
                starts = np.arange(block_start, min(high, block_start + per_block * stride), stride, dtype=np.int64)
                if blacklist is not None:
                    black = blacklist.overlaps_many(chrom, starts, starts + window)
                    skipped["blacklist"] = skipped.get("blacklist", 0) + int(black.sum())
                    starts = starts[~black]
                if not len(starts):
                    continue
                text = genome.fetch(chrom, int(starts[0]), int(starts[-1]) + window)
                sequence = AS_N[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
                unknown = np.concatenate([[0], np.cumsum(sequence == ord("N"))])
                offsets = starts - starts[0]
                rich = unknown[offsets + window] - unknown[offsets] > max_n_fraction * window
                skipped["n_fraction"] = skipped.get("n_fraction", 0) + int(rich.sum())
                offsets = offsets[~rich]
                if len(offsets):
                    yield chrom, starts[~rich], np.lib.stride_tricks.sliding_window_view(sequence, window)[offsets]


def regroup(
    blocks: Iterable[tuple[str, np.ndarray, np.ndarray]], size: int
) -> Iterator[tuple[list[tuple[str, np.ndarray]], np.ndarray]]:
    """The windows of `window_blocks` re-cut into groups of exactly `size` (the last may be smaller), each
    with the (contig, starts) pieces it holds: small blocks (short regions, contig ends) then share full
    batches, and only the scan's very last batch is padded."""
    pieces: list[tuple[str, np.ndarray]] = []
    arrays: list[np.ndarray] = []
    count = 0
    for chrom, starts, windows in blocks:
        while len(starts):
            take = min(size - count, len(starts))
            pieces.append((chrom, starts[:take]))
            arrays.append(windows[:take])
            count += take
            starts, windows = starts[take:], windows[take:]
            if count == size:
                yield pieces, np.concatenate(arrays)
                pieces, arrays, count = [], [], 0
    if count:
        yield pieces, np.concatenate(arrays)


@dataclass
class Region:
    """A called region: the union of its windows, their best and summed probabilities (millionths)."""

    chrom: str
    start: int
    end: int
    max_millionths: int
    sum_millionths: int = 0
    windows: int = 0


def call_regions(frames: Iterable[pd.DataFrame], *, window: int, lowest: int, merge_gap: int = 0) -> Iterator[Region]:
    """Runs of windows scoring at least `lowest` millionths, merged while their window intervals overlap or lie
    within `merge_gap` bp; a region is the union of its windows' intervals."""
    current: Region | None = None
    for frame in frames:
        called = frame[frame["millionths"] >= lowest]
        for chrom, start, value in zip(called["chrom"], called["window_start"].tolist(), called["millionths"].tolist()):
            if current and (current.chrom != chrom or start - current.end > merge_gap):
                yield current
                current = None
            if current is None:
                current = Region(chrom, start, start + window, value)
            current.end = start + window
            current.max_millionths = max(current.max_millionths, value)
            current.sum_millionths += value
            current.windows += 1
    if current:
        yield current


def counts_at_least(counts: np.ndarray) -> np.ndarray:
    """From counts per value (index), how many are at or above each value."""
    return np.cumsum(counts[::-1])[::-1]


class ScoreCounts:
    """How many windows got each probability (in millionths): exact quantiles and tail counts in 8 MB."""

    def __init__(self) -> None:
        self.counts = np.zeros(SCALE + 1, dtype=np.int64)
        self._tail: np.ndarray | None = None

    def add(self, millionths: np.ndarray) -> None:
        self.add_counts(np.bincount(millionths, minlength=SCALE + 1))

    def add_counts(self, counts: np.ndarray) -> None:
        """Add another scan's counts per millionth (a chunk's, in a merge)."""
        self.counts += counts
        self._tail = None

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def at_least(self, millionths: int) -> int:
        """Windows with probability >= this value."""
        if self._tail is None:
            self._tail = counts_at_least(self.counts)
        return int(self._tail[millionths])

    def quantile(self, q: float) -> float:
        """The smallest probability with at least a fraction q of the windows at or below it."""
        rank = max(1, math.ceil(q * self.total))
        return int(np.searchsorted(np.cumsum(self.counts), rank)) / SCALE

    def summary(self, lowest: int) -> dict:
        """The histogram, quantiles and mean of the scores, and how many reach the calling cut-off (millionths)."""
        width = round(HISTOGRAM_BIN * SCALE)
        edges = np.arange(0, SCALE, width)
        counts = np.add.reduceat(self.counts[:SCALE], edges)
        counts[-1] += self.counts[SCALE]  # 1.0 goes into the last bin
        total = self.total
        return {
            "bin_width": HISTOGRAM_BIN,
            "bins": [round(edge / SCALE, 2) for edge in edges],
            "counts": counts.tolist(),
            "quantiles": {str(q): self.quantile(q) for q in QUANTILES} if total else {},
            "mean": float(self.counts @ np.arange(SCALE + 1) / SCALE / total) if total else None,
            "at_or_above_threshold": self.at_least(lowest) if total and lowest <= SCALE else 0,
        }


class ScannedBases:
    """The bases inside scored windows (their union, clipped to each contig), counted as the windows stream by in
    genome order: the denominator of the share of a scan called enhancer."""

    def __init__(self, window: int, sizes: dict[str, int]) -> None:
        self.window, self.sizes, self.total = window, sizes, 0
        self._chrom: str | None = None
        self._end = 0

    def add(self, chrom: str, starts: np.ndarray) -> None:
        if chrom != self._chrom:
            self._chrom, self._end = chrom, 0
        if not len(starts):
            return
        starts = np.maximum(np.asarray(starts, dtype=np.int64), 0)
        ends = np.minimum(starts + self.window, self.sizes[chrom])
        reached = np.maximum.accumulate(np.concatenate([[self._end], ends[:-1]]))
        reached = np.maximum(reached, self._end)
        self.total += int(np.maximum(ends - np.maximum(starts, reached), 0).sum())
        self._end = max(self._end, int(ends.max()))
