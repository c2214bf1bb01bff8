"""`enhancerlm benchmark`: read a dataset's evaluations, build the benchmark table and tests, write them."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm.analysis.benchmark import (
    BASELINE_FAMILY,
    METRICS,
    SEED_SUFFIX,
    Evaluation,
    choose_best,
    compare_with_baseline,
    dataset_name,
    markdown_table,
    model_family,
    summarise_tests,
    summary_sentences,
    summary_table,
    table_rows,
)
from enhancerlm.errors import InputError
from enhancerlm.formats.files import resource, write_json, write_text, write_tsv
from enhancerlm.formats.multiqc import BENCHMARK_SECTION, html_section, html_table

PUBLISHED = "assets/published/ienhancer2l.tsv"


def read_evaluations(directory: str | Path, dataset: str | None = None) -> list[Evaluation]:
    """Every `*.metrics.json` in a directory (of one dataset, or of `dataset`), with its companion files."""
    directory = Path(directory)
    evaluations = []
    for path in sorted(directory.glob("*.metrics.json")):
        metrics = json.loads(path.read_text())
        if "subsets" not in metrics or "dataset" not in metrics:
            raise InputError(f"{path}: not an enhancerlm evaluation (no subsets or dataset)")
        name = dataset_name(metrics)
        if dataset is not None and name != dataset:
            continue
        prefix = path.name.removesuffix(".metrics.json")
        predictions = _read_table(directory / f"{prefix}.predictions.tsv", required=True)
        cv_path = directory / f"{prefix}.cv.json"
        seed = metrics.get("seed")
        match = SEED_SUFFIX.search(metrics["model_id"])
        evaluations.append(
            Evaluation(
                model_id=metrics["model_id"],
                dataset=name,
                family=model_family(metrics["model_id"], name),
                seed=seed if seed is not None else (int(match.group(1)) if match else None),
                metrics=metrics,
                predictions=predictions,
                cv=json.loads(cv_path.read_text()) if cv_path.exists() else None,
                cv_predictions=_read_table(directory / f"{prefix}.cv_predictions.tsv", required=False),
            )
        )
    if not evaluations:
        raise InputError(f"{directory}: no *.metrics.json" + (f" of dataset {dataset}" if dataset else ""))
    datasets = sorted({e.dataset for e in evaluations})
    if len(datasets) > 1:
        raise InputError(f"{directory}: evaluations of several datasets ({', '.join(datasets)}); choose one")
    return evaluations


def _read_table(path: Path, *, required: bool) -> pd.DataFrame | None:
    if not path.exists():
        if required:
            raise InputError(f"{path}: missing; the benchmark needs every model's predictions")
        return None
    return pd.read_csv(path, sep="\t", dtype={"id": str}, keep_default_na=False)


def read_published(path: str | Path, dataset: str) -> pd.DataFrame:
    """Published results for this dataset (columns dataset, method, Acc, Sn, Sp, MCC, AUC, note)."""
    table = pd.read_csv(
        path,
        sep="\t",
        comment="#",
        dtype={"dataset": str, "method": str, "note": str},
        keep_default_na=False,
        na_values=[""],
    )
    missing = {"dataset", "method", *METRICS} - set(table.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return table[table["dataset"] == dataset].reset_index(drop=True)


def run_benchmark(
    evaluations_dir: str | Path,
    outdir: str | Path,
    *,
    dataset: str | None = None,
    prefix: str | None = None,
    published: str | Path | None = None,
) -> dict[str, Path]:
    """Write NAME.benchmark.tsv, NAME.benchmark.json, NAME.benchmark.md and NAME.benchmark_mqc.html."""
    evaluations = read_evaluations(evaluations_dir, dataset)
    name = evaluations[0].dataset
    prefix = prefix or name
    table = summary_table(evaluations)
    best, reason = choose_best(table)
    comparisons = compare_with_baseline(evaluations, best)
    published_rows = read_published(published or resource(PUBLISHED), name)
    warnings = sorted({w for e in evaluations for w in e.metrics.get("warnings", [])})
    report = {
        "dataset": name,
        "models": sorted(e.model_id for e in evaluations),
        "best": best,
        "best_rule": reason,
        "baseline": BASELINE_FAMILY,
        "warnings": warnings,
        "table": table.replace({np.nan: None}).to_dict(orient="records"),
        "paired_tests": comparisons,
        "published": published_rows.replace({np.nan: None}).to_dict(orient="records"),
        "test_summary": summarise_tests(comparisons),
    }
    outdir = Path(outdir)
    return {
        "tsv": write_tsv(outdir / f"{prefix}.benchmark.tsv", table),
        "json": write_json(outdir / f"{prefix}.benchmark.json", report),
        "markdown": write_text(outdir / f"{prefix}.benchmark.md", markdown_table(table, published_rows, report)),
        "multiqc": write_text(outdir / f"{prefix}.benchmark_mqc.html", multiqc_section(table, published_rows, report)),
    }


def multiqc_section(table: pd.DataFrame, published: pd.DataFrame, report: dict) -> str:
    """MultiQC custom content: the benchmark table beside the published rows, and the paired tests."""
    name = report["dataset"]
    notes = "".join(f"<li>{html.escape(sentence)}</li>" for sentence in summary_sentences(report))
    description = (
        "Mean ± standard deviation over seeds, on the whole test split, on its leak-free records, and in "
        "cross-validation on the training set; published results below."
    )
    body = html_table(
        "enhancerlm-benchmark", ["model", "evaluated on", "seeds", *METRICS], table_rows(table, published)
    )
    return html_section(
        BENCHMARK_SECTION,
        f"enhancerlm_benchmark_{name}",
        f"Benchmark: {name}",
        description,
        body + f"<ul>{notes}</ul>\n",
    )
