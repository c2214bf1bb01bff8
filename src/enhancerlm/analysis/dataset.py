"""Dataset assembly from records: QC of each record, renamed repeated ids, duplicate groups and train/test
leaks, cross-validation folds, and the statistics of the prepare report."""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from enhancerlm.analysis.near_duplicates import NearDuplicateRule, find_near_duplicates, rule_record
from enhancerlm.core.dna import gc_fraction, invalid_characters, sequence_group
from enhancerlm.errors import InputError
from enhancerlm.formats.dataset_table import COLUMNS, SPLITS
from enhancerlm.formats.fasta import read_fasta

log = logging.getLogger(__name__)

_NEGATIVE_LABEL = re.compile(r"^(non|neg|negative|background|bg|false|no|control)([-_ ]|$)|^non", re.IGNORECASE)


def prepare_dataset(
    rows: pd.DataFrame,
    *,
    folds: int = 5,
    seed: int = 42,
    max_n_fraction: float = 0.1,
    positive: str | None = None,
    near_duplicates: NearDuplicateRule | None = NearDuplicateRule(),
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Build the table and report for the samplesheet rows of one dataset.

    Records are QC'd (invalid ones rejected, N-rich ones flagged), repeated ids renamed,
    duplicates grouped by canonical sequence, test-vs-train leaks marked, and training
    records given stratified, group-aware CV folds.
    """
    name = _dataset_name(rows)
    classes = list(dict.fromkeys(rows["label"]))
    if len(classes) == 1 and set(rows["split"]) == {"test"}:  # an external set of one class, such as enhancers only
        labels = _one_class_labels(classes[0], positive)
    else:
        positive_class, rule = _choose_positive(name, classes, positive)
        negative_class = next(c for c in classes if c != positive_class)
        labels = {"0": negative_class, "1": positive_class, "positive_rule": rule}
    table, rejected, inputs = _read_records(rows)
    return assemble(
        name,
        table,
        labels,
        inputs,
        rejected,
        folds=folds,
        seed=seed,
        max_n_fraction=max_n_fraction,
        near_duplicates=near_duplicates,
    )


class DatasetReport(TypedDict):
    """What preparing one data set found (the body of NAME.prepare.json and its MultiQC section): inputs, labels,
    counts, lengths and GC by split and class, rejected and N-rich records, renamed ids, folds, duplicates and leaks,
    the genome negatives of the regions route, and plain-words warnings."""

    dataset: str
    inputs: list[dict[str, Any]]
    labels: dict[str, str]
    counts: dict
    length: dict
    gc: dict
    rejected: list[dict[str, str]]
    n_rich: list[dict]
    renamed_ids: list
    folds: dict
    duplicates: dict
    genome_negatives: NotRequired[dict]
    warnings: list[str]


def assemble(
    name: str,
    table: pd.DataFrame,
    labels: dict[str, str],
    inputs: list[dict[str, Any]],
    rejected: list[dict[str, str]],
    *,
    folds: int,
    seed: int,
    max_n_fraction: float,
    near_duplicates: NearDuplicateRule | None = NearDuplicateRule(),
    sections: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, DatasetReport]:
    """Finish the kept records (id, sequence, split, class, source) of one dataset and its report.

    Repeated ids are renamed, labels set from `labels["1"]`, duplicates grouped, test-vs-train
    leaks marked and training records given folds; `sections` are added to the report before
    the warnings, which cover them too.
    """
    renamed = _rename_repeated_ids(table)
    table["label"] = (table["class"] == labels["1"]).astype(int)
    table["group"] = table["sequence"].map(sequence_group)
    table = table.reset_index(drop=True)
    train = np.flatnonzero(table["split"].to_numpy() == "train")
    near_pairs = _near_pairs_within(table, train, near_duplicates)
    table["leak"] = _leak_status(table, near_duplicates)
    table["fold"] = _assign_folds(name, table, folds, seed, _fold_groups(table, train, near_pairs))
    table = table[COLUMNS]

    n_fraction = table["sequence"].str.count("N") / table["sequence"].str.len()
    rich = n_fraction > max_n_fraction
    n_rich = [
        {"id": i, "n_fraction": round(float(f), 4)} for i, f in zip(table["id"][rich], n_fraction[rich], strict=True)
    ]
    report = {
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
            "near_duplicates": _near_summary(near_duplicates, near_pairs),
        },
        **(sections or {}),
    }
    return table, DatasetReport(**report, warnings=_warnings(report, max_n_fraction))


def _dataset_name(rows: pd.DataFrame) -> str:
    names = list(dict.fromkeys(rows["dataset"]))
    if len(names) != 1:
        raise InputError(f"prepare_dataset takes the rows of one dataset, got {len(names)}: {', '.join(names)}")
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


def _one_class_labels(label: str, positive: str | None) -> dict[str, str]:
    """The labels of a test set of one class: positive unless it is not the one requested or looks negative (the
    model that scores it numbers the classes its own way)."""
    if positive == label or (positive is None and not _NEGATIVE_LABEL.search(label)):
        return {"0": "", "1": label, "positive_rule": "one class"}
    return {"0": label, "1": "", "positive_rule": "one class"}


def _read_records(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, str]], list[dict[str, Any]]]:
    """Read every FASTA of the dataset; return kept records, rejected ones and per-file counts."""
    kept: list[dict[str, str]] = []
    rejected: list[dict[str, str]] = []
    inputs: list[dict[str, Any]] = []
    for row in rows.itertuples(index=False):
        source = source_name(row.fasta)
        count = 0
        for record in read_fasta(row.fasta):
            count += 1
            reason = invalid_characters(record.sequence) if record.sequence else "empty sequence"
            if reason:
                log.warning("%s: record %s: rejected: %s", row.fasta, record.id, reason)
                rejected.append({"source": source, "fasta": row.fasta, "id": record.id, "reason": reason})
                continue
            kept.append(
                {"id": record.id, "sequence": record.sequence, "split": row.split, "class": row.label, "source": source}
            )
        inputs.append({"fasta": row.fasta, "source": source, "class": row.label, "split": row.split, "records": count})
    table = pd.DataFrame(kept, columns=["id", "sequence", "split", "class", "source"])
    return table, rejected, inputs


def source_name(fasta: str | os.PathLike) -> str:
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


def _leak_status(table: pd.DataFrame, near_duplicates: NearDuplicateRule | None) -> list[str]:
    """For test records: does the sequence (or its reverse complement, or a near copy of either) occur in train?"""
    train = table["split"] == "train"
    statuses = leak_status(table, table[train], near_duplicates)
    return ["none" if is_train else status for is_train, status in zip(train, statuses)]


def leak_status(
    table: pd.DataFrame, train: pd.DataFrame, near_duplicates: NearDuplicateRule | None = None
) -> list[str]:
    """For each record of `table`: `identical` when its sequence is one of the `train` records', `reverse_complement`
    when it equals one up to strand (the same `group`), `near_duplicate` when it nearly copies one on either strand
    (by `near_duplicates`, if given), else `none`."""
    train_sequences, train_groups = set(train["sequence"]), set(train["group"])

    def kind(sequence: str, group: str) -> str:
        if sequence in train_sequences:
            return "identical"
        return "reverse_complement" if group in train_groups else "none"

    statuses = [kind(sequence, group) for sequence, group in zip(table["sequence"], table["group"], strict=True)]
    if near_duplicates is None or train.empty:
        return statuses
    unmatched = [i for i, status in enumerate(statuses) if status == "none"]
    queries = [table["sequence"].iloc[i] for i in unmatched]
    for match in find_near_duplicates(queries, train["sequence"].tolist(), near_duplicates):
        statuses[unmatched[match.query]] = "near_duplicate"
    return statuses


def _near_pairs_within(
    table: pd.DataFrame, train: np.ndarray, near_duplicates: NearDuplicateRule | None
) -> list[tuple[int, int]]:
    """Row pairs of training records that nearly copy each other (exact copies are grouped already)."""
    if near_duplicates is None or len(train) < 2:
        return []
    found = find_near_duplicates(table["sequence"].iloc[train].tolist(), rule=near_duplicates)
    groups = table["group"].to_numpy()
    pairs = [(int(train[m.query]), int(train[m.target])) for m in found]
    return [(a, b) for a, b in pairs if groups[a] != groups[b]]


def _fold_groups(table: pd.DataFrame, train: np.ndarray, near_pairs: list[tuple[int, int]]) -> np.ndarray:
    """Each record's fold group: its sequence group, joined with those of its near copies (connected components),
    so cross-validation never splits near copies."""
    groups = table["group"].to_numpy().astype(object)
    parent = {group: group for group in set(groups[train])}

    def root(group: str) -> str:
        while parent[group] != group:
            parent[group] = parent[parent[group]]
            group = parent[group]
        return group

    for a, b in near_pairs:
        first, second = sorted((root(groups[a]), root(groups[b])))
        parent[second] = first
    groups[train] = [root(group) for group in groups[train]]
    return groups


def _near_summary(near_duplicates: NearDuplicateRule | None, near_pairs: list[tuple[int, int]]) -> dict[str, Any]:
    """The rule and how many training pairs it joined into one fold group."""
    if near_duplicates is None:
        return {"rule": rule_record(None)}
    return {"rule": rule_record(near_duplicates), "train_pairs": len(near_pairs)}


def _assign_folds(name: str, table: pd.DataFrame, folds: int, seed: int, fold_groups: np.ndarray) -> np.ndarray:
    """Stratified, group-aware CV folds for train records (-1 for test).

    Grouping by canonical sequence, joined over near copies (`fold_groups`), keeps duplicates, reverse
    complements and near copies in one fold, so cross-validation never scores a sequence that was trained on.
    """
    train = np.flatnonzero(table["split"].to_numpy() == "train")
    n_groups = len(set(fold_groups[train]))
    assignment = np.full(len(table), -1, dtype=int)
    if not len(train):  # an external test set: nothing to fold
        return assignment
    if folds < 2:
        raise InputError(f"dataset {name}: folds must be at least 2, got {folds}")
    if n_groups < folds:
        raise InputError(f"dataset {name}: {n_groups} distinct training sequence group(s), fewer than folds={folds}")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    labels = table["label"].to_numpy()[train]
    groups = fold_groups[train]
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(train)), labels, groups)):
        assignment[train[held_out]] = fold
    return assignment


def describe(values: pd.Series) -> dict[str, float]:
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
    return {split: describe(values[table["split"] == split]) for split in table["split"].unique()}


def _by_split_class(table: pd.DataFrame, values: pd.Series) -> dict[str, dict[str, dict[str, float]]]:
    return {
        split: {str(c): describe(values[part.index]) for c, part in frame.groupby("class", sort=False)}
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
            "near_duplicate": int((part["leak"] == "near_duplicate").sum()),
        }
        for c, part in test.groupby("class", sort=False)
    }
    copies = leaked[leaked["leak"] != "near_duplicate"]
    conflicts = sum(train_classes[g] != {c} for g, c in zip(copies["group"], copies["class"], strict=True))
    return {
        "total": len(leaked),
        "identical": int((leaked["leak"] == "identical").sum()),
        "reverse_complement": int((leaked["leak"] == "reverse_complement").sum()),
        "near_duplicate": int((leaked["leak"] == "near_duplicate").sum()),
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
        near = f", {stats['near_duplicate']} near copies" if stats.get("near_duplicate") else ""
        kinds = f"({stats['identical']} identical, {stats['reverse_complement']} reverse-complement{near})"
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
        lines.append(f"{train_test['label_conflicts']} leaked test record(s) are labelled differently in train.")
    for split, stats in report["duplicates"]["within_split"].items():
        if stats["label_conflicts"]:
            lines.append(
                f"{stats['label_conflicts']} duplicate group(s) in {split} carry different labels "
                "(see duplicates.within_split)."
            )
    if report["n_rich"]:
        lines.append(f"{len(report['n_rich'])} record(s) are over {max_n_fraction:.0%} N; kept, listed under n_rich.")
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
