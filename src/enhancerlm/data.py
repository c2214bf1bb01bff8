"""Samplesheet and FASTA input: validation, record QC, duplicate/leak detection and CV folds.

`prepare_samplesheet` turns a samplesheet of FASTA files into one prepared table per dataset
(classification task) plus a JSON report. Everything downstream (training, evaluation) reads
those tables, so every decision about the input is made, and recorded, here.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from jsonschema import Draft202012Validator
from sklearn.model_selection import StratifiedGroupKFold

from . import __version__, io
from .errors import InputError

logger = logging.getLogger(__name__)

COLUMNS = ["id", "sequence", "label", "split", "fold", "class", "source", "group", "leak"]
SPLITS = ("train", "test")

_GZIP_MAGIC = b"\x1f\x8b"
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
_INVALID = re.compile(r"[^ACGTNacgtn]")
_NEGATIVE_LABEL = re.compile(
    r"^(non|neg|negative|background|bg|false|no|control)([-_ ]|$)|^non", re.IGNORECASE
)


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record; `description` is the whole header line without '>'."""

    id: str
    description: str
    sequence: str


# ---------------------------------------------------------------------------- FASTA


def read_fasta(path: str | os.PathLike) -> Iterator[FastaRecord]:
    """Yield the records of a plain or gzipped FASTA file, sequences upper-cased.

    Gzip is detected from the magic bytes, so a misnamed file still reads. CRLF and blank
    lines are tolerated; structural problems raise InputError naming the file and line.
    """
    path = Path(path)
    try:
        with _open_text(path) as handle:
            yield from _parse_fasta(handle, path)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read FASTA: {exc}") from exc


def _open_text(path: Path) -> IO[str]:
    """Open a file as text with universal newlines, decompressing it if it is gzip."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


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


# ---------------------------------------------------------------------------- sequences


def invalid_characters(seq: str) -> str:
    """Why `seq` is not plain DNA (anything outside ACGTN, any case), or "" if it is."""
    hits = list(_INVALID.finditer(seq))
    if not hits:
        return ""
    chars = list(dict.fromkeys(hit.group() for hit in hits))
    noun = "character" if len(chars) == 1 else "characters"
    listed = ", ".join(repr(c) for c in chars)
    return f"invalid {noun} {listed} (first at position {hits[0].start() + 1})"


def reverse_complement(seq: str) -> str:
    """Reverse complement of an ACGTN sequence (any case in, upper case out)."""
    upper = seq.upper()
    if reason := invalid_characters(upper):
        raise ValueError(f"cannot reverse-complement: {reason}")
    return upper.translate(_COMPLEMENT)[::-1]


def canonical_sequence(seq: str) -> str:
    """The lexicographically smaller of a sequence and its reverse complement (strand-neutral key)."""
    upper = seq.upper()
    return min(upper, reverse_complement(upper))


def gc_fraction(seq: str) -> float:
    """GC fraction over the A/C/G/T bases (N ignored); 0.0 when there are none."""
    upper = seq.upper()
    gc = upper.count("G") + upper.count("C")
    acgt = gc + upper.count("A") + upper.count("T")
    return gc / acgt if acgt else 0.0


def sequence_group(seq: str) -> str:
    """Stable id shared by identical and reverse-complement-identical sequences."""
    return hashlib.sha1(canonical_sequence(seq).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------- samplesheet


def load_samplesheet(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a `dataset,fasta,label,split` samplesheet.

    FASTA paths are resolved against the samplesheet's directory and returned absolute.
    Any problem raises InputError with one line naming the sheet, row, dataset and column.
    """
    path = Path(path)
    schema = json.loads(io.resource("assets/schema_input.json").read_text())
    sheet = _read_sheet(path, list(schema["items"]["properties"]))
    rows = [{key: value for key, value in row.items() if value != ""} for row in sheet.to_dict("records")]
    _check_schema(path, rows, schema)
    sheet["fasta"] = [str(_resolve(path, fasta)) for fasta in sheet["fasta"]]
    _check_files(path, sheet)
    for name, group in sheet.groupby("dataset", sort=False):
        _check_dataset(path, str(name), group)
    return sheet


