"""Fitting the k-mer spectrum baseline: the regularisation C chosen on the validation fold, then the same
threshold rule and model card as the language models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from enhancerlm.models.baseline import MODEL_TYPE as BASELINE
from enhancerlm.models.baseline import KmerBaseline, spectrum_features
from enhancerlm.training.cards import training_card
from enhancerlm.training.folds import FoldResult, cross_validate, split_train_validation
from enhancerlm.training.loop import TrainOptions

C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 1e-1, 1.0)


def fit_baseline(
    train: pd.DataFrame, validation: pd.DataFrame, *, seed: int = 42, class_weight: str = "none"
) -> tuple[KmerBaseline, list[dict]]:
    """Fit on `train`, choosing the regularisation C with the best validation AUC (or C=0.1 without one)."""
    x = spectrum_features(train["sequence"].tolist())
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    x = (x - mean) / scale
    y = train["label"].to_numpy()
    weighting = "balanced" if class_weight == "balanced" else None
    x_val = (spectrum_features(validation["sequence"].tolist()) - mean) / scale if len(validation) else None
    history, best = [], None
    for c in C_GRID if x_val is not None else (0.1,):
        model = LogisticRegression(C=c, max_iter=2000, class_weight=weighting, random_state=seed).fit(x, y)
        record = {"C": c}
        if x_val is not None:
            record["val_auc"] = float(roc_auc_score(validation["label"], model.predict_proba(x_val)[:, 1]))
        history.append(record)
        if best is None or record.get("val_auc", 0) > best[0].get("val_auc", 0):
            best = (record, model)
    model = best[1]
    return KmerBaseline(mean, scale, model.coef_[0].astype(np.float32), float(model.intercept_[0])), history


def train_baseline(
    table: pd.DataFrame,
    dataset,
    outdir: Path,
    options: TrainOptions,
    *,
    model_id: str,
    cross_validation: bool,
    started: float,
) -> dict:
    """The k-mer spectrum baseline, with the same validation fold, threshold rule and card as the others."""

    def fit_fold(training: pd.DataFrame, validation: pd.DataFrame, held_out: pd.DataFrame) -> FoldResult:
        model, _ = fit_baseline(training, validation, seed=options.seed, class_weight=options.class_weight)
        return FoldResult(
            model.predict_proba(validation["sequence"].tolist()),
            model.predict_proba(held_out["sequence"].tolist()),
            None,
        )

    cv_summary = cross_validate(table, outdir, fit_fold) if cross_validation else None
    train_rows, validation = split_train_validation(table, options.val_fold)
    model, history = fit_baseline(train_rows, validation, seed=options.seed, class_weight=options.class_weight)
    probabilities = model.predict_proba(validation["sequence"].tolist()) if len(validation) else None
    chosen = max(history, key=lambda record: record.get("val_auc", 0))
    card = {
        **training_card(
            table,
            dataset,
            train_rows,
            validation,
            options,
            model_id=model_id,
            validation_probabilities=probabilities,
            cv_summary=cv_summary,
            started=started,
        ),
        "base_model": BASELINE,
        "architecture": "logistic-regression on 1- to 6-mer frequencies",
        "parameters": int(model.weights.size + 1),
        "tokenizer": None,
        "kmer": None,
        "strand_mode": "forward",
        "hyperparameters": {
            "C": chosen["C"],
            "C_grid": list(C_GRID),
            "seed": options.seed,
            "class_weight": options.class_weight,
            "val_fold": options.val_fold,
        },
        "history": history,
        "best_epoch": None,
        "device": "cpu",
    }
    outdir.mkdir(parents=True, exist_ok=True)
    return model.save(outdir, card)
