"""Probabilities as written: integer millionths, so that every output prints the same six decimals and a
chunked run merges byte for byte; and the score fields of an allele (delta, diff, log odds ratio)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

SCALE = 1_000_000  # probabilities are kept as integer millionths: the bedGraph's 6 decimals, exactly


def to_millionths(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities rounded to integer millionths, as the bedGraph writes them."""
    return np.rint(np.clip(probabilities, 0.0, 1.0) * SCALE).astype(np.int64)


def format_probability(millionths: int) -> str:
    return f"{millionths // SCALE}.{millionths % SCALE:06d}"


def parse_probabilities(texts: pd.Series) -> np.ndarray:
    """Millionths from probabilities written by `format_probability` (exactly, no float parsing)."""
    if texts.empty:
        return np.zeros(0, dtype=np.int64)
    return texts.str.replace(".", "", regex=False).astype(np.int64).to_numpy()


def threshold_millionths(threshold: float) -> int:
    """The smallest probability in millionths that is >= `threshold`: windows from here up are called."""
    value = math.ceil(threshold * SCALE)
    while value > 0 and (value - 1) / SCALE >= threshold:
        value -= 1
    while value / SCALE < threshold:
        value += 1
    return value


EPS = 1e-6  # probabilities are clipped to [EPS, 1 - EPS] for the log odds ratio


def score_fields(ref_millionths: int, alt_millionths: int) -> dict[str, str]:
    """p_ref, p_alt, delta, diff and logor as written (6 decimals), from probabilities in millionths."""
    delta = alt_millionths - ref_millionths
    p_ref, p_alt = (min(max(m / SCALE, EPS), 1 - EPS) for m in (ref_millionths, alt_millionths))
    logor = math.log2(p_ref / (1 - p_ref)) - math.log2(p_alt / (1 - p_alt))
    return {
        "p_ref": format_probability(ref_millionths),
        "p_alt": format_probability(alt_millionths),
        "delta": ("-" if delta < 0 else "") + format_probability(abs(delta)),
        "diff": _decimal(delta * max(ref_millionths, alt_millionths) / SCALE / SCALE),
        "logor": _decimal(logor),
    }


def _decimal(value: float) -> str:
    text = f"{value:.6f}"
    return "0.000000" if text == "-0.000000" else text