def _read_sheet(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read the CSV as strings and check it has exactly the schema's columns and some rows."""
    try:
        sheet = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: samplesheet not found") from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = "empty file" if isinstance(exc, pd.errors.EmptyDataError) else str(exc).strip()
        raise InputError(f"{path}: cannot read samplesheet: {reason}") from exc
    sheet.columns = [str(column).strip() for column in sheet.columns]
    missing = [column for column in columns if column not in sheet.columns]
    extra = [column for column in sheet.columns if column not in columns]
    if missing or extra:
        problems = [f"missing column(s) {', '.join(missing)}"] * bool(missing)
        problems += [f"unexpected column(s) {', '.join(extra)}"] * bool(extra)
        raise InputError(f"{path}: {'; '.join(problems)} (expected {','.join(columns)})")
    if sheet.empty:
        raise InputError(f"{path}: samplesheet has a header but no rows")
    return sheet[columns].apply(lambda column: column.str.strip())


def _check_schema(path: Path, rows: list[dict[str, str]], schema: dict[str, Any]) -> None:
    """Validate rows against the JSON schema; report the first violation (and how many more)."""
    errors = sorted(
        Draft202012Validator(schema).iter_errors(rows),
        key=lambda e: (e.absolute_path[0], [str(p) for p in list(e.absolute_path)[1:]]),
    )
    if not errors:
        return
    error = errors[0]
    index = error.absolute_path[0]
    row = rows[index]
    properties = schema["items"]["properties"]
    if error.validator == "required":
        column = next(c for c in error.validator_value if c not in row)
        reason = "missing value"
    else:
        column = error.absolute_path[1]
        reason = f"{properties[column].get('errorMessage', error.message)} (got {row[column]!r})"
    more = f" (+{len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise InputError(f"{_where(path, index, row.get('dataset', '?'))}, column {column}: {reason}{more}")


def _check_files(path: Path, sheet: pd.DataFrame) -> None:
    """Every FASTA must exist and appear only once per dataset."""
    for index, row in enumerate(sheet.itertuples(index=False)):
        if not Path(row.fasta).is_file():
            raise InputError(f"{_where(path, index, row.dataset)}, column fasta: file not found: {row.fasta}")
    repeated = sheet.duplicated(["dataset", "fasta"])
    if repeated.any():
        index = int(np.flatnonzero(repeated)[0])
        row = sheet.iloc[index]
        raise InputError(
            f"{_where(path, index, row.dataset)}, column fasta: {row.fasta} is listed twice for this dataset"
        )


def _check_dataset(path: Path, name: str, rows: pd.DataFrame) -> None:
    """A dataset is a binary task: exactly two labels and something to train on."""
    labels = list(dict.fromkeys(rows["label"]))
    if len(labels) != 2:
        raise InputError(
            f"{path}: dataset {name}: needs exactly two label values, found {len(labels)} "
            f"({', '.join(labels)})"
        )
    if not (rows["split"] == "train").any():
        raise InputError(f"{path}: dataset {name}: has no train rows")


def _where(path: Path, index: int, dataset: str) -> str:
    """Location prefix for samplesheet errors; rows count from 1 after the header."""
    return f"{path}: row {index + 1} (dataset {dataset})"


def _resolve(samplesheet: Path, fasta: str) -> Path:
    """Absolute FASTA path, relative ones taken from the samplesheet's own directory.

    Symlinks are not resolved, so a staged (linked) file keeps its own name as the source.
    """
    candidate = Path(fasta).expanduser()
    if not candidate.is_absolute():
        candidate = samplesheet.absolute().parent / candidate
    return Path(os.path.normpath(candidate))


# ---------------------------------------------------------------------------- one dataset


def prepare_dataset(
    rows: pd.DataFrame,
    *,
    folds: int = 5,
    seed: int = 42,
    max_n_fraction: float = 0.1,
    positive: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build the table and report for the samplesheet rows of one dataset.

    Records are QC'd (invalid ones rejected, N-rich ones flagged), repeated ids renamed,
    duplicates grouped by canonical sequence, test-vs-train leaks marked, and training
    records given stratified, group-aware CV folds.
    """
    name = _dataset_name(rows)
    classes = list(dict.fromkeys(rows["label"]))
    positive_class, rule = _choose_positive(name, classes, positive)
    table, rejected, inputs = _read_records(rows)
    renamed = _rename_repeated_ids(table)
    table["label"] = (table["class"] == positive_class).astype(int)
    table["group"] = table["sequence"].map(sequence_group)
    table["leak"] = _leak_status(table)
    table["fold"] = _assign_folds(name, table, folds, seed)
    table = table[COLUMNS].reset_index(drop=True)

    n_fraction = table["sequence"].str.count("N") / table["sequence"].str.len()
    rich = n_fraction > max_n_fraction
    n_rich = [
        {"id": i, "n_fraction": round(float(f), 4)}
        for i, f in zip(table["id"][rich], n_fraction[rich], strict=True)
    ]
    negative_class = next(c for c in classes if c != positive_class)
    report: dict[str, Any] = {
        "dataset": name,
        "inputs": inputs,
        "labels": {"0": negative_class, "1": positive_class, "positive_rule": rule},
        "counts": _counts(table),
        "length": _by_split(table, table["sequence"].str.len()),
        "gc": _by_split_class(table, table["sequence"].map(gc_fraction)),
        "rejected": rejected,
        "n_rich": n_rich,
        "renamed_ids": renamed,
        "folds": _fold_summary(table, folds, seed),
        "duplicates": {
            "within_split": {split: _within_split(table[table["split"] == split]) for split in SPLITS},
            "train_test": _train_test(table),
        },
    }
    report["warnings"] = _warnings(report, max_n_fraction)
    return table, report


def _dataset_name(rows: pd.DataFrame) -> str:
    names = list(dict.fromkeys(rows["dataset"]))
    if len(names) != 1:
        raise InputError(
            f"prepare_dataset takes the rows of one dataset, got {len(names)}: {', '.join(names)}"
        )
    return str(names[0])


def _choose_positive(name: str, classes: list[str], positive: str | None) -> tuple[str, str]:
    """Pick the positive class (label 1) and say which rule picked it.

    Rules, in order: the requested label; "1" of a 0/1 pair; the non-negative-looking label
    when exactly one looks negative (e.g. "non-enhancer"); the first row's label.
    """
    if len(classes) != 2:
        raise InputError(f"dataset {name}: needs exactly two label values, found {', '.join(classes)}")
    if positive in classes:
        return positive, "given"
    if set(classes) == {"0", "1"}:
        return "1", "0/1"
    negative = [c for c in classes if _NEGATIVE_LABEL.search(c)]
    if len(negative) == 1:
        return next(c for c in classes if c not in negative), "negative-name"
    return classes[0], "first-row"


def _read_records(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, str]], list[dict[str, Any]]]:
    """Read every FASTA of the dataset; return kept records, rejected ones and per-file counts."""
    kept: list[dict[str, str]] = []
    rejected: list[dict[str, str]] = []
    inputs: list[dict[str, Any]] = []
    for row in rows.itertuples(index=False):
        source = _source_name(row.fasta)
        count = 0
        for record in read_fasta(row.fasta):
            count += 1
            reason = invalid_characters(record.sequence) if record.sequence else "empty sequence"
            if reason:
                logger.warning("%s: record %s: rejected: %s", row.fasta, record.id, reason)
                rejected.append({"source": source, "fasta": row.fasta, "id": record.id, "reason": reason})
                continue
            kept.append(
                {
                    "id": record.id,
                    "sequence": record.sequence,
                    "split": row.split,
                    "class": row.label,
                    "source": source,
                }
            )
        inputs.append(
            {"fasta": row.fasta, "source": source, "class": row.label, "split": row.split, "records": count}
        )
    table = pd.DataFrame(kept, columns=["id", "sequence", "split", "class", "source"])
    return table, rejected, inputs


def _source_name(fasta: str | os.PathLike) -> str:
    """File name without .gz and the FASTA extension, e.g. test_strong."""
    name = Path(fasta).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    return Path(name).stem


def _rename_repeated_ids(table: pd.DataFrame) -> list[dict[str, str]]:
    """Give repeated ids a .dup2, .dup3 ... suffix in order of appearance; return the renames."""
    seen: set[str] = set(table["id"])
    counts: Counter[str] = Counter()
    renamed: list[dict[str, str]] = []
    ids = table["id"].tolist()
    for position, original in enumerate(ids):
        counts[original] += 1
        if counts[original] == 1:
            continue
        new = f"{original}.dup{counts[original]}"
        while new in seen:
            counts[original] += 1
            new = f"{original}.dup{counts[original]}"
        seen.add(new)
        ids[position] = new
        renamed.append({"original": original, "new": new, "source": table["source"].iat[position]})
    table["id"] = ids
    return renamed


def _leak_status(table: pd.DataFrame) -> list[str]:
    """For test records: does the sequence (or its reverse complement) occur in train?"""
    train = table["split"] == "train"
    train_sequences = set(table.loc[train, "sequence"])
    train_groups = set(table.loc[train, "group"])

    def kind(sequence: str, group: str) -> str:
        if sequence in train_sequences:
            return "identical"
        return "reverse_complement" if group in train_groups else "none"

    return [
        "none" if is_train else kind(sequence, group)
        for is_train, sequence, group in zip(train, table["sequence"], table["group"], strict=True)
    ]


def _assign_folds(name: str, table: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    """Stratified, group-aware CV folds for train records (-1 for test).

    Grouping by canonical sequence keeps duplicates and reverse complements in one fold,
    so cross-validation never scores a sequence that was trained on.
    """
    train = np.flatnonzero(table["split"].to_numpy() == "train")
    n_groups = table["group"].iloc[train].nunique()
    if folds < 2:
        raise InputError(f"dataset {name}: folds must be at least 2, got {folds}")
    if n_groups < folds:
        raise InputError(
            f"dataset {name}: {n_groups} distinct training sequence group(s), fewer than folds={folds}"
        )
    assignment = np.full(len(table), -1, dtype=int)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    labels = table["label"].to_numpy()[train]
    groups = table["group"].to_numpy()[train]
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(train)), labels, groups)):
        assignment[train[held_out]] = fold
    return assignment


# ---------------------------------------------------------------------------- report


def _describe(values: pd.Series) -> dict[str, float]:
    """min, median, mean, sd (population) and max, rounded for a readable report."""
    array = values.to_numpy(dtype=float)
    stats = {
        "min": array.min(),
        "median": np.median(array),
        "mean": array.mean(),
        "sd": array.std(),
        "max": array.max(),
    }
    return {key: round(float(value), 4) for key, value in stats.items()}


def _class_sizes(part: pd.DataFrame) -> dict[str, int]:
    return {str(c): int(n) for c, n in part.groupby("class", sort=False).size().items()}


def _counts(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    return {str(split): _class_sizes(part) for split, part in table.groupby("split", sort=False)}


def _by_split(table: pd.DataFrame, values: pd.Series) -> dict[str, dict[str, float]]:
    return {split: _describe(values[table["split"] == split]) for split in table["split"].unique()}


def _by_split_class(table: pd.DataFrame, values: pd.Series) -> dict[str, dict[str, dict[str, float]]]:
    return {
        split: {str(c): _describe(values[part.index]) for c, part in frame.groupby("class", sort=False)}
        for split, frame in table.groupby("split", sort=False)
    }


def _fold_summary(table: pd.DataFrame, folds: int, seed: int) -> dict[str, Any]:
    train = table[table["split"] == "train"]
    return {
        "k": folds,
        "seed": seed,
        "records": {str(fold): _class_sizes(part) for fold, part in train.groupby("fold")},
    }


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _within_split(part: pd.DataFrame) -> dict[str, Any]:
    """Duplicate groups within one split: size, identical vs reverse-complement pairs, label conflicts."""
    sizes = part.groupby("group").size()
    duplicated = part[part["group"].isin(sizes[sizes > 1].index)]
    all_pairs = sum(_pairs(int(n)) for n in sizes)
    identical = sum(_pairs(int(n)) for n in duplicated.groupby(["group", "sequence"]).size())
    conflicts = [
        {"group": group, "ids": records["id"].tolist(), "classes": list(dict.fromkeys(records["class"]))}
        for group, records in duplicated.groupby("group", sort=False)
        if records["class"].nunique() > 1
    ]
    return {
        "groups": int((sizes > 1).sum()),
        "records": len(duplicated),
        "identical_pairs": identical,
        "reverse_complement_pairs": all_pairs - identical,
        "label_conflicts": len(conflicts),
        "label_conflict_groups": conflicts,
    }


def _train_test(table: pd.DataFrame) -> dict[str, Any]:
    """Test records that duplicate a training sequence, overall and per class, with a message."""
    test = table[table["split"] == "test"]
    train_classes = table[table["split"] == "train"].groupby("group")["class"].agg(set)
    leaked = test[test["leak"] != "none"]
    per_class = {
        str(c): {
            "records": len(part),
            "leaked": int((part["leak"] != "none").sum()),
            "identical": int((part["leak"] == "identical").sum()),
            "reverse_complement": int((part["leak"] == "reverse_complement").sum()),
        }
        for c, part in test.groupby("class", sort=False)
    }
    conflicts = sum(train_classes[g] != {c} for g, c in zip(leaked["group"], leaked["class"], strict=True))
    return {
        "total": len(leaked),
        "identical": int((leaked["leak"] == "identical").sum()),
        "reverse_complement": int((leaked["leak"] == "reverse_complement").sum()),
        "label_conflicts": int(conflicts),
        "per_class": per_class,
        "message": _leak_message(per_class),
    }


def _leak_message(per_class: dict[str, dict[str, int]]) -> str:
    """Plain-English leak summary, most-leaked class first."""
    if not per_class:
        return "No test records."
    if not any(stats["leaked"] for stats in per_class.values()):
        return "No test record duplicates a training sequence."
    ordered = sorted(per_class.items(), key=lambda item: -item[1]["leaked"])
    parts = []
    for position, (name, stats) in enumerate(ordered):
        share = f"{stats['leaked']} of {stats['records']} test {name} records"
        kinds = f"({stats['identical']} identical, {stats['reverse_complement']} reverse-complement)"
        if position == 0:
            percent = 100 * stats["leaked"] / stats["records"]
            parts.append(f"{share} ({percent:.1f}%) duplicate a training sequence {kinds}")
        else:
            parts.append(f"{share} do {kinds}" if stats["leaked"] else f"{share} do")
    return f"LEAK: {'; '.join(parts)}. Report metrics on the leak_free subset too."


def _warnings(report: dict[str, Any], max_n_fraction: float) -> list[str]:
    """Plain-English lines for everything a user should look at before training."""
    lines = []
    train_test = report["duplicates"]["train_test"]
    if train_test["total"]:
        lines.append(train_test["message"])
    if train_test["label_conflicts"]:
        lines.append(
            f"{train_test['label_conflicts']} leaked test record(s) are labelled differently in train."
        )
    for split, stats in report["duplicates"]["within_split"].items():
        if stats["label_conflicts"]:
            lines.append(
                f"{stats['label_conflicts']} duplicate group(s) in {split} carry different labels "
                "(see duplicates.within_split)."
            )
    if report["n_rich"]:
        lines.append(
            f"{len(report['n_rich'])} record(s) are over {max_n_fraction:.0%} N; kept, listed under n_rich."
        )
    if report["rejected"]:
        lines.append(f"{len(report['rejected'])} record(s) rejected and left out; listed under rejected.")
    if report["renamed_ids"]:
        lines.append(f"{len(report['renamed_ids'])} repeated record id(s) renamed with a .dupN suffix.")
    return lines


# ---------------------------------------------------------------------------- whole samplesheet


def prepare_samplesheet(
    samplesheet: str | os.PathLike,
    outdir: str | os.PathLike,
    *,
    folds: int = 5,
    seed: int = 42,
    max_n_fraction: float = 0.1,
    positive: str | None = None,
) -> dict[str, dict[str, Path]]:
    """Prepare every dataset of a samplesheet; write `<dataset>.dataset.tsv` and `.prepare.json`.

    All datasets are prepared before anything is written, so a bad input leaves no partial output.
    """
    sheet = load_samplesheet(samplesheet)
    prepared = {
        str(name): prepare_dataset(
            rows, folds=folds, seed=seed, max_n_fraction=max_n_fraction, positive=positive
        )
        for name, rows in sheet.groupby("dataset", sort=False)
    }
    outdir = Path(outdir)
    written: dict[str, dict[str, Path]] = {}
    for name, (table, report) in prepared.items():
        for item in report["inputs"]:
            item["sha256"] = io.sha256_file(item["fasta"])
        header = {
            "samplesheet": str(Path(samplesheet).resolve()),
            "version": __version__,
            "parameters": {
                "folds": folds,
                "seed": seed,
                "max_n_fraction": max_n_fraction,
                "positive": positive,
            },
        }
        written[name] = {
            "dataset": io.write_tsv(outdir / f"{name}.dataset.tsv", table),
            "report": io.write_json(outdir / f"{name}.prepare.json", {"dataset": name, **header, **report}),
        }
        for line in report["warnings"]:
            logger.warning("dataset %s: %s", name, line)
    return written


def read_dataset(path: str | os.PathLike) -> pd.DataFrame:
    """Read a prepared `.dataset.tsv`, keeping ids and sequences as strings, and check it."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: prepared dataset not found") from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read prepared dataset: {exc}") from exc
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    for column in ("label", "fold"):
        bad = ~table[column].str.fullmatch(r"-?\d+")
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{path}: row {row + 1}: column {column} is not an integer: {table[column].iat[row]!r}"
            )
        table[column] = table[column].astype(int)
    if not table["label"].isin([0, 1]).all():
        raise InputError(
            f"{path}: column label must be 0 or 1, found {sorted(set(table['label'].tolist()) - {0, 1})}"
        )
    if not table["split"].isin(SPLITS).all():
        raise InputError(
            f"{path}: column split must be train or test, found {sorted(set(table['split']) - set(SPLITS))}"
        )
    return table
