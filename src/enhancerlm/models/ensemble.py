"""Ensemble inference: members scored alike and combined by the card's rule (mean, weighted or stacking)."""

from __future__ import annotations

import numpy as np

from enhancerlm.models.card import ENSEMBLE

METHODS = ("mean", "weighted", "stacking")


MODEL_TYPE = ENSEMBLE


MEMBERS_DIR = "members"


EPS = 1e-6


def logit(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(probabilities, EPS, 1 - EPS)
    return np.log(p / (1 - p))


class Ensemble:
    """Trained members and the rule that combines their probabilities (`combine`, the one combination)."""

    def __init__(self, members: list, card: dict):
        self.members = members
        self.card = card
        self.weights = np.asarray(card["weights"], dtype=float)
        self.bias = float(card.get("bias", 0.0))

    @property
    def max_window(self) -> int | None:
        """The shortest window any member reads in one pass (None: every member reads any length)."""
        limits = [member.max_window for member in self.members if member.max_window]
        return min(limits) if limits else None

    def language_models(self) -> list:
        return [model for member in self.members for model in member.language_models()]

    def member_probabilities(self, sequences: list[str], **options) -> np.ndarray:
        """Probabilities of every member, one column each."""
        return np.column_stack([member.predict_proba(sequences, **options) for member in self.members])

    def predict_proba(self, sequences: list[str], **options) -> np.ndarray:
        return self.combined(self.member_probabilities(sequences, **options))

    def score_windows(self, windows: np.ndarray, **options) -> np.ndarray:
        return self.combined(np.column_stack([member.score_windows(windows, **options) for member in self.members]))

    def combined(self, member_probabilities: np.ndarray) -> np.ndarray:
        return combine(member_probabilities, self.card["method"], self.weights, self.bias)


def combine(member_probabilities: np.ndarray, method: str, weights: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """Ensemble probability from member probabilities (rows: sequences, columns: members)."""
    if method == "stacking":
        return 1.0 / (1.0 + np.exp(-(logit(member_probabilities) @ weights + bias)))
    return member_probabilities @ weights
