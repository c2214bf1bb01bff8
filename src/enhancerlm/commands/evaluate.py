"""`enhancerlm evaluate`: score a split with a trained model; write metrics, predictions, curves and MultiQC
content, on the whole split and on named subsets (leak-free, per source)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from enhancerlm.analysis.dataset import leak_status
from enhancerlm.analysis.near_duplicates import NearDuplicateRule
from enhancerlm.core.stats import binary_metrics, curves
from enhancerlm.errors import InputError
from enhancerlm.formats.dataset_table import read_dataset
from enhancerlm.formats.files import copy_file, sha256_file, write_json, write_text, write_tsv
from enhancerlm.formats.multiqc import confusion_mqc, general_stats_mqc
from enhancerlm.models.card import both_strands
from enhancerlm.models.card import strand_mode as card_strand_mode
from enhancerlm.models.classifier import resolve_device
from enhancerlm.models.scorer import load_trained

log = logging.getLogger(__name__)


class Provenance(TypedDict):
    """Where an evaluation's scores come from: the data set and split, whether it is external to the model's
    training data, the model's training set, strand mode (the one used), weights and seed."""

    dataset: str
    split: str
    external: bool
    trained_on: str | None
    strand_mode: str
    weights_sha256: str | None
    seed: int | None


class EvaluationReport(Provenance):
    """NAME.metrics.json: the model, the provenance of its scores, the threshold, warnings (leaks) and the metrics
    of each subset (all, leak_free)."""

    model_id: str
    threshold: float
    warnings: list[str]
    subsets: dict


