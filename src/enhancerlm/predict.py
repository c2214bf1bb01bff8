"""Genome-wide enhancer prediction: score windows along a genome and call enhancer regions.

Windows of `window` nt lie on a grid every `stride` nt anchored at each contig's start. Each
window's probability (both strands averaged unless `forward`) is written to a bedGraph on the
window's centre `stride` bases, so the track tiles without overlap. Everything else (regions,
score distribution, bigWig, FDR, precision and recall) is computed from that bedGraph and the
window grid alone, which is why chunk outputs gathered by `merge_predictions` give the same
files as one whole-genome run. Coordinates are 0-based and half-open.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import heapq
import json
import logging
import math
import re
import shutil
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .ensemble import Ensemble, combine
from .errors import InputError
from .genome import Genome, RegionIndex, genome_sizes, open_genome, read_bed
from .io import atomic_path, write_json, write_text
from .model import LoadedModel, autocast, load_trained, resolve_device
from .report import histogram_linegraph, table_tsv
from .tokenize import KmerTokenizer
from .versions import software_versions

log = logging.getLogger(__name__)

SCALE = 1_000_000  # probabilities are kept as integer millionths: the bedGraph's 6 decimals, exactly
DEFAULT_EXCLUDE = r"_alt|_random|^chrUn|decoy|_fix|hap"  # alternate haplotypes, unplaced and decoy contigs
STRAND_MODES = ("both", "forward")
CALIBRATION_WINDOWS = 10_000
HISTOGRAM_BIN = 0.05
QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
BLOCK_BASES = 1 << 20  # genome read per block
BLOCK_BYTES = 16 << 20  # at most this much window sequence copied per block
GROUP_WINDOWS = 4096  # windows scored per call (a multiple of the batch size)
_LIBC_PATH = ctypes.util.find_library("c")
_LIBC = ctypes.CDLL(_LIBC_PATH) if _LIBC_PATH else None
if _LIBC is not None and not hasattr(_LIBC, "mallopt"):  # not glibc (macOS): nothing to tune
    _LIBC = None
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
_READ_ROWS = 1 << 15  # bedGraph lines read at a time

_ACGT = np.zeros(256, dtype=bool)
_ACGT[list(b"ACGT")] = True
_AS_N = np.where(_ACGT, np.arange(256), ord("N")).astype(np.uint8)  # anything but ACGT reads as N
_COMPLEMENT = np.full(256, ord("N"), dtype=np.uint8)
_COMPLEMENT[list(b"ACGT")] = list(b"TGCA")


@dataclass
class ScanOptions:
    """What to scan and how; `None` takes the model card's value (window, threshold)."""

    window: int | None = None
    stride: int = 50
    threshold: float | None = None
    merge_gap: int = 0
    max_n_fraction: float = 0.1
    strand_mode: str = "both"
    include_contigs: list[str] | None = None
    exclude_contigs: str | None = None  # None: DEFAULT_EXCLUDE; "": none
    chunk: str | None = None
    regions: Path | None = None
    blacklist: Path | None = None
    truth: Path | None = None
    calibrate: bool = False
    calibration_windows: int = CALIBRATION_WINDOWS
    seed: int = 42
    batch_size: int = 64
    device: str = "auto"


# ---------------------------------------------------------------------------- scoring


def reverse_complement_windows(windows: np.ndarray) -> np.ndarray:
    """Reverse complements of ASCII windows (rows of an (n, length) uint8 array); non-ACGT becomes N."""
    return _COMPLEMENT[windows[:, ::-1]]


def window_limit(model) -> int | None:
    """The longest window the model reads in one pass (None: any length, as the k-mer baseline)."""
    if isinstance(model, Ensemble):
        limits = [limit for member in model.members if (limit := window_limit(member))]
        return min(limits) if limits else None
    return model.max_nucleotides if isinstance(model, LoadedModel) else None


def scan_window(model, window: int | None = None) -> int:
    """The window length to score: `window`, else the model card's (its longest training sequence), else the
    longest the model reads; an InputError when the model cannot read it in one pass."""
    card = model.card
    window = window or card.get("window") or card.get("max_nucleotides")
    if not window:
        raise InputError(f"model {card.get('model_id')} has no window in its card; give --window")
    limit = window_limit(model)
    if limit is not None and window > limit:
        raise InputError(f"--window {window} is longer than the {limit} nt that model {card['model_id']} reads "
                         "in one pass")
    return int(window)


