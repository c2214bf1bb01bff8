"""Model-independent stages of attention-based motif discovery (DNABERT's procedure, as used by iEnhancer-ELM).

Token attention scores are mapped onto nucleotides, high-attention regions are called,
candidate sequences are tested for enrichment in positives over negatives, similar
candidates are merged, and the merged instances become position frequency matrices
written as MEME v4 text. Nothing here needs a model: the scores come in as arrays.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .data import reverse_complement
from .errors import InputError
from .io import cache_dir, open_text, write_text

ALPHABET = "ACGT"
DEFAULT_NSITES = 20  # the MEME suite's assumption when the number of sites is unknown
ENRICHMENT_COLUMNS = ["candidate", "n_positive", "n_negative", "p_value", "q_value"]


def _l2_normalise(values: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm; an all-zero row stays zero."""
    norms = np.linalg.norm(values, axis=-1, keepdims=True)
    return np.divide(values, norms, out=np.zeros_like(values), where=norms > 0)


def _as_batch(token_scores: np.ndarray) -> tuple[np.ndarray, bool]:
    """Scores as a float 2-D array (rows = sequences) and whether the input was 1-D."""
    scores = np.asarray(token_scores, dtype=float)
    if scores.ndim not in (1, 2):
        raise InputError(f"token scores must be 1-D or 2-D (rows = sequences), got {scores.ndim}-D")
    if not np.all(np.isfinite(scores)):
        raise InputError("token scores contain NaN or infinite values")
    return np.atleast_2d(scores), scores.ndim == 1


def nucleotide_scores(token_scores: np.ndarray, k: int, length: int) -> np.ndarray:
    """Per-nucleotide scores from per-k-mer-token scores, L2-normalised per sequence.

    `token_scores` excludes [CLS]/[SEP]; token i covers nucleotides i..i+k-1. Each nucleotide
    gets the mean score of the tokens covering it (0 where none does, e.g. after truncation),
    so the result does not depend on how many tokens overlap a position. A 2-D input is a
    batch (rows = sequences) and gives a (rows, length) array.
    """
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    scores, single = _as_batch(token_scores)
    n_tokens = scores.shape[1]
    if n_tokens > max(length - k + 1, 0):
        raise InputError(f"{n_tokens} {k}-mer tokens do not fit in a sequence of {length} nucleotides")
    sums = np.zeros((scores.shape[0], length))
    counts = np.zeros(length)
    for shift in range(k):  # nucleotide i + shift is covered by token i
        sums[:, shift:shift + n_tokens] += scores
        counts[shift:shift + n_tokens] += 1
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    result = _l2_normalise(means)
    return result[0] if single else result


