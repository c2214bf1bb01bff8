"""`enhancerlm prepare`: a samplesheet (validated against `assets/schema_input.json`) or a BED file with its
genome, turned into prepared datasets (`<dataset>.dataset.tsv` and `.prepare.json`)."""

from __future__ import annotations

import inspect
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jsonschema import Draft202012Validator

from enhancerlm import __version__
from enhancerlm.analysis.dataset import DatasetReport, prepare_dataset
from enhancerlm.analysis.near_duplicates import NearDuplicateRule, rule_record
from enhancerlm.analysis.negatives import prepare_bed_dataset
from enhancerlm.errors import InputError
from enhancerlm.formats.files import resource, sha256_file, write_json, write_text, write_tsv
from enhancerlm.formats.multiqc import multiqc_prepare

log = logging.getLogger(__name__)


def load_samplesheet(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a `dataset,fasta,label,split` samplesheet.

    FASTA paths are resolved against the samplesheet's directory and returned absolute.
    Any problem raises InputError with one line naming the sheet, row, dataset and column.
    """
    path = Path(path)
    schema = json.loads(resource("assets/schema_input.json").read_text())
    sheet = _read_sheet(path, list(schema["items"]["properties"]))
    rows = [{key: value for key, value in row.items() if value != ""} for row in sheet.to_dict("records")]
    _check_schema(path, rows, schema)
    sheet["fasta"] = [str(_resolve(path, fasta)) for fasta in sheet["fasta"]]
    _check_files(path, sheet)
    for name, group in sheet.groupby("dataset", sort=False):
        _check_dataset(path, str(name), group)
    return sheet


def load_regions_sheet(path: str | os.PathLike, samplesheet: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read and validate a `dataset,bed,test_chroms` regions samplesheet (one dataset of positive regions per
    row, prepared against the pipeline's genome); BED paths are returned absolute, test_chroms comma-separated.
    A dataset id may not repeat, here or in `samplesheet` (the FASTA datasets of the same run)."""
    path = Path(path)
    schema = json.loads(resource("assets/schema_regions.json").read_text())
    sheet = _read_sheet(path, list(schema["items"]["properties"]))
    _check_schema(path, sheet.to_dict("records"), schema)
    taken = set() if samplesheet is None else set(samplesheet["dataset"])
    for index, row in enumerate(sheet.itertuples(index=False)):
        if row.dataset in taken:
            raise InputError(f"{_where(path, index, row.dataset)}: dataset {row.dataset} is named twice in the run")
        taken.add(row.dataset)
        if not _resolve(path, row.bed).is_file():
            raise InputError(
                f"{_where(path, index, row.dataset)}, column bed: file not found: {_resolve(path, row.bed)}"
            )
    return sheet.assign(
        bed=[str(_resolve(path, bed)) for bed in sheet["bed"]], test_chroms=sheet["test_chroms"].str.replace(";", ",")
    )


def _read_sheet(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read the CSV as strings and check it has exactly the schema's columns and some rows."""
    try:
        sheet = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: samplesheet not found") from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = "empty file" if isinstance(exc, pd.errors.EmptyDataError) else str(exc).strip()
        raise InputError(f"{path}: cannot read samplesheet: {reason}") from exc
    if isinstance(sheet.index, pd.MultiIndex) or sheet.index.dtype != "int64":  # rows with more fields than the header
        raise InputError(
            f"{path}: a row has more fields than the header {','.join(sheet.columns)}; "
            "quote a value that holds a comma (test_chroms take ';' between chromosomes)"
        )
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
    """A dataset is a binary task: exactly two labels. A dataset of test rows only is an external test set, for
    evaluating models trained elsewhere, and may hold one class (enhancers only)."""
    labels = list(dict.fromkeys(rows["label"]))
    one_class_test_set = len(labels) == 1 and set(rows["split"]) == {"test"}
    if len(labels) != 2 and not one_class_test_set:
        raise InputError(
            f"{path}: dataset {name}: needs exactly two label values, found {len(labels)} ({', '.join(labels)})"
            + ("" if len(labels) > 2 else "; only a dataset of test rows only may hold one class")
        )


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


def prepare_samplesheet(
    samplesheet: str | os.PathLike,
    outdir: str | os.PathLike,
    *,
    folds: int = 5,
    seed: int = 42,
    max_n_fraction: float = 0.1,
    positive: str | None = None,
    prefix: str | None = None,
    near_duplicates: NearDuplicateRule | None = NearDuplicateRule(),
) -> dict[str, dict[str, Path]]:
    """Prepare every dataset of a samplesheet; write `<dataset>.dataset.tsv` and `.prepare.json`.

    All datasets are prepared before anything is written, so a bad input leaves no partial output.
    `prefix` names the files of a samplesheet that holds a single dataset.
    """
    sheet = load_samplesheet(samplesheet)
    if prefix is not None and sheet["dataset"].nunique() != 1:
        raise InputError(
            f"{samplesheet}: an output prefix needs a samplesheet of one dataset, this one has "
            f"{sheet['dataset'].nunique()}"
        )
    prepared = {
        str(name): prepare_dataset(
            rows,
            folds=folds,
            seed=seed,
            max_n_fraction=max_n_fraction,
            positive=positive,
            near_duplicates=near_duplicates,
        )
        for name, rows in sheet.groupby("dataset", sort=False)
    }
    written: dict[str, dict[str, Path]] = {}
    for name, (table, report) in prepared.items():
        report = {**report, "inputs": [{**item, "sha256": sha256_file(item["fasta"])} for item in report["inputs"]]}
        header = {
            "samplesheet": str(Path(samplesheet).resolve()),
            "version": __version__,
            "parameters": {
                "folds": folds,
                "seed": seed,
                "max_n_fraction": max_n_fraction,
                "positive": positive,
                "near_duplicates": rule_record(near_duplicates),
            },
        }
        written[name] = _write_prepared(Path(outdir), table, report, header, prefix or name)
    return written


def _write_prepared(
    outdir: Path, table: pd.DataFrame, report: DatasetReport, header: dict[str, Any], prefix: str
) -> dict[str, Path]:
    """Write `<prefix>.dataset.tsv`, `<prefix>.prepare.json` (header first) and the MultiQC section, and log
    the warnings."""
    name = report["dataset"]
    paths = {
        "dataset": write_tsv(outdir / f"{prefix}.dataset.tsv", table),
        "report": write_json(outdir / f"{prefix}.prepare.json", {"dataset": name, **header, **report}),
        "multiqc": write_text(outdir / f"{prefix}.prepare_mqc.html", multiqc_prepare(report)),
    }
    for line in report["warnings"]:
        log.warning("dataset %s: %s", name, line)
    return paths


def prepare_bed(
    bed: str | os.PathLike, genome: str | os.PathLike, outdir: str | os.PathLike, **options: Any
) -> dict[str, dict[str, Path]]:
    """Prepare one dataset from positive regions and a genome; write `<name>.dataset.tsv` and `.prepare.json`.

    `options` are those of `prepare_bed_dataset`. The output has the samplesheet mode's format, so
    training and evaluation read it unchanged.
    """
    table, report = prepare_bed_dataset(bed, genome, **options)
    report = {**report, "inputs": [{**item, "sha256": sha256_file(item["path"])} for item in report["inputs"]]}
    used = inspect.signature(prepare_bed_dataset).bind(bed, genome, **options)
    used.apply_defaults()
    parameters = {key: value for key, value in used.arguments.items() if key not in ("bed", "genome", "name")}
    parameters["blacklist"] = str(Path(parameters["blacklist"]).resolve()) if parameters["blacklist"] else None
    parameters["test_chroms"] = list(parameters["test_chroms"])
    parameters["near_duplicates"] = rule_record(parameters["near_duplicates"])
    header = {
        "bed": str(Path(bed).resolve()),
        "genome": str(Path(genome).resolve()),
        "version": __version__,
        "parameters": parameters,
    }
    return {report["dataset"]: _write_prepared(Path(outdir), table, report, header, report["dataset"])}