def score_windows(model, windows: np.ndarray, *, both_strands: bool = True, batch_size: int = 64,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """Enhancer probability of each window (rows of an (n, length) ASCII array), strands averaged.

    k-mer language models are tokenized straight from the array, `batch_size` rows per forward pass
    (a window's two strands are two rows), without padding tokens; ensembles score each member this
    way and combine; any other model gets strings through its own `predict_proba`.
    """
    if isinstance(model, Ensemble):
        members = [score_windows(m, windows, both_strands=both_strands, batch_size=batch_size, device=device)
                   for m in model.members]
        return combine(np.column_stack(members), model.card["method"], model.weights, model.bias)
    rows = np.concatenate([windows, reverse_complement_windows(windows)]) if both_strands else windows
    if isinstance(model, LoadedModel) and isinstance(model.tokenizer, KmerTokenizer):
        probabilities = _kmer_model_probabilities(model, rows, batch_size, device)
    else:
        sequences = [row.tobytes().decode("ascii") for row in rows]
        probabilities = np.asarray(model.predict_proba(sequences, batch_size=batch_size, device=device,
                                                       both_strands=False), dtype=np.float64)
    return probabilities.reshape(2, -1).mean(0) if both_strands else probabilities


@torch.inference_mode()
def _kmer_model_probabilities(model: LoadedModel, rows: np.ndarray, batch_size: int, device) -> np.ndarray:
    """Forward passes over batches of rows, every one of `batch_size` rows (the last padded with N): a
    row's result then does not depend on which rows share its batch, so a chunked scan matches a whole
    one. Results stay on the device until the end, so on a GPU the next batch is tokenized meanwhile.
    The sigmoid is taken in float64 with numpy: torch's float32 sigmoid gives the last elements of a
    vector (past its SIMD width) a slightly different value, which would make a row's probability
    depend on its place among all the rows."""
    classifier = model.classifier.to(device).eval()
    logits = []
    for first in range(0, len(rows), batch_size):
        batch = rows[first : first + batch_size]
        if len(batch) < batch_size:
            batch = np.concatenate([batch, np.full((batch_size - len(batch), rows.shape[1]), ord("N"), np.uint8)])
        tokens = model.tokenizer.encode_windows(batch).to(device)
        with autocast(device):
            logits.append(classifier(tokens.input_ids, tokens.attention_mask, tokens.sequence_mask).float())
    if not logits:
        return np.zeros(0)
    return 1.0 / (1.0 + np.exp(-torch.cat(logits)[: len(rows)].cpu().numpy().astype(np.float64)))


def return_large_blocks() -> None:
    """Have glibc give blocks of 64 kB and more back to the operating system when they are freed.

    A scan allocates and frees the same batch buffers thousands of times; glibc otherwise keeps them,
    and a long scan's resident size drifts up by a few hundred MB although nothing is retained (the
    same as MALLOC_MMAP_THRESHOLD_=65536). Called once per scan; a no-op off glibc.
    """
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 65536)


def release_free_memory() -> None:
    """Give the memory glibc holds in freed blocks back to the operating system now (malloc_trim).

    The cheap alternative to `return_large_blocks` for work that comes in large groups: once per group
    rather than on every free, so small models do not pay a page fault for every new batch buffer.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def to_millionths(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities rounded to integer millionths, as the bedGraph writes them."""
    return np.rint(np.clip(probabilities, 0.0, 1.0) * SCALE).astype(np.int64)


def format_probability(millionths: int) -> str:
    return f"{millionths // SCALE}.{millionths % SCALE:06d}"


def parse_probabilities(texts: pd.Series) -> np.ndarray:
    """Millionths from probabilities written by `format_probability` (exactly, no float parsing)."""
    return texts.str.replace(".", "", regex=False).astype(np.int64).to_numpy()


def threshold_millionths(threshold: float) -> int:
    """The smallest probability in millionths that is >= `threshold`: windows from here up are called."""
    value = math.ceil(threshold * SCALE)
    while value > 0 and (value - 1) / SCALE >= threshold:
        value -= 1
    while value / SCALE < threshold:
        value += 1
    return value


# ---------------------------------------------------------------------------- windows


def select_contigs(sizes: dict[str, int], include: list[str] | None = None,
                   exclude: str | None = None) -> tuple[list[str], dict[str, list[str]]]:
    """Contigs to scan (sorted by name, the order of every output) and those left out, by reason.

    With `include` only those contigs are candidates; `exclude`, a regular expression searched in
    each name (default DEFAULT_EXCLUDE: alternate haplotypes, unplaced, decoy and fix contigs;
    '' for none), removes more.
    """
    exclude = DEFAULT_EXCLUDE if exclude is None else exclude
    if include:
        unknown = [name for name in include if name not in sizes]
        if unknown:
            raise InputError(f"--include-contigs: {', '.join(unknown)} not in the genome")
    try:
        pattern = re.compile(exclude) if exclude else None
    except re.error as exc:
        raise InputError(f"--exclude-contigs {exclude!r} is not a regular expression: {exc}") from exc
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
        raise InputError(f"--chunk {text!r}: expected CONTIG:START-END (0-based, half-open), e.g. chr1:0-10000000")
    chrom, start, end = match[1], int(match[2].replace(",", "")), int(match[3].replace(",", ""))
    if chrom not in sizes:
        raise InputError(f"--chunk {text}: contig {chrom!r} is not in the genome")
    if start >= end:
        raise InputError(f"--chunk {text}: start {start} is not less than end {end}")
    if end > sizes[chrom]:
        raise InputError(f"--chunk {text}: end {end} is beyond the end of {chrom} ({sizes[chrom]} bp)")
    return chrom, start, end


