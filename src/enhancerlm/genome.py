"""Reference genomes and regions: indexed FASTA access, BED input and region-overlap queries.

Every command that reads a genome (datasets prepared from regions, genome-wide scans, variant
scoring) opens it here, so compression, indexing and coordinates are decided in one place:
coordinates are 0-based and half-open (BED), and sequence comes back upper case (soft-masking
removed).
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyfaidx
from Bio import bgzf

from . import io
from .errors import InputError

log = logging.getLogger(__name__)

BED_COLUMNS = ["chrom", "start", "end", "name"]

_BGZF_SUFFIXES = (".gz", ".bgz")
_BED_SKIP = ("#", "track", "browser")
_BGZF_BLOCK = 0xFF00  # uncompressed bytes per BGZF block, as bgzip writes them


class Genome:
    """A FASTA opened for random access; `sizes` maps each contig to its length."""

    def __init__(self, path: Path, fasta: pyfaidx.Fasta) -> None:
        self.path = path
        self._fasta = fasta
        self.sizes: dict[str, int] = {name: len(record) for name, record in fasta.items()}

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Upper-case sequence of chrom:[start, end), 0-based half-open."""
        if chrom not in self.sizes or not 0 <= start < end <= self.sizes[chrom]:
            raise InputError(f"{self.path}: {chrom}:{start}-{end} is not a region of this genome")
        try:
            return self._fasta[chrom][start:end]
        except ValueError as exc:
            # pyfaidx (0.9) cannot seek to the first byte of a full 64 KiB BGZF block, as Biopython's
            # bgzf writes them (bgzip's blocks are smaller); reading from one base earlier avoids it.
            if "within_block_offset" not in str(exc):
                raise
            if start == 0:
                raise InputError(
                    f"{self.path}: cannot read the start of {chrom} from this BGZF file; recompress it with "
                    "bgzip or decompress it"
                ) from exc
            return self._fasta[chrom][start - 1 : end][1:]

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def open_genome(path: str | os.PathLike, *, index_dir: str | os.PathLike | None = None,
                fai: str | os.PathLike | None = None, gzi: str | os.PathLike | None = None) -> Genome:
    """Open a plain, bgzip- or gzip-compressed FASTA for random access, indexing it first if needed.

    The index (.fai, plus .gzi for bgzip) is read from, or written to, the FASTA's directory as
    samtools does, unless that directory is read-only and holds no current index: then it is
    kept under `index_dir` (default: the user's cache), so a read-only reference is never
    written to. `fai` names an existing .fai to use instead of looking for or building one.
    Plain gzip (UCSC's and Ensembl's .fa.gz) cannot be read by position: it is re-compressed
    once to BGZF in the same cache, keyed by the file's path, size and modification time.
    `gzi` names the existing .gzi of a bgzip FASTA; with `fai` too, the pair is used as given
    (an index made once by `index_genome` and staged beside each task's FASTA).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: genome FASTA not found")
    for index in (fai, gzi):
        if index is not None and not Path(index).is_file():
            raise InputError(f"{index}: FASTA index not found")
    readable = _bgzf_copy(path, index_dir) if _is_plain_gzip(path) else path
    bgzf_file = _is_bgzf(readable)
    given = fai is not None and (gzi is not None or not bgzf_file)
    if given:
        fai_path, gzi = Path(fai), (Path(gzi) if bgzf_file else None)
    else:  # a bgzip FASTA with a .fai but no .gzi given, or nothing given
        fai_path, gzi = _index_paths(readable, bgzf_file, index_dir)
    try:
        if not given and not _current([gzi] if fai else [fai_path, gzi], readable):
            _build_index(readable, fai_path, gzi)
        fasta = pyfaidx.Fasta(
            str(readable),
            indexname=str(fai or fai_path),
            gzi_indexname=str(gzi) if gzi else None,
            as_raw=True,
            sequence_always_upper=True,
            strict_bounds=True,
            build_index=False,
            rebuild=False,
        )
    except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split())
        raise InputError(f"{path}: cannot index FASTA: {reason}") from exc
    return Genome(path, fasta)


def index_genome(source: str | os.PathLike, output: str | os.PathLike) -> dict[str, Any]:
    """Write `output` as a BGZF copy of a plain, gzip or bgzip FASTA, with its .fai and .gzi beside it.

    A pipeline indexes its genome once this way and hands the three files to every task, so no
    task re-reads or re-compresses the reference.
    """
    source, output = Path(source), Path(output)
    if not source.is_file():
        raise InputError(f"{source}: genome FASTA not found")
    if not output.name.lower().endswith(_BGZF_SUFFIXES):
        raise InputError(f"{output}: a bgzip FASTA must be named *.gz or *.bgz")
    with open(source, "rb") as handle:
        compressed = handle.read(2) == io.GZIP_MAGIC
    try:
        with gzip.open(source, "rb") if compressed else open(source, "rb") as reader:
            _write_bgzf(reader, output)
    except (OSError, EOFError) as exc:
        raise InputError(f"{source}: cannot read FASTA: {exc}") from exc
    fai, gzi = Path(f"{output}.fai"), Path(f"{output}.gzi")
    try:
        _build_index(output, fai, gzi)
    except (pyfaidx.FastaIndexingError, ValueError) as exc:
        output.unlink(missing_ok=True)
        raise InputError(f"{source}: cannot index FASTA: {' '.join(str(exc).split())}") from exc
    sizes = read_fai(fai)
    return {"fasta": str(output), "fai": str(fai), "gzi": str(gzi), "contigs": len(sizes),
            "bases": sum(sizes.values())}


def contig_sizes(path: str | os.PathLike, *, index_dir: str | os.PathLike | None = None) -> dict[str, int]:
    """Contig lengths of a genome FASTA, in file order (indexing it if needed)."""
    with open_genome(path, index_dir=index_dir) as genome:
        return dict(genome.sizes)


def genome_sizes(genome: str | os.PathLike | None = None, fai: str | os.PathLike | None = None) -> dict[str, int]:
    """Contig lengths from a .fai alone when given (no FASTA needed), else from the genome FASTA."""
    if fai is not None:
        return read_fai(fai)
    if genome is None:
        raise InputError("give the genome FASTA or its .fai index for the contig sizes")
    return contig_sizes(genome)


def read_fai(path: str | os.PathLike) -> dict[str, int]:
    """Contig lengths from the first two columns of a samtools .fai index, in file order."""
    path = Path(path)
    sizes: dict[str, int] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read FASTA index: {exc.strerror or exc}") from exc
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if len(fields) < 2 or not fields[1].isdigit():
            raise InputError(f"{path}: line {number}: not a .fai line (name, length, offset, ...)")
        sizes[fields[0]] = int(fields[1])
    if not sizes:
        raise InputError(f"{path}: no contigs")
    return sizes


def _is_plain_gzip(path: Path) -> bool:
    """Gzip without BGZF's 'BC' extra subfield (FEXTRA), so not readable by position."""
    with open(path, "rb") as handle:
        head = handle.read(14)
    return head.startswith(io.GZIP_MAGIC) and not (len(head) == 14 and head[3] & 0x04 and head[12:14] == b"BC")


