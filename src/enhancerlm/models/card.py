"""The model card (`enhancerlm.json`) beside every trained model's weights, and the weights file's name."""

from __future__ import annotations

import json
from pathlib import Path

CARD_FILE = "enhancerlm.json"


WEIGHTS_FILE = "model.safetensors"


def read_card(directory: str | Path) -> dict:
    """The model card of a trained enhancerlm model, or {} for a plain checkpoint."""
    path = Path(directory) / CARD_FILE
    return json.loads(path.read_text()) if path.exists() else {}
