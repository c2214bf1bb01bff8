"""Multi-scale ensembles: members of any k, tokenizer or architecture, combined into one model.

`mean` averages member probabilities (iEnhancer-ELM); `weighted` fits non-negative weights on
the members' common validation fold; `stacking` fits a logistic regression on the members'
out-of-fold predictions over the prepared folds. Only training records are ever read, so test
labels cannot reach the weights or the threshold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from enhancerlm.core.stats import binary_metrics, choose_threshold
from enhancerlm.errors import InputError
from enhancerlm.models.ensemble import EPS, MODEL_TYPE, combine, logit
from enhancerlm.training.folds import CV_PREDICTIONS, nested_folds, write_cross_validation


def fit_weights(member_probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to one that minimise the log-loss of the weighted mean."""
    n_members = member_probabilities.shape[1]

    def loss(theta: np.ndarray) -> float:
        weights = np.exp(theta - theta.max())
        p = np.clip(member_probabilities @ (weights / weights.sum()), EPS, 1 - EPS)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    theta = minimize(
        loss,
        np.zeros(n_members),
        method="Nelder-Mead" if n_members > 1 else "BFGS",
        options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000},
    ).x
    weights = np.exp(theta - theta.max())
    return weights / weights.sum()


def out_of_fold_predictions(member_dirs: list[Path], train: pd.DataFrame) -> np.ndarray:
    """Each member's out-of-fold probabilities (from `train --cv`), aligned to the training records."""
    columns = []
    for directory in member_dirs:
        path = directory / CV_PREDICTIONS
        if not path.exists():
            raise InputError(
                f"{directory}: no {CV_PREDICTIONS}; stacking needs members trained with cv", parameters=("cv",)
            )
        table = pd.read_csv(path, sep="\t", dtype={"id": str}, keep_default_na=False).set_index("id")
        missing = set(train["id"]) - set(table.index)
        if missing:
            raise InputError(
                f"{path}: no out-of-fold prediction for {len(missing)} training record(s), e.g. "
                f"{sorted(missing)[0]}; was the member trained on this dataset?"
            )
        columns.append(table.loc[train["id"], "probability"].to_numpy(dtype=float))
    return np.column_stack(columns)


def combination_rule(method: str, member_probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias of `method` fitted on these member probabilities."""
    if method == "mean":
        return np.full(member_probabilities.shape[1], 1.0 / member_probabilities.shape[1]), 0.0
    if method == "weighted":
        return fit_weights(member_probabilities, labels), 0.0
    model = LogisticRegression(max_iter=1000).fit(logit(member_probabilities), labels)
    return model.coef_[0], float(model.intercept_[0])


def cross_validate_ensemble(method: str, member_out_of_fold: np.ndarray, train: pd.DataFrame, outdir: Path) -> dict:
    """The ensemble's own nested cross-validation, from its members' out-of-fold predictions.

    For held-out fold f and its validation fold v (the members' scheme), weights are fitted on v
    (mean, weighted) or on the folds other than f and v (stacking), and the threshold on v, so
    fold f's labels reach nothing that scores it.
    """
    labels, folds = train["label"].to_numpy(), train["fold"].to_numpy()
    out_of_fold, per_fold = [], []
    for fold, val_fold in nested_folds(np.unique(folds).tolist()):
        fit_rows = folds == val_fold if method != "stacking" else ~np.isin(folds, [fold, val_fold])
        weights, bias = combination_rule(method, member_out_of_fold[fit_rows], labels[fit_rows])
        threshold = choose_threshold(
            labels[folds == val_fold], combine(member_out_of_fold[folds == val_fold], method, weights, bias)
        )
        held_out = folds == fold
        out_of_fold.append(
            pd.DataFrame(
                {
                    "id": train.loc[held_out, "id"],
                    "fold": fold,
                    "val_fold": val_fold,
                    "label": labels[held_out],
                    "threshold": threshold,
                    "probability": np.round(combine(member_out_of_fold[held_out], method, weights, bias), 6),
                }
            )
        )
        per_fold.append({"fold": int(fold), "val_fold": int(val_fold), "best_epoch": None})
    return write_cross_validation(outdir, pd.concat(out_of_fold, ignore_index=True), per_fold)


def fit_ensemble(
    method: str, members: list, member_dirs: list[Path], cards: list[dict], train: pd.DataFrame, batch_size: int, device
) -> dict:
    """Weights, bias, threshold and the metrics on the data they were chosen on."""
    labels = train["label"].to_numpy()
    if method == "stacking":
        member_oof = out_of_fold_predictions(member_dirs, train)
        stacked = np.zeros(len(train))
        for fold in sorted(train["fold"].unique()):  # the stacker's own out-of-fold predictions choose the threshold
            held_out = (train["fold"] == fold).to_numpy()
            weights, bias = combination_rule(method, member_oof[~held_out], labels[~held_out])
            stacked[held_out] = combine(member_oof[held_out], method, weights, bias)
        weights, bias = combination_rule(method, member_oof, labels)
        threshold = choose_threshold(labels, stacked)
        return {
            "weights": weights.tolist(),
            "bias": bias,
            "threshold": threshold,
            "threshold_rule": "maximum MCC on the stacker's out-of-fold predictions",
            "validation": binary_metrics(labels, stacked, threshold),
        }
    val_folds = {c.get("training_data", {}).get("val_fold") for c in cards if c.get("type") != MODEL_TYPE}
    if len(val_folds) != 1 or None in val_folds:
        raise InputError(
            f"the members were validated on different folds ({sorted(map(str, val_folds))}); "
            f"{method} needs one common validation fold"
        )
    val_fold = val_folds.pop()
    validation = train[train["fold"] == val_fold]
    probabilities = np.column_stack(
        [m.predict_proba(validation["sequence"].tolist(), batch_size=batch_size, device=device) for m in members]
    )
    y = validation["label"].to_numpy()
    weights, _ = combination_rule(method, probabilities, y)
    combined = combine(probabilities, method, weights)
    threshold = choose_threshold(y, combined)
    return {
        "weights": weights.tolist(),
        "bias": 0.0,
        "threshold": threshold,
        "threshold_rule": f"maximum MCC on validation fold {val_fold}",
        "validation": binary_metrics(y, combined, threshold),
    }
