"""Variant effects on arrays: the reference and alternative windows of each allele, their scores through the
model's `Scorer`, TF sites gained and lost, and the summary of the deltas. The conventions are in
`commands.variants`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from enhancerlm.analysis.known_motifs import scan_motifs
from enhancerlm.analysis.scan import GROUP_WINDOWS, QUANTILES
from enhancerlm.core.dna import AS_N
from enhancerlm.core.probability import SCALE, parse_probabilities, to_millionths
from enhancerlm.formats.genome import Genome
from enhancerlm.formats.vcf import NAME_UNSAFE, SEQUENCE, Allele, ContigMap, Record

STATUSES = (
    "scored",
    "contig_missing",
    "outside_contig",
    "ref_mismatch",
    "symbolic_allele",
    "invalid_allele",
    "window_off_contig",
    "too_many_n",
)


DELTA_BIN = 0.01  # histogram bin width of the delta distribution


TOP = 10  # largest gains and losses listed in the report


SUMMARY_ROWS = 8192  # TSV rows read at a time by the summary (a few MB)


def window_span(pos: int, ref_length: int, alt_length: int, window: int, offset: int) -> tuple[int, int]:
    """The genome interval [start, end) that the two windows of one allele read (0-based `pos`), REF's first
    base at `offset` in them."""
    start = pos - offset
    return start, max(start + window, pos + ref_length + max(0, window - offset - alt_length))


def window_placement(
    pos: int, ref_length: int, alt_length: int, window: int, size: int, edge: str
) -> tuple[int, int, int] | None:
    """(start, end, offset) of one allele's windows on a contig of `size` bases, or None when they run off it.
    Centred (offset window // 2); with edge "shift" a window that would run off an end slides inside the contig,
    the variant off centre, as far as a deletion's right flank needs."""
    offset = window // 2
    start, end = window_span(pos, ref_length, alt_length, window, offset)
    if edge == "shift" and (start < 0 or end > size):
        offset = pos - min(max(start, 0), size - window)
        start, end = window_span(pos, ref_length, alt_length, window, offset)
        offset += max(0, end - size)
        start, end = window_span(pos, ref_length, alt_length, window, offset)
    return (start, end, offset) if start >= 0 and end <= size and offset < window else None


def allele_windows(context: str, ref_length: int, alt: str, window: int, offset: int) -> tuple[str, str]:
    """The reference and alternative windows of one allele from `context`, the genome sequence from the window
    start on (at least as far as `window_span` reaches): ALT replaces the REF bases at `offset` and the right
    flank is filled or trimmed to keep `window` bases."""
    return context[:window], (context[:offset] + alt + context[offset + ref_length :])[:window]


def changed_spans(ref: str, alt: str, offset: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where REF and ALT differ once their common prefix and suffix are trimmed: [a, b) in the reference and
    [a, b') in the alternative window (REF starting at `offset`); an empty span marks a junction."""
    shortest = min(len(ref), len(alt))
    prefix = 0
    while prefix < shortest and ref[prefix] == alt[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix and ref[-1 - suffix] == alt[-1 - suffix]:
        suffix += 1
    start = offset + prefix
    return (start, offset + len(ref) - suffix), (start, offset + len(alt) - suffix)


def allele_kind(alt: str) -> str | None:
    """None for a sequence allele; otherwise the status that keeps it from being scored."""
    if SEQUENCE.fullmatch(alt):
        return None
    if alt in (".", "*") or alt.startswith(("<", ".")) or alt.endswith(".") or "[" in alt or "]" in alt:
        return "symbolic_allele"
    return "invalid_allele"


@dataclass
class AlleleScorer:
    """Scores the alleles of groups of records: windows built from the genome, scored in one call per group."""

    model: object
    genome: Genome
    contigs: ContigMap
    window: int
    both_strands: bool | None  # None: as the model card says
    max_n_fraction: float
    batch_size: int
    device: object
    motifs: list | None = None
    motif_threshold: float = 1e-4
    edge: str = "center"  # one of EDGES
    progress: Callable[[int], object] | None = None  # told how many windows each scoring call scored
    _max_width: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.motifs:
            self._max_width = max(len(m.pfm) for m in self.motifs)

    def score(self, records: list[Record]) -> list[list[Allele]]:
        """Each record's alleles, in order."""
        results: list[list[Allele]] = []
        rows: list[bytes] = []
        pending: list[tuple] = []  # allele, ref row, alt row, the two windows, REF, ALT, REF's offset in them
        limit = self.max_n_fraction * self.window
        for record in records:
            alleles = [Allele(status) for status in self._record_statuses(record)]
            results.append(alleles)
            if all(a.status for a in alleles):
                continue
            chrom, pos = self.contigs.resolve(record.chrom), record.pos - 1
            size = self.genome.sizes[chrom]
            placed = {
                i: window_placement(pos, len(record.ref), len(record.alts[i]), self.window, size, self.edge)
                for i, a in enumerate(alleles)
                if not a.status
            }
            for i in [i for i, placement in placed.items() if placement is None]:
                alleles[i].status = "window_off_contig"
                del placed[i]
            if not placed:
                continue
            first = min(start for start, _, _ in placed.values())
            context = self.genome.fetch(chrom, first, max(end for _, end, _ in placed.values()))
            ref_rows: dict[int, int] = {}  # window start -> row: alleles of a record share a reference window
            for i, (start, _, offset) in placed.items():
                alt = record.alts[i].upper()
                ref_window, alt_window = allele_windows(
                    context[start - first :], len(record.ref), alt, self.window, offset
                )
                alleles[i].offset = offset
                if _non_acgt(ref_window) > limit or _non_acgt(alt_window) > limit:
                    alleles[i].status = "too_many_n"
                    continue
                alleles[i].status = "scored"
                if start not in ref_rows:
                    ref_rows[start] = len(rows)
                    rows.append(ref_window.encode("ascii"))
                rows.append(alt_window.encode("ascii"))
                windows = (ref_window, alt_window, record.ref.upper(), alt, offset)
                pending.append((alleles[i], ref_rows[start], len(rows) - 1, *windows))
        if pending:
            millionths = self._probabilities(rows)
            for allele, ref_row, alt_row, *_ in pending:
                allele.ref_millionths, allele.alt_millionths = millionths[ref_row], millionths[alt_row]
            if self.motifs:
                self._site_changes(pending)
        return results

    def _probabilities(self, rows: list[bytes]) -> list[int]:
        """Probabilities (millionths) of the windows, scored a few thousand at a time as genome scans are."""
        step = self.batch_size * max(1, GROUP_WINDOWS // self.batch_size)
        millionths: list[int] = []
        for first in range(0, len(rows), step):
            part = rows[first : first + step]
            windows = AS_N[np.frombuffer(b"".join(part), dtype=np.uint8).reshape(len(part), self.window)]
            millionths += to_millionths(
                self.model.score_windows(
                    windows, both_strands=self.both_strands, batch_size=self.batch_size, device=self.device
                )
            ).tolist()
            if self.progress:
                self.progress(len(part))
        return millionths

    def _record_statuses(self, record: Record) -> list[str | None]:
        """The status of each allele that is decided before windows are built (None: still to be scored)."""
        chrom = self.contigs.resolve(record.chrom)
        if chrom is None:
            return ["contig_missing"] * len(record.alts)
        pos, size = record.pos - 1, self.genome.sizes[chrom]
        if pos < 0 or pos + len(record.ref) > size:
            return ["outside_contig"] * len(record.alts)
        if self.genome.fetch(chrom, pos, pos + len(record.ref)) != record.ref.upper():
            return ["ref_mismatch"] * len(record.alts)
        return [allele_kind(alt) for alt in record.alts]

    def _site_changes(self, pending: list) -> None:
        """TF sites lost and gained by each scored allele (see the module docstring)."""

        reach = self._max_width - 1
        sequences, offsets, spans = [], [], []
        for _, _, _, ref_window, alt_window, ref, alt, offset in pending:
            for sequence, span in zip((ref_window, alt_window), changed_spans(ref, alt, offset)):
                low = max(0, min(span[0], self.window) - reach)
                high = min(self.window, max(span[1], span[0] + 1) + reach)
                sequences.append(sequence[low:high])
                offsets.append(low)
                spans.append(span)
        hits = scan_motifs(self.motifs, sequences, threshold=self.motif_threshold)
        touching = _touching_sites(hits, np.asarray(offsets), np.asarray(spans))
        for index, (allele, *_) in enumerate(pending):
            ref_sites, alt_sites = touching.get(2 * index, {}), touching.get(2 * index + 1, {})
            allele.loss = _site_items({k: p for k, p in ref_sites.items() if k not in alt_sites})
            allele.gain = _site_items({k: p for k, p in alt_sites.items() if k not in ref_sites})


def _non_acgt(window: str) -> int:
    return len(window) - window.count("A") - window.count("C") - window.count("G") - window.count("T")


def _touching_sites(hits: pd.DataFrame, offsets: np.ndarray, spans: np.ndarray) -> dict[int, dict]:
    """Per scanned sequence, {(motif id, name, strand): best p} of the hits overlapping its changed span."""
    if not len(hits):
        return {}
    index = hits["sequence"].to_numpy(dtype=int)
    start = hits["start"].to_numpy(dtype=int) + offsets[index]
    end = hits["end"].to_numpy(dtype=int) + offsets[index]
    low, high = spans[index, 0], spans[index, 1]
    overlaps = np.where(low < high, (start < high) & (end > low), (start < low) & (end > low))
    chosen = hits[overlaps]
    best = chosen.groupby(["sequence", "motif_id", "motif_name", "strand"], sort=True)["p_value"].min()
    touching: dict[int, dict] = {}
    for (sequence, motif_id, name, strand), p in best.items():
        touching.setdefault(int(sequence), {})[(motif_id, name, strand)] = float(p)
    return touching


def _site_items(sites: dict) -> str:
    """MOTIFID:NAME:STRAND:P items, best p first, joined by |; `.` for none."""
    if not sites:
        return "."
    items = sorted(sites.items(), key=lambda item: (item[1], item[0]))
    return "|".join(
        f"{NAME_UNSAFE.sub('_', motif_id)}:{NAME_UNSAFE.sub('_', name)}:{strand}:{p:.3g}"
        for (motif_id, name, strand), p in items
    )


class DeltaCounts:
    """How many alleles got each delta (in millionths, -1 to 1): exact quantiles and a histogram in 16 MB."""

    def __init__(self) -> None:
        self.counts = np.zeros(2 * SCALE + 1, dtype=np.int64)

    def add(self, millionths: np.ndarray) -> None:
        self.counts += np.bincount(millionths + SCALE, minlength=2 * SCALE + 1)

    def summary(self) -> dict:
        total = int(self.counts.sum())
        width = round(DELTA_BIN * SCALE)
        edges = np.arange(0, 2 * SCALE, width)
        counts = np.add.reduceat(self.counts[: 2 * SCALE], edges)
        counts[-1] += self.counts[2 * SCALE]  # delta 1.0 goes into the last bin
        result = {
            "scored": total,
            "bin_width": DELTA_BIN,
            "bins": [round(edge / SCALE - 1, 2) for edge in edges],
            "counts": counts.tolist(),
            "quantiles": {},
            "mean": None,
            "min": None,
            "max": None,
        }
        if total:
            cumulative = np.cumsum(self.counts)
            present = np.flatnonzero(self.counts)
            result["quantiles"] = {
                str(q): (int(np.searchsorted(cumulative, max(1, math.ceil(q * total)))) - SCALE) / SCALE
                for q in QUANTILES
            }
            result["mean"] = float(self.counts @ (np.arange(2 * SCALE + 1) - SCALE)) / SCALE / total
            result["min"], result["max"] = (int(present[0]) - SCALE) / SCALE, (int(present[-1]) - SCALE) / SCALE
        return result


class VariantSummary(TypedDict):
    """The summary of a scores TSV: records, alleles by status, TF-site changes, the delta distribution and the
    largest gains and losses."""

    records: int
    alleles: dict
    tfbs: dict
    delta_distribution: dict
    top_gains: list[dict]
    top_losses: list[dict]


def summarise_scores(tsv: Path) -> VariantSummary:
    """Counts by status, the delta distribution and the largest gains and losses, from a scores TSV.

    Both a run and a merge of chunks summarise their final TSV this way, so the two reports agree.
    """
    statuses = dict.fromkeys(STATUSES, 0)
    records = alleles = with_loss = with_gain = 0
    deltas = DeltaCounts()
    gains, losses = pd.DataFrame(), pd.DataFrame()
    for frame in pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False, chunksize=SUMMARY_ROWS):
        alleles += len(frame)
        records += int((frame["allele_index"] == "1").sum())
        for status, count in frame["status"].value_counts().items():
            statuses[status] = statuses.get(status, 0) + int(count)
        scored = frame[frame["status"] == "scored"].copy()
        with_loss += int((~scored["tfbs_loss"].isin(["", "."])).sum())
        with_gain += int((~scored["tfbs_gain"].isin(["", "."])).sum())
        scored["delta_millionths"] = parse_probabilities(scored["delta"]) if len(scored) else []
        scored["record_number"] = scored["record"].astype(np.int64)
        scored["allele_number"] = scored["allele_index"].astype(np.int64)
        deltas.add(scored["delta_millionths"].to_numpy(dtype=np.int64))
        gains = _top([gains, scored[scored["delta_millionths"] > 0]], largest=True)
        losses = _top([losses, scored[scored["delta_millionths"] < 0]], largest=False)
    return {
        "records": records,
        "alleles": {
            "total": alleles,
            "scored": statuses["scored"],
            "skipped": alleles - statuses["scored"],
            "by_status": statuses,
        },
        "tfbs": {"alleles_with_loss": with_loss, "alleles_with_gain": with_gain},
        "delta_distribution": deltas.summary(),
        "top_gains": _top_rows(gains),
        "top_losses": _top_rows(losses),
    }


def _top(frames: list[pd.DataFrame], *, largest: bool) -> pd.DataFrame:
    """The TOP rows with the largest (or smallest) delta; ties go to the earlier record and allele."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames) if len(frames) > 1 else frames[0]
    return frame.sort_values(
        ["delta_millionths", "record_number", "allele_number"], ascending=[not largest, True, True], kind="stable"
    ).head(TOP)


def _top_rows(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for row in frame.to_dict("records"):
        rows.append(
            {
                "chrom": row["chrom"],
                "pos": int(row["pos"]),
                "id": row["id"],
                "ref": row["ref"],
                "alt": row["alt"],
                "allele_index": int(row["allele_index"]),
                "record": int(row["record"]),
                "p_ref": float(row["p_ref"]),
                "p_alt": float(row["p_alt"]),
                "delta": float(row["delta"]),
                "diff": float(row["diff"]),
                "logor": float(row["logor"]),
                "tfbs_gain": row["tfbs_gain"] or None,
                "tfbs_loss": row["tfbs_loss"] or None,
            }
        )
    return rows
