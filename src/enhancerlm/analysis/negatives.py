"""A dataset from positive regions in a genome: GC-matched negatives drawn from the same split's contigs,
positives screened against a blacklist, N content and invalid characters."""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from enhancerlm.analysis.dataset import assemble, describe, source_name
from enhancerlm.analysis.near_duplicates import NearDuplicateRule
from enhancerlm.core.dna import gc_fraction, invalid_characters
from enhancerlm.errors import InputError
from enhancerlm.formats.bed import BED_COLUMNS, RegionIndex, read_bed
from enhancerlm.formats.dataset_table import SPLITS
from enhancerlm.formats.files import resource
from enhancerlm.formats.genome import Genome, open_genome

log = logging.getLogger(__name__)

POSITIVE_CLASS, NEGATIVE_CLASS = "enhancer", "non-enhancer"


_TRIES_PER_TOLERANCE = 1000


_WIDENINGS = 3  # the GC tolerance doubles at most this often (x2, x4, x8) before a positive goes unmatched


def prepare_bed_dataset(
    bed: str | os.PathLike,
    genome: str | os.PathLike,
    *,
    name: str | None = None,
    blacklist: str | os.PathLike | None = None,
    test_chroms: Sequence[str] = (),
    negatives_per_positive: int = 1,
    gc_tolerance: float = 0.02,
    folds: int = 5,
    seed: int = 42,
    max_n_fraction: float = 0.1,
    near_duplicates: NearDuplicateRule | None = NearDuplicateRule(),
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build the table and report of a dataset of positive regions and GC-matched genome negatives.

    Regions on `test_chroms` form the test split and draw their negatives from those contigs
    only; the rest are train and draw from all other contigs, so no sequence crosses the split.
    Positives that overlap the blacklist, are over `max_n_fraction` N or hold non-ACGTN
    characters are rejected with the reason. Ids are `chrom_start_end` (0-based, half-open).
    """
    bed = Path(bed)
    name = _check_name(name or source_name(bed))
    with open_genome(genome) as reference:
        regions, blacklisted, pools = _read_regions(reference, bed, blacklist, test_chroms)
        positives, rejected, rejections = _screen_positives(regions, blacklisted, max_n_fraction, bed)
        if positives.empty:
            first = rejected[0]
            raise InputError(f"{bed}: all {len(regions)} region(s) rejected, e.g. {first['id']}: {first['reason']}")
        negatives = gc_matched_negatives(
            reference,
            positives,
            pools,
            exclude=[*_spans(regions), *_spans(blacklisted)],
            per_positive=negatives_per_positive,
            gc_tolerance=gc_tolerance,
            max_n_fraction=max_n_fraction,
            seed=seed,
        )
    table = pd.concat(
        [
            positives.assign(**{"class": POSITIVE_CLASS, "source": "positives"}),
            negatives.assign(**{"class": NEGATIVE_CLASS, "source": "negatives"}),
        ],
        ignore_index=True,
    )[["id", "sequence", "split", "class", "source"]]
    inputs = [
        {"path": str(bed), "role": "positives", "records": len(regions)},
        {"path": str(reference.path), "role": "genome", "contigs": len(reference.sizes)},
    ]
    if blacklist:
        inputs.append({"path": str(blacklist), "role": "blacklist", "records": len(blacklisted)})
    summary = _negatives_summary(
        positives, negatives, pools, rejections, per_positive=negatives_per_positive, gc_tolerance=gc_tolerance
    )
    labels = {"0": NEGATIVE_CLASS, "1": POSITIVE_CLASS, "positive_rule": "bed"}
    shared = {"folds": folds, "seed": seed, "max_n_fraction": max_n_fraction, "near_duplicates": near_duplicates}
    return assemble(name, table, labels, inputs, rejected, **shared, sections={"genome_negatives": summary})


def _read_regions(
    reference: Genome, bed: Path, blacklist: str | os.PathLike | None, test_chroms: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The BED's regions with their ids, splits and sequences; the blacklist; the contig pools of each split."""
    regions = read_bed(bed, reference.sizes)
    blacklisted = read_bed(blacklist, reference.sizes) if blacklist else pd.DataFrame(columns=BED_COLUMNS)
    pools = _split_pools(reference, test_chroms)
    regions["id"] = [f"{chrom}_{start}_{end}" for chrom, start, end in _spans(regions)]
    regions["split"] = np.where(regions["chrom"].isin(pools["test"]), "test", "train")
    regions["sequence"] = [reference.fetch(*region) for region in _spans(regions)]
    return regions, blacklisted, pools


def gc_matched_negatives(
    genome: Genome,
    positives: pd.DataFrame,
    pools: Mapping[str, list[str]],
    *,
    exclude: Iterable[tuple[str, int, int]] = (),
    per_positive: int = 1,
    gc_tolerance: float = 0.02,
    max_n_fraction: float = 0.1,
    seed: int = 42,
) -> pd.DataFrame:
    """Draw `per_positive` random genome windows for each positive region, matched in length and GC.

    A negative lies on a contig of its positive's split pool (`pools[split]`), overlaps no
    `exclude` region and no other negative, has at most `max_n_fraction` N, and its GC
    fraction is within `gc_tolerance` of its positive's. After `_TRIES_PER_TOLERANCE` draws
    without one the tolerance doubles, up to `_WIDENINGS` times; a positive that still has
    none gets fewer negatives (its id is missing from `positive`). Positives need the columns
    id, chrom, start, end, split and sequence; negatives get id, chrom, start, end, split,
    sequence, positive (its positive's id), gc_difference and tolerance (the one it met).
    The draws depend only on the inputs and `seed`.
    """
    rng = np.random.default_rng(seed)
    taken = RegionIndex(exclude)
    candidates: dict[tuple[str, int], tuple[list[str], np.ndarray]] = {}
    drawn = []
    for positive in positives.itertuples(index=False):
        length = int(positive.end - positive.start)
        key = (positive.split, length)
        if key not in candidates:
            contigs = [c for c in pools[positive.split] if genome.sizes[c] >= length]
            starts = np.array([genome.sizes[c] - length + 1 for c in contigs], dtype=float)
            candidates[key] = contigs, starts / max(starts.sum(), 1.0)
        contigs, weights = candidates[key]
        target = gc_fraction(positive.sequence)
        for _ in range(per_positive if contigs else 0):
            window = _draw_window(genome, rng, (contigs, weights), length, target, taken, gc_tolerance, max_n_fraction)
            if window is None:
                break
            chrom, start, sequence, tolerance = window
            taken.add(chrom, start, start + length)
            drawn.append(
                {
                    "id": f"{chrom}_{start}_{start + length}",
                    "chrom": chrom,
                    "start": start,
                    "end": start + length,
                    "split": positive.split,
                    "sequence": sequence,
                    "positive": positive.id,
                    "gc_difference": gc_fraction(sequence) - target,
                    "tolerance": tolerance,
                }
            )
    columns = ["id", "chrom", "start", "end", "split", "sequence", "positive", "gc_difference", "tolerance"]
    return pd.DataFrame(drawn, columns=columns)


def _draw_window(
    genome: Genome,
    rng: np.random.Generator,
    pool: tuple[list[str], np.ndarray],
    length: int,
    target: float,
    taken: RegionIndex,
    gc_tolerance: float,
    max_n_fraction: float,
) -> tuple[str, int, str, float] | None:
    """One free window of `length` with GC near `target`: (chrom, start, sequence, tolerance met), or None.

    `pool` holds the contigs and their weights, proportional to their possible start
    positions, so every window is equally likely to be drawn.
    """
    contigs, weights = pool
    for widening in range(_WIDENINGS + 1):
        tolerance = gc_tolerance * 2**widening
        picks = rng.choice(len(contigs), size=_TRIES_PER_TOLERANCE, p=weights)
        offsets = rng.random(_TRIES_PER_TOLERANCE)
        for pick, offset in zip(picks, offsets, strict=True):
            chrom = contigs[pick]
            start = int(offset * (genome.sizes[chrom] - length + 1))
            if taken.overlaps(chrom, start, start + length):
                continue
            sequence = genome.fetch(chrom, start, start + length)
            if (
                sequence.count("N") / length <= max_n_fraction
                and abs(gc_fraction(sequence) - target) <= tolerance + 1e-9
                and not invalid_characters(sequence)
            ):
                return chrom, start, sequence, tolerance
    return None


def _split_pools(genome: Genome, test_chroms: Sequence[str]) -> dict[str, list[str]]:
    """The contigs each split draws negatives from: the test chromosomes, and all the others."""
    unknown = [chrom for chrom in test_chroms if chrom not in genome.sizes]
    if unknown:
        known = ", ".join(list(genome.sizes)[:5]) + (", ..." if len(genome.sizes) > 5 else "")
        raise InputError(f"{genome.path}: test chromosome(s) {', '.join(unknown)} not in the genome (it has {known})")
    return {
        "train": [chrom for chrom in genome.sizes if chrom not in test_chroms],
        "test": [chrom for chrom in genome.sizes if chrom in test_chroms],
    }


def _spans(regions: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(chrom, start, end) of each region, as plain Python values."""
    columns = (regions["chrom"], regions["start"], regions["end"])
    return [(str(chrom), int(start), int(end)) for chrom, start, end in zip(*columns, strict=True)]


def _screen_positives(
    regions: pd.DataFrame, blacklisted: pd.DataFrame, max_n_fraction: float, bed: Path
) -> tuple[pd.DataFrame, list[dict[str, str]], Counter[str]]:
    """Keep the regions usable as positives; the others are rejected with a reason, counted by kind."""
    blacklist = RegionIndex(_spans(blacklisted))
    rejected: list[dict[str, str]] = []
    kinds: Counter[str] = Counter()
    keep = []
    for region in regions.itertuples(index=False):
        kind, reason = _rejection(region, blacklist, max_n_fraction)
        keep.append(not reason)
        if reason:
            log.warning("%s: region %s: rejected: %s", bed, region.id, reason)
            rejected.append({"source": "positives", "bed": str(bed), "id": region.id, "reason": reason})
            kinds[kind] += 1
    return regions[keep].reset_index(drop=True), rejected, kinds


def _rejection(region: Any, blacklist: RegionIndex, max_n_fraction: float) -> tuple[str, str]:
    """(kind, reason) why a region cannot be a positive, or ("", "") if it can."""
    if blacklist.overlaps(region.chrom, region.start, region.end):
        return "blacklist", "overlaps a blacklist region"
    n_fraction = region.sequence.count("N") / len(region.sequence)
    if n_fraction > max_n_fraction:
        return "n_fraction", f"N fraction {n_fraction:.3f} is over max_n_fraction {max_n_fraction}"
    reason = invalid_characters(region.sequence)
    return ("invalid", reason) if reason else ("", "")


def _negatives_summary(
    positives: pd.DataFrame,
    negatives: pd.DataFrame,
    pools: dict[str, list[str]],
    rejections: Counter[str],
    *,
    per_positive: int,
    gc_tolerance: float,
) -> dict[str, Any]:
    """The genome_negatives report section: GC match, per-split counts, widening, unmatched, rejections."""
    expected = positives["id"].value_counts(sort=False) * per_positive
    missing = expected - negatives["positive"].value_counts().reindex(expected.index, fill_value=0)
    unmatched = missing[missing > 0]
    widened = negatives["tolerance"] > gc_tolerance + 1e-12
    drawn = not negatives.empty
    gc = {
        "positives": describe(positives["sequence"].map(gc_fraction)),
        "negatives": describe(negatives["sequence"].map(gc_fraction)) if drawn else None,
        "mean_abs_difference": round(float(negatives["gc_difference"].abs().mean()), 4) if drawn else None,
    }
    return {
        "negatives_per_positive": per_positive,
        "gc_tolerance": gc_tolerance,
        "test_chroms": pools["test"],
        "gc": gc,
        "splits": {
            split: {
                "positives": int((positives["split"] == split).sum()),
                "negatives": int((negatives["split"] == split).sum()),
                "contigs": len(pools[split]),
            }
            for split in SPLITS
        },
        "widened": {
            "negatives": int(widened.sum()),
            "max_tolerance": round(float(negatives["tolerance"].max()), 6) if drawn else None,
        },
        "unmatched": {
            "positives": len(unmatched),
            "missing_negatives": int(unmatched.sum()),
            "ids": unmatched.index.tolist(),
        },
        "rejected_positives": {kind: rejections[kind] for kind in ("blacklist", "n_fraction", "invalid")},
    }


def _check_name(name: str) -> str:
    """A dataset name follows the samplesheet's rule, since it names every output."""
    rule = json.loads(resource("assets/schema_input.json").read_text())["items"]["properties"]["dataset"]
    if not re.search(rule["pattern"], name):
        raise InputError(f"dataset name {name!r}: {rule['errorMessage']}")
    return name