def offsets_to_nucleotide_scores(token_scores: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """Per-nucleotide scores from BPE token scores and their (start, end) character offsets.

    Each token's score is spread over nucleotides start..end-1 and averaged where tokens
    overlap; tokens with start == end (special and padding tokens, offset (0, 0)) are ignored
    and uncovered nucleotides score 0. Rows are L2-normalised, as in `nucleotide_scores`, so
    both tokenizers feed region calling on the same scale. Accepts a batch: scores (rows,
    tokens) with offsets (rows, tokens, 2).
    """
    scores, single = _as_batch(token_scores)
    spans = np.asarray(offsets)
    if single:
        spans = spans[np.newaxis]
    if spans.shape != (*scores.shape, 2):
        raise InputError(f"offsets must have shape {(*np.shape(token_scores), 2)}, got {np.shape(offsets)}")
    spans = spans.astype(int)
    starts, ends = spans[..., 0], spans[..., 1]
    if np.any(starts < 0) or np.any(ends > length) or np.any(ends < starts):
        raise InputError(f"token offsets must satisfy 0 <= start <= end <= {length}")
    rows = np.broadcast_to(np.arange(scores.shape[0])[:, None], scores.shape)
    used = ends > starts
    sum_diff = np.zeros((scores.shape[0], length + 1))
    count_diff = np.zeros((scores.shape[0], length + 1), dtype=np.int64)
    np.add.at(sum_diff, (rows[used], starts[used]), scores[used])
    np.add.at(sum_diff, (rows[used], ends[used]), -scores[used])
    np.add.at(count_diff, (rows[used], starts[used]), 1)
    np.add.at(count_diff, (rows[used], ends[used]), -1)
    sums = np.cumsum(sum_diff, axis=1)[:, :length]
    counts = np.cumsum(count_diff, axis=1)[:, :length]
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    result = _l2_normalise(means)
    return result[0] if single else result


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


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values: min over ranks j >= i of p_(j) * m / j, capped at 1, in input order."""
    values = np.asarray(p, dtype=float)
    if values.ndim != 1:
        raise InputError(f"p-values must be 1-D, got {values.ndim}-D")
    if not np.all((values >= 0) & (values <= 1)):
        raise InputError("p-values must lie in [0, 1] (no NaN)")
    m = values.size
    if not m:
        return values.copy()
    order = np.argsort(values, kind="stable")
    ranked = values[order] * m / np.arange(1, m + 1)
    monotone = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(monotone, 1.0)
    return q


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
        reverse = reverse_complement(forward)
        x = sum(forward in s or reverse in s for s in pos)
        y = sum(forward in s or reverse in s for s in neg)
        p = float(stats.hypergeom.sf(x - 1, total, len(pos), x + y))
        rows.append({"candidate": candidate, "n_positive": x, "n_negative": y, "p_value": min(max(p, 0.0), 1.0)})
    table = pd.DataFrame(rows, columns=ENRICHMENT_COLUMNS[:-1])
    table["n_positive"] = table["n_positive"].astype(int)
    table["n_negative"] = table["n_negative"].astype(int)
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy(dtype=float))
    return table


def alignment_score(a: str, b: str) -> int:
    """Best ungapped alignment: the most matching positions over all offsets of `b` against `a`."""
    best = 0
    for offset in range(-(len(b) - 1), len(a)):
        lo, hi = max(0, offset), min(len(a), offset + len(b))
        best = max(best, sum(a[i] == b[i - offset] for i in range(lo, hi)))
    return best


def merge_candidates(candidates: list[str], min_len: int = 5) -> list[list[str]]:
    """Group similar candidates greedily, in input order (pass them most significant first).

    Each candidate is compared with the first member (seed) of every group so far and joins
    the group whose seed aligns best (ties: the earlier group), provided the best ungapped
    alignment score reaches max(min_len - 1, half the shorter length); otherwise it seeds a
    new group. Exact repeats (case-insensitive) after the first are dropped.
    """
    groups: list[list[str]] = []
    seen: set[str] = set()
    for candidate in candidates:
        upper = _check_candidate(candidate)
        if upper in seen:
            continue
        seen.add(upper)
        best, best_group = -1, None
        for index, group in enumerate(groups):
            seed = group[0]
            score = alignment_score(seed, upper)
            if score >= max(min_len - 1, min(len(seed), len(upper)) / 2) and score > best:
                best, best_group = score, index
        if best_group is None:
            groups.append([upper])
        else:
            groups[best_group].append(upper)
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
            letters = letters[cut:cut + width]
        start = (width - len(letters)) // 2
        for position, letter in enumerate(letters, start=start):
            if letter in index:
                counts[position, index[letter]] += 1
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.full_like(counts, 0.25), where=totals > 0)


def consensus(pfm: np.ndarray) -> str:
    """The most frequent letter at each position (ties: A before C before G before T)."""
    return "".join(ALPHABET[i] for i in np.argmax(np.asarray(pfm), axis=1))


def _check_pfm(name: str, pfm: np.ndarray) -> np.ndarray:
    matrix = np.asarray(pfm, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] != 4 or not matrix.shape[0]:
        raise InputError(f"motif {name!r}: matrix must have shape (width >= 1, 4), got {matrix.shape}")
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0) or not np.allclose(matrix.sum(axis=1), 1, atol=1e-3):
        raise InputError(f"motif {name!r}: each row must be non-negative frequencies summing to 1")
    return matrix


def write_meme(motifs: Mapping[str, np.ndarray], path: str | os.PathLike, *,
               background: Sequence[float] | None = None, nsites: int | Mapping[str, int] | None = None) -> Path:
    """Write motifs as MEME v4 text, atomically, to the given path.

    Each key is the motif id; the alternate name written after it is the consensus. `background`
    is the A C G T frequencies (default uniform); `nsites` is one count for all motifs or a
    count per id (default 20, the MEME suite's assumption when unknown). Values have 6 decimals.
    """
    freqs = np.full(4, 0.25) if background is None else np.asarray(background, dtype=float)
    if freqs.shape != (4,) or np.any(freqs < 0) or not math.isclose(float(freqs.sum()), 1.0, abs_tol=1e-3):
        raise InputError("background must be 4 non-negative A C G T frequencies summing to 1")
    lines = ["MEME version 4", "", f"ALPHABET= {ALPHABET}", "", "strands: + -", "",
             "Background letter frequencies",
             " ".join(f"{letter} {value:.6f}" for letter, value in zip(ALPHABET, freqs)), ""]
    for name, pfm in motifs.items():
        if not name or any(c.isspace() for c in name):
            raise InputError(f"motif id {name!r} must be non-empty and contain no whitespace")
        matrix = _check_pfm(name, pfm)
        if isinstance(nsites, Mapping):
            sites = nsites.get(name, DEFAULT_NSITES)
        else:
            sites = DEFAULT_NSITES if nsites is None else nsites
        lines += [f"MOTIF {name} {consensus(matrix)}",
                  f"letter-probability matrix: alength= 4 w= {matrix.shape[0]} nsites= {int(sites)} E= 0"]
        lines += [" ".join(f"{value:.6f}" for value in row) for row in matrix]
        lines.append("")
    return write_text(path, "\n".join(lines) + "\n")


def _matrix_width(header: str, where: str) -> int:
    """The w= value of a letter-probability matrix line (alength, if given, must be 4)."""
    values = dict(re.findall(r"(\w+)=\s*(\S+)", header))
    try:
        width = int(values["w"])
        alength = int(values.get("alength", 4))
    except (KeyError, ValueError):
        raise InputError(f"{where}: matrix line needs an integer w= value") from None
    if alength != 4 or width < 1:
        raise InputError(f"{where}: need alength= 4 and w >= 1, got alength= {alength} w= {width}")
    return width


def read_meme(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Motifs of a MEME (v4 or later) text file with the DNA alphabet, as {id: (w, 4) A C G T matrix}."""
    with open_text(path) as handle:
        lines = handle.read().splitlines()
    numbered = [(n, line.strip()) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered or not numbered[0][1].startswith("MEME version"):
        first = numbered[0][0] if numbered else 1
        raise InputError(f"{path}: line {first}: not a MEME file (no 'MEME version' header)")
    motifs: dict[str, np.ndarray] = {}
    i = 1
    while i < len(numbered):
        n, line = numbered[i]
        if line.startswith("ALPHABET="):
            if line.split("=", 1)[1].strip().upper() != ALPHABET:
                raise InputError(f"{path}: line {n}: only the ACGT alphabet is supported, got {line!r}")
        if not line.startswith("MOTIF"):
            i += 1
            continue
        fields = line.split()
        if len(fields) < 2:
            raise InputError(f"{path}: line {n}: MOTIF line has no id")
        name = fields[1]
        if name in motifs:
            raise InputError(f"{path}: line {n}: motif {name!r} appears twice")
        i += 1
        while i < len(numbered) and not numbered[i][1].startswith(("letter-probability matrix", "MOTIF")):
            i += 1  # URL and other optional lines
        if i >= len(numbered) or numbered[i][1].startswith("MOTIF"):
            raise InputError(f"{path}: line {n}: motif {name!r} has no letter-probability matrix")
        width = _matrix_width(numbered[i][1], f"{path}: line {numbered[i][0]}")
        rows = []
        for _ in range(width):
            i += 1
            if i >= len(numbered):
                end = len(lines) + 1
                raise InputError(f"{path}: line {end}: motif {name!r} ends after {len(rows)} of {width} rows")
            n, row = numbered[i]
            try:
                values = [float(v) for v in row.split()]
            except ValueError:
                values = []
            if len(values) != 4:
                raise InputError(f"{path}: line {n}: expected 4 frequencies for motif {name!r}, got {row!r}")
            rows.append(values)
        motifs[name] = np.array(rows)
        i += 1
    return motifs


# ---------------------------------------------------------------------------- known motifs, matching, scanning

JASPAR_RELEASE = "JASPAR2024"
TAX_GROUP = "vertebrates"
SCAN_COLUMNS = ["sequence", "motif_id", "motif_name", "start", "end", "strand", "score", "p_value"]
MATCH_COLUMNS = ["motif", "match_id", "match_name", "match_p", "match_q", "match_orientation", "match_offset"]


@dataclass(frozen=True)
class KnownMotif:
    """A motif with a stable id (JASPAR matrix id or MEME id), a readable name and its (w, 4) frequencies."""

    id: str
    name: str
    pfm: np.ndarray


def load_motifs(source: str, *, release: str = JASPAR_RELEASE, tax_group: str = TAX_GROUP) -> list[KnownMotif]:
    """Motifs from `jaspar` (JASPAR CORE of `release` and `tax_group`, offline through pyjaspar's bundled
    database) or from a MEME file."""
    if source.lower() != "jaspar":
        names = meme_names(source)
        return [KnownMotif(motif_id, names.get(motif_id, motif_id), pfm) for motif_id, pfm in read_meme(source).items()]
    from pyjaspar import jaspardb

    try:
        database = jaspardb(release=release)
    except Exception as error:  # pyjaspar raises a bare Exception for an unknown release
        raise InputError(f"JASPAR release {release!r} is not available offline ({error})") from error
    records = database.fetch_motifs(collection="CORE", tax_group=[tax_group])
    if not records:
        raise InputError(f"{release} has no CORE motifs for tax group {tax_group!r}")
    motifs = []
    for record in records:
        counts = np.array([record.counts[letter] for letter in ALPHABET], dtype=float).T
        totals = counts.sum(axis=1, keepdims=True)
        motifs.append(KnownMotif(record.matrix_id, record.name, counts / np.where(totals > 0, totals, 1)))
    return motifs


def meme_names(path: str | os.PathLike) -> dict[str, str]:
    """The alternate name of each motif of a MEME file (the word after the id on its MOTIF line), if any."""
    with open_text(path) as handle:
        lines = [line.split() for line in handle if line.startswith("MOTIF")]
    return {fields[1]: fields[2] for fields in lines if len(fields) > 2}


def memelite():
    """The memelite module, with numba's compiled-code cache in a writable per-user directory.

    memelite compiles its TOMTOM and FIMO kernels with numba on first use (about a minute on
    two cores); with a writable cache that cost is paid once per machine or container image.
    `NUMBA_CACHE_DIR`, when set, wins.
    """
    if "NUMBA_CACHE_DIR" not in os.environ:
        directory = cache_dir("numba")
        directory.mkdir(parents=True, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = str(directory)
    import memelite as module

    return module


def one_hot(sequences: Sequence[str], length: int | None = None) -> np.ndarray:
    """(n, 4, length) float32 one-hot A C G T, zero columns for other letters and for padding on the right."""
    width = max((len(s) for s in sequences), default=0) if length is None else length
    codes = np.full((len(sequences), width), 4, dtype=np.uint8)
    lookup = np.full(256, 4, dtype=np.uint8)
    for code, letter in enumerate(ALPHABET):
        lookup[ord(letter)] = lookup[ord(letter.lower())] = code
    for row, sequence in enumerate(sequences):
        raw = np.frombuffer(sequence.encode("ascii", "replace")[:width], dtype=np.uint8)
        codes[row, : len(raw)] = lookup[raw]
    return np.eye(5, 4, dtype=np.float32)[codes].transpose(0, 2, 1).copy()


def scan_motifs(motifs: Sequence[KnownMotif], sequences: Sequence[str], *, threshold: float = 1e-4) -> pd.DataFrame:
    """FIMO hits (p <= threshold, both strands) of each motif in each sequence, as SCAN_COLUMNS.

    `sequence` is the index into `sequences`; start/end are 0-based half-open on the forward
    strand. Hits that reach into the padding of a shorter sequence are dropped.
    """
    if not motifs or not sequences:
        return pd.DataFrame(columns=SCAN_COLUMNS)
    fimo = memelite().fimo
    pwms = {str(i): np.ascontiguousarray(motif.pfm.T) for i, motif in enumerate(motifs)}
    hits = fimo(pwms, one_hot(sequences), threshold=threshold, reverse_complement=True, dim=0)
    table = pd.concat([h for h in hits if len(h)], ignore_index=True) if any(len(h) for h in hits) else None
    if table is None:
        return pd.DataFrame(columns=SCAN_COLUMNS)
    lengths = np.array([len(s) for s in sequences])
    table = table[table["end"].to_numpy() <= lengths[table["sequence_name"].to_numpy(dtype=int)]]
    index = table["motif_idx"].to_numpy(dtype=int)
    result = pd.DataFrame({
        "sequence": table["sequence_name"].to_numpy(dtype=int),
        "motif_id": [motifs[i].id for i in index],
        "motif_name": [motifs[i].name for i in index],
        "start": table["start"].to_numpy(dtype=int), "end": table["end"].to_numpy(dtype=int),
        "strand": table["strand"].to_numpy(), "score": table["score"].to_numpy(dtype=float),
        "p_value": table["p-value"].to_numpy(dtype=float),
    })
    return result.sort_values(["sequence", "start", "motif_id", "strand"], kind="stable").reset_index(drop=True)


def match_motifs(queries: Mapping[str, np.ndarray], targets: Sequence[KnownMotif]) -> pd.DataFrame:
    """Best TOMTOM match of each query (id -> (w, 4) PFM) among `targets`, as MATCH_COLUMNS.

    match_q is the Benjamini–Hochberg q-value of the best p-value among that query's p-values
    against all targets (as MEME's TOMTOM computes q-values); orientation is `+` when the target
    matches the query as given and `-` when it matches its reverse complement.
    """
    if not queries:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    if not targets:
        raise InputError("no known motifs to match against")
    tomtom = memelite().tomtom
    p_values, _, offsets, _, strands = tomtom([np.ascontiguousarray(pfm.T) for pfm in queries.values()],
                                              [np.ascontiguousarray(m.pfm.T) for m in targets])
    rows = []
    for row, name in enumerate(queries):
        p = np.clip(np.nan_to_num(p_values[row], nan=1.0), 0.0, 1.0)
        best = int(np.argmin(p))
        rows.append({"motif": name, "match_id": targets[best].id, "match_name": targets[best].name,
                     "match_p": float(p[best]), "match_q": float(bh_qvalues(p)[best]),
                     "match_orientation": "-" if strands[row, best] else "+", "match_offset": int(offsets[row, best])})
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)
