"""The model-free stages of attention-based motif discovery (DNABERT's procedure, as iEnhancer-ELM uses it):
high-attention regions, attended k-mers, enrichment on held-out records, merging, PFMs, and the skill gate that
decides whether a model's attributions are evidence at all. Scores come in as arrays."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from enhancerlm.analysis.known_motifs import MATCH_COLUMNS
from enhancerlm.core.dna import ALPHABET, dinucleotide_shuffle, reverse_complement
from enhancerlm.core.stats import bh_qvalues
from enhancerlm.errors import InputError
from enhancerlm.models.tokenize import kmer_codes

ENRICHMENT_COLUMNS = ["candidate", "n_positive", "n_negative", "p_value", "q_value"]


def candidate_regions(scores: np.ndarray, *, min_len: int = 5, f: float = 1.0, gap: int = 1) -> list[tuple[int, int]]:
    """High-attention regions as 0-based half-open (start, end) pairs.

    A nucleotide is high when its score exceeds both the sequence mean and `f` times the
    sequence minimum (DNABERT uses f = 10, iEnhancer-ELM f = 1). Runs of high nucleotides
    separated by at most `gap` low ones are joined, and joined runs shorter than `min_len`
    are dropped.
    """
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1:
        raise InputError(f"scores must be 1-D (one sequence), got {values.ndim}-D")
    if min_len < 1 or gap < 0:
        raise InputError(f"min_len must be >= 1 and gap >= 0, got min_len={min_len}, gap={gap}")
    if not values.size:
        return []
    if not np.all(np.isfinite(values)):
        raise InputError("scores contain NaN or infinite values")
    high = (values > values.mean()) & (values > f * values.min())
    padded = np.concatenate([[False], high, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    runs = [[int(s), int(e)] for s, e in zip(edges[::2], edges[1::2])]
    joined: list[list[int]] = []
    for run in runs:
        if joined and run[0] - joined[-1][1] <= gap:
            joined[-1][1] = run[1]
        else:
            joined.append(run)
    return [(s, e) for s, e in joined if e - s >= min_len]


def _check_candidate(candidate: str) -> str:
    upper = candidate.upper()
    if not upper or set(upper) - set(ALPHABET):
        raise InputError(f"candidate {candidate!r} must be a non-empty ACGT sequence")
    return upper


def hypergeometric_enrichment(candidates: list[str], positives: list[str], negatives: list[str]) -> pd.DataFrame:
    """Enrichment of each candidate in positive over negative sequences.

    A sequence contains a candidate when the candidate or its reverse complement occurs in
    it (case-insensitive), since a binding site may lie on either strand. p_value is the
    hypergeometric chance of at least n_positive positives among the n_positive + n_negative
    sequences that contain it, drawn from all positives and negatives; q_value is its
    Benjamini–Hochberg q-value over the candidates given. One row per candidate, in input order.
    """
    total = len(positives) + len(negatives)
    if not total:
        raise InputError("enrichment needs at least one positive or negative sequence")
    pos = [s.upper() for s in positives]
    neg = [s.upper() for s in negatives]
    rows = []
    for candidate in candidates:
        forward = _check_candidate(candidate)
        x, y = containing([forward], pos), containing([forward], neg)
        p = float(stats.hypergeom.sf(x - 1, total, len(pos), x + y))
        rows.append({"candidate": candidate, "n_positive": x, "n_negative": y, "p_value": min(max(p, 0.0), 1.0)})
    table = pd.DataFrame(rows, columns=ENRICHMENT_COLUMNS[:-1])
    table["n_positive"] = table["n_positive"].astype(int)
    table["n_negative"] = table["n_negative"].astype(int)
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy(dtype=float))
    return table


CONTROL_COLUMNS = ["n_control", "control_p_value", "control_q_value"]


def shuffled_controls(sequences: list[str], seed: int) -> list[str]:
    """One dinucleotide-shuffled copy of each sequence: the same length and composition (GC, CpG, every
    dinucleotide), but any motif broken up. A k-mer that is as common in these controls as in the sequences is
    there because of composition, not because of a site."""
    rng = np.random.default_rng(seed)
    return [dinucleotide_shuffle(np.frombuffer(s.encode("ascii"), np.uint8), rng).tobytes().decode() for s in sequences]


def composition_controlled(tested: pd.DataFrame, positives: list[str], controls: list[str]) -> pd.DataFrame:
    """`tested` with each candidate's enrichment in the positives over composition-matched controls of the same
    positives (`shuffled_controls`): how many controls hold it, its hypergeometric p-value and BH q-value."""
    control = hypergeometric_enrichment(tested["candidate"].tolist(), positives, controls)
    return tested.assign(
        n_control=control["n_negative"].to_numpy(dtype=int),
        control_p_value=control["p_value"].to_numpy(dtype=float),
        control_q_value=control["q_value"].to_numpy(dtype=float),
    )


def best_alignment(a: str, b: str) -> tuple[int, int]:
    """Best ungapped alignment of `b` against `a`: (matching positions, offset of b's start in a's frame).

    Ties go to the smallest offset.
    """
    best, best_offset = 0, 0
    for offset in range(-(len(b) - 1), len(a)):
        lo, hi = max(0, offset), min(len(a), offset + len(b))
        score = sum(a[i] == b[i - offset] for i in range(lo, hi))
        if score > best:
            best, best_offset = score, offset
    return best, best_offset


def alignment_score(a: str, b: str) -> int:
    """Best ungapped alignment: the most matching positions over all offsets of `b` against `a`."""
    return best_alignment(a, b)[0]


def merge_candidates(candidates: list[str], min_len: int = 5, *, both_strands: bool = False) -> list[list[str]]:
    """Group similar candidates greedily, in input order (pass them most significant first).

    Each candidate is compared with the first member (seed) of every group so far and joins
    the group whose seed aligns best (ties: the earlier group), provided the best ungapped
    alignment score reaches max(min_len - 1, half the shorter length); otherwise it seeds a
    new group. With `both_strands` the reverse complement is tried too and the candidate joins
    in the orientation that aligns better. Exact repeats (case-insensitive) after the first are dropped.
    """
    groups: list[list[str]] = []
    seen: set[str] = set()
    for candidate in candidates:
        upper = _check_candidate(candidate)
        if upper in seen:
            continue
        seen.add(upper)
        orientations = [upper, reverse_complement(upper)] if both_strands else [upper]
        best, best_group, best_form = -1, None, upper
        for index, group in enumerate(groups):
            seed = group[0]
            for form in orientations:
                score = alignment_score(seed, form)
                if score >= max(min_len - 1, min(len(seed), len(form)) / 2) and score > best:
                    best, best_group, best_form = score, index, form
        if best_group is None:
            groups.append([upper])
        else:
            groups[best_group].append(best_form)
    return groups


def pfm_from_instances(instances: list[str], width: int | None = None) -> np.ndarray:
    """Position frequency matrix (rows = positions, columns A C G T) of motif instances.

    Without `width` all instances must share a length. With `width` each instance is centred
    in a window of that many positions: a shorter one is padded on both sides (one extra
    padding position on the right when the difference is odd) and a longer one keeps its
    central `width` letters. Padding and non-ACGT letters count nothing; a position with no
    counts gets uniform frequencies.
    """
    if not instances:
        raise InputError("a position frequency matrix needs at least one instance")
    if width is None:
        lengths = {len(s) for s in instances}
        if len(lengths) != 1:
            raise InputError(f"instances differ in length ({sorted(lengths)}); give a width to centre them")
        width = lengths.pop()
    if width < 1:
        raise InputError(f"width must be at least 1, got {width}")
    counts = np.zeros((width, 4))
    index = {letter: i for i, letter in enumerate(ALPHABET)}
    for instance in instances:
        letters = instance.upper()
        if len(letters) > width:
            cut = (len(letters) - width) // 2
            letters = letters[cut : cut + width]
        start = (width - len(letters)) // 2
        for position, letter in enumerate(letters, start=start):
            if letter in index:
                counts[position, index[letter]] += 1
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.full_like(counts, 0.25), where=totals > 0)


KMER_COLUMNS = ["kmer", "n_attended", "n_present", "attention_p"]


def canonical_codes(codes: np.ndarray, width: int) -> np.ndarray:
    """The smaller of each base-4 k-mer code (A=0 .. T=3) and its reverse complement's code."""
    reverse = np.zeros_like(codes)
    remaining = codes.copy()
    for _ in range(width):
        reverse = reverse * 4 + (3 - remaining % 4)
        remaining //= 4
    return np.minimum(codes, reverse)


