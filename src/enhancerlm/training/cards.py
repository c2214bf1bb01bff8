"""The model card every trained language model carries: what it was trained on and how, its validation metrics and
threshold, and the software that trained it. Validation is one fold of the prepared training records
(duplicate-aware); the test split never reaches here."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm import __version__
from enhancerlm.core.stats import binary_metrics, choose_threshold
from enhancerlm.formats.files import sha256_file
from enhancerlm.models.card import LANGUAGE_MODEL, ModelCard
from enhancerlm.training.loop import TrainOptions
from enhancerlm.versions import software_versions


def training_card(
    table: pd.DataFrame,
    dataset,
    train_rows: pd.DataFrame,
    validation: pd.DataFrame,
    options: TrainOptions,
    *,
    model_id: str,
    validation_probabilities: np.ndarray | None,
    cv_summary: dict | None,
    started: float,
) -> ModelCard:
    """The model-card fields every trained model shares: task, data, threshold, validation, provenance."""
    classes = table.drop_duplicates("label").set_index("label")["class"].to_dict()
    digest = hashlib.sha256("".join(sorted(train_rows["group"])).encode()).hexdigest()[:16]
    threshold, validation_metrics = 0.5, None
    if validation_probabilities is not None:
        labels = validation["label"].to_numpy()
        threshold = choose_threshold(labels, validation_probabilities)
        validation_metrics = binary_metrics(labels, validation_probabilities, threshold)
    return {
        "model_id": model_id,
        "type": LANGUAGE_MODEL,
        "enhancerlm_version": __version__,
        "task": {"type": "binary", "dataset": Path(dataset).name.removesuffix(".dataset.tsv")},
        "labels": {str(k): v for k, v in sorted(classes.items())},
        "window": int(table["sequence"].str.len().max()),
        "threshold": threshold,
        "threshold_rule": "maximum MCC on the validation fold" if validation_metrics else "0.5 (no validation)",
        "training_data": {
            "path": str(dataset),
            "sha256": sha256_file(dataset),
            "train_groups_digest": digest,
            "records": {"train": len(train_rows), "validation": len(validation)},
            "val_fold": options.val_fold,
        },
        "validation": validation_metrics,
        "cross_validation": cv_summary,
        "training_seconds": round(time.perf_counter() - started, 1),
        "versions": software_versions(),
    }
