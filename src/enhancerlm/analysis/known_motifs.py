"""Known motifs (a JASPAR release through pyjaspar, or a MEME file), FIMO scans and TOMTOM matches (memelite)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm.core.dna import ALPHABET, one_hot
from enhancerlm.core.stats import bh_qvalues
from enhancerlm.defaults import JASPAR_RELEASE, TAX_GROUP
from enhancerlm.errors import InputError
from enhancerlm.formats.files import cache_dir
from enhancerlm.formats.meme import meme_names, read_meme

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
    result = pd.DataFrame(
        {
            "sequence": table["sequence_name"].to_numpy(dtype=int),
            "motif_id": [motifs[i].id for i in index],
            "motif_name": [motifs[i].name for i in index],
            "start": table["start"].to_numpy(dtype=int),
            "end": table["end"].to_numpy(dtype=int),
            "strand": table["strand"].to_numpy(),
            "score": table["score"].to_numpy(dtype=float),
            "p_value": table["p-value"].to_numpy(dtype=float),
        }
    )
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
    with torch_threads_kept():
        p_values, _, offsets, _, strands = tomtom(
            [np.ascontiguousarray(pfm.T) for pfm in queries.values()], [np.ascontiguousarray(m.pfm.T) for m in targets]
        )
    rows = []
    for row, name in enumerate(queries):
        p = np.clip(np.nan_to_num(p_values[row], nan=1.0), 0.0, 1.0)
        best = int(np.argmin(p))
        rows.append(
            {
                "motif": name,
                "match_id": targets[best].id,
                "match_name": targets[best].name,
                "match_p": float(p[best]),
                "match_q": float(bh_qvalues(p)[best]),
                "match_orientation": "-" if strands[row, best] else "+",
                "match_offset": int(offsets[row, best]),
            }
        )
    return pd.DataFrame(rows, columns=MATCH_COLUMNS)