def decode_kmer(code: int, width: int) -> str:
    return "".join(ALPHABET[(code >> (2 * (width - 1 - i))) & 3] for i in range(width))


def attended_kmers(
    sequences: Sequence[str],
    scores: Sequence[np.ndarray],
    *,
    width: int = 6,
    min_len: int = 5,
    f: float = 1.0,
    gap: int = 1,
) -> tuple[pd.DataFrame, float]:
    """How often each k-mer (either strand) lies inside a high-attention region, against chance.

    For every sequence, regions come from `candidate_regions`; a k-mer occurrence is attended
    when it lies wholly inside one. Per canonical k-mer: n_present sequences contain it,
    n_attended of them contain it attended, and attention_p is the binomial chance of at least
    n_attended of n_present when an occurrence is attended with the overall attended fraction of
    k-mer positions (returned too). A model that ignores a k-mer attends it at that rate.
    """

    n_codes = 4**width
    attended = np.zeros(n_codes, dtype=np.int64)
    present = np.zeros(n_codes, dtype=np.int64)
    inside_positions = total_positions = 0
    for sequence, values in zip(sequences, scores):
        codes, valid = kmer_codes(sequence, width)
        if not codes.size:
            continue
        covered = np.zeros(len(sequence) + 1, dtype=np.int64)
        for start, end in candidate_regions(values, min_len=min_len, f=f, gap=gap):
            covered[start] += 1
            covered[end] -= 1
        in_region = np.cumsum(covered)[: len(sequence)] > 0
        # k-mer i is inside when all of positions i..i+width-1 are: a window sum over in_region
        sums = np.convolve(in_region.astype(np.int64), np.ones(width, dtype=np.int64), mode="valid")
        inside = (sums == width) & valid
        canonical = canonical_codes(codes, width)
        present[np.unique(canonical[valid])] += 1
        attended[np.unique(canonical[inside])] += 1
        inside_positions += int(inside.sum())
        total_positions += int(valid.sum())
    rate = inside_positions / total_positions if total_positions else 0.0
    used = np.flatnonzero(present)
    p = stats.binom.sf(attended[used] - 1, present[used], rate) if rate > 0 else np.ones(len(used))
    table = pd.DataFrame(
        {
            "kmer": [decode_kmer(int(c), width) for c in used],
            "n_attended": attended[used],
            "n_present": present[used],
            "attention_p": np.clip(p, 0.0, 1.0),
        },
        columns=KMER_COLUMNS,
    )
    return table, rate


