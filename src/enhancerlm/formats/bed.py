"""BED input (0-based, half-open) and a sorted index of regions for overlap queries."""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm.errors import InputError
from enhancerlm.formats.files import open_text

BED_COLUMNS = ["chrom", "start", "end", "name"]


_BED_SKIP = ("#", "track", "browser")


def read_bed(path: str | os.PathLike, sizes: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Read the first four columns of a BED file (plain or gzipped) as chrom, start, end, name.

    Coordinates are 0-based and half-open; `name` is "." when the file has none. Blank,
    '#', 'track' and 'browser' lines are skipped, and so is a first line whose start and end
    are both words (a column header). With `sizes`, every region must lie on a known contig.
    Problems raise InputError naming the file, line and reason.
    """
    path = Path(path)
    rows: list[tuple[str, int, int, str]] = []
    try:
        with open_text(path) as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip() or line.startswith(_BED_SKIP):
                    continue
                fields = line.split("\t") if "\t" in line else line.split()
                if not rows and _is_header(fields):
                    continue
                rows.append(_bed_region(fields, sizes, f"{path}: line {number}"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: BED file not found") from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read BED: {exc}") from exc
    if not rows:
        raise InputError(f"{path}: no regions")
    return pd.DataFrame(rows, columns=BED_COLUMNS)


def _is_header(fields: list[str]) -> bool:
    return len(fields) >= 3 and not any(_is_int(field.strip()) for field in fields[1:3])


def _is_int(text: str) -> bool:
    return text.lstrip("+-").isdigit()


def _bed_region(fields: list[str], sizes: Mapping[str, int] | None, where: str) -> tuple[str, int, int, str]:
    """Validate one BED line's fields and return (chrom, start, end, name)."""
    if len(fields) < 3:
        raise InputError(f"{where}: expected at least 3 columns (chrom, start, end), found {len(fields)}")
    chrom, start_text, end_text = (field.strip() for field in fields[:3])
    for column, text in (("start", start_text), ("end", end_text)):
        if not _is_int(text):
            raise InputError(f"{where}: {column} is not an integer: {text!r}")
    start, end = int(start_text), int(end_text)
    if start < 0:
        raise InputError(f"{where}: start is negative ({start})")
    if start >= end:
        raise InputError(f"{where}: start {start} is not less than end {end} (BED is 0-based, half-open)")
    if sizes is not None:
        if chrom not in sizes:
            known = ", ".join(list(sizes)[:5]) + (", ..." if len(sizes) > 5 else "")
            raise InputError(f"{where}: contig {chrom!r} is not in the genome (it has {known})")
        if end > sizes[chrom]:
            raise InputError(f"{where}: end {end} is beyond the end of {chrom} ({sizes[chrom]} bp)")
    name = fields[3].strip() if len(fields) > 3 and fields[3].strip() else "."
    return chrom, start, end, name


class RegionIndex:
    """Merged regions per contig, answering 'does [start, end) overlap any of them?' in O(log n)."""

    def __init__(self, regions: Iterable[tuple[str, int, int]] = ()) -> None:
        self._starts: dict[str, list[int]] = {}
        self._ends: dict[str, list[int]] = {}
        for chrom, start, end in sorted((str(c), int(s), int(e)) for c, s, e in regions):
            starts = self._starts.setdefault(chrom, [])
            ends = self._ends.setdefault(chrom, [])
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)

    def overlaps(self, chrom: str, start: int, end: int) -> bool:
        """True if [start, end) shares at least one base with a region."""
        starts = self._starts.get(chrom, [])
        last = bisect.bisect_left(starts, end) - 1  # the last region starting before `end`
        return last >= 0 and self._ends[chrom][last] > start

    def intervals(self, chrom: str) -> list[tuple[int, int]]:
        """The merged regions of one contig, in order."""
        return list(zip(self._starts.get(chrom, []), self._ends.get(chrom, [])))

    def overlaps_many(self, chrom: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """`overlaps` for many intervals of one contig at once: a boolean array."""
        region_starts = np.asarray(self._starts.get(chrom, []), dtype=np.int64)
        if not len(region_starts):
            return np.zeros(len(starts), dtype=bool)
        last = np.searchsorted(region_starts, ends, side="left") - 1
        region_ends = np.asarray(self._ends[chrom], dtype=np.int64)
        return (last >= 0) & (region_ends[np.maximum(last, 0)] > starts)

    def add(self, chrom: str, start: int, end: int) -> None:
        """Add a region, merging it with the regions it overlaps or touches."""
        starts = self._starts.setdefault(chrom, [])
        ends = self._ends.setdefault(chrom, [])
        low, high = bisect.bisect_left(ends, start), bisect.bisect_right(starts, end)
        if low < high:
            start, end = min(start, starts[low]), max(end, ends[high - 1])
        starts[low:high] = [start]
        ends[low:high] = [end]
