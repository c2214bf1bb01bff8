"""Validation folds and nested cross-validation: which prepared records train, validate and test each model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm.core.stats import binary_metrics, choose_threshold
from enhancerlm.errors import InputError
from enhancerlm.formats.files import write_json, write_tsv

CV_PREDICTIONS = "cv_predictions.tsv"


CV_SUMMARY = "cv.json"


CV_METRICS = ("accuracy", "sensitivity", "specificity", "mcc", "auc", "auprc")


def split_train_validation(table: pd.DataFrame, val_fold: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation records of the prepared train split; test records never enter."""
    train = table[table["split"] == "train"]
    if val_fold is None:
        return train.reset_index(drop=True), train.iloc[:0]
    folds = sorted(train["fold"].unique())
    if val_fold not in folds:
        raise InputError(f"val_fold {val_fold} is not one of the dataset's folds {folds}", parameters=("val_fold",))
    is_val = train["fold"] == val_fold
    return train[~is_val].reset_index(drop=True), train[is_val].reset_index(drop=True)


@dataclass
class FoldResult:
    """One cross-validation fold: probabilities on its inner validation fold and on its held-out fold."""

    validation_probabilities: np.ndarray
    held_out_probabilities: np.ndarray
    best_epoch: int | None


def cross_validate(
    table: pd.DataFrame, outdir: Path, fit_fold: Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], FoldResult]
) -> dict:
    """Nested k-fold cross-validation over the prepared folds; writes cv.json and the out-of-fold predictions.

    For held-out fold f, the next fold validates (early stopping, model selection, threshold) and
    the rest train, so nothing is tuned on the records that are scored. `fit_fold(training,
    validation, held_out)` trains a fresh model; the out-of-fold predictions are what stacking
    ensembles learn from.
    """
    train_rows = table[table["split"] == "train"]
    folds = sorted(int(f) for f in train_rows["fold"].unique())
    out_of_fold, per_fold = [], []
    for fold, val_fold in nested_folds(folds):
        held_out = train_rows[train_rows["fold"] == fold].reset_index(drop=True)
        validation = train_rows[train_rows["fold"] == val_fold].reset_index(drop=True)
        training = train_rows[~train_rows["fold"].isin([fold, val_fold])].reset_index(drop=True)
        result = fit_fold(training, validation, held_out)
        threshold = choose_threshold(validation["label"].to_numpy(), result.validation_probabilities)
        out_of_fold.append(
            pd.DataFrame(
                {
                    "id": held_out["id"],
                    "fold": fold,
                    "val_fold": val_fold,
                    "label": held_out["label"],
                    "threshold": threshold,
                    "probability": np.round(result.held_out_probabilities, 6),
                }
            )
        )
        per_fold.append({"fold": fold, "val_fold": val_fold, "best_epoch": result.best_epoch})
    return write_cross_validation(outdir, pd.concat(out_of_fold, ignore_index=True), per_fold)


def nested_folds(folds: Sequence[int]) -> list[tuple[int, int]]:
    """(held-out fold, validation fold) pairs: each fold is scored once, validated by the next one."""
    folds = sorted(folds)
    if len(folds) < 3:
        raise InputError(
            f"cross-validation needs at least 3 prepared folds (one trains, one validates, one is "
            f"scored); the dataset has {len(folds)}"
        )
    return [(fold, folds[(position + 1) % len(folds)]) for position, fold in enumerate(folds)]


def write_cross_validation(outdir: Path, out_of_fold: pd.DataFrame, per_fold: list[dict]) -> dict:
    """cv.json (per-fold metrics at each fold's own validation threshold, mean and sd) and cv_predictions.tsv."""
    for record in per_fold:
        rows = out_of_fold[out_of_fold["fold"] == record["fold"]]
        record.update(
            binary_metrics(rows["label"].to_numpy(), rows["probability"].to_numpy(), float(rows["threshold"].iloc[0]))
        )
    summary = {"scheme": "nested: the fold after each held-out fold validates, the others train", "folds": per_fold}
    for key in CV_METRICS:
        values = [f[key] for f in per_fold if f[key] is not None]
        summary[key] = {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
    outdir.mkdir(parents=True, exist_ok=True)
    write_json(outdir / CV_SUMMARY, summary)
    write_tsv(outdir / CV_PREDICTIONS, out_of_fold)
    return {key: value for key, value in summary.items() if key in CV_METRICS}
