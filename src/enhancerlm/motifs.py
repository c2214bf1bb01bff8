"""Model-independent stages of attention-based motif discovery (DNABERT's procedure, as used by iEnhancer-ELM).

Token attention scores are mapped onto nucleotides, high-attention regions are called,
candidate sequences are tested for enrichment in positives over negatives, similar
candidates are merged, and the merged instances become position frequency matrices
written as MEME v4 text. Nothing here needs a model: the scores come in as arrays.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .data import BASE_CODE, reverse_complement
from .errors import InputError
from .io import atomic_dir, atomic_path, cache_dir, open_text, write_json, write_text, write_tsv
from .report import MOTIFS_SECTION, Markup, general_stats_tsv, html_section, html_table

log = logging.getLogger(__name__)

ALPHABET = "ACGT"
DEFAULT_NSITES = 20  # the MEME suite's assumption when the number of sites is unknown
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
        x, y = containing([forward], pos), containing([forward], neg)
        p = float(stats.hypergeom.sf(x - 1, total, len(pos), x + y))
        rows.append({"candidate": candidate, "n_positive": x, "n_negative": y, "p_value": min(max(p, 0.0), 1.0)})
    table = pd.DataFrame(rows, columns=ENRICHMENT_COLUMNS[:-1])
    table["n_positive"] = table["n_positive"].astype(int)
    table["n_negative"] = table["n_negative"].astype(int)
    table["q_value"] = bh_qvalues(table["p_value"].to_numpy(dtype=float))
    return table


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
        if not Path(source).is_file():
            raise InputError(f"{source}: no such MEME file (give a MEME file of known motifs, or 'jaspar')")
        matrices = read_meme(source)
        names = meme_names(source)
        return [KnownMotif(motif_id, names.get(motif_id, motif_id), pfm) for motif_id, pfm in matrices.items()]
    from pyjaspar import jaspardb

    available = jaspardb().get_releases()
    if release not in available:
        raise InputError(f"JASPAR release {release!r} is not available offline; choose one of {', '.join(available)}")
    database = jaspardb(release=release)
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


@contextmanager
def torch_threads_kept() -> Iterator[None]:
    """Restore torch's thread count after memelite: numba's OpenMP layer resets the count it shares with
    torch (1 -> all cores, about ten times slower when other jobs share the CPU)."""
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    try:
        yield
    finally:
        if torch:
            torch.set_num_threads(threads)


def one_hot(sequences: Sequence[str], length: int | None = None) -> np.ndarray:
    """(n, 4, length) float32 one-hot A C G T, zero columns for other letters and for padding on the right."""
    width = max((len(s) for s in sequences), default=0) if length is None else length
    codes = np.full((len(sequences), width), 4, dtype=np.uint8)
    for row, sequence in enumerate(sequences):
        raw = np.frombuffer(sequence.encode("ascii", "replace")[:width], dtype=np.uint8)
        codes[row, : len(raw)] = BASE_CODE[raw]
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
    with torch_threads_kept():
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


def scan_fasta(source: str, fasta: str | os.PathLike, output: str | os.PathLike, *, release: str = JASPAR_RELEASE,
               tax_group: str = TAX_GROUP, threshold: float = 1e-4, batch: int = 1000) -> int:
    """FIMO hits of known motifs in every record of a FASTA file, streamed `batch` records at a time into
    a TSV (atomically; column `sequence` holds the record id). Returns the number of hits."""
    from .data import read_fasta

    motifs = load_motifs(source, release=release, tax_group=tax_group)
    hits = 0
    with atomic_path(output) as tmp, open(tmp, "w") as handle:
        handle.write("\t".join(SCAN_COLUMNS) + "\n")
        records = read_fasta(fasta)
        while chunk := [record for _, record in zip(range(batch), records)]:
            table = scan_motifs(motifs, [record.sequence for record in chunk], threshold=threshold)
            table["sequence"] = [chunk[i].id for i in table["sequence"]]
            table.to_csv(handle, sep="\t", header=False, index=False, float_format="%.6g")
            hits += len(table)
    return hits


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
    with torch_threads_kept():
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


# ---------------------------------------------------------------------------- discovery from nucleotide scores

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


def attended_kmers(sequences: Sequence[str], scores: Sequence[np.ndarray], *, width: int = 6, min_len: int = 5,
                   f: float = 1.0, gap: int = 1) -> tuple[pd.DataFrame, float]:
    """How often each k-mer (either strand) lies inside a high-attention region, against chance.

    For every sequence, regions come from `candidate_regions`; a k-mer occurrence is attended
    when it lies wholly inside one. Per canonical k-mer: n_present sequences contain it,
    n_attended of them contain it attended, and attention_p is the binomial chance of at least
    n_attended of n_present when an occurrence is attended with the overall attended fraction of
    k-mer positions (returned too). A model that ignores a k-mer attends it at that rate.
    """
    from .tokenize import kmer_codes

    n_codes = 4 ** width
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
    table = pd.DataFrame({"kmer": [decode_kmer(int(c), width) for c in used], "n_attended": attended[used],
                          "n_present": present[used], "attention_p": np.clip(p, 0.0, 1.0)}, columns=KMER_COLUMNS)
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


# ---------------------------------------------------------------------------- `enhancerlm motifs`


@dataclass(frozen=True)
class MotifOptions:
    """Parameters of motif discovery; region calling and filters default to the published values."""

    method: str = "attention"
    split: str = "train"
    min_len: int = 5  # shortest high-attention region (DNABERT)
    f: float = 1.0  # score > f * min(score) (iEnhancer-ELM; DNABERT uses 10)
    gap: int = 1  # low nucleotides bridged inside a region
    kmer_length: int = 6  # candidate length
    min_count: int = 3  # candidate attended in at least this many discovery sequences (DNABERT's min_n_motif)
    attention_p: float = 0.01  # candidate attended more often than chance at this binomial p
    max_q: float = 0.005  # enrichment BH q-value on the held-out half (DNABERT's pval_cutoff)
    min_instances: int = 11  # instances a merged motif needs (iEnhancer-ELM)
    motif_width: int = 10  # PFM window around instances (DNABERT's window; wider when members span more)
    discovery_fraction: float = 0.5  # share of each class used to pick candidates; the rest tests them
    max_skill_p: float = 0.01  # the model must separate held-out classes at this Mann-Whitney p
    seed: int = 42
    jaspar_release: str = JASPAR_RELEASE
    tax_group: str = TAX_GROUP
    known_motifs: str = "jaspar"  # or a MEME file
    match_q: float = 0.05  # TOMTOM q-value for a known-motif match
    ig_steps: int = 20
    batch_size: int = 32
    device: str = "auto"


MOTIF_COLUMNS = ["motif", "consensus", "width", "n_candidates", "seed_candidate", "instances_positive",
                 "instances_negative", "heldout_positive", "heldout_negative", "enrichment_p", "enrichment_q",
                 *MATCH_COLUMNS[1:], "known"]
_COORDINATES = re.compile(r"^(.+)_(\d+)_(\d+)$")


def split_halves(table: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """True for the records (a `fraction` of each label, drawn with `seed`) that pick candidates."""
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(table), dtype=bool)
    for label in (0, 1):
        rows = np.flatnonzero(table["label"].to_numpy() == label)
        chosen[rng.permutation(rows)[: int(round(fraction * len(rows)))]] = True
    return chosen


def discover_motifs(model_spec: str, dataset: str | os.PathLike, outdir: str | os.PathLike, *, prefix: str,
                    options: MotifOptions = MotifOptions()) -> dict:
    """Find the motifs a model relies on, test them honestly, match them to known motifs, write everything.

    Nucleotide scores (attention or integrated gradients) of the split's positives give
    high-attention regions; k-mers the model attends more often than chance in the discovery
    part are the candidates; their enrichment in positives over negatives is tested on the
    held-out part (hypergeometric, BH); significant candidates are merged into motifs whose
    instances in the positives give PFMs, matched against known motifs with TOMTOM.
    """
    from . import __version__
    from .attribution import score_nucleotides
    from .data import read_dataset
    from .model import load_trained, resolve_device

    _check_options(options)
    model = load_trained(model_spec)
    records = read_dataset(dataset)
    table = records[records["split"] == options.split].reset_index(drop=True)
    table["sequence"] = table["sequence"].str.upper()
    if table["label"].nunique() < 2:
        raise InputError(f"{dataset}: split {options.split!r} needs both positives and negatives for motif discovery")
    discovery = split_halves(table, options.discovery_fraction, options.seed)
    positives = table[table["label"] == 1].reset_index(drop=True)
    negatives = table.loc[table["label"] == 0, "sequence"].tolist()
    is_discovery = discovery[table["label"].to_numpy() == 1]
    heldout = table[~discovery]
    held_pos = heldout.loc[heldout["label"] == 1, "sequence"].tolist()
    held_neg = heldout.loc[heldout["label"] == 0, "sequence"].tolist()
    device = resolve_device(options.device)
    skill = model_skill(model, _skill_records(records, options.split, heldout), batch_size=options.batch_size,
                        device=device)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = motif_paths(outdir, prefix)
    sequences = positives["sequence"].tolist()
    scores = score_nucleotides(model, sequences, method=options.method, batch_size=options.batch_size,
                               ig_steps=options.ig_steps, device=device)
    discovery_scores = write_tracks(paths["tracks"], positives["id"].tolist(), scores, is_discovery)
    discovery_sequences = [s for s, d in zip(sequences, is_discovery) if d]
    kmers, rate = attended_kmers(discovery_sequences, discovery_scores, width=options.kmer_length,
                                 min_len=options.min_len, f=options.f, gap=options.gap)
    skilled = skill["p_value"] <= options.max_skill_p
    if not skilled:
        log.warning("%s separates held-out positives from negatives no better than chance (AUC %.3f, p = %.2g): "
                    "its attributions are not evidence, so no motif is reported", model_spec, skill["auc"],
                    skill["p_value"])
    candidates = pick_candidates(kmers, min_count=options.min_count, max_p=options.attention_p) if skilled else []
    tested = hypergeometric_enrichment(candidates, held_pos, held_neg) if candidates else pd.DataFrame(
        columns=ENRICHMENT_COLUMNS)
    tested = tested.merge(kmers.rename(columns={"kmer": "candidate"}), on="candidate", how="left")
    significant = tested[tested["q_value"] < options.max_q].sort_values(["p_value", "candidate"], kind="stable")
    groups = merge_candidates(significant["candidate"].tolist(), options.min_len, both_strands=True)
    rows, pfms = [], {}
    best = significant.set_index("candidate")
    for group in groups:
        instances = motif_instances(group, sequences, options.motif_width)
        if len(instances) < options.min_instances:
            continue
        name = f"{prefix}_motif{len(pfms) + 1}"
        pfms[name] = pfm_from_instances(instances)
        seed_row = best.loc[_canonical(group[0])]
        rows.append({"motif": name, "consensus": consensus(pfms[name]), "width": pfms[name].shape[0],
                     "n_candidates": len(group), "seed_candidate": group[0], "instances_positive": len(instances),
                     "instances_negative": len(motif_instances(group, negatives, options.motif_width)),
                     "heldout_positive": containing(group, held_pos), "heldout_negative": containing(group, held_neg),
                     "enrichment_p": float(seed_row["p_value"]), "enrichment_q": float(seed_row["q_value"])})
    known = load_motifs(options.known_motifs, release=options.jaspar_release, tax_group=options.tax_group)
    matches = match_motifs(pfms, known)
    motifs = pd.DataFrame(rows, columns=MOTIF_COLUMNS[:11])
    motifs = motifs.merge(matches, on="motif", how="left") if len(motifs) else pd.DataFrame(columns=MOTIF_COLUMNS)
    motifs["known"] = (motifs["match_q"] < options.match_q).astype(bool)
    motifs = motifs[MOTIF_COLUMNS]
    report = {
        "prefix": prefix, "version": __version__, "model": model_spec, "model_id": model.card.get("model_id", prefix),
        "weights_sha256": model.card.get("weights_sha256"), "dataset": str(dataset),
        "parameters": {k: v for k, v in options.__dict__.items() if k not in ("batch_size", "device")},
        "skill": {**skill, "passed": bool(skilled)},
        "counts": {"positives": len(positives), "negatives": len(negatives),
                   "discovery_positives": int(is_discovery.sum()), "heldout_positives": len(held_pos),
                   "heldout_negatives": len(held_neg), "attended_fraction": rate, "kmers_seen": len(kmers),
                   "candidates": len(candidates), "significant": len(significant), "merged": len(groups),
                   "motifs": len(motifs), "known": int(motifs["known"].sum())},
        "motifs": motifs.to_dict(orient="records"),
        "outputs": {key: path.name for key, path in paths.items()},
    }
    write_meme(pfms, paths["meme"], nsites={row["motif"]: row["instances_positive"] for row in rows})
    write_tsv(paths["motifs"], motifs)
    write_tsv(paths["candidates"], tested.sort_values(["p_value", "candidate"], kind="stable"))
    write_logos(pfms, paths["logos"])
    write_text(paths["mqc_table"], multiqc_motif_table(prefix, motifs, paths["logos"]))
    write_text(paths["mqc_general"], multiqc_motif_hits(report["model_id"], report["counts"]))
    write_json(paths["json"], report)
    return report


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
    return {"records": len(records), "auc": float(roc_auc_score(labels, probabilities)), "p_value": float(p),
            "source": records.attrs.get("source")}


def _skill_records(table: pd.DataFrame, split: str, heldout: pd.DataFrame) -> pd.DataFrame:
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


def _check_options(options: MotifOptions) -> None:
    from .attribution import METHODS

    if options.method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {options.method!r}")
    if not 0 < options.discovery_fraction < 1:
        raise InputError(f"discovery fraction must lie strictly between 0 and 1, got {options.discovery_fraction}")
    if not 1 <= options.kmer_length <= 12:
        raise InputError(f"k-mer length must be 1..12, got {options.kmer_length}")


def _canonical(kmer: str) -> str:
    return min(kmer, reverse_complement(kmer))


def motif_paths(outdir: Path, prefix: str) -> dict[str, Path]:
    return {"meme": outdir / f"{prefix}.motifs.meme", "motifs": outdir / f"{prefix}.motifs.tsv",
            "candidates": outdir / f"{prefix}.candidates.tsv", "json": outdir / f"{prefix}.motifs.json",
            "logos": outdir / f"{prefix}.logos", "tracks": outdir / f"{prefix}.scores.bedGraph.gz",
            "mqc_table": outdir / f"{prefix}.motifs_mqc.html",
            "mqc_general": outdir / f"{prefix}.motif_hits_mqc.tsv"}


def track_lines(name: str, values: np.ndarray) -> Iterator[str]:
    """bedGraph lines of one sequence's per-nucleotide scores, in genome coordinates when the name is
    `chrom_start_end` (0-based, half-open, matching the length), else on a contig named after the sequence."""
    match = _COORDINATES.match(name)
    if match and int(match[3]) - int(match[2]) == len(values):
        chrom, offset = match[1], int(match[2])
    else:
        chrom, offset = name, 0
    for position, value in enumerate(values):
        yield f"{chrom}\t{offset + position}\t{offset + position + 1}\t{value:.5g}\n"


def write_tracks(path: Path, names: list[str], scores: Iterator[np.ndarray], keep: np.ndarray) -> list[np.ndarray]:
    """Stream every sequence's scores into a gzipped bedGraph (atomically) and return those marked `keep`."""
    kept = []
    with atomic_path(path) as tmp, gzip.open(tmp, "wt", compresslevel=5) as handle:
        handle.write(f'track type=bedGraph name="{path.name.split(".scores")[0]}" description="enhancerlm nucleotide scores"\n')
        for name, values, chosen in zip(names, scores, keep):
            handle.writelines(track_lines(name, values))
            if chosen:
                kept.append(values)
    return kept


