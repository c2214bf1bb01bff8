"""Dataset input (FASTA samplesheets, or regions in a genome): record QC, duplicate/leak detection, CV folds.

`prepare_samplesheet` turns a samplesheet of FASTA files into one prepared table per dataset
(classification task) plus a JSON report; `prepare_bed` builds the same from positive regions
(BED) and GC-matched negatives drawn from their genome. Everything downstream (training,
evaluation) reads those tables, so every decision about the input is made, and recorded, here.
"""

from __future__ import annotations

import hashlib
import html
import inspect
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from jsonschema import Draft202012Validator
from sklearn.model_selection import StratifiedGroupKFold

from . import __version__, io
from .errors import InputError
from .genome import BED_COLUMNS, Genome, RegionIndex, open_genome, read_bed
from .report import PREPARE_SECTION, html_section, html_table

logger = logging.getLogger(__name__)

COLUMNS = ["id", "sequence", "label", "split", "fold", "class", "source", "group", "leak"]
SPLITS = ("train", "test")

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
BASE_CODE = np.full(256, 4, dtype=np.uint8)  # ASCII byte -> 0..3 for A C G T (either case), 4 for anything else
BASE_CODE[[ord(b) for b in "ACGT"]] = BASE_CODE[[ord(b) for b in "acgt"]] = np.arange(4)
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
        with io.open_text(path) as handle:
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
    negative_class = next(c for c in classes if c != positive_class)
    labels = {"0": negative_class, "1": positive_class, "positive_rule": rule}
    return _assemble(
        name, table, labels, inputs, rejected, folds=folds, seed=seed, max_n_fraction=max_n_fraction
    )


