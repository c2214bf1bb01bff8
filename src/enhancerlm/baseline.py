"""The k-mer spectrum baseline: logistic regression on the frequencies of all 1- to 6-mers.

The yardstick a language model must beat, and a cheap, strong ensemble member. Its parameters
are one weight vector and the feature scaling, saved as safetensors like every other model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from .io import atomic_path, sha256_file, write_json
from .tokenize import kmer_codes

MODEL_TYPE = "kmer-baseline"
KMAX = 6
C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 1e-1, 1.0)


def spectrum_features(sequences: list[str], kmax: int = KMAX) -> np.ndarray:
    """Per sequence, the frequency of every k-mer for k = 1..kmax (k-mers with N are skipped).

    Frequencies are normalised within each k, so sequences of different lengths compare.
    """
    widths = [4**k for k in range(1, kmax + 1)]
    features = np.zeros((len(sequences), sum(widths)), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        offset = 0
        for k, width in zip(range(1, kmax + 1), widths):
            code, valid = kmer_codes(sequence, k)
            counts = np.bincount(code[valid], minlength=width)
            features[row, offset : offset + width] = counts / max(counts.sum(), 1)
            offset += width
    return features


class KmerBaseline:
    """Standardised k-mer spectrum -> L2-regularised logistic regression."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, weights: np.ndarray, bias: float, card: dict | None = None):
        self.mean, self.scale, self.weights, self.bias = mean, scale, weights, bias
        self.card = card or {}

    @classmethod
    def fit(cls, train: pd.DataFrame, validation: pd.DataFrame, *, seed: int = 42,
            class_weight: str = "none") -> tuple["KmerBaseline", list[dict]]:
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
        return cls(mean, scale, model.coef_[0].astype(np.float32), float(model.intercept_[0])), history

    def predict_proba(self, sequences: list[str], **_: object) -> np.ndarray:
        """Enhancer probability per sequence (device and batch options do not apply).

        The dot products go through einsum rather than BLAS: BLAS sums a row differently depending on
        where it falls in the matrix, so a sequence's probability would depend on the others scored with it
        (in the 7th decimal), and chunked genome scans or variant runs would not match whole ones."""
        x = (spectrum_features(list(sequences)) - self.mean) / self.scale
        logits = np.einsum("ij,j->i", x, self.weights).astype(np.float64) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, directory: str | Path, card: dict) -> dict:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {"mean": self.mean, "scale": self.scale, "weights": self.weights,
                   "bias": np.array([self.bias], dtype=np.float32)}
        with atomic_path(directory / "model.safetensors") as tmp:
            save_file({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()},
                      tmp, metadata={"format": "pt"})
        write_json(directory / "config.json", {"model_type": MODEL_TYPE, "kmax": KMAX})
        card = {**card, "type": MODEL_TYPE, "weights_sha256": sha256_file(directory / "model.safetensors")}
        write_json(directory / "enhancerlm.json", card)
        self.card = card
        return card

    @classmethod
    def load(cls, directory: str | Path) -> "KmerBaseline":
        directory = Path(directory)
        tensors = {k: v.numpy() for k, v in load_file(directory / "model.safetensors").items()}
        card = json.loads((directory / "enhancerlm.json").read_text())
        return cls(tensors["mean"], tensors["scale"], tensors["weights"], float(tensors["bias"][0]), card)
