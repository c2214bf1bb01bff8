"""Reference genomes: indexed FASTA access to plain, gzip or BGZF files, with a cached BGZF copy of plain gzip
and the `index-genome` copy the pipeline makes once."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pyfaidx
from Bio import bgzf

from enhancerlm.errors import InputError
from enhancerlm.formats.files import GZIP_MAGIC, atomic_path, cache_dir

log = logging.getLogger(__name__)

_BGZF_SUFFIXES = (".gz", ".bgz")


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


def open_genome(
    path: str | os.PathLike,
    *,
    index_dir: str | os.PathLike | None = None,
    fai: str | os.PathLike | None = None,
    gzi: str | os.PathLike | None = None,
) -> Genome:
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
        compressed = handle.read(2) == GZIP_MAGIC
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
    return {"fasta": str(output), "fai": str(fai), "gzi": str(gzi), "contigs": len(sizes), "bases": sum(sizes.values())}


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
    return head.startswith(GZIP_MAGIC) and not (len(head) == 14 and head[3] & 0x04 and head[12:14] == b"BC")


def _is_bgzf(path: Path) -> bool:
    """True for bgzip, False for plain text; InputError for a misnamed bgzip file."""
    with open(path, "rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
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
    log.info("%s is plain gzip, which cannot be read by position: re-compressing it once to BGZF at %s", path, copy)
    try:
        with gzip.open(path, "rb") as source:
            _write_bgzf(source, copy)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read gzip FASTA: {exc}") from exc
    return copy


def _write_bgzf(reader: Any, path: Path) -> None:
    """Stream a binary reader into a BGZF file atomically, in blocks of bgzip's size."""
    with atomic_path(path) as tmp, bgzf.BgzfWriter(str(tmp), "wb") as writer:
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
    root = Path(index_dir) if index_dir else cache_dir("fasta-index")
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
