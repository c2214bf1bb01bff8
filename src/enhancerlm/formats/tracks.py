"""Genome tracks of scans: bedGraph lines in integer millionths, bigWig, and bigBed of called regions."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm.core.probability import SCALE, format_probability, parse_probabilities
from enhancerlm.errors import InputError

_READ_ROWS = 1 << 15  # bedGraph lines read at a time


def tile_offset(window: int, stride: int) -> int:
    """Where a window's bedGraph tile starts, relative to the window: its centre `stride` bases."""
    return (window - stride) // 2


def bedgraph_lines(
    chrom: str, starts: np.ndarray, millionths: np.ndarray, *, window: int, stride: int, length: int
) -> str:
    """bedGraph lines of scored windows: each probability on the window's centre tile, clipped to the contig."""
    tile_starts = np.clip(starts + tile_offset(window, stride), 0, length)
    tile_ends = np.clip(starts + tile_offset(window, stride) + stride, 0, length)
    return "".join(
        f"{chrom}\t{s}\t{e}\t{format_probability(v)}\n"
        for s, e, v in zip(tile_starts.tolist(), tile_ends.tolist(), millionths.tolist())
    )


def read_bedgraph(path: Path, window: int, stride: int) -> Iterator[pd.DataFrame]:
    """A predict bedGraph in frames of chrom, start, end, millionths, plus each tile's window start.

    The window start is recovered from the tile and the grid: the tile lies inside the window's
    unclipped tile [start + offset, start + offset + stride), so it is unique.
    """
    if path.stat().st_size == 0:
        return
    reader = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "value"],
        dtype={"chrom": str, "start": np.int64, "end": np.int64, "value": str},
        chunksize=_READ_ROWS,
    )
    for frame in reader:
        frame["millionths"] = parse_probabilities(frame.pop("value"))
        frame["window_start"] = (frame["start"] - tile_offset(window, stride)) // stride * stride
        yield frame


@contextlib.contextmanager
def bigwig_writer(path: Path, sizes: dict[str, int]) -> Iterator[Callable[[pd.DataFrame], None]]:
    """A bigWig being written, contigs in name order: a function that adds frames of a bedGraph (chrom, start, end,
    millionths) in file order, so the bigWig is built in the same pass that reads the bedGraph for anything else."""
    import pyBigWig

    bigwig = pyBigWig.open(str(path), "w")
    try:
        bigwig.addHeader(sorted(sizes.items()), maxZooms=10)

        def add(frame: pd.DataFrame) -> None:
            for chrom, part in frame.groupby("chrom", sort=False):
                bigwig.addEntries(
                    [chrom] * len(part),
                    part["start"].tolist(),
                    ends=part["end"].tolist(),
                    values=(part["millionths"] / SCALE).tolist(),
                )

        yield add
    finally:
        bigwig.close()


SCORE_COUNTS_HEADER = "millionths\twindows\n"


def write_score_counts(path: Path, counts: np.ndarray) -> None:
    """How many windows got each probability, in integer millionths (the scores' histogram at full resolution), as
    a TSV of the values that occur: what a chunk of a scan hands the merge, which adds them up."""
    values = np.flatnonzero(counts)
    with open(path, "w") as handle:
        handle.write(SCORE_COUNTS_HEADER)
        handle.writelines(f"{value}\t{count}\n" for value, count in zip(values.tolist(), counts[values].tolist()))


def read_score_counts(path: Path) -> np.ndarray:
    """The counts per millionth (index 0 to SCALE) of a score-counts TSV."""
    with open(path) as handle:
        if handle.readline() != SCORE_COUNTS_HEADER:
            raise InputError(f"{path}: not a score-counts table (its header is not millionths, windows)")
        try:
            table = np.array([line.split("\t") for line in handle if line.strip()], dtype=np.int64).reshape(-1, 2)
        except ValueError:
            raise InputError(f"{path}: a line that is not two integers (millionths, windows)") from None
    if len(table) and (table[:, 0].min() < 0 or table[:, 0].max() > SCALE):
        raise InputError(f"{path}: a probability outside 0 to {SCALE} millionths")
    counts = np.zeros(SCALE + 1, dtype=np.int64)
    np.add.at(counts, table[:, 0], table[:, 1])
    return counts


_AUTOSQL = """table enhancers
"enhancerlm predicted enhancer regions"
(
string chrom; "Contig"
uint chromStart; "Start, 0-based"
uint chromEnd; "End, exclusive"
string name; "Region name"
uint score; "Highest window probability x 1000"
char[1] strand; "Always ."
float max_probability; "Highest window probability"
float mean_probability; "Mean probability of its windows"
uint windows; "Windows at or above the threshold merged into it"
"""


def write_bigbed(staged: dict[str, Path], sizes: dict[str, int], *, fdr: bool) -> dict:
    """The regions as a bigBed when UCSC's bedToBigBed is on PATH (else none, and the report says so)."""
    if "bigbed" not in staged:
        return {"made": False, "reason": "bedToBigBed is not on PATH"}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "enhancers.as").write_text(_AUTOSQL + ('float fdr; "Empirical FDR"\n' if fdr else "") + ")\n")
        (Path(tmp) / "chrom.sizes").write_text("".join(f"{c}\t{n}\n" for c, n in sorted(sizes.items())))
        result = subprocess.run(
            [
                "bedToBigBed",
                f"-type=bed6+{4 if fdr else 3}",
                f"-as={tmp}/enhancers.as",
                "-tab",
                str(staged["enhancers"]),
                f"{tmp}/chrom.sizes",
                str(staged["bigbed"]),
            ],
            capture_output=True,
            text=True,
        )
    if result.returncode:
        raise InputError(f"bedToBigBed failed: {' '.join(result.stderr.split())}")
    return {"made": True}
