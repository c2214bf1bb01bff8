"""Near-duplicate records: pairs at least `identity` identical over at least `coverage` of the shorter record, on
either strand, in the spirit of CD-HIT-EST's clustering rule (90 % over half the shorter sequence by default), so a
window shifted to overlap 60 % of its neighbour counts and unrelated sequence never does.

Never all pairs: each record's minimizers (the smallest hash among every `WINDOW` consecutive `K`-mers) go into an
index; two records that share at least `MIN_SHARED` minimizers on the same diagonal (the same offset between them)
are a candidate, and an ungapped comparison along that diagonal confirms it. A minimizer held by more than
`MAX_BUCKET` records is a repeat and proposes nothing. The comparison is ungapped: a copy with an indel is judged on
one side of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from enhancerlm.core.dna import reverse_complement
from enhancerlm.models.tokenize import kmer_codes

K, WINDOW = 12, 6
MIN_SHARED = 2
MAX_BUCKET = 200
QUERY_CHUNK = 2000
_HASH = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads k-mer codes so minimizers are not poly-A


@dataclass(frozen=True)
class NearDuplicateRule:
    identity: float = 0.9
    coverage: float = 0.5


def rule_record(rule: NearDuplicateRule | None) -> dict[str, float] | str:
    """The rule as a report records it: its two thresholds, or "off"."""
    return asdict(rule) if rule is not None else "off"


@dataclass(frozen=True)
class NearDuplicate:
    """Query record `query` nearly copies target record `target` (`strand` "-": its reverse complement does)."""

    query: int
    target: int
    strand: str
    identity: float
    coverage: float


def minimizers(sequence: str) -> tuple[np.ndarray, np.ndarray]:
    """Hashes and start positions of the sequence's minimizers (k-mers with N are skipped)."""
    codes, valid = kmer_codes(sequence.upper(), K)
    hashes = np.where(valid, codes.astype(np.uint64) * _HASH, np.iinfo(np.uint64).max)
    if len(hashes) < WINDOW:
        chosen = np.array([int(np.argmin(hashes))]) if len(hashes) else np.zeros(0, dtype=np.int64)
    else:
        windows = np.lib.stride_tricks.sliding_window_view(hashes, WINDOW)
        chosen = np.unique(windows.argmin(axis=1) + np.arange(len(windows)))
    chosen = chosen[valid[chosen]] if len(chosen) else chosen
    return hashes[chosen], chosen


def _index(sequences: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimizer hashes, record numbers and positions of all sequences, sorted by hash."""
    parts = [minimizers(sequence) for sequence in sequences]
    hashes = np.concatenate([h for h, _ in parts]) if parts else np.zeros(0, dtype=np.uint64)
    records = np.concatenate([np.full(len(h), i) for i, (h, _) in enumerate(parts)]) if parts else np.zeros(0, int)
    positions = np.concatenate([p for _, p in parts]) if parts else np.zeros(0, int)
    order = np.argsort(hashes, kind="stable")
    return hashes[order], records[order], positions[order]


def _candidates(
    query_hashes: np.ndarray, query_records: np.ndarray, query_positions: np.ndarray, targets
) -> np.ndarray:
    """(query, target, diagonal) of every query minimizer found in the target index, as rows."""
    target_hashes, target_records, target_positions = targets
    first = np.searchsorted(target_hashes, query_hashes, side="left")
    last = np.searchsorted(target_hashes, query_hashes, side="right")
    counts = last - first
    keep = (counts > 0) & (counts <= MAX_BUCKET)
    first, counts = first[keep], counts[keep]
    queries, positions = query_records[keep], query_positions[keep]
    if not len(first):
        return np.zeros((0, 3), dtype=np.int64)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    hits = np.repeat(first, counts) + offsets
    diagonals = target_positions[hits] - np.repeat(positions, counts)
    return np.stack([np.repeat(queries, counts), target_records[hits], diagonals], axis=1)


def find_near_duplicates(
    queries: list[str], targets: list[str] | None = None, rule: NearDuplicateRule = NearDuplicateRule()
) -> list[NearDuplicate]:
    """Every (query, target) pair that is a near duplicate on either strand; without `targets`, every pair of
    queries (query < target), each reported once. Queries are looked up `QUERY_CHUNK` at a time, so the candidate
    hits held at once do not grow with the data set."""
    within = targets is None
    target_sequences = queries if within else targets
    index = _index(target_sequences)
    found: dict[tuple[int, int], NearDuplicate] = {}
    for first in range(0, len(queries), QUERY_CHUNK):
        chunk = queries[first : first + QUERY_CHUNK]
        for strand in ("+", "-"):
            strand_sequences = chunk if strand == "+" else [reverse_complement(s) for s in chunk]
            for query, target, diagonal in _diagonals(strand_sequences, first, index, within):
                if (query, target) in found:
                    continue
                identity, coverage = ungapped_identity(
                    strand_sequences[query - first], target_sequences[target], diagonal
                )
                if identity >= rule.identity and coverage >= rule.coverage:
                    found[(query, target)] = NearDuplicate(query, target, strand, identity, coverage)
    return sorted(found.values(), key=lambda match: (match.query, match.target))


def _diagonals(sequences: list[str], first: int, index, within: bool) -> list[tuple[int, int, int]]:
    """(query, target, diagonal) sharing at least MIN_SHARED minimizers; queries numbered from `first`."""
    hashes, records, positions = _index(sequences)
    hits = _candidates(hashes, records + first, positions, index)
    if within:
        hits = hits[hits[:, 0] < hits[:, 1]]
    if not len(hits):
        return []
    # one integer per (query, target, diagonal): a 1-D unique is far faster than a row-wise one
    offset = int(-hits[:, 2].min())
    span, n_targets = int(hits[:, 2].max()) + offset + 1, int(hits[:, 1].max()) + 1
    keys, shared = np.unique((hits[:, 0] * n_targets + hits[:, 1]) * span + hits[:, 2] + offset, return_counts=True)
    found = []
    for key in keys[shared >= MIN_SHARED].tolist():
        pair, diagonal = divmod(key, span)
        found.append((*divmod(pair, n_targets), diagonal - offset))
    return found


def ungapped_identity(query: str, target: str, diagonal: int) -> tuple[float, float]:
    """Identity over the overlap of `query` placed at `diagonal` on `target` (query base i against target base
    i + diagonal; N matches nothing) and the overlap's share of the shorter sequence."""
    start, end = max(0, -diagonal), min(len(query), len(target) - diagonal)
    if end <= start:
        return 0.0, 0.0
    a = np.frombuffer(query[start:end].upper().encode(), dtype=np.uint8)
    b = np.frombuffer(target[start + diagonal : end + diagonal].upper().encode(), dtype=np.uint8)
    matches = int(((a == b) & (a != ord("N"))).sum())
    return matches / (end - start), (end - start) / min(len(query), len(target))