def _is_bgzf(path: Path) -> bool:
    """True for bgzip, False for plain text; InputError for a misnamed bgzip file."""
    with open(path, "rb") as handle:
        if handle.read(2) != io.GZIP_MAGIC:
            return False
    if not path.name.lower().endswith(_BGZF_SUFFIXES):
        raise InputError(f"{path}: bgzip-compressed FASTA must be named *.gz or *.bgz")
    return True


def _bgzf_copy(path: Path, index_dir: str | os.PathLike | None) -> Path:
    """A BGZF copy of a plain-gzip FASTA in the cache, made once per version of the file.

    Blocks hold at most 0xFF00 bytes, as bgzip's do (pyfaidx cannot seek to the start of a
    full 64 KiB block, which Biopython's writer would otherwise make).
    """
    stat = path.stat()
    directory = _cache_dir(path, index_dir, f"{stat.st_size}:{stat.st_mtime_ns}")
    copy = directory / (path.name if path.name.lower().endswith(_BGZF_SUFFIXES) else f"{path.name}.gz")
    if copy.is_file():
        return copy
    log.info("%s is plain gzip, which cannot be read by position: re-compressing it once to BGZF at %s",
             path, copy)
    try:
        with gzip.open(path, "rb") as source:
            _write_bgzf(source, copy)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read gzip FASTA: {exc}") from exc
    return copy


