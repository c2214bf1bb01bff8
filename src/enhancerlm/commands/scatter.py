"""What merging chunked runs shares: reading the chunks' reports, checking they belong together, summing
their throughput."""

from __future__ import annotations

import json
from pathlib import Path

from enhancerlm.errors import InputError


def read_reports(inputs: list[str | Path], kind: str = "predict") -> list[tuple[Path, dict]]:
    """The NAME.<kind>.json of each input (chunk outputs to merge): a directory (all of its runs) or an output
    prefix DIR/NAME."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        found = sorted(item.glob(f"*.{kind}.json")) if item.is_dir() else [Path(f"{item}.{kind}.json")]
        if not found or not found[0].is_file():
            raise InputError(f"{item}: no {kind} outputs (NAME.{kind}.json) found")
        paths.extend(found)
    return [(path, json.loads(path.read_text())) for path in dict.fromkeys(paths)]


def require_same(reports: list[tuple[Path, dict]], what: str, keys: tuple[str, ...] = ("model", "parameters")) -> None:
    """Chunks merge only when the same model scored them with the same parameters."""
    first_path, first = reports[0]
    for path, report in reports[1:]:
        for key in keys:
            if report[key] != first[key]:
                raise InputError(f"{path}: its {key} differ from those of {first_path}; these {what} cannot be merged")


def merged_throughput(reports: list[tuple[Path, dict]], after_seconds: dict | None = None) -> dict:
    """The chunks' scoring time summed, with the device and batch size of the first (`after_seconds` goes after the
    time, as the report lists it)."""
    first = reports[0][1]["throughput"]
    return {
        "seconds": round(sum(r["throughput"]["seconds"] for _, r in reports), 2),
        **(after_seconds or {}),
        "device": first["device"],
        "batch_size": first["batch_size"],
        "merged_inputs": len(reports),
    }