def subsets(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean masks of the named subsets: all, leak_free (no copy or near copy of a training record), each source."""
    masks = {"all": np.ones(len(table), dtype=bool), "leak_free": (table["leak"] == "none").to_numpy()}
    for source in sorted(table["source"].unique()):
        masks[f"source:{source}"] = (table["source"] == source).to_numpy()
    return masks


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
    provenance: Provenance,
    warnings: list[str] = (),
) -> dict[str, Path]:
    """Write NAME.metrics.json, NAME.predictions.tsv and the MultiQC custom content for one model."""
    outdir = Path(outdir)
    report = evaluation_report(table, probabilities, threshold)
    labels = table["label"].to_numpy()
    metrics: EvaluationReport = {
        "model_id": model_id,
        **provenance,
        "threshold": threshold,
        "warnings": [*leak_warnings(table), *warnings],
        "subsets": report,
    }
    for warning in metrics["warnings"]:
        log.warning("%s: %s", model_id, warning)
    predictions = _predictions(table, labels, probabilities, threshold)
    paths = {
        "metrics": write_json(outdir / f"{prefix}.metrics.json", metrics),
        "predictions": write_tsv(outdir / f"{prefix}.predictions.tsv", predictions),
        "general_stats": write_text(outdir / f"{prefix}.general_stats_mqc.tsv", general_stats_mqc(model_id, report)),
        "confusion": write_text(outdir / f"{prefix}.confusion_mqc.tsv", confusion_mqc(model_id, report)),
    }
    if report["all"]["auc"] is not None:
        curve = curves(labels, probabilities)
        for name, title, xlab, ylab in (
            ("roc", "ROC curves", "False positive rate", "True positive rate"),
            ("pr", "Precision-recall curves", "Recall", "Precision"),
        ):
            paths[name] = write_json(
                outdir / f"{prefix}.{name}_mqc.json", _curve_mqc(name, title, xlab, ylab, {model_id: curve[name]})
            )
    return paths


def _predictions(table: pd.DataFrame, labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> pd.DataFrame:
    """The per-record predictions table: each scored record with its probability, call and leak status."""
    return pd.DataFrame(
        {
            "id": table["id"],
            "split": table["split"],
            "source": table["source"],
            "class": table["class"],
            "label": labels,
            "probability": np.round(probabilities, 6),
            "predicted": (probabilities >= threshold).astype(int),
            "leak": table["leak"],
        }
    )


def _curve_mqc(name: str, title: str, xlab: str, ylab: str, data: dict) -> dict:
    """MultiQC custom content for one curve (ROC or precision-recall) as a line graph on the unit square."""
    return {
        "id": f"enhancerlm_{name}",
        "section_name": title,
        "plot_type": "linegraph",
        "pconfig": {
            "id": f"enhancerlm_{name}_plot",
            "title": f"enhancerlm: {title}",
            "xlab": xlab,
            "ylab": ylab,
            "xmin": 0,
            "xmax": 1,
            "ymin": 0,
            "ymax": 1,
        },
        "data": data,
    }


def leak_warnings(table: pd.DataFrame) -> list[str]:
    """A plain warning when scored records copy training records, naming the honest subset."""
    leaked = table["leak"] != "none"
    if not leaked.any():
        return []
    by_class = ", ".join(f"{n} {name}" for name, n in table.loc[leaked, "class"].value_counts().sort_index().items())
    clean_classes = sorted(table.loc[~leaked, "class"].unique())
    note = (
        "it has one class only, so only "
        + ("specificity" if set(table.loc[~leaked, "label"]) == {0} else "sensitivity")
        + " is defined there"
        if len(clean_classes) == 1
        else "report it beside the whole split"
    )
    return [
        f"LEAK: {int(leaked.sum())} of {len(table)} scored records ({by_class}) copy or nearly copy a training "
        f"record; the 'all' metrics include them. The leak_free subset holds the other {int((~leaked).sum())}: {note}."
    ]


def evaluate_model(
    model_spec: str,
    dataset: str | Path,
    *,
    outdir: str | Path,
    prefix: str | None = None,
    split: str = "test",
    batch_size: int = 64,
    device: str = "auto",
    threshold: float | None = None,
    training_dataset: str | Path | None = None,
    strand_mode: str | None = None,
) -> dict[str, Path]:
    """Score one split of a prepared dataset with a trained model and write its metrics and predictions.

    Window handling, strand mode and threshold come from the model card unless overridden. On a dataset the model
    was not trained on (an external test set), the records are labelled by the model's own classes and their leaks
    are checked against its training data: `training_dataset`, or else the table its card names.
    """
    model = load_trained(model_spec)
    table = read_dataset(dataset)
    table = table[table["split"] == split].reset_index(drop=True)
    if table.empty:
        raise InputError(f"{dataset}: no records in split {split!r}")
    external = is_external(Path(dataset), model.card)
    warnings = []
    if external:
        table = labels_from_card(table, Path(dataset), model.card)
        table, warnings = training_leaks(table, model.card, training_dataset)
    mode = card_strand_mode(model.card, strand_mode)
    probabilities = model.predict_proba(
        table["sequence"].tolist(),
        batch_size=batch_size,
        device=resolve_device(device),
        both_strands=both_strands(mode),
    )
    chosen = model.card["threshold"] if threshold is None else threshold
    name = evaluation_name(model.card["model_id"], Path(dataset), external)
    provenance: Provenance = {
        "dataset": str(dataset),
        "split": split,
        "external": external,
        "trained_on": model.card["task"].get("dataset"),
        "strand_mode": mode,
        "weights_sha256": model.card.get("weights_sha256"),
        "seed": _seed(model.card),
    }
    paths = write_evaluation(
        table,
        probabilities,
        chosen,
        model_id=name,
        outdir=outdir,
        prefix=prefix or name,
        provenance=provenance,
        warnings=warnings,
    )
    return {**paths, **copy_cross_validation(Path(model_spec), Path(outdir), prefix or name)}


def is_external(dataset: Path, card: dict) -> bool:
    """Whether a prepared table is not the one the model was trained on (its card holds that table's sha256)."""
    trained = (card.get("training_data") or {}).get("sha256")
    return bool(trained) and trained != sha256_file(dataset)


def evaluation_name(model_id: str, dataset: Path, external: bool) -> str:
    """The evaluation's name in reports: the model id on its own test split, `<model>_on_<dataset>` elsewhere."""
    return f"{model_id}_on_{dataset.name.removesuffix('.dataset.tsv')}" if external else model_id


def labels_from_card(table: pd.DataFrame, dataset: Path, card: dict) -> pd.DataFrame:
    """The records labelled as the model numbers its classes: an external set's own prepare step may have chosen
    the other positive class. A class the model was not trained on is an error."""
    classes = {name: int(label) for label, name in card["labels"].items()}
    unknown = sorted(set(table["class"]) - set(classes))
    if unknown:
        raise InputError(
            f"{dataset}: class {unknown[0]!r} is not a class of model {card['model_id']} "
            f"({', '.join(sorted(classes))}); name the classes as its training samplesheet did"
        )
    return table.assign(label=table["class"].map(classes).astype(int))


def training_leaks(
    table: pd.DataFrame, card: dict, training_dataset: str | Path | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Each record's leak status against the model's own training records (`training_dataset`, or the table its
    card names, either checked against the card's sha256), and a warning when those cannot be read as trained on."""
    training = card.get("training_data") or {}
    path = Path(training_dataset or training.get("path") or "")
    if not path.is_file() or sha256_file(path) != training["sha256"]:
        return table, [
            f"the model's training data ({path}) is missing or changed since training, so whether these records "
            "copy a training record could not be checked; leak_free excludes only copies of this dataset's own "
            "train split"
        ]
    trained = read_dataset(path)
    statuses = leak_status(table, trained[trained["split"] == "train"], NearDuplicateRule())
    return table.assign(leak=statuses), []


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