def write_logos(pfms: Mapping[str, np.ndarray], directory: Path) -> list[Path]:
    """One information-content logo (PNG) per motif, in a directory replaced atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import logomaker
    import matplotlib.pyplot as plt

    written = []
    with atomic_dir(directory) as staging:
        for name, pfm in pfms.items():
            frame = pd.DataFrame(pfm, columns=list(ALPHABET))
            information = logomaker.transform_matrix(frame, from_type="probability", to_type="information")
            figure, axis = plt.subplots(figsize=(max(2.0, 0.35 * len(frame)), 1.6))
            logomaker.Logo(information, ax=axis, color_scheme="classic")
            axis.set_ylim(0, 2)
            axis.set_ylabel("bits")
            axis.set_title(name, fontsize=8)
            figure.tight_layout()
            figure.savefig(staging / f"{name}.png", dpi=100)
            plt.close(figure)
            written.append(directory / f"{name}.png")
    return written


def multiqc_motif_table(prefix: str, motifs: pd.DataFrame, logos: Path) -> str:
    """MultiQC custom content (HTML): the motif table with JASPAR matches and each motif's logo inline."""
    import base64
    import html

    rows = []
    for row in motifs.to_dict(orient="records"):
        logo = logos / f"{row['motif']}.png"
        image = Markup(f'<img alt="{html.escape(row["motif"])} logo" style="height:48px" src="data:image/png;base64,'
                       f'{base64.b64encode(logo.read_bytes()).decode()}"/>') if logo.exists() else ""
        match = "" if pd.isna(row["match_id"]) else f"{row['match_id']} {row['match_name']}"
        rows.append([row["motif"], image, row["consensus"], row["instances_positive"], row["instances_negative"],
                     f"{row['enrichment_q']:.2e}", match, "" if pd.isna(row["match_q"]) else f"{row['match_q']:.2e}",
                     "yes" if row["known"] else "no"])
    header = ["Motif", "Logo", "Consensus", "Instances (pos)", "Instances (neg)", "Enrichment q", "Best JASPAR match",
              "TOMTOM q", "Known"]
    return html_section(MOTIFS_SECTION, f"enhancerlm_motifs_{prefix}", f"Motifs: {prefix}",
                        "Motifs discovered from the model, tested on held-out sequences and matched to JASPAR with "
                        "TOMTOM.", html_table("enhancerlm-motifs", header, rows, empty="No motif passed the filters."))


def multiqc_motif_hits(model_id: str, counts: dict) -> str:
    """MultiQC general-statistics custom content: the motif count and JASPAR matches in the model's row."""
    return general_stats_tsv("enhancerlm_motif_hits", model_id, {
        "Motifs": ({"title": "Motifs", "description": "Motifs discovered", "format": "{:,.0f}"},
                   str(counts["motifs"])),
        "Known motifs": ({"title": "JASPAR hits", "description": "Discovered motifs matching JASPAR (TOMTOM q < 0.05)",
                          "format": "{:,.0f}"}, str(counts["known"]))})
