"""Atomic output, (gzip-transparent) text input, checksums and the bundled resources."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the enhancerlm package


GZIP_MAGIC = b"\x1f\x8b"


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    A killed or failed run therefore never leaves a truncated file under the final name.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes the file private; give it the permissions a plain open() would
            os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write text atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def copy_file(source: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Copy a file atomically."""
    with atomic_path(path) as tmp:
        shutil.copyfile(source, tmp)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON atomically, pretty-printed with a trailing newline."""
    return write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def write_tsv(path: str | os.PathLike, frame: pd.DataFrame) -> Path:
    """Write a DataFrame as TSV atomically, without the index."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False)
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory that replaces `path` only when the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


# What atomic_path, atomic_dir and the staging directories leave behind when a process is killed mid-write:
# `.<name>.<8 random characters>.tmp` (tempfile's names), files or directories.
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def sweep_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Remove the temporaries that killed writers left anywhere under `directory`; return what was removed.

    Only a directory's owner may sweep it (a run its --outdir): a live writer's temporary looks the same.
    """
    root = Path(directory)
    if not root.is_dir():
        return []
    found = sorted((p for p in root.rglob(".*.tmp") if _TEMPORARY.fullmatch(p.name)), key=lambda p: len(p.parts))
    removed = []
    for path in found:
        if not path.exists() and not path.is_symlink():
            continue  # inside a temporary directory removed above
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path)
    return removed


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def open_text(path: str | os.PathLike) -> IO[str]:
    """Open a file as text with universal newlines, decompressing it if it is gzip.

    Gzip is detected from the magic bytes, so a misnamed file still reads.
    """
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def sha256_file(path: str | os.PathLike, block_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks so memory stays flat."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(block_size):
            digest.update(block)
    return digest.hexdigest()


def cache_dir(name: str) -> Path:
    """A per-user cache directory for derived files (`$XDG_CACHE_HOME/enhancerlm/NAME`, else ~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "enhancerlm" / name


def resource(relative: str) -> Path:
    """Path of a file shipped with the pipeline (assets/, conf/, nextflow_schema.json).

    Installed wheels carry them under `enhancerlm/bundled/`; a source checkout reads them
    from the repository root, so there is one copy of each.
    """
    for root in (_PACKAGE_DIR / "bundled", _PACKAGE_DIR.parents[1]):
        candidate = root / relative
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"bundled resource not found: {relative}")