def _assemble(
    name: str,
    table: pd.DataFrame,
    labels: dict[str, str],
    inputs: list[dict[str, Any]],
    rejected: list[dict[str, str]],
    *,
    folds: int,
    seed: int,
    max_n_fraction: float,
    sections: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Finish the kept records (id, sequence, split, class, source) of one dataset and its report.

    Repeated ids are renamed, labels set from `labels["1"]`, duplicates grouped, test-vs-train
    leaks marked and training records given folds; `sections` are added to the report before
    the warnings, which cover them too.
    """
    renamed = _rename_repeated_ids(table)
    table["label"] = (table["class"] == labels["1"]).astype(int)
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
    report: dict[str, Any] = {
        "dataset": name,
        "inputs": inputs,
        "labels": labels,
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
        **(sections or {}),
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
    if "genome_negatives" in report:
        lines += _negatives_warnings(report["genome_negatives"])
    return lines


def _negatives_warnings(summary: dict[str, Any]) -> list[str]:
    """What to look at in a dataset whose negatives were drawn from the genome."""
    lines = []
    unmatched = summary["unmatched"]
    if unmatched["positives"]:
        lines.append(
            f"{unmatched['positives']} positive region(s) got fewer than {summary['negatives_per_positive']} "
            f"GC-matched negative(s) ({unmatched['missing_negatives']} missing); listed under "
            "genome_negatives.unmatched."
        )
    widened = summary["widened"]
    if widened["negatives"]:
        lines.append(
            f"{widened['negatives']} negative(s) needed a GC tolerance wider than {summary['gc_tolerance']} "
            f"(up to {widened['max_tolerance']:g})."
        )
    if summary["test_chroms"] and not summary["splits"]["test"]["positives"]:
        lines.append(
            f"No positive region is on the test chromosome(s) {', '.join(summary['test_chroms'])}: "
            "the test split is empty."
        )
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
    prefix: str | None = None,
) -> dict[str, dict[str, Path]]:
    """Prepare every dataset of a samplesheet; write `<dataset>.dataset.tsv` and `.prepare.json`.

    All datasets are prepared before anything is written, so a bad input leaves no partial output.
    `prefix` names the files of a samplesheet that holds a single dataset.
    """
    sheet = load_samplesheet(samplesheet)
    if prefix is not None and sheet["dataset"].nunique() != 1:
        raise InputError(f"{samplesheet}: an output prefix needs a samplesheet of one dataset, this one has "
                         f"{sheet['dataset'].nunique()}")
    prepared = {
        str(name): prepare_dataset(
            rows, folds=folds, seed=seed, max_n_fraction=max_n_fraction, positive=positive
        )
        for name, rows in sheet.groupby("dataset", sort=False)
    }
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
        written[name] = _write_prepared(Path(outdir), table, report, header, prefix or name)
    return written


def _write_prepared(
    outdir: Path, table: pd.DataFrame, report: dict[str, Any], header: dict[str, Any], prefix: str
) -> dict[str, Path]:
    """Write `<prefix>.dataset.tsv`, `<prefix>.prepare.json` (header first) and the MultiQC section, and log
    the warnings."""
    name = report["dataset"]
    paths = {
        "dataset": io.write_tsv(outdir / f"{prefix}.dataset.tsv", table),
        "report": io.write_json(outdir / f"{prefix}.prepare.json", {"dataset": name, **header, **report}),
        "multiqc": io.write_text(outdir / f"{prefix}.prepare_mqc.html", multiqc_prepare(report)),
    }
    for line in report["warnings"]:
        logger.warning("dataset %s: %s", name, line)
    return paths


def multiqc_prepare(report: dict[str, Any]) -> str:
    """MultiQC custom content: records per split and class, what QC set aside, and the warnings (train/test
    leakage first) as a highlighted box."""
    counts = [[split, label, n, report["gc"][split][label]["median"]]
              for split, classes in report["counts"].items() for label, n in classes.items()]
    within = report["duplicates"]["within_split"]
    checks = [["rejected (left out)", len(report["rejected"])], ["over the N limit (kept)", len(report["n_rich"])],
              ["repeated ids renamed", len(report["renamed_ids"])],
              *[[f"duplicates within {split}", stats["records"]] for split, stats in within.items()],
              ["test records copying a training record", report["duplicates"]["train_test"]["total"]]]
    warnings = "".join(f"<li>{html.escape(line)}</li>" for line in report["warnings"])
    box = f'<div class="alert alert-warning"><ul>{warnings}</ul></div>\n' if warnings else ""
    body = (box + html_table("enhancerlm-prepare", ["split", "class", "records", "median GC"], counts)
            + html_table("enhancerlm-prepare-qc", ["check", "records"], checks))
    name = report["dataset"]
    return html_section(PREPARE_SECTION, f"enhancerlm_prepare_{name}", f"Data preparation: {name}",
                        "Records kept per split and class, and what quality control found.", body)


# ---------------------------------------------------------------------------- regions in a genome

POSITIVE_CLASS, NEGATIVE_CLASS = "enhancer", "non-enhancer"
_TRIES_PER_TOLERANCE = 1000
_WIDENINGS = 3  # the GC tolerance doubles at most this often (x2, x4, x8) before a positive goes unmatched


def prepare_bed(bed: str | os.PathLike, genome: str | os.PathLike, outdir: str | os.PathLike,
                **options: Any) -> dict[str, dict[str, Path]]:
    """Prepare one dataset from positive regions and a genome; write `<name>.dataset.tsv` and `.prepare.json`.

    `options` are those of `prepare_bed_dataset`. The output has the samplesheet mode's format, so
    training and evaluation read it unchanged.
    """
    table, report = prepare_bed_dataset(bed, genome, **options)
    for item in report["inputs"]:
        item["sha256"] = io.sha256_file(item["path"])
    used = inspect.signature(prepare_bed_dataset).bind(bed, genome, **options)
    used.apply_defaults()
    parameters = {key: value for key, value in used.arguments.items() if key not in ("bed", "genome", "name")}
    parameters["blacklist"] = str(Path(parameters["blacklist"]).resolve()) if parameters["blacklist"] else None
    parameters["test_chroms"] = list(parameters["test_chroms"])
    header = {"bed": str(Path(bed).resolve()), "genome": str(Path(genome).resolve()), "version": __version__,
              "parameters": parameters}
    return {report["dataset"]: _write_prepared(Path(outdir), table, report, header, report["dataset"])}


def prepare_bed_dataset(
    bed: str | os.PathLike,
    genome: str | os.PathLike,
    *,
    name: str | None = None,
    blacklist: str | os.PathLike | None = None,
    test_chroms: Sequence[str] = (),
    negatives_per_positive: int = 1,
    gc_tolerance: float = 0.02,
    folds: int = 5,
    seed: int = 42,
    max_n_fraction: float = 0.1,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build the table and report of a dataset of positive regions and GC-matched genome negatives.

    Regions on `test_chroms` form the test split and draw their negatives from those contigs
    only; the rest are train and draw from all other contigs, so no sequence crosses the split.
    Positives that overlap the blacklist, are over `max_n_fraction` N or hold non-ACGTN
    characters are rejected with the reason. Ids are `chrom_start_end` (0-based, half-open).
    """
    bed = Path(bed)
    name = _check_name(name or _source_name(bed))
    with open_genome(genome) as reference:
        regions = read_bed(bed, reference.sizes)
        blacklisted = read_bed(blacklist, reference.sizes) if blacklist else pd.DataFrame(columns=BED_COLUMNS)
        pools = _split_pools(reference, test_chroms)
        regions["id"] = [f"{chrom}_{start}_{end}" for chrom, start, end in _spans(regions)]
        regions["split"] = np.where(regions["chrom"].isin(pools["test"]), "test", "train")
        regions["sequence"] = [reference.fetch(*region) for region in _spans(regions)]
        positives, rejected, rejections = _screen_positives(regions, blacklisted, max_n_fraction, bed)
        if positives.empty:
            first = rejected[0]
            raise InputError(
                f"{bed}: all {len(regions)} region(s) rejected, e.g. {first['id']}: {first['reason']}"
            )
        negatives = gc_matched_negatives(
            reference,
            positives,
            pools,
            exclude=[*_spans(regions), *_spans(blacklisted)],
            per_positive=negatives_per_positive,
            gc_tolerance=gc_tolerance,
            max_n_fraction=max_n_fraction,
            seed=seed,
        )
    table = pd.concat(
        [
            positives.assign(**{"class": POSITIVE_CLASS, "source": "positives"}),
            negatives.assign(**{"class": NEGATIVE_CLASS, "source": "negatives"}),
        ],
        ignore_index=True,
    )[["id", "sequence", "split", "class", "source"]]
    inputs = [
        {"path": str(bed), "role": "positives", "records": len(regions)},
        {"path": str(reference.path), "role": "genome", "contigs": len(reference.sizes)},
    ]
    if blacklist:
        inputs.append({"path": str(blacklist), "role": "blacklist", "records": len(blacklisted)})
    summary = _negatives_summary(
        positives,
        negatives,
        pools,
        rejections,
        per_positive=negatives_per_positive,
        gc_tolerance=gc_tolerance,
    )
    labels = {"0": NEGATIVE_CLASS, "1": POSITIVE_CLASS, "positive_rule": "bed"}
    return _assemble(
        name,
        table,
        labels,
        inputs,
        rejected,
        folds=folds,
        seed=seed,
        max_n_fraction=max_n_fraction,
        sections={"genome_negatives": summary},
    )


def gc_matched_negatives(
    genome: Genome,
    positives: pd.DataFrame,
    pools: Mapping[str, list[str]],
    *,
    exclude: Iterable[tuple[str, int, int]] = (),
    per_positive: int = 1,
    gc_tolerance: float = 0.02,
    max_n_fraction: float = 0.1,
    seed: int = 42,
) -> pd.DataFrame:
    """Draw `per_positive` random genome windows for each positive region, matched in length and GC.

    A negative lies on a contig of its positive's split pool (`pools[split]`), overlaps no
    `exclude` region and no other negative, has at most `max_n_fraction` N, and its GC
    fraction is within `gc_tolerance` of its positive's. After `_TRIES_PER_TOLERANCE` draws
    without one the tolerance doubles, up to `_WIDENINGS` times; a positive that still has
    none gets fewer negatives (its id is missing from `positive`). Positives need the columns
    id, chrom, start, end, split and sequence; negatives get id, chrom, start, end, split,
    sequence, positive (its positive's id), gc_difference and tolerance (the one it met).
    The draws depend only on the inputs and `seed`.
    """
    rng = np.random.default_rng(seed)
    taken = RegionIndex(exclude)
    candidates: dict[tuple[str, int], tuple[list[str], np.ndarray]] = {}
    drawn = []
    for positive in positives.itertuples(index=False):
        length = int(positive.end - positive.start)
        key = (positive.split, length)
        if key not in candidates:
            contigs = [c for c in pools[positive.split] if genome.sizes[c] >= length]
            starts = np.array([genome.sizes[c] - length + 1 for c in contigs], dtype=float)
            candidates[key] = contigs, starts / max(starts.sum(), 1.0)
        contigs, weights = candidates[key]
        target = gc_fraction(positive.sequence)
        for _ in range(per_positive if contigs else 0):
            window = _draw_window(
                genome, rng, (contigs, weights), length, target, taken, gc_tolerance, max_n_fraction
            )
            if window is None:
                break
            chrom, start, sequence, tolerance = window
            taken.add(chrom, start, start + length)
            drawn.append(
                {
                    "id": f"{chrom}_{start}_{start + length}",
                    "chrom": chrom,
                    "start": start,
                    "end": start + length,
                    "split": positive.split,
                    "sequence": sequence,
                    "positive": positive.id,
                    "gc_difference": gc_fraction(sequence) - target,
                    "tolerance": tolerance,
                }
            )
    columns = ["id", "chrom", "start", "end", "split", "sequence", "positive", "gc_difference", "tolerance"]
    return pd.DataFrame(drawn, columns=columns)


def _draw_window(
    genome: Genome,
    rng: np.random.Generator,
    pool: tuple[list[str], np.ndarray],
    length: int,
    target: float,
    taken: RegionIndex,
    gc_tolerance: float,
    max_n_fraction: float,
) -> tuple[str, int, str, float] | None:
    """One free window of `length` with GC near `target`: (chrom, start, sequence, tolerance met), or None.

    `pool` holds the contigs and their weights, proportional to their possible start
    positions, so every window is equally likely to be drawn.
    """
    contigs, weights = pool
    for widening in range(_WIDENINGS + 1):
        tolerance = gc_tolerance * 2**widening
        picks = rng.choice(len(contigs), size=_TRIES_PER_TOLERANCE, p=weights)
        offsets = rng.random(_TRIES_PER_TOLERANCE)
        for pick, offset in zip(picks, offsets, strict=True):
            chrom = contigs[pick]
            start = int(offset * (genome.sizes[chrom] - length + 1))
            if taken.overlaps(chrom, start, start + length):
                continue
            sequence = genome.fetch(chrom, start, start + length)
            if (
                sequence.count("N") / length <= max_n_fraction
                and abs(gc_fraction(sequence) - target) <= tolerance + 1e-9
                and not invalid_characters(sequence)
            ):
                return chrom, start, sequence, tolerance
    return None


def _check_name(name: str) -> str:
    """A dataset name follows the samplesheet's rule, since it names every output."""
    rule = json.loads(io.resource("assets/schema_input.json").read_text())["items"]["properties"]["dataset"]
    if not re.search(rule["pattern"], name):
        raise InputError(f"dataset name {name!r}: {rule['errorMessage']}")
    return name


def _split_pools(genome: Genome, test_chroms: Sequence[str]) -> dict[str, list[str]]:
    """The contigs each split draws negatives from: the test chromosomes, and all the others."""
    unknown = [chrom for chrom in test_chroms if chrom not in genome.sizes]
    if unknown:
        known = ", ".join(list(genome.sizes)[:5]) + (", ..." if len(genome.sizes) > 5 else "")
        raise InputError(
            f"{genome.path}: test chromosome(s) {', '.join(unknown)} not in the genome (it has {known})"
        )
    return {
        "train": [chrom for chrom in genome.sizes if chrom not in test_chroms],
        "test": [chrom for chrom in genome.sizes if chrom in test_chroms],
    }


def _spans(regions: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(chrom, start, end) of each region, as plain Python values."""
    columns = (regions["chrom"], regions["start"], regions["end"])
    return [(str(chrom), int(start), int(end)) for chrom, start, end in zip(*columns, strict=True)]


def _screen_positives(
    regions: pd.DataFrame, blacklisted: pd.DataFrame, max_n_fraction: float, bed: Path
) -> tuple[pd.DataFrame, list[dict[str, str]], Counter[str]]:
    """Keep the regions usable as positives; the others are rejected with a reason, counted by kind."""
    blacklist = RegionIndex(_spans(blacklisted))
    rejected: list[dict[str, str]] = []
    kinds: Counter[str] = Counter()
    keep = []
    for region in regions.itertuples(index=False):
        kind, reason = _rejection(region, blacklist, max_n_fraction)
        keep.append(not reason)
        if reason:
            logger.warning("%s: region %s: rejected: %s", bed, region.id, reason)
            rejected.append({"source": "positives", "bed": str(bed), "id": region.id, "reason": reason})
            kinds[kind] += 1
    return regions[keep].reset_index(drop=True), rejected, kinds


def _rejection(region: Any, blacklist: RegionIndex, max_n_fraction: float) -> tuple[str, str]:
    """(kind, reason) why a region cannot be a positive, or ("", "") if it can."""
    if blacklist.overlaps(region.chrom, region.start, region.end):
        return "blacklist", "overlaps a blacklist region"
    n_fraction = region.sequence.count("N") / len(region.sequence)
    if n_fraction > max_n_fraction:
        return "n_fraction", f"N fraction {n_fraction:.3f} is over max_n_fraction {max_n_fraction}"
    reason = invalid_characters(region.sequence)
    return ("invalid", reason) if reason else ("", "")


def _negatives_summary(
    positives: pd.DataFrame,
    negatives: pd.DataFrame,
    pools: dict[str, list[str]],
    rejections: Counter[str],
    *,
    per_positive: int,
    gc_tolerance: float,
) -> dict[str, Any]:
    """The genome_negatives report section: GC match, per-split counts, widening, unmatched, rejections."""
    expected = positives["id"].value_counts(sort=False) * per_positive
    missing = expected - negatives["positive"].value_counts().reindex(expected.index, fill_value=0)
    unmatched = missing[missing > 0]
    widened = negatives["tolerance"] > gc_tolerance + 1e-12
    drawn = not negatives.empty
    gc = {
        "positives": _describe(positives["sequence"].map(gc_fraction)),
        "negatives": _describe(negatives["sequence"].map(gc_fraction)) if drawn else None,
        "mean_abs_difference": round(float(negatives["gc_difference"].abs().mean()), 4) if drawn else None,
    }
    return {
        "negatives_per_positive": per_positive,
        "gc_tolerance": gc_tolerance,
        "test_chroms": pools["test"],
        "gc": gc,
        "splits": {
            split: {
                "positives": int((positives["split"] == split).sum()),
                "negatives": int((negatives["split"] == split).sum()),
                "contigs": len(pools[split]),
            }
            for split in SPLITS
        },
        "widened": {
            "negatives": int(widened.sum()),
            "max_tolerance": round(float(negatives["tolerance"].max()), 6) if drawn else None,
        },
        "unmatched": {
            "positives": len(unmatched),
            "missing_negatives": int(unmatched.sum()),
            "ids": unmatched.index.tolist(),
        },
        "rejected_positives": {kind: rejections[kind] for kind in ("blacklist", "n_fraction", "invalid")},
    }


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
