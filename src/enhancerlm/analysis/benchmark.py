"""The benchmark table of one dataset: every model over its seeds, on the test split, on the test
records that copy no training record, and in cross-validation, beside published results, with a
paired test of the best model against the k-mer baseline.

The best model is chosen by cross-validation AUC, never by a test-set figure, so that the paired
test on the test split is not a test of a model picked because it won there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm.core.stats import delong_test, mcnemar_test
from enhancerlm.errors import InputError
from enhancerlm.models.card import BASELINE

METRICS = {"Acc": "accuracy", "Sn": "sensitivity", "Sp": "specificity", "MCC": "mcc", "AUC": "auc"}


SUBSETS = {"all": "test split", "leak_free": "leak-free test records", "cv": "cross-validation on train"}


BASELINE_FAMILY = BASELINE  # model ids end in the kind: <dataset>_kmer-baseline


SEED_SUFFIX = re.compile(r"_seed(\d+)$")


@dataclass
class Evaluation:
    """One evaluated model: its test metrics and predictions, and its cross-validation if it has one."""

    model_id: str
    dataset: str
    family: str
    seed: int | None
    metrics: dict
    predictions: pd.DataFrame
    cv: dict | None
    cv_predictions: pd.DataFrame | None


def dataset_name(metrics: dict) -> str:
    """The dataset id of an evaluation, from the prepared dataset it scored (`<id>.dataset.tsv`)."""
    return Path(metrics["dataset"]).name.removesuffix(".dataset.tsv")


def model_family(model_id: str, dataset: str) -> str:
    """A model id without its dataset prefix and seed suffix: `layer1_k3_seed42` -> `k3`."""
    family = SEED_SUFFIX.sub("", model_id)
    return family.removeprefix(f"{dataset}_") or family


def subset_values(evaluation: Evaluation, subset: str) -> dict[str, float | None]:
    """The metrics of one model on one subset (`cv`: the mean over folds)."""
    if subset == "cv":
        cv = evaluation.cv or {}
        return {name: (cv.get(key) or {}).get("mean") for name, key in METRICS.items()}
    found = evaluation.metrics["subsets"].get(subset, {})
    return {name: found.get(key) for name, key in METRICS.items()}


def summary_table(evaluations: list[Evaluation]) -> pd.DataFrame:
    """One row per model family and subset: number of seeds, and mean and sd over seeds of each metric."""
    rows = []
    for family in _family_order(evaluations):
        members = [e for e in evaluations if e.family == family]
        for subset in SUBSETS:
            values = [subset_values(e, subset) for e in members]
            if subset == "cv" and all(v["AUC"] is None and v["Acc"] is None for v in values):
                continue
            row = {"model": family, "subset": subset, "seeds": len(members)}
            for name in METRICS:
                numbers = [v[name] for v in values if v[name] is not None]
                row[name] = float(np.mean(numbers)) if numbers else None
                row[f"{name}_sd"] = float(np.std(numbers, ddof=1)) if len(numbers) > 1 else None
            rows.append(row)
    return pd.DataFrame(rows)


def _family_order(evaluations: list[Evaluation]) -> list[str]:
    """k-mer models by k, then other single models, the baseline, then ensembles."""

    def key(family: str) -> tuple:
        match = re.fullmatch(r"k(\d+)", family)
        if match:
            return (0, int(match.group(1)), family)
        return (3 if family.startswith("ensemble") else 2 if family == BASELINE_FAMILY else 1, 0, family)

    return sorted({e.family for e in evaluations}, key=key)


def choose_best(table: pd.DataFrame) -> tuple[str | None, str]:
    """The family with the highest mean cross-validation AUC (the baseline excluded), and why."""
    candidates = table[(table["subset"] == "cv") & (table["model"] != BASELINE_FAMILY) & table["AUC"].notna()]
    if candidates.empty:
        return None, "no cross-validation: the best model is not chosen on test data"
    best = candidates.loc[candidates["AUC"].idxmax()]
    return str(best["model"]), f"highest mean cross-validation AUC, {best['AUC']:.4f}"


def paired_tests(best: Evaluation, baseline: Evaluation) -> dict[str, dict]:
    """McNemar and DeLong of one seed's best model against the baseline, on each subset."""
    tests = {}
    a, b = best.predictions.set_index("id"), baseline.predictions.set_index("id")
    if set(a.index) != set(b.index):
        raise InputError(f"{best.model_id} and {baseline.model_id} scored different records")
    b = b.loc[a.index]
    for subset in ("all", "leak_free"):
        keep = np.ones(len(a), dtype=bool) if subset == "all" else (a["leak"] == "none").to_numpy()
        labels = a["label"].to_numpy()[keep]
        tests[subset] = {
            "mcnemar": mcnemar_test(
                a["predicted"].to_numpy()[keep] == labels, b["predicted"].to_numpy()[keep] == labels
            ),
            "delong": delong_test(labels, a["probability"].to_numpy()[keep], b["probability"].to_numpy()[keep]),
        }
    if best.cv_predictions is not None and baseline.cv_predictions is not None:
        a, b = (
            best.cv_predictions.set_index("id"),
            baseline.cv_predictions.set_index("id").loc[best.cv_predictions["id"]],
        )
        labels = a["label"].to_numpy().astype(int)
        called_a = (a["probability"] >= a["threshold"]).astype(int).to_numpy()
        called_b = (b["probability"] >= b["threshold"]).astype(int).to_numpy()
        tests["cv"] = {
            "mcnemar": mcnemar_test(called_a == labels, called_b == labels),
            "delong": delong_test(labels, a["probability"].to_numpy(), b["probability"].to_numpy()),
        }
    return tests


