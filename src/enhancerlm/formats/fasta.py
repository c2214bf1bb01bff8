"""FASTA records, read with a clear error for each malformed line (plain or gzip-compressed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from enhancerlm.errors import InputError
from enhancerlm.formats.files import open_text


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record; `description` is the whole header line without '>'."""

    id: str
    description: str
    sequence: str


def read_fasta(path: str | os.PathLike) -> Iterator[FastaRecord]:
    """Yield the records of a plain or gzipped FASTA file, sequences upper-cased.

    Gzip is detected from the magic bytes, so a misnamed file still reads. CRLF and blank
    lines are tolerated; structural problems raise InputError naming the file and line.
    """
    path = Path(path)
    try:
        with open_text(path) as handle:
            yield from _parse_fasta(handle, path)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read FASTA: {exc}") from exc


def _parse_fasta(lines: IO[str], path: Path) -> Iterator[FastaRecord]:
    """Parse FASTA lines into records, joining multi-line sequences."""
    header: str | None = None
    chunks: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if line.startswith(">"):
            if header is not None:
                yield _make_record(header, chunks)
            header = line[1:].strip()
            chunks = []
            if not header:
                raise InputError(f"{path}: line {number}: header has no record id")
        elif header is None:
            raise InputError(f"{path}: line {number}: sequence text before the first '>' header")
        else:
            chunks.append(line)
    if header is None:
        raise InputError(f"{path}: no FASTA records (empty file)")
    yield _make_record(header, chunks)


def _make_record(header: str, chunks: list[str]) -> FastaRecord:
    return FastaRecord(id=header.split()[0], description=header, sequence="".join(chunks).upper())
