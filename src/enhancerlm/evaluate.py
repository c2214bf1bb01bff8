"""Metrics for binary enhancer classifiers, on whole splits and on named subsets."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .data import read_dataset
from .errors import InputError
from .io import copy_file, write_json, write_text, write_tsv
from .model import load_trained, resolve_device
from .report import general_stats_tsv, table_tsv

log = logging.getLogger(__name__)

CURVE_GRID = np.round(np.linspace(0.0, 1.0, 101), 2)


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Accuracy, sensitivity, specificity, MCC, AUC, AUPRC and the confusion matrix at `threshold`.

    A metric that a subset cannot define (AUC with one class, specificity without negatives)
    is None, and `undefined` says why, rather than a number that looks meaningful.
    """
    labels = np.asarray(labels, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    predicted = (probabilities >= threshold).astype(int)
    tp = int(((predicted == 1) & (labels == 1)).sum())
    tn = int(((predicted == 0) & (labels == 0)).sum())
    fp = int(((predicted == 1) & (labels == 0)).sum())
    fn = int(((predicted == 0) & (labels == 1)).sum())
    n_pos, n_neg = tp + fn, tn + fp
    undefined: dict[str, str] = {}
    result: dict = {"n": int(len(labels)), "n_positive": n_pos, "n_negative": n_neg, "threshold": float(threshold)}
    result["accuracy"] = (tp + tn) / len(labels) if len(labels) else None
    result["sensitivity"] = tp / n_pos if n_pos else None
    result["specificity"] = tn / n_neg if n_neg else None
    result["balanced_accuracy"] = (result["sensitivity"] + result["specificity"]) / 2 if n_pos and n_neg else None
    if not n_pos:
        undefined["sensitivity"] = "no positive records"
    if not n_neg:
        undefined["specificity"] = "no negative records"
    if n_pos and n_neg:
        result["mcc"] = float(skm.matthews_corrcoef(labels, predicted))
        result["auc"] = float(skm.roc_auc_score(labels, probabilities))
        result["auprc"] = float(skm.average_precision_score(labels, probabilities))
    else:
        reason = "only one class present"
        result.update(mcc=None, auc=None, auprc=None)
        undefined.update(mcc=reason, auc=reason, auprc=reason, balanced_accuracy=reason)
    if not len(labels):
        undefined["accuracy"] = "no records"
    result["confusion_matrix"] = {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    result["undefined"] = undefined
    return result


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The threshold that maximises MCC (ties: the one closest to 0.5); 0.5 if undefined."""
    labels = np.asarray(labels, dtype=int)
    if len(np.unique(labels)) < 2:
        return 0.5
    candidates = np.unique(np.concatenate([np.asarray(probabilities, dtype=float), [0.5]]))
    scores = [skm.matthews_corrcoef(labels, (probabilities >= t).astype(int)) for t in candidates]
    best = np.max(scores)
    ties = candidates[np.isclose(scores, best)]
    return float(ties[np.argmin(np.abs(ties - 0.5))])


def subsets(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean masks of the named subsets: all, leak_free (no copy of a training record), each source."""
    masks = {"all": np.ones(len(table), dtype=bool), "leak_free": (table["leak"] == "none").to_numpy()}
    for source in sorted(table["source"].unique()):
        masks[f"source:{source}"] = (table["source"] == source).to_numpy()
    return masks


def curves(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, dict[float, float]]:
    """ROC (TPR at each FPR) and precision-recall (interpolated precision at each recall) on a fixed grid.

    A fixed grid keeps x values unique per line, as MultiQC line graphs need, and makes curves
    from different models directly comparable.
    """
    fpr, tpr, _ = skm.roc_curve(labels, probabilities)
    precision, recall, _ = skm.precision_recall_curve(labels, probabilities)
    order = np.argsort(recall)
    recall, precision = recall[order], np.maximum.accumulate(precision[order][::-1])[::-1]
    roc = np.interp(CURVE_GRID, fpr, tpr)
    pr = np.interp(CURVE_GRID, recall, precision)
    return {"roc": dict(zip(CURVE_GRID.tolist(), np.round(roc, 4).tolist())),
            "pr": dict(zip(CURVE_GRID.tolist(), np.round(pr, 4).tolist()))}


def evaluation_report(table: pd.DataFrame, probabilities: np.ndarray, threshold: float) -> dict:
    """Metrics for every named subset of a scored table."""
    labels = table["label"].to_numpy()
    return {name: binary_metrics(labels[mask], probabilities[mask], threshold) for name, mask in subsets(table).items()}


def write_evaluation(
    table: pd.DataFrame,
    probabilities: np.ndarray,
    threshold: float,
    *,
    model_id: str,
    outdir: str | Path,
    prefix: str,
    provenance: dict,
) -> dict[str, Path]:
    """Write NAME.metrics.json, NAME.predictions.tsv and the MultiQC custom content for one model."""
    outdir = Path(outdir)
    report = evaluation_report(table, probabilities, threshold)
    labels = table["label"].to_numpy()
    metrics = {"model_id": model_id, **provenance, "threshold": threshold, "warnings": leak_warnings(table),
               "subsets": report}
    for warning in metrics["warnings"]:
        log.warning("%s: %s", model_id, warning)
    predictions = pd.DataFrame({
        "id": table["id"], "split": table["split"], "source": table["source"], "class": table["class"],
        "label": labels, "probability": np.round(probabilities, 6),
        "predicted": (probabilities >= threshold).astype(int), "leak": table["leak"],
    })
    paths = {
        "metrics": write_json(outdir / f"{prefix}.metrics.json", metrics),
        "predictions": write_tsv(outdir / f"{prefix}.predictions.tsv", predictions),
        "general_stats": write_text(outdir / f"{prefix}.general_stats_mqc.tsv", general_stats_mqc(model_id, report)),
        "confusion": write_text(outdir / f"{prefix}.confusion_mqc.tsv", confusion_mqc(model_id, report)),
    }
    if report["all"]["auc"] is not None:
        curve = curves(labels, probabilities)
        for name, title, xlab, ylab in (("roc", "ROC curves", "False positive rate", "True positive rate"),
                                        ("pr", "Precision-recall curves", "Recall", "Precision")):
            paths[name] = write_json(outdir / f"{prefix}.{name}_mqc.json", {
                "id": f"enhancerlm_{name}", "section_name": title, "plot_type": "linegraph",
                "pconfig": {"id": f"enhancerlm_{name}_plot", "title": f"enhancerlm: {title}",
                            "xlab": xlab, "ylab": ylab, "xmin": 0, "xmax": 1, "ymin": 0, "ymax": 1},
                "data": {model_id: curve[name]},
            })
    return paths


def leak_warnings(table: pd.DataFrame) -> list[str]:
    """A plain warning when scored records copy training records, naming the honest subset."""
    leaked = table["leak"] != "none"
    if not leaked.any():
        return []
    by_class = ", ".join(f"{n} {name}" for name, n in table.loc[leaked, "class"].value_counts().sort_index().items())
    clean_classes = sorted(table.loc[~leaked, "class"].unique())
    note = ("it has one class only, so only " + ("specificity" if set(table.loc[~leaked, "label"]) == {0}
                                                  else "sensitivity") + " is defined there"
            if len(clean_classes) == 1 else "report it beside the whole split")
    return [f"LEAK: {int(leaked.sum())} of {len(table)} scored records ({by_class}) copy a training record; the "
            f"'all' metrics include them. The leak_free subset holds the other {int((~leaked).sum())}: {note}."]


GENERAL_STATS_COLUMNS = {
    "Acc": ("accuracy", "Accuracy on the evaluated split"),
    "Sn": ("sensitivity", "Sensitivity (recall of enhancers)"),
    "Sp": ("specificity", "Specificity"),
    "MCC": ("mcc", "Matthews correlation coefficient"),
    "AUC": ("auc", "Area under the ROC curve"),
    "AUPRC": ("auprc", "Area under the precision-recall curve (average precision)"),
}


def general_stats_mqc(model_id: str, report: dict) -> str:
    """MultiQC general-statistics custom content: one row for this model, whole split."""
    columns = {}
    for column, (key, description) in GENERAL_STATS_COLUMNS.items():
        value = report["all"][key]
        config = {"title": column, "description": description, "min": -1 if column == "MCC" else 0, "max": 1,
                  "format": "{:,.3f}"}
        columns[column] = (config, "" if value is None else f"{value:.4f}")
    return general_stats_tsv("enhancerlm_metrics", model_id, columns)


def confusion_mqc(model_id: str, report: dict) -> str:
    """MultiQC custom content: the model's confusion matrix at its threshold, whole split and leak-free subset."""
    columns = {}
    for subset, label in (("all", ""), ("leak_free", "Leak-free ")):
        counts = report[subset]["confusion_matrix"]
        columns.update({f"{label}{name.upper()}": counts[name] for name in ("tp", "fn", "fp", "tn")})
    columns["Threshold"] = f"{report['all']['threshold']:.4f}"
    return table_tsv("enhancerlm_confusion", "enhancerlm: confusion matrices",
                     "Test-split records by true and predicted class at the model's threshold (TP: enhancers called "
                     "enhancers, FN: enhancers missed, FP: non-enhancers called enhancers, TN: non-enhancers "
                     "rejected), on the whole split and on the records that copy no training record.",
                     model_id, columns)


def evaluate_model(
    model_spec: str,
    dataset: str | Path,
    *,
    outdir: str | Path,
    prefix: str,
    split: str = "test",
    batch_size: int = 64,
    device: str = "auto",
    threshold: float | None = None,
) -> dict[str, Path]:
    """Score one split of a prepared dataset with a trained model and write its metrics and predictions.

    Window handling, strand mode and threshold come from the model card unless overridden.
    """
    model = load_trained(model_spec)
    table = read_dataset(dataset)
    table = table[table["split"] == split].reset_index(drop=True)
    if table.empty:
        raise InputError(f"{dataset}: no records in split {split!r}")
    probabilities = model.predict_proba(table["sequence"].tolist(), batch_size=batch_size,
                                        device=resolve_device(device))
    chosen = model.card["threshold"] if threshold is None else threshold
    provenance = {"dataset": str(dataset), "split": split, "strand_mode": model.card.get("strand_mode"),
                  "weights_sha256": model.card.get("weights_sha256"), "seed": _seed(model.card)}
    paths = write_evaluation(table, probabilities, chosen, model_id=model.card["model_id"], outdir=outdir,
                             prefix=prefix, provenance=provenance)
    return {**paths, **copy_cross_validation(Path(model_spec), Path(outdir), prefix)}


def copy_cross_validation(model_dir: Path, outdir: Path, prefix: str) -> dict[str, Path]:
    """The model's cross-validation (cv.json, out-of-fold predictions) beside its test metrics, if it has one."""
    copied = {}
    for key, name in (("cv", "cv.json"), ("cv_predictions", "cv_predictions.tsv")):
        if (model_dir / name).is_file():
            copied[key] = copy_file(model_dir / name, outdir / f"{prefix}.{name}")
    return copied


def _seed(card: dict) -> int | None:
    """The training seed of a model, or of an ensemble's members when they share one."""
    if "members" in card:
        seeds = {member.get("seed") for member in card["members"]}
        return seeds.pop() if len(seeds) == 1 else None
    return card.get("hyperparameters", {}).get("seed")