def compare_with_baseline(evaluations: list[Evaluation], best: str | None) -> list[dict]:
    """Paired tests of the best family against the baseline, seed by seed (same seed, same folds)."""
    if best is None:
        return []
    baselines = {e.seed: e for e in evaluations if e.family == BASELINE_FAMILY}
    return [
        {
            "seed": e.seed,
            "model_id": e.model_id,
            "baseline_id": baselines[e.seed].model_id,
            "tests": paired_tests(e, baselines[e.seed]),
        }
        for e in evaluations
        if e.family == best and e.seed in baselines
    ]


def summarise_tests(comparisons: list[dict]) -> dict[str, dict]:
    """Per subset: the AUC and accuracy differences and the largest p-value over seeds (significant in every seed?)."""
    summary = {}
    for subset in SUBSETS:
        per_seed = [c["tests"][subset] for c in comparisons if subset in c["tests"]]
        if not per_seed:
            continue
        delong_p = [t["delong"]["p"] for t in per_seed if t["delong"]["p"] is not None]
        differences = [t["delong"]["difference"] for t in per_seed if t["delong"]["difference"] is not None]
        summary[subset] = {
            "seeds": len(per_seed),
            "auc_difference_mean": float(np.mean(differences)) if differences else None,
            "delong_p_max": max(delong_p) if delong_p else None,
            "mcnemar_p_max": max(t["mcnemar"]["p"] for t in per_seed),
            "accuracy_difference_mean": float(
                np.mean(
                    [
                        (t["mcnemar"]["only_a_correct"] - t["mcnemar"]["only_b_correct"]) / t["mcnemar"]["n"]
                        for t in per_seed
                    ]
                )
            ),
        }
    return summary


def _cell(row: pd.Series | dict, name: str) -> str:
    value, spread = row.get(name), row.get(f"{name}_sd")
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if spread is None or (isinstance(spread, float) and np.isnan(spread)):
        return f"{value:.4g}"  # published figures keep the digits they were published with
    return f"{value:.3f} ± {spread:.3f}"


def table_rows(table: pd.DataFrame, published: pd.DataFrame) -> list[list[str]]:
    rows = [
        [r["model"], SUBSETS[r["subset"]], str(r["seeds"]), *(_cell(r, name) for name in METRICS)]
        for _, r in table.iterrows()
    ]
    rows += [
        [f"{r['method']} (published)", "test split", "–", *(_cell(r, name) for name in METRICS)]
        for _, r in published.iterrows()
    ]
    return rows


def summary_sentences(report: dict) -> list[str]:
    lines = list(report["warnings"])
    best = report["best"]
    if best is None:
        return [*lines, f"No paired test: {report['best_rule']}."]
    lines.append(f"Best model: {best} ({report['best_rule']}).")
    for subset, found in report["test_summary"].items():
        p = found["delong_p_max"]
        auc = (
            "AUC undefined (one class)"
            if p is None
            else f"AUC {found['auc_difference_mean']:+.4f} vs {report['baseline']}, DeLong p ≤ {p:.3g}"
        )
        lines.append(
            f"{SUBSETS[subset]}: {auc}; accuracy {found['accuracy_difference_mean']:+.4f}, McNemar p ≤ "
            f"{found['mcnemar_p_max']:.3g} (largest p over {found['seeds']} seed(s))."
        )
    return lines


def markdown_table(table: pd.DataFrame, published: pd.DataFrame, report: dict) -> str:
    """The table as Markdown (for READMEs and notes), values as mean ± sd over seeds."""
    header = ["model", "evaluated on", "seeds", *METRICS]
    lines = [f"# Benchmark: {report['dataset']}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(table, published)]
    lines += ["", *(f"- {sentence}" for sentence in summary_sentences(report))]
    return "\n".join(lines) + "\n"
