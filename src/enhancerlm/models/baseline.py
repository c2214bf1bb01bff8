"""The k-mer spectrum baseline: logistic regression on the frequencies of all 1- to 6-mers.

The yardstick a language model must beat, and a cheap, strong ensemble member. Its parameters
are one weight vector and the feature scaling, saved as safetensors like every other model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from enhancerlm.core.dna import reverse_complement, strand_average
from enhancerlm.formats.files import atomic_path, sha256_file, write_json
from enhancerlm.models.card import BASELINE, CARD_FILE, WEIGHTS_FILE, check_weights, read_card, scores_both_strands
from enhancerlm.models.tokenize import kmer_codes

MODEL_TYPE = BASELINE


KMAX = 6


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

    max_window = None  # reads a sequence of any length

    def language_models(self) -> list:
        return []

    def predict_proba(
        self, sequences: list[str], *, batch_size: int = 64, device: object = "cpu", both_strands: bool | None = None
    ) -> np.ndarray:
        """Enhancer probability per sequence; strands as the model card says (forward: the baseline is trained on
        strand-specific k-mer counts) unless `both_strands` is given. There are no batches or devices.

        The dot products go through einsum rather than BLAS: BLAS sums a row differently depending on
        where it falls in the matrix, so a sequence's probability would depend on the others scored with it
        (in the 7th decimal), and chunked genome scans or variant runs would not match whole ones."""
        both_strands = scores_both_strands(self.card, both_strands)
        strands = [*sequences, *map(reverse_complement, sequences)] if both_strands else list(sequences)
        x = (spectrum_features(strands) - self.mean) / self.scale
        logits = np.einsum("ij,j->i", x, self.weights).astype(np.float64) + self.bias
        return strand_average(1.0 / (1.0 + np.exp(-logits)), both_strands)

    def score_windows(
        self, windows: np.ndarray, *, both_strands: bool | None = None, batch_size: int = 64, device: object = "cpu"
    ) -> np.ndarray:
        """Enhancer probability of each window (rows of an (n, length) ASCII array); strands as in `predict_proba`."""
        sequences = [row.tobytes().decode("ascii") for row in windows]
        return self.predict_proba(sequences, both_strands=both_strands)

    def save(self, directory: str | Path, card: dict) -> dict:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {
            "mean": self.mean,
            "scale": self.scale,
            "weights": self.weights,
            "bias": np.array([self.bias], dtype=np.float32),
        }
        with atomic_path(directory / WEIGHTS_FILE) as tmp:
            save_file(
                {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()},
                tmp,
                metadata={"format": "pt"},
            )
        write_json(directory / "config.json", {"model_type": MODEL_TYPE, "kmax": KMAX})
        card = {**card, "type": MODEL_TYPE, "weights_sha256": sha256_file(directory / WEIGHTS_FILE)}
        write_json(directory / CARD_FILE, card)
        self.card = card
        return card

    @classmethod
    def load(cls, directory: str | Path) -> "KmerBaseline":
        directory = Path(directory)
        tensors = {k: v.numpy() for k, v in load_file(check_weights(directory / WEIGHTS_FILE)).items()}
        card = read_card(directory)
        return cls(tensors["mean"], tensors["scale"], tensors["weights"], float(tensors["bias"][0]), card)