def pick_candidates(kmers: pd.DataFrame, *, min_count: int = 3, max_p: float = 0.01) -> list[str]:
    """K-mers attended in at least `min_count` sequences and more often than chance (attention_p <= max_p),
    most significant first."""
    chosen = kmers[(kmers["n_attended"] >= min_count) & (kmers["attention_p"] <= max_p)]
    return chosen.sort_values(["attention_p", "kmer"], kind="stable")["kmer"].tolist()


def group_layout(group: list[str]) -> list[int]:
    """Offset of each member's start relative to the group's seed (its first member), by best alignment."""
    return [best_alignment(group[0], member)[1] for member in group]


def motif_instances(group: list[str], sequences: Sequence[str], width: int) -> list[str]:
    """Windows of `width` nt around each occurrence of the group's motif, read on the motif's strand.

    Members are placed by `group_layout`; every occurrence of a member on either strand marks
    where the seed would start, and the window is centred on the span of all members. Each
    (sequence, strand, seed position) gives one instance; windows running off a sequence are
    padded with N, which counts nothing in a PFM.
    """
    offsets = group_layout(group)
    lo = min(0, *offsets)
    hi = max(len(group[0]), *(o + len(m) for o, m in zip(offsets, group)))
    width = max(width, hi - lo)
    first = lo - (width - (hi - lo)) // 2
    instances = []
    for sequence in sequences:
        for strand in (sequence.upper(), reverse_complement(sequence.upper())):
            anchors = set()
            for member, offset in zip(group, offsets):
                position = strand.find(member)
                while position >= 0:
                    anchors.add(position - offset)
                    position = strand.find(member, position + 1)
            padded = "N" * width + strand + "N" * width
            instances += [padded[width + a + first : width + a + first + width] for a in sorted(anchors)]
    return instances


