"""`enhancerlm train`: train one model (a language model or the k-mer baseline) into a model directory,
resumable from its checkpoint, refusing a resume whose inputs changed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from enhancerlm.errors import InputError
from enhancerlm.formats.dataset_table import read_dataset
from enhancerlm.formats.files import sha256_file, write_json
from enhancerlm.models.baseline import MODEL_TYPE as BASELINE
from enhancerlm.models.checkpoint import save_model
from enhancerlm.models.classifier import resolve_device
from enhancerlm.models.language_model import LoadedModel
from enhancerlm.training.baseline import train_baseline
from enhancerlm.training.cards import training_card
from enhancerlm.training.folds import FoldResult, cross_validate, split_train_validation
from enhancerlm.training.loop import (
    CHECKPOINT_DIR,
    EpochCallback,
    FitResult,
    TrainOptions,
    fit,
    fresh_model,
    predict_validation,
)


def train(
    dataset: str | Path,
    model_spec: str,
    outdir: str | Path,
    *,
    kmer: int | None = None,
    options: TrainOptions | None = None,
    model_id: str | None = None,
    device: str = "auto",
    resume: bool = False,
    cross_validation: bool = False,
    trust_remote_code: bool = False,
    callbacks: Sequence[EpochCallback] = (),
) -> dict:
    """Train a classifier on a prepared `.dataset.tsv` and write OUTDIR as a model directory with its card."""
    options = options or TrainOptions()
    outdir = Path(outdir)
    model_id = model_id or outdir.name
    table = _training_table(dataset)
    started = time.perf_counter()
    if model_spec == BASELINE:
        return train_baseline(
            table, dataset, outdir, options, model_id=model_id, cross_validation=cross_validation, started=started
        )
    torch_device = resolve_device(device)
    fit_fold = _fold_fitter(model_spec, kmer, options, trust_remote_code, torch_device, progress_label=f"cv {model_id}")
    cv_summary = cross_validate(table, outdir, fit_fold) if cross_validation else None
    train_rows, validation = split_train_validation(table, options.val_fold)
    model = fresh_model(model_spec, kmer, options, trust_remote_code)
    checkpoint_dir = _checkpoint_dir(outdir, resume)
    _write_run_identity(checkpoint_dir, dataset, model_spec, kmer, options, resume)
    result = fit(
        model,
        train_rows,
        validation,
        options,
        device=torch_device,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        callbacks=callbacks,
        progress_label=model_id,
    )
    card = {
        **training_card(
            table,
            dataset,
            train_rows,
            validation,
            options,
            model_id=model_id,
            validation_probabilities=result.val_probabilities,
            cv_summary=cv_summary,
            started=started,
        ),
        **_language_model_card(model, model_spec, options, result, torch_device),
    }
    card = save_model(model, outdir, card)
    _remove_checkpoint(checkpoint_dir)
    return card


def _training_table(dataset: str | Path) -> pd.DataFrame:
    """The prepared table, which must hold train records (one of test records only is for evaluation)."""
    table = read_dataset(dataset)
    if not (table["split"] == "train").any():
        raise InputError(
            f"{dataset}: no train records: an external test set, for evaluating a model trained elsewhere "
            "(enhancerlm evaluate)"
        )
    return table


def _fold_fitter(
    model_spec: str,
    kmer: int | None,
    options: TrainOptions,
    trust_remote_code: bool,
    torch_device: torch.device,
    *,
    progress_label: str,
) -> Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], FoldResult]:
    """The per-fold training of cross-validation: a fresh model fitted on the fold, then scored on its held-out part."""

    def fit_fold(training: pd.DataFrame, validation: pd.DataFrame, held_out: pd.DataFrame) -> FoldResult:
        model = fresh_model(model_spec, kmer, options, trust_remote_code)
        result = fit(model, training, validation, options, device=torch_device, progress_label=progress_label)
        return FoldResult(
            result.val_probabilities, predict_validation(model, held_out, options, torch_device), result.best_epoch
        )

    return fit_fold


def _checkpoint_dir(outdir: Path, resume: bool) -> Path:
    """Create OUTDIR's checkpoint directory, refusing to overwrite a previous run's checkpoint unless resuming."""
    checkpoint_dir = outdir / CHECKPOINT_DIR
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    if not resume and (checkpoint_dir / "trainer.pt").exists():
        raise InputError(
            f"{checkpoint_dir}: a previous run left a checkpoint; set resume to continue it or choose another outdir",
            parameters=("resume", "outdir"),
        )
    return checkpoint_dir


def _language_model_card(
    model: LoadedModel, model_spec: str, options: TrainOptions, result: FitResult, torch_device: torch.device
) -> dict:
    """The card fields only a language model has: its architecture, tokenizer, hyper-parameters and history."""
    tokenizer = model.tokenizer
    return {
        "base_model": model_spec,
        "architecture": model.classifier.encoder.config.model_type,
        "parameters": sum(p.numel() for p in model.classifier.parameters()),
        "tokenizer": {"kind": tokenizer.kind, "k": getattr(tokenizer, "k", None)},
        "kmer": getattr(tokenizer, "k", None),
        "max_nucleotides": model.max_nucleotides,
        "strand_mode": "both" if options.rc_augment else "forward",
        "hyperparameters": {**asdict(options), "lr": options.learning_rate(model_spec)},
        "history": result.history,
        "best_epoch": result.best_epoch,
        "device": str(torch_device),
    }


def _remove_checkpoint(checkpoint_dir: Path) -> None:
    """Delete the checkpoint once the model is saved: a finished model directory holds no resumable state."""
    for path in checkpoint_dir.iterdir():
        path.unlink()
    checkpoint_dir.rmdir()


def _write_run_identity(directory: Path, dataset, model_spec, kmer, options, resume: bool) -> None:
    """Record what a checkpoint belongs to, and refuse to resume it with other inputs."""
    identity = {"dataset_sha256": sha256_file(dataset), "model": model_spec, "kmer": kmer, "options": asdict(options)}
    path = directory / "run.json"
    if resume and path.exists():
        previous = json.loads(path.read_text())
        if previous != identity:
            changed = sorted(k for k in identity if identity[k] != previous.get(k))
            raise InputError(f"{directory}: cannot resume, the run differs in {', '.join(changed)}")
    write_json(path, identity)