def genome_chunks(sizes: dict[str, int], size: int, include: list[str] | None = None,
                  exclude: str | None = None) -> pd.DataFrame:
    """Pieces of at most `size` bp covering every selected contig: chrom, start, end, name (chrom:start-end).

    A window belongs to the chunk that holds its start, so `predict --chunk` over these pieces
    scores every window of a whole-genome run exactly once.
    """
    contigs, _ = select_contigs(sizes, include, exclude)
    rows = [(chrom, start, min(start + size, sizes[chrom])) for chrom in contigs
            for start in range(0, sizes[chrom], size)]
    return pd.DataFrame([(c, s, e, f"{c}:{s}-{e}") for c, s, e in rows], columns=["chrom", "start", "end", "name"])


def write_chunks(genome: str | Path | None, output: str | Path, *, size: int, fai: str | Path | None = None,
                 include: list[str] | None = None, exclude: str | None = None) -> Path:
    """Write the chunks BED of a genome (see `genome_chunks`); the scatter list for `predict --chunk`."""
    table = genome_chunks(genome_sizes(genome, fai), size, include, exclude)
    return write_text(output, table.to_csv(sep="\t", header=False, index=False))


def start_intervals(length: int, window: int, chrom: str, chunk: tuple[str, int, int] | None = None,
                    regions: RegionIndex | None = None) -> list[tuple[int, int]]:
    """Where window starts may lie on one contig: [low, high) ranges within the chunk and the regions."""
    low, high = 0, length - window + 1
    if chunk:
        low, high = max(low, chunk[1]), min(high, chunk[2])
    spans = regions.intervals(chrom) if regions is not None else [(low, high)]
    return [(max(low, s), min(high, e)) for s, e in spans if max(low, s) < min(high, e)]


