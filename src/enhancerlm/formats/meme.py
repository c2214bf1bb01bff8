"""MEME motif files: reading and writing position frequency matrices."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from enhancerlm.core.dna import ALPHABET, consensus
from enhancerlm.errors import InputError
from enhancerlm.formats.files import open_text, write_text

DEFAULT_NSITES = 20  # the MEME suite's assumption when the number of sites is unknown


def _check_pfm(name: str, pfm: np.ndarray) -> np.ndarray:
    matrix = np.asarray(pfm, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] != 4 or not matrix.shape[0]:
        raise InputError(f"motif {name!r}: matrix must have shape (width >= 1, 4), got {matrix.shape}")
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0) or not np.allclose(matrix.sum(axis=1), 1, atol=1e-3):
        raise InputError(f"motif {name!r}: each row must be non-negative frequencies summing to 1")
    return matrix


def write_meme(
    motifs: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    background: Sequence[float] | None = None,
    nsites: int | Mapping[str, int] | None = None,
) -> Path:
    """Write motifs as MEME v4 text, atomically, to the given path.

    Each key is the motif id; the alternate name written after it is the consensus. `background`
    is the A C G T frequencies (default uniform); `nsites` is one count for all motifs or a
    count per id (default 20, the MEME suite's assumption when unknown). Values have 6 decimals.
    """
    freqs = np.full(4, 0.25) if background is None else np.asarray(background, dtype=float)
    if freqs.shape != (4,) or np.any(freqs < 0) or not math.isclose(float(freqs.sum()), 1.0, abs_tol=1e-3):
        raise InputError("background must be 4 non-negative A C G T frequencies summing to 1")
    lines = [
        "MEME version 4",
        "",
        f"ALPHABET= {ALPHABET}",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{letter} {value:.6f}" for letter, value in zip(ALPHABET, freqs)),
        "",
    ]
    for name, pfm in motifs.items():
        if not name or any(c.isspace() for c in name):
            raise InputError(f"motif id {name!r} must be non-empty and contain no whitespace")
        matrix = _check_pfm(name, pfm)
        if isinstance(nsites, Mapping):
            sites = nsites.get(name, DEFAULT_NSITES)
        else:
            sites = DEFAULT_NSITES if nsites is None else nsites
        lines += [
            f"MOTIF {name} {consensus(matrix)}",
            f"letter-probability matrix: alength= 4 w= {matrix.shape[0]} nsites= {int(sites)} E= 0",
        ]
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


def meme_names(path: str | os.PathLike) -> dict[str, str]:
    """The alternate name of each motif of a MEME file (the word after the id on its MOTIF line), if any."""
    with open_text(path) as handle:
        lines = [line.split() for line in handle if line.startswith("MOTIF")]
    return {fields[1]: fields[2] for fields in lines if len(fields) > 2}
