"""`enhancerlm ensemble`: fit an ensemble of trained members on a dataset and write it as a model directory."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd

from enhancerlm import __version__
from enhancerlm.errors import InputError
from enhancerlm.formats.dataset_table import read_dataset
from enhancerlm.formats.files import atomic_dir, sha256_file, write_json
from enhancerlm.models.card import CARD_FILE, read_card
from enhancerlm.models.classifier import resolve_device
from enhancerlm.models.ensemble import MEMBERS_DIR, METHODS, MODEL_TYPE
from enhancerlm.models.scorer import load_trained
from enhancerlm.training.ensemble import cross_validate_ensemble, fit_ensemble, out_of_fold_predictions
from enhancerlm.training.folds import CV_PREDICTIONS
from enhancerlm.versions import software_versions


def build_ensemble(
    member_specs: list[str],
    dataset: str | Path,
    outdir: str | Path,
    *,
    method: str = "mean",
    model_id: str | None = None,
    batch_size: int = 64,
    device: str = "auto",
) -> dict:
    """Combine trained models into an ensemble model directory (members copied in, card last)."""
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}", parameters=("method",))
    if len(member_specs) < 2:
        raise InputError("an ensemble needs at least two model members", parameters=("model",))
    member_dirs = [Path(spec) for spec in member_specs]
    cards = _member_cards(member_dirs)
    table = read_dataset(dataset)
    train = table[table["split"] == "train"].reset_index(drop=True)  # test records go no further
    members = [load_trained(str(d)) for d in member_dirs]
    outdir = Path(outdir)
    fitted = fit_ensemble(method, members, member_dirs, cards, train, batch_size, resolve_device(device))
    ids = _member_ids(cards)
    card = {
        "model_id": model_id or outdir.name,
        "type": MODEL_TYPE,
        "method": method,
        "enhancerlm_version": __version__,
        "task": cards[0]["task"],
        "labels": cards[0]["labels"],
        "window": max(c.get("window", 0) for c in cards),
        "strand_mode": "per member",
        "members": _member_entries(cards, ids),
        "training_data": {
            "dataset": Path(dataset).name,
            "path": str(dataset),
            "sha256": sha256_file(dataset),
            "train_records": len(train),
            "train_sha256": _train_digest(train),
        },
        "versions": software_versions(),
        **fitted,
    }
    cross_validated = all((d / CV_PREDICTIONS).exists() for d in member_dirs)
    with atomic_dir(outdir) as staging:
        for directory, member_id in zip(member_dirs, ids):
            shutil.copytree(directory, staging / MEMBERS_DIR / member_id, ignore=shutil.ignore_patterns("checkpoint"))
        if cross_validated:
            card["cross_validation"] = cross_validate_ensemble(
                method, out_of_fold_predictions(member_dirs, train), train, staging
            )
        write_json(staging / CARD_FILE, card)
    return card


def _member_cards(member_dirs: list[Path]) -> list[dict]:
    """The members' cards, refusing a directory that is no trained model or members trained on other labels."""
    cards = [read_card(d) for d in member_dirs]
    for directory, card in zip(member_dirs, cards):
        if not card:
            raise InputError(f"{directory}: not a trained enhancerlm model (no {CARD_FILE})")
    if len({tuple(sorted(c["labels"].items())) for c in cards}) != 1:
        raise InputError(
            "the members were trained on different labels: "
            + "; ".join(f"{c['model_id']}: {c['labels']}" for c in cards)
        )
    return cards


def _member_entries(cards: list[dict], ids: list[str]) -> list[dict]:
    """The ensemble card's record of each member: where it was copied and what identifies it."""
    return [
        {
            "model_id": c["model_id"],
            "path": f"{MEMBERS_DIR}/{member_id}",
            "type": c.get("type"),
            "kmer": c.get("kmer"),
            "base_model": c.get("base_model"),
            "seed": c.get("hyperparameters", {}).get("seed"),
            "weights_sha256": c.get("weights_sha256"),
        }
        for c, member_id in zip(cards, ids)
    ]


def _member_ids(cards: list[dict]) -> list[str]:
    """Directory names for the copied members: their model ids, numbered if two coincide."""
    ids = [c["model_id"] for c in cards]
    return [f"{i:02d}_{name}" if ids.count(name) > 1 else name for i, name in enumerate(ids)]


def _train_digest(train: pd.DataFrame) -> str:
    rows = train[["id", "sequence", "label", "fold"]].astype(str).agg("\t".join, axis=1)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()