def window_blocks(genome: Genome, contigs: list[str], *, window: int, stride: int,
                  chunk: tuple[str, int, int] | None = None, regions: RegionIndex | None = None,
                  blacklist: RegionIndex | None = None, max_n_fraction: float = 0.1,
                  skipped: dict[str, int] | None = None) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
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
                sequence = _AS_N[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
                unknown = np.concatenate([[0], np.cumsum(sequence == ord("N"))])
                offsets = starts - starts[0]
                rich = unknown[offsets + window] - unknown[offsets] > max_n_fraction * window
                skipped["n_fraction"] = skipped.get("n_fraction", 0) + int(rich.sum())
                offsets = offsets[~rich]
                if len(offsets):
                    yield chrom, starts[~rich], np.lib.stride_tricks.sliding_window_view(sequence, window)[offsets]


def regroup(blocks: Iterable[tuple[str, np.ndarray, np.ndarray]], size: int
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


def tile_offset(window: int, stride: int) -> int:
    """Where a window's bedGraph tile starts, relative to the window: its centre `stride` bases."""
    return (window - stride) // 2


def bedgraph_lines(chrom: str, starts: np.ndarray, millionths: np.ndarray, *, window: int, stride: int,
                   length: int) -> str:
    """bedGraph lines of scored windows: each probability on the window's centre tile, clipped to the contig."""
    tile_starts = np.clip(starts + tile_offset(window, stride), 0, length)
    tile_ends = np.clip(starts + tile_offset(window, stride) + stride, 0, length)
    return "".join(f"{chrom}\t{s}\t{e}\t{format_probability(v)}\n"
                   for s, e, v in zip(tile_starts.tolist(), tile_ends.tolist(), millionths.tolist()))


def read_bedgraph(path: Path, window: int, stride: int) -> Iterator[pd.DataFrame]:
    """A predict bedGraph in frames of chrom, start, end, millionths, plus each tile's window start.

    The window start is recovered from the tile and the grid: the tile lies inside the window's
    unclipped tile [start + offset, start + offset + stride), so it is unique.
    """
    if path.stat().st_size == 0:
        return
    reader = pd.read_csv(path, sep="\t", header=None, names=["chrom", "start", "end", "value"],
                         dtype={"chrom": str, "start": np.int64, "end": np.int64, "value": str},
                         chunksize=_READ_ROWS)
    for frame in reader:
        frame["millionths"] = parse_probabilities(frame.pop("value"))
        frame["window_start"] = (frame["start"] - tile_offset(window, stride)) // stride * stride
        yield frame


# ---------------------------------------------------------------------------- regions and statistics


@dataclass
class Region:
    """A called region: the union of its windows, their best and summed probabilities (millionths)."""

    chrom: str
    start: int
    end: int
    max_millionths: int
    sum_millionths: int = 0
    windows: int = 0


def call_regions(frames: Iterable[pd.DataFrame], *, window: int, threshold: float,
                 merge_gap: int = 0) -> Iterator[Region]:
    """Runs of windows at or above `threshold`, merged while their window intervals overlap or lie
    within `merge_gap` bp; a region is the union of its windows' intervals."""
    current: Region | None = None
    lowest = threshold_millionths(threshold)
    for frame in frames:
        called = frame[frame["millionths"] >= lowest]
        for chrom, start, value in zip(called["chrom"], called["window_start"].tolist(),
                                       called["millionths"].tolist()):
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


class ScoreCounts:
    """How many windows got each probability (in millionths): exact quantiles and tail counts in 8 MB."""

    def __init__(self) -> None:
        self.counts = np.zeros(SCALE + 1, dtype=np.int64)
        self._tail: np.ndarray | None = None

    def add(self, millionths: np.ndarray) -> None:
        self.counts += np.bincount(millionths, minlength=SCALE + 1)
        self._tail = None

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def at_least(self, millionths: int) -> int:
        """Windows with probability >= this value."""
        if self._tail is None:
            self._tail = np.cumsum(self.counts[::-1])[::-1]
        return int(self._tail[millionths])

    def quantile(self, q: float) -> float:
        """The smallest probability with at least a fraction q of the windows at or below it."""
        rank = max(1, math.ceil(q * self.total))
        return int(np.searchsorted(np.cumsum(self.counts), rank)) / SCALE

    def summary(self, threshold: float) -> dict:
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
            "at_or_above_threshold": self.at_least(min(threshold_millionths(threshold), SCALE)) if total else 0,
        }


def region_fdr(max_millionths: int, null_sorted: np.ndarray, scores: ScoreCounts) -> float:
    """Empirical FDR of a region: the expected share of false windows among the real windows at least
    as high as its best window, (null fraction >= p) x (windows scored) / (real windows >= p), capped at 1."""
    null_fraction = (len(null_sorted) - np.searchsorted(null_sorted, max_millionths, side="left")) / len(null_sorted)
    return min(1.0, null_fraction * scores.total / scores.at_least(max_millionths))


def truth_metrics(called: list[tuple[str, int, int]], truth_path: Path, scanned: list[str]) -> dict:
    """Region-level precision (called regions overlapping a truth region) and recall (truth regions
    overlapped by a called region); truth regions on contigs that were not scanned are left out."""
    truth = read_bed(truth_path)
    on_scanned = truth[truth["chrom"].isin(scanned)]
    truth_index = RegionIndex(on_scanned[["chrom", "start", "end"]].itertuples(index=False))
    called_index = RegionIndex(called)
    true_positive = sum(truth_index.overlaps(*region) for region in called)
    recalled = sum(called_index.overlaps(c, s, e) for c, s, e in on_scanned[["chrom", "start", "end"]].itertuples(
        index=False))
    return {
        "path": str(truth_path),
        "truth_regions": len(on_scanned),
        "truth_regions_not_scanned": len(truth) - len(on_scanned),
        "called_regions": len(called),
        "true_positive_regions": int(true_positive),
        "precision": true_positive / len(called) if called else None,
        "recalled_truth_regions": int(recalled),
        "recall": recalled / len(on_scanned) if len(on_scanned) else None,
    }


# ---------------------------------------------------------------------------- calibration


def dinucleotide_shuffle(sequence: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random sequence with exactly the dinucleotide counts (and first and last letters) of `sequence`.

    Altschul and Erickson's Eulerian method: the sequence is a walk through the graph of its
    letters; choose each letter's last exit edge at random until those edges form a tree into the
    final letter, shuffle every letter's other exits, then walk the graph again.
    """
    sequence = np.asarray(sequence, dtype=np.uint8)
    if len(sequence) < 3:
        return sequence.copy()
    last = int(sequence[-1])
    exits = {int(letter): sequence[1:][sequence[:-1] == letter] for letter in np.unique(sequence[:-1])}
    while True:
        chosen = {letter: int(rng.integers(len(targets))) for letter, targets in exits.items() if letter != last}
        if _is_tree_into(last, {letter: int(exits[letter][i]) for letter, i in chosen.items()}):
            break
    order = {}
    for letter, targets in exits.items():
        if letter in chosen:
            others = rng.permutation(np.delete(targets, chosen[letter]))
            order[letter] = np.append(others, targets[chosen[letter]]).tolist()
        else:
            order[letter] = rng.permutation(targets).tolist()
    used = dict.fromkeys(order, 0)
    walk = [int(sequence[0])]
    for _ in range(len(sequence) - 1):
        current = walk[-1]
        walk.append(order[current][used[current]])
        used[current] += 1
    return np.asarray(walk, dtype=np.uint8)


def _is_tree_into(root: int, parent: dict[int, int]) -> bool:
    """Whether following `parent` from every letter reaches `root` (no cycle)."""
    for letter in parent:
        for _ in range(len(parent) + 1):
            if letter == root:
                break
            letter = parent[letter]
        else:
            return False
    return True


def window_keys(seed: int, chrom: str, starts: np.ndarray) -> np.ndarray:
    """A 64-bit hash of (seed, contig, start) per window (splitmix64): the calibration sample is the
    windows with the smallest keys, which does not depend on how the scan was chunked."""
    base = (zlib.crc32(chrom.encode()) << 32 | (seed & 0xFFFFFFFF)) * 0x9E3779B97F4A7C15 % (1 << 64)
    x = starts.astype(np.uint64) + np.uint64(base)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@dataclass
class CalibrationSample:
    """The `size` scored windows with the smallest keys, kept as the scan goes (bounded memory)."""

    size: int
    seed: int
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    chroms: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def offer(self, chrom: str, starts: np.ndarray) -> None:
        keys = window_keys(self.seed, chrom, starts)
        if len(self.keys) >= self.size:
            better = keys < self.keys.max()
            keys, starts = keys[better], starts[better]
        if len(keys):
            self.keys = np.concatenate([self.keys, keys])
            self.chroms = np.concatenate([self.chroms, np.full(len(keys), chrom)])
            self.starts = np.concatenate([self.starts, starts])
            keep = np.lexsort((self.starts, self.chroms, self.keys))[: self.size]
            self.keys, self.chroms, self.starts = self.keys[keep], self.chroms[keep], self.starts[keep]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"chrom": self.chroms.astype(str), "start": self.starts, "key": self.keys})


def score_shuffled(model, genome: Genome, sample: pd.DataFrame, *, window: int, both_strands: bool,
                   batch_size: int, device) -> np.ndarray:
    """Probabilities (millionths) of dinucleotide-shuffled copies of the sampled windows; each copy is
    shuffled with its window's key as the seed, so it is the same in every run."""
    shuffled = np.empty((len(sample), window), dtype=np.uint8)
    for row, (chrom, start, key) in enumerate(sample[["chrom", "start", "key"]].itertuples(index=False)):
        text = genome.fetch(chrom, int(start), int(start) + window)
        sequence = _AS_N[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
        shuffled[row] = dinucleotide_shuffle(sequence, np.random.default_rng(int(key)))
    return to_millionths(score_windows(model, shuffled, both_strands=both_strands, batch_size=batch_size,
                                       device=device))


def read_calibration(paths: list[Path], size: int) -> pd.DataFrame:
    """The calibration sample of several scans pooled: the `size` windows with the smallest keys."""
    frames = [pd.read_csv(path, sep="\t", dtype={"chrom": str, "start": np.int64, "key": np.uint64,
                                                  "probability": str}) for path in paths]
    table = pd.concat(frames, ignore_index=True).sort_values(["key", "chrom", "start"], kind="stable")
    return table.head(size).reset_index(drop=True)


def calibration_tsv(table: pd.DataFrame) -> str:
    lines = ["chrom\tstart\tkey\tprobability"]
    lines += [f"{c}\t{s}\t{k}\t{p}" for c, s, k, p in table[["chrom", "start", "key", "probability"]].itertuples(
        index=False)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- outputs


def output_paths(outdir: Path, prefix: str, *, calibrate: bool) -> dict[str, Path]:
    """Every file a scan writes; the json first, so that it is moved into place last."""
    names = {"json": "predict.json", "bedgraph": "windows.bedgraph", "bigwig": "windows.bw",
             "enhancers": "enhancers.bed", "mqc_table": "predict_mqc.tsv",
             "mqc_scores": "score_distribution_mqc.json"}
    if calibrate:
        names["calibration"] = "calibration.tsv"
    if shutil.which("bedToBigBed"):
        names["bigbed"] = "enhancers.bb"
    return {key: outdir / f"{prefix}.{name}" for key, name in names.items()}


@contextlib.contextmanager
def staged_outputs(paths: dict[str, Path]) -> Iterator[dict[str, Path]]:
    """Temporary files for all outputs, renamed into place together (in reverse order) only on success."""
    with contextlib.ExitStack() as stack:
        yield {key: stack.enter_context(atomic_path(path)) for key, path in paths.items()}


def write_results(staged: dict[str, Path], *, prefix: str, sizes: dict[str, int], window: int, stride: int,
                  threshold: float, merge_gap: int, scanned: list[str], truth: Path | None = None,
                  null: np.ndarray | None = None) -> dict:
    """From the staged bedGraph: the bigWig, the enhancer regions (BED, bigBed), the score distribution,
    truth metrics and FDRs; returns their summary for the report."""
    scores = ScoreCounts()
    write_bigwig(staged["bigwig"], sizes, _counted(read_bedgraph(staged["bedgraph"], window, stride), scores))
    null_sorted = np.sort(null) if null is not None and len(null) else None
    called, bases = [], 0
    with open(staged["enhancers"], "w") as handle:
        regions = call_regions(read_bedgraph(staged["bedgraph"], window, stride), window=window,
                               threshold=threshold, merge_gap=merge_gap)
        for number, region in enumerate(regions, start=1):
            fdr = f"\t{region_fdr(region.max_millionths, null_sorted, scores):.4g}" if null_sorted is not None else ""
            mean = region.sum_millionths / region.windows / SCALE
            handle.write(f"{region.chrom}\t{region.start}\t{region.end}\t{prefix}_region{number}\t"
                         f"{(region.max_millionths + 500) // 1000}\t.\t{format_probability(region.max_millionths)}\t"
                         f"{mean:.6f}\t{region.windows}{fdr}\n")
            bases += region.end - region.start
            called.append((region.chrom, region.start, region.end))
    summary = {
        "windows_scored": scores.total,
        "regions": {"called": len(called), "bases_covered": bases},
        "score_distribution": scores.summary(threshold),
        "bigbed": write_bigbed(staged, sizes, fdr=null_sorted is not None),
    }
    if truth:
        summary["truth"] = truth_metrics(called, truth, scanned)
    if null is not None:
        summary["calibration"] = {
            "method": "dinucleotide-shuffled copies (Altschul-Erickson) of a sample of the scored windows, scored "
                      "like the real ones; a region's fdr = (fraction of shuffled windows >= its max_probability) x "
                      "(windows scored) / (scored windows >= its max_probability), capped at 1",
            "shuffled_windows": int(len(null)),
            "shuffled_quantiles": ({str(q): float(np.quantile(null, q, method="inverted_cdf")) / SCALE
                                    for q in QUANTILES} if len(null) else {}),
        }
    return summary


def _counted(frames: Iterable[pd.DataFrame], scores: ScoreCounts) -> Iterator[pd.DataFrame]:
    for frame in frames:
        scores.add(frame["millionths"].to_numpy())
        yield frame


def write_bigwig(path: Path, sizes: dict[str, int], frames: Iterable[pd.DataFrame]) -> None:
    """The bedGraph as a bigWig, contigs in the bedGraph's (name) order."""
    import pyBigWig

    bigwig = pyBigWig.open(str(path), "w")
    try:
        bigwig.addHeader(sorted(sizes.items()), maxZooms=10)
        for frame in frames:
            for chrom, part in frame.groupby("chrom", sort=False):
                bigwig.addEntries([chrom] * len(part), part["start"].tolist(), ends=part["end"].tolist(),
                                  values=(part["millionths"] / SCALE).tolist())
    finally:
        bigwig.close()


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
        result = subprocess.run(["bedToBigBed", f"-type=bed6+{4 if fdr else 3}", f"-as={tmp}/enhancers.as", "-tab",
                                 str(staged["enhancers"]), f"{tmp}/chrom.sizes", str(staged["bigbed"])],
                                capture_output=True, text=True)
    if result.returncode:
        raise InputError(f"bedToBigBed failed: {' '.join(result.stderr.split())}")
    return {"made": True}


def multiqc_table(prefix: str, report: dict) -> str:
    """MultiQC custom content: one table row per scan."""
    columns = {"Windows scored": report["windows"]["scored"],
               "Skipped (N)": report["windows"]["skipped"]["n_fraction"],
               "Skipped (blacklist)": report["windows"]["skipped"]["blacklist"],
               "Regions": report["regions"]["called"], "Bases covered": report["regions"]["bases_covered"]}
    return table_tsv("enhancerlm_predict", "enhancerlm: genome scan",
                     "Windows scored and skipped, and enhancer regions called, per scan.", prefix, columns)


def multiqc_scores(prefix: str, distribution: dict) -> dict:
    """MultiQC custom content: the window score distribution as a line graph (x: bin centre)."""
    return histogram_linegraph("enhancerlm_predict_scores", "enhancerlm: window score distribution", prefix,
                               distribution, title="enhancerlm: window probabilities",
                               xlab="Enhancer probability (bin centre)", ylab="Windows", xmin=0, xmax=1)


def _finish_report(paths: dict[str, Path], staged: dict[str, Path], report: dict, summary: dict,
                   prefix: str) -> dict:
    """Fold the results into the report and write it with the MultiQC files."""
    report["windows"] = {"scored": summary.pop("windows_scored"), "skipped": report["windows"]["skipped"]}
    bigbed = summary.pop("bigbed")
    report.update(summary)
    report["outputs"] = {key: path.name for key, path in paths.items()}
    report["outputs"]["bigbed_made"] = bigbed["made"]
    if not bigbed["made"]:
        report["outputs"]["bigbed_note"] = bigbed["reason"]
    seconds = report["throughput"]["seconds"]
    report["throughput"]["windows_per_second"] = round(report["windows"]["scored"] / seconds, 1) if seconds else None
    write_text(staged["mqc_table"], multiqc_table(prefix, report))
    write_json(staged["mqc_scores"], multiqc_scores(prefix, report["score_distribution"]))
    write_json(staged["json"], report)
    return report


# ---------------------------------------------------------------------------- the two entry points


def predict(model_spec: str, genome_path: str | Path, outdir: str | Path, *, prefix: str | None = None,
            options: ScanOptions | None = None, fai: str | Path | None = None,
            gzi: str | Path | None = None) -> dict:
    """Scan a genome (or a chunk of it) with a trained model; write the bedGraph, bigWig, regions and report.

    Every output appears only when the whole scan succeeded. Returns the report (NAME.predict.json).
    """
    options = options or ScanOptions()
    started = time.perf_counter()
    model = load_trained(model_spec)
    card = model.card
    window = scan_window(model, options.window)
    if options.strand_mode not in STRAND_MODES:
        raise InputError(f"--strand-mode must be one of {', '.join(STRAND_MODES)}, got {options.strand_mode!r}")
    threshold = card["threshold"] if options.threshold is None else options.threshold
    prefix = prefix or card["model_id"]
    device = resolve_device(options.device)
    both = options.strand_mode == "both"
    return_large_blocks()
    with open_genome(genome_path, fai=fai, gzi=gzi) as genome:
        sizes = genome.sizes
        contigs, excluded = select_contigs(sizes, options.include_contigs, options.exclude_contigs)
        chunk = parse_chunk(options.chunk, sizes) if options.chunk else None
        if chunk and chunk[0] not in contigs:
            raise InputError(f"--chunk {options.chunk}: contig {chunk[0]} is excluded by --include-contigs or "
                             "--exclude-contigs")
        targets = [chunk[0]] if chunk else contigs
        regions = _region_index(read_bed(options.regions, sizes)) if options.regions else None
        blacklist = _region_index(read_bed(options.blacklist)) if options.blacklist else None
        skipped = {"n_fraction": 0, "blacklist": 0}
        sample = CalibrationSample(options.calibration_windows, options.seed) if options.calibrate else None
        paths = output_paths(Path(outdir), prefix, calibrate=options.calibrate)
        with staged_outputs(paths) as staged:
            blocks = window_blocks(genome, targets, window=window, stride=options.stride, chunk=chunk,
                                   regions=regions, blacklist=blacklist, max_n_fraction=options.max_n_fraction,
                                   skipped=skipped)
            with open(staged["bedgraph"], "w") as handle:
                for pieces, windows in regroup(blocks, options.batch_size * max(1, GROUP_WINDOWS // options.batch_size)):
                    millionths = to_millionths(score_windows(model, windows, both_strands=both,
                                                             batch_size=options.batch_size, device=device))
                    for chrom, starts in pieces:
                        handle.write(bedgraph_lines(chrom, starts, millionths[: len(starts)], window=window,
                                                    stride=options.stride, length=sizes[chrom]))
                        millionths = millionths[len(starts):]
                        if sample:
                            sample.offer(chrom, starts)
            null = None
            if sample:
                table = sample.table()
                table["probability"] = [format_probability(v) for v in score_shuffled(
                    model, genome, table, window=window, both_strands=both, batch_size=options.batch_size,
                    device=device)]
                write_text(staged["calibration"], calibration_tsv(table))
                null = parse_probabilities(table["probability"])
            report = {
                "prefix": prefix,
                "model": _model_summary(model, model_spec),
                "genome": str(genome_path),
                "parameters": _parameters(options, window, threshold),
                "chunks": [f"{chunk[0]}:{chunk[1]}-{chunk[2]}"] if chunk else None,
                "contigs": {"scanned": targets, "excluded": excluded},
                "short_contigs": [c for c in targets if sizes[c] < window],
                "windows": {"skipped": skipped},
                "throughput": {"seconds": None, "device": str(device), "batch_size": options.batch_size},
                "versions": software_versions(),
            }
            summary = write_results(staged, prefix=prefix, sizes=sizes, window=window, stride=options.stride,
                                    threshold=threshold, merge_gap=options.merge_gap, scanned=targets,
                                    truth=options.truth, null=null)
            report["throughput"]["seconds"] = round(time.perf_counter() - started, 2)
            return _finish_report(paths, staged, report, summary, prefix)


def merge_predictions(inputs: list[str | Path], outdir: str | Path, *, prefix: str, genome: str | Path | None = None,
                      fai: str | Path | None = None, threshold: float | None = None,
                      merge_gap: int | None = None) -> dict:
    """Gather the outputs of chunked scans into the files one whole-genome scan would have written.

    The bedGraphs are merged in order (a window scored twice is an error), regions are called
    again across chunk borders, counts are summed and the calibration samples pooled.
    """
    started = time.perf_counter()
    reports = read_reports(inputs)
    first = reports[0][1]
    for path, report in reports[1:]:
        for key in ("model", "parameters"):
            if report[key] != first[key]:
                raise InputError(f"{path}: its {key} differ from those of {reports[0][0]}; these scans cannot be "
                                 "merged")
    scoring = sorted({f"{r['throughput']['device']}, batch size {r['throughput']['batch_size']}" for _, r in reports})
    if len(scoring) > 1:
        log.warning("the inputs were scored on %s: a language model's probabilities can then differ from a single "
                    "scan's in the last decimal", " / ".join(scoring))
    sizes = genome_sizes(genome, fai)
    parameters = dict(first["parameters"])
    parameters["threshold"] = float(threshold if threshold is not None else parameters["threshold"])
    parameters["merge_gap"] = merge_gap if merge_gap is not None else parameters["merge_gap"]
    window, stride = parameters["window"], parameters["stride"]
    paths = output_paths(Path(outdir), prefix, calibrate=parameters["calibrate"])
    with staged_outputs(paths) as staged:
        _merge_bedgraphs([_sibling(path, report, "bedgraph") for path, report in reports], staged["bedgraph"])
        null = None
        if parameters["calibrate"]:
            table = read_calibration([_sibling(path, report, "calibration") for path, report in reports],
                                     parameters["calibration_windows"])
            write_text(staged["calibration"], calibration_tsv(table))
            null = parse_probabilities(table["probability"])
        scanned = sorted({c for _, r in reports for c in r["contigs"]["scanned"]})
        report = {
            "prefix": prefix,
            "model": first["model"],
            "genome": first["genome"],
            "parameters": parameters,
            "chunks": sorted(c for _, r in reports for c in (r["chunks"] or [])) or None,
            "contigs": {"scanned": scanned,
                        "excluded": {reason: sorted({c for _, r in reports for c in r["contigs"]["excluded"][reason]})
                                     for reason in first["contigs"]["excluded"]}},
            "short_contigs": sorted({c for _, r in reports for c in r["short_contigs"]}),
            "windows": {"skipped": {reason: sum(r["windows"]["skipped"][reason] for _, r in reports)
                                    for reason in first["windows"]["skipped"]}},
            "throughput": {"seconds": round(sum(r["throughput"]["seconds"] for _, r in reports), 2),
                           "merge_seconds": None, "device": first["throughput"]["device"],
                           "batch_size": first["throughput"]["batch_size"], "merged_inputs": len(reports)},
            "versions": software_versions(),
        }
        truth = Path(parameters["truth"]) if parameters["truth"] else None
        summary = write_results(staged, prefix=prefix, sizes=sizes, window=window, stride=stride,
                                threshold=parameters["threshold"], merge_gap=parameters["merge_gap"], scanned=scanned,
                                truth=truth, null=null)
        report["throughput"]["merge_seconds"] = round(time.perf_counter() - started, 2)
        return _finish_report(paths, staged, report, summary, prefix)


def read_reports(inputs: list[str | Path], kind: str = "predict") -> list[tuple[Path, dict]]:
    """The NAME.<kind>.json of each input (chunk outputs to merge): a directory (all of its runs) or an output
    prefix DIR/NAME."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        found = sorted(item.glob(f"*.{kind}.json")) if item.is_dir() else [Path(f"{item}.{kind}.json")]
        if not found or not found[0].is_file():
            raise InputError(f"{item}: no {kind} outputs (NAME.{kind}.json) found")
        paths.extend(found)
    return [(path, json.loads(path.read_text())) for path in dict.fromkeys(paths)]


def _sibling(json_path: Path, report: dict, key: str) -> Path:
    path = json_path.parent / report["outputs"][key]
    if not path.is_file():
        raise InputError(f"{json_path}: its {key} file {path.name} is missing")
    return path


def _merge_bedgraphs(paths: list[Path], target: Path) -> None:
    """Merge sorted bedGraphs line by line; a tile present twice means overlapping chunks."""
    with contextlib.ExitStack() as stack:
        handles = [stack.enter_context(open(path)) for path in paths]
        streams = [((line.split("\t", 2)[0], int(line.split("\t", 2)[1]), line, path) for line in handle)
                   for handle, path in zip(handles, paths)]
        previous = None
        with open(target, "w") as out:
            for chrom, start, line, path in heapq.merge(*streams, key=lambda item: item[:2]):
                if previous and previous[:2] == (chrom, start):
                    raise InputError(f"{path}: {chrom}:{start} is also in {previous[2]}; the inputs overlap "
                                     "(a window belongs to the one chunk that holds its start)")
                previous = (chrom, start, path)
                out.write(line)


def _parameters(options: ScanOptions, window: int, threshold: float) -> dict:
    """The settings that decide a scan's results (chunks merge only when these agree)."""
    return {
        "window": int(window), "stride": options.stride, "tile_offset": tile_offset(window, options.stride),
        "strand_mode": options.strand_mode, "threshold": float(threshold), "merge_gap": options.merge_gap,
        "max_n_fraction": options.max_n_fraction, "include_contigs": options.include_contigs,
        "exclude_contigs": DEFAULT_EXCLUDE if options.exclude_contigs is None else options.exclude_contigs,
        "regions": _path_or_none(options.regions), "blacklist": _path_or_none(options.blacklist),
        "truth": _path_or_none(options.truth), "calibrate": options.calibrate,
        "calibration_windows": options.calibration_windows if options.calibrate else None, "seed": options.seed,
    }


def _region_index(table: pd.DataFrame) -> RegionIndex:
    return RegionIndex(table[["chrom", "start", "end"]].itertuples(index=False))


def _model_summary(model, spec: str) -> dict:
    card = model.card
    summary = {"id": card["model_id"], "type": card.get("type"), "path": str(spec),
               "weights_sha256": card.get("weights_sha256"), "card_strand_mode": card.get("strand_mode")}
    if "members" in card:
        summary["members"] = [{"id": m["model_id"], "weights_sha256": m.get("weights_sha256")} for m in card["members"]]
    return summary


def _path_or_none(path: str | Path | None) -> str | None:
    return str(path) if path else None