def _write_bgzf(reader: Any, path: Path) -> None:
    """Stream a binary reader into a BGZF file atomically, in blocks of bgzip's size."""
    with io.atomic_path(path) as tmp, bgzf.BgzfWriter(str(tmp), "wb") as writer:
        while block := reader.read(_BGZF_BLOCK):
            writer.write(block)
            writer.flush()


def _index_paths(path: Path, bgzf_file: bool, index_dir: str | os.PathLike | None) -> tuple[Path, Path | None]:
    """Where the .fai (and .gzi) live: beside the FASTA when current there or writable, else a cache."""
    fai, gzi = Path(f"{path}.fai"), (Path(f"{path}.gzi") if bgzf_file else None)
    if _current([fai, gzi], path) or _writable(path.parent):
        return fai, gzi
    directory = _cache_dir(path, index_dir)
    return directory / fai.name, (directory / gzi.name if gzi else None)


def _cache_dir(path: Path, index_dir: str | os.PathLike | None, version: str = "") -> Path:
    """This FASTA's directory under `index_dir` (default: the user's cache), keyed by its resolved path
    (and `version`, when the cached file is derived from the FASTA's content)."""
    root = Path(index_dir) if index_dir else io.cache_dir("fasta-index")
    key = str(path.resolve()) + (f"\0{version}" if version else "")
    directory = root / hashlib.sha1(key.encode()).hexdigest()[:16]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: {root} is not writable for the FASTA's index") from exc
    return directory


def _writable(directory: Path) -> bool:
    """Writable by us and not marked read-only: a directory without write bits is left alone even by root."""
    return os.access(directory, os.W_OK | os.X_OK) and bool(directory.stat().st_mode & 0o222)


def _current(indexes: list[Path | None], fasta: Path) -> bool:
    """Every index file exists and is not older than the FASTA."""
    modified = fasta.stat().st_mtime
    return all(index.is_file() and index.stat().st_mtime >= modified for index in indexes if index)


def _build_index(path: Path, fai: Path, gzi: Path | None) -> None:
    """Index into a temporary directory beside the targets, then rename into place (.fai last)."""
    with tempfile.TemporaryDirectory(prefix=".index.", suffix=".tmp", dir=fai.parent) as tmp:
        staged_fai, staged_gzi = Path(tmp) / fai.name, (Path(tmp) / gzi.name if gzi else None)
        pyfaidx.Faidx(
            str(path), indexname=str(staged_fai), gzi_indexname=str(staged_gzi) if staged_gzi else None
        ).close()
        if gzi and staged_gzi:
            os.replace(staged_gzi, gzi)
        os.replace(staged_fai, fai)


# ---------------------------------------------------------------------------- BED