def containing(group: list[str], sequences: Sequence[str]) -> int:
    """How many sequences contain a member of the group on either strand (pass upper-case ACGT)."""
    forms = {form for member in group for form in (member, reverse_complement(member))}
    return sum(any(form in s for form in forms) for s in sequences)


MOTIF_COLUMNS = [
    "motif",
    "consensus",
    "width",
    "n_candidates",
    "seed_candidate",
    "instances_positive",
    "instances_negative",
    "heldout_positive",
    "heldout_negative",
    "enrichment_p",
    "enrichment_q",
    "control_q",
    *MATCH_COLUMNS[1:],
    "known",
]


COORDINATES = re.compile(r"^(.+)_(\d+)_(\d+)$")


def split_halves(table: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """True for the records (a `fraction` of each label, drawn with `seed`) that pick candidates."""
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(table), dtype=bool)
    for label in (0, 1):
        rows = np.flatnonzero(table["label"].to_numpy() == label)
        chosen[rng.permutation(rows)[: int(round(fraction * len(rows)))]] = True
    return chosen


def model_skill(model, records: pd.DataFrame, *, batch_size: int = 32, device="cpu") -> dict:
    """How well the model separates the records' positives from negatives: AUC and one-sided Mann-Whitney p.

    An untrained model, or one trained on shuffled labels, scores near AUC 0.5 on records it
    did not learn from; interpreting its attributions would report noise (or composition).
    """
    from sklearn.metrics import roc_auc_score

    labels = records["label"].to_numpy()
    if len(set(labels)) < 2:
        return {"records": len(records), "auc": None, "p_value": 1.0, "source": records.attrs.get("source")}
    probabilities = model.predict_proba(records["sequence"].tolist(), batch_size=batch_size, device=device)
    p = stats.mannwhitneyu(probabilities[labels == 1], probabilities[labels == 0], alternative="greater").pvalue
    return {
        "records": len(records),
        "auc": float(roc_auc_score(labels, probabilities)),
        "p_value": float(p),
        "source": records.attrs.get("source"),
    }


def skill_records(table: pd.DataFrame, split: str, heldout: pd.DataFrame) -> pd.DataFrame:
    """Records the model never trained on: the test split when motifs come from another split, else the
    held-out half of the analysed split."""
    test = table[table["split"] == "test"]
    if split != "test" and test["label"].nunique() == 2:
        test = test.reset_index(drop=True)
        test.attrs["source"] = "test split"
        return test
    records = heldout.reset_index(drop=True)
    records.attrs["source"] = f"held-out half of the {split} split"
    return records
