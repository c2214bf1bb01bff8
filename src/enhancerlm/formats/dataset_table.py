"""The prepared dataset table (`<dataset>.dataset.tsv`): its columns, and reading it back with checks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from enhancerlm.errors import InputError

COLUMNS = ["id", "sequence", "label", "split", "fold", "class", "source", "group", "leak"]


SPLITS = ("train", "test")


def read_dataset(path: str | os.PathLike) -> pd.DataFrame:
    """Read a prepared `.dataset.tsv`, keeping ids and sequences as strings, and check it."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: prepared dataset not found") from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read prepared dataset: {exc}") from exc
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    for column in ("label", "fold"):
        bad = ~table[column].str.fullmatch(r"-?\d+")
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(f"{path}: row {row + 1}: column {column} is not an integer: {table[column].iat[row]!r}")
        table[column] = table[column].astype(int)
    if not table["label"].isin([0, 1]).all():
        raise InputError(f"{path}: column label must be 0 or 1, found {sorted(set(table['label'].tolist()) - {0, 1})}")
    if not table["split"].isin(SPLITS).all():
        raise InputError(
            f"{path}: column split must be train or test, found {sorted(set(table['split']) - set(SPLITS))}"
        )
    return table