def read_bed(path: str | os.PathLike, sizes: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Read the first four columns of a BED file (plain or gzipped) as chrom, start, end, name.

    Coordinates are 0-based and half-open; `name` is "." when the file has none. Blank,
    '#', 'track' and 'browser' lines are skipped, and so is a first line whose start and end
    are both words (a column header). With `sizes`, every region must lie on a known contig.
    Problems raise InputError naming the file, line and reason.
    """
    path = Path(path)
    rows: list[tuple[str, int, int, str]] = []
    try:
        with io.open_text(path) as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip() or line.startswith(_BED_SKIP):
                    continue
                fields = line.split("\t") if "\t" in line else line.split()
                if not rows and _is_header(fields):
                    continue
                rows.append(_bed_region(fields, sizes, f"{path}: line {number}"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: BED file not found") from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read BED: {exc}") from exc
    if not rows:
        raise InputError(f"{path}: no regions")
    return pd.DataFrame(rows, columns=BED_COLUMNS)


def _is_header(fields: list[str]) -> bool:
    return len(fields) >= 3 and not any(_is_int(field.strip()) for field in fields[1:3])


def _is_int(text: str) -> bool:
    return text.lstrip("+-").isdigit()


def _bed_region(fields: list[str], sizes: Mapping[str, int] | None, where: str) -> tuple[str, int, int, str]:
    """Validate one BED line's fields and return (chrom, start, end, name)."""
    if len(fields) < 3:
        raise InputError(f"{where}: expected at least 3 columns (chrom, start, end), found {len(fields)}")
    chrom, start_text, end_text = (field.strip() for field in fields[:3])
    for column, text in (("start", start_text), ("end", end_text)):
        if not _is_int(text):
            raise InputError(f"{where}: {column} is not an integer: {text!r}")
    start, end = int(start_text), int(end_text)
    if start < 0:
        raise InputError(f"{where}: start is negative ({start})")
    if start >= end:
        raise InputError(f"{where}: start {start} is not less than end {end} (BED is 0-based, half-open)")
    if sizes is not None:
        if chrom not in sizes:
            known = ", ".join(list(sizes)[:5]) + (", ..." if len(sizes) > 5 else "")
            raise InputError(f"{where}: contig {chrom!r} is not in the genome (it has {known})")
        if end > sizes[chrom]:
            raise InputError(f"{where}: end {end} is beyond the end of {chrom} ({sizes[chrom]} bp)")
    name = fields[3].strip() if len(fields) > 3 and fields[3].strip() else "."
    return chrom, start, end, name


# ---------------------------------------------------------------------------- overlap


class RegionIndex:
    """Merged regions per contig, answering 'does [start, end) overlap any of them?' in O(log n)."""

    def __init__(self, regions: Iterable[tuple[str, int, int]] = ()) -> None:
        self._starts: dict[str, list[int]] = {}
        self._ends: dict[str, list[int]] = {}
        for chrom, start, end in sorted((str(c), int(s), int(e)) for c, s, e in regions):
            starts = self._starts.setdefault(chrom, [])
            ends = self._ends.setdefault(chrom, [])
            if ends and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)

    def overlaps(self, chrom: str, start: int, end: int) -> bool:
        """True if [start, end) shares at least one base with a region."""
        starts = self._starts.get(chrom, [])
        last = bisect.bisect_left(starts, end) - 1  # the last region starting before `end`
        return last >= 0 and self._ends[chrom][last] > start

    def intervals(self, chrom: str) -> list[tuple[int, int]]:
        """The merged regions of one contig, in order."""
        return list(zip(self._starts.get(chrom, []), self._ends.get(chrom, [])))

    def overlaps_many(self, chrom: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """`overlaps` for many intervals of one contig at once: a boolean array."""
        region_starts = np.asarray(self._starts.get(chrom, []), dtype=np.int64)
        if not len(region_starts):
            return np.zeros(len(starts), dtype=bool)
        last = np.searchsorted(region_starts, ends, side="left") - 1
        region_ends = np.asarray(self._ends[chrom], dtype=np.int64)
        return (last >= 0) & (region_ends[np.maximum(last, 0)] > starts)

    def add(self, chrom: str, start: int, end: int) -> None:
        """Add a region, merging it with the regions it overlaps or touches."""
        starts = self._starts.setdefault(chrom, [])
        ends = self._ends.setdefault(chrom, [])
        low, high = bisect.bisect_left(ends, start), bisect.bisect_right(starts, end)
        if low < high:
            start, end = min(start, starts[low]), max(end, ends[high - 1])
        starts[low:high] = [start]
        ends[low:high] = [end]
