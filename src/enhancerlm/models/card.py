"""The model card (`enhancerlm.json`) beside every trained model's weights: the contract between training and
every consumer of a model. `ModelCard` names its fields and their types; `read_card` reads one and refuses, with
the file and the reason, a card that is not JSON, names no known model kind or lacks a field consumers need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, TypedDict

from enhancerlm.defaults import STRAND_MODES
from enhancerlm.errors import InputError

CARD_FILE = "enhancerlm.json"
WEIGHTS_FILE = "model.safetensors"
LANGUAGE_MODEL, BASELINE, ENSEMBLE = "language-model", "kmer-baseline", "ensemble"  # the kinds of trained models
REQUIRED = {
    LANGUAGE_MODEL: ("model_id", "threshold"),
    BASELINE: ("model_id", "threshold"),
    ENSEMBLE: ("model_id", "threshold", "members", "method", "weights"),
}


PER_MEMBER = "per member"  # an ensemble's strand mode when each member follows its own card


class ModelCard(TypedDict, total=False):
    """The fields of a model card (a JSON object; training writes more, for provenance)."""

    type: Literal["language-model", "kmer-baseline", "ensemble"]
    model_id: str
    threshold: float  # the decision threshold chosen on the validation fold
    threshold_rule: str
    strand_mode: Literal["both", "forward"]
    window: int  # the longest training sequence: the default scan window
    max_nucleotides: int
    labels: dict[str, str]  # "0" and "1" to class names
    task: str
    training_data: dict
    validation: dict | None
    pooling: str
    weights_sha256: str
    members: list[dict]  # ensembles: each member's path (relative to the ensemble) and card fields
    method: str  # ensembles: mean, weighted or stacking
    weights: list[float]
    bias: float


def read_card(directory: str | Path) -> ModelCard:
    """The model card of a trained enhancerlm model, or {} for a plain checkpoint (no card file)."""
    path = Path(directory) / CARD_FILE
    if not path.exists():
        return {}
    try:
        card = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a model card ({error})") from None
    if not isinstance(card, dict):
        raise InputError(f"{path}: not a model card (a JSON object is expected)")
    kind = card.get("type", LANGUAGE_MODEL)  # cards of language models written before 0.1.0 name no type
    if kind not in REQUIRED:
        raise InputError(f"{path}: unknown model type {kind!r}; expected one of {', '.join(REQUIRED)}")
    missing = [name for name in REQUIRED[kind] if name not in card]
    if missing:
        raise InputError(f"{path}: the model card lacks {', '.join(missing)}; train the model again")
    return card


def strand_mode(card: dict, requested: str | None = None) -> str:
    """The strands every command scores with: `requested` (the user's choice) if given, else what the card says the
    model was trained for: 'both' (reverse-complement augmentation, strands averaged), else 'forward', and 'per
    member' for an ensemble. One rule, so a genome scan, a variant's reference allele and an evaluation score the
    same window alike, and the validation threshold keeps the meaning it was chosen with."""
    if requested is not None:
        if requested not in STRAND_MODES:
            raise InputError(
                f"strand_mode must be one of {', '.join(STRAND_MODES)}, got {requested!r}", parameters=("strand_mode",)
            )
        return requested
    if card.get("type") == ENSEMBLE:
        return PER_MEMBER
    return "both" if card.get("strand_mode") == "both" else "forward"


def both_strands(mode: str) -> bool | None:
    """A strand mode as the scorers' `both_strands` argument (None: each model as its own card says)."""
    return None if mode == PER_MEMBER else mode == "both"


def scores_both_strands(card: dict, both_strands: bool | None) -> bool:
    """Whether one model scores both strands: as asked (`both_strands`), else as its card says."""
    return strand_mode(card) == "both" if both_strands is None else both_strands


def model_summary(card: dict, spec: str | Path) -> dict:
    """A trained model as the reports of scans and variant runs name it: id, kind, path, weights' checksum and the
    strand mode it was trained for (an ensemble's members with theirs)."""
    summary = {
        "id": card["model_id"],
        "type": card.get("type"),
        "path": str(spec),
        "weights_sha256": card.get("weights_sha256"),
        "card_strand_mode": card.get("strand_mode"),
    }
    if "members" in card:
        summary["members"] = [{"id": m["model_id"], "weights_sha256": m.get("weights_sha256")} for m in card["members"]]
    return summary


def check_weights(path: Path) -> Path:
    """`path` if safetensors can read it; else a one-line error naming the file (a copy or download cut short, or
    not a safetensors file), instead of the reader's traceback. Only the header is read."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as weights:
            weights.keys()
    except (SafetensorError, OSError) as error:
        raise InputError(
            f"{path}: not a readable safetensors file ({error}); the file is corrupt or was cut short: copy or "
            "train the model again"
        ) from None
    return path
