"""How far to trust a scan's calls: an FDR from dinucleotide-shuffled windows, and precision/recall against
known regions. The calibration sample is drawn by a hash of each window's position, so chunked scans draw the
same windows as a whole one."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm.analysis.scan import counts_at_least
from enhancerlm.core.dna import AS_N, dinucleotide_shuffle
from enhancerlm.core.probability import to_millionths
from enhancerlm.formats.bed import RegionIndex, read_bed
from enhancerlm.formats.genome import Genome


def fdr_qvalues(null_counts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The q-value of every probability in millionths (index), from the counts per value of the shuffled and the
    scanned windows: the smallest estimated FDR of a cut-off at or below it. FDR(t) = (shuffled windows >= t + 1)
    / (shuffled windows + 1) x (windows scored) / (scored windows >= t), capped at 1; the +1 keeps the estimate
    conservative above the null's highest score."""
    real_at_least, null_at_least = counts_at_least(counts), counts_at_least(null_counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        fdr = (null_at_least + 1) / (null_at_least[0] + 1) * real_at_least[0] / real_at_least
    fdr = np.minimum(np.nan_to_num(fdr, nan=1.0, posinf=1.0), 1.0)
    return np.minimum.accumulate(fdr)


def fdr_cutoff(qvalues: np.ndarray, fdr: float) -> int:
    """The lowest probability (millionths) whose q-value is at most `fdr`; past the scale when none is."""
    passing = np.flatnonzero(qvalues <= fdr)
    return int(passing[0]) if len(passing) else len(qvalues)


def null_auc(null_counts: np.ndarray, counts: np.ndarray) -> float | None:
    """How well the scores tell the scanned windows from their shuffled copies (counts per value of each):
    P(real > shuffled) + P(tie) / 2 (0.5: not at all)."""
    total, shuffled = int(counts.sum()), int(null_counts.sum())
    if not total or not shuffled:
        return None
    above = np.concatenate([counts_at_least(counts)[1:], [0]])
    return float(null_counts @ (above + counts / 2) / total / shuffled)


def truth_metrics(called: list[tuple[str, int, int]], truth_path: Path, scanned: list[str]) -> dict:
    """Region-level precision (called regions overlapping a truth region) and recall (truth regions
    overlapped by a called region); truth regions on contigs that were not scanned are left out."""
    truth = read_bed(truth_path)
    on_scanned = truth[truth["chrom"].isin(scanned)]
    truth_index = RegionIndex(on_scanned[["chrom", "start", "end"]].itertuples(index=False))
    called_index = RegionIndex(called)
    true_positive = sum(truth_index.overlaps(*region) for region in called)
    recalled = sum(
        called_index.overlaps(c, s, e) for c, s, e in on_scanned[["chrom", "start", "end"]].itertuples(index=False)
    )
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


def score_shuffled(
    model, genome: Genome, sample: pd.DataFrame, *, window: int, both_strands: bool | None, batch_size: int, device
) -> np.ndarray:
    """Probabilities (millionths) of dinucleotide-shuffled copies of the sampled windows; each copy is
    shuffled with its window's key as the seed, so it is the same in every run."""
    shuffled = np.empty((len(sample), window), dtype=np.uint8)
    for row, (chrom, start, key) in enumerate(sample[["chrom", "start", "key"]].itertuples(index=False)):
        text = genome.fetch(chrom, int(start), int(start) + window)
        sequence = AS_N[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
        shuffled[row] = dinucleotide_shuffle(sequence, np.random.default_rng(int(key)))
    return to_millionths(model.score_windows(shuffled, both_strands=both_strands, batch_size=batch_size, device=device))


def read_calibration(paths: list[Path], size: int) -> pd.DataFrame:
    """The calibration sample of several scans pooled: the `size` windows with the smallest keys."""
    frames = [
        pd.read_csv(path, sep="\t", dtype={"chrom": str, "start": np.int64, "key": np.uint64, "probability": str})
        for path in paths
    ]
    table = pd.concat(frames, ignore_index=True).sort_values(["key", "chrom", "start"], kind="stable")
    return table.head(size).reset_index(drop=True)


def calibration_tsv(table: pd.DataFrame) -> str:
    lines = ["chrom\tstart\tkey\tprobability"]
    lines += [
        f"{c}\t{s}\t{k}\t{p}" for c, s, k, p in table[["chrom", "start", "key", "probability"]].itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"
