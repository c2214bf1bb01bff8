"""The seam between trained models and everything that scores with them.

A trained model is a language-model classifier (`LoadedModel`), the k-mer baseline (`KmerBaseline`) or an
ensemble of either (`Ensemble`); all three are `Scorer`s. `load_trained` is the one place that tells them
apart, by the model card's type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from enhancerlm.errors import InputError
from enhancerlm.models.baseline import MODEL_TYPE as BASELINE
from enhancerlm.models.baseline import KmerBaseline
from enhancerlm.models.card import CARD_FILE, read_card
from enhancerlm.models.checkpoint import load_model
from enhancerlm.models.ensemble import MODEL_TYPE as ENSEMBLE
from enhancerlm.models.ensemble import Ensemble
from enhancerlm.models.language_model import LoadedModel


class Scorer(Protocol):
    """What every trained model offers: its card, the longest window it reads in one pass (None: any), enhancer
    probabilities of sequences and of fixed-width windows, and the language models inside it (for attribution)."""

    card: dict

    @property
    def max_window(self) -> int | None: ...

    def predict_proba(
        self, sequences: list[str], *, batch_size: int = 64, device: object = "cpu", both_strands: bool | None = None
    ) -> np.ndarray: ...

    def score_windows(
        self, windows: np.ndarray, *, both_strands: bool | None = None, batch_size: int = 64, device: object = "cpu"
    ) -> np.ndarray: ...

    def language_models(self) -> list[LoadedModel]: ...


def load_trained(spec: str) -> Scorer:
    """Any trained enhancerlm model, ready to score."""
    card = read_card(spec) if Path(spec).is_dir() else {}
    if card.get("type") == ENSEMBLE:
        return Ensemble([load_trained(str(Path(spec) / member["path"])) for member in card["members"]], card)
    if card.get("type") == BASELINE:
        return KmerBaseline.load(spec)
    model = load_model(spec)
    if not model.card:
        raise InputError(f"{spec}: not a trained enhancerlm model (no {CARD_FILE}); train it first")
    return model


def scan_window(model: Scorer, window: int | None = None) -> int:
    """The window length to score: `window`, else the model card's (its longest training sequence), else the
    longest the model reads; an InputError when the model cannot read it in one pass."""
    card = model.card
    window = window or card.get("window") or card.get("max_nucleotides")
    if not window:
        raise InputError(
            f"model {card.get('model_id')} has no window in its card; give the window", parameters=("window",)
        )
    limit = model.max_window
    if limit is not None and window > limit:
        raise InputError(
            f"window {window} is longer than the {limit} nt that model {card['model_id']} reads in one pass",
            parameters=("window",),
        )
    return int(window)
