"""Fine-tune or train-from-scratch an enhancer classifier on a prepared dataset.

Validation is one fold of the prepared training records (duplicate-aware, so no copy of a
validation sequence is trained on); early stopping and the decision threshold use it. The
test split is dropped before anything else happens.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_model as load_weights
from safetensors.torch import save_model as save_weights
from tqdm.auto import tqdm

from . import __version__
from .baseline import C_GRID, KmerBaseline
from .baseline import MODEL_TYPE as BASELINE
from .data import read_dataset, reverse_complement
from .errors import InputError
from .evaluate import binary_metrics, choose_threshold
from .io import atomic_path, sha256_file, write_json, write_tsv
from .model import (
    PRESETS,
    LoadedModel,
    autocast,
    load_model,
    predict_proba,
    resolve_device,
    save_model,
    window_batch,
)
from .versions import software_versions

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
CV_PREDICTIONS = "cv_predictions.tsv"
CV_SUMMARY = "cv.json"
CV_METRICS = ("accuracy", "sensitivity", "specificity", "mcc", "auc", "auprc")
SCRATCH_LR, PRETRAINED_LR = 5e-4, 3e-5


@dataclass
class TrainOptions:
    """Hyper-parameters; recorded in the model card and checked when a run is resumed."""

    epochs: int = 10
    batch_size: int = 32
    lr: float | None = None  # None: 5e-4 from scratch, 3e-5 when fine-tuning a pretrained encoder
    weight_decay: float = 0.01
    warmup: float = 0.1  # fraction of all optimisation steps
    grad_clip: float = 2.0
    seed: int = 42
    val_fold: int | None = 0  # None: no validation, fixed epochs, threshold 0.5
    patience: int = 3  # epochs without validation improvement before stopping; 0 disables
    rc_augment: bool = False
    class_weight: str = "none"  # "balanced" weighs positives by n_negative / n_positive
    pooling: str = "mean"
    max_length: int = 512  # tokens, for models built from scratch

    def learning_rate(self, model_spec: str) -> float:
        return self.lr if self.lr is not None else (SCRATCH_LR if model_spec in PRESETS else PRETRAINED_LR)


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -math.inf
    val_probabilities: np.ndarray | None = None


EpochCallback = Callable[[int, dict], None]


def split_train_validation(table: pd.DataFrame, val_fold: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation records of the prepared train split; test records never enter."""
    train = table[table["split"] == "train"]
    if val_fold is None:
        return train.reset_index(drop=True), train.iloc[:0]
    folds = sorted(train["fold"].unique())
    if val_fold not in folds:
        raise InputError(f"--val-fold {val_fold} is not one of the dataset's folds {folds}")
    is_val = train["fold"] == val_fold
    return train[~is_val].reset_index(drop=True), train[is_val].reset_index(drop=True)


def fit(
    model: LoadedModel,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    options: TrainOptions,
    *,
    device: torch.device,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    callbacks: Sequence[EpochCallback] = (),
    progress_label: str = "train",
) -> FitResult:
    """Train `model.classifier` in place and leave it holding the best validation weights.

    Every epoch's randomness (order, reverse-complement flips, dropout) is seeded from
    (seed, epoch), so a run resumed from a checkpoint ends with the same weights as one that
    was never interrupted.
    """
    classifier = model.classifier.to(device)
    sequences, labels = train["sequence"].tolist(), torch.tensor(train["label"].to_numpy(), dtype=torch.float32)
    steps_per_epoch = math.ceil(len(sequences) / options.batch_size)
    total_steps = steps_per_epoch * options.epochs
    warmup_steps = int(options.warmup * total_steps)
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=options.learning_rate(model.source),
                                  weight_decay=options.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, warmup_steps, total_steps))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=_positive_weight(labels, options.class_weight).to(device))
    result, start_epoch = FitResult(), 1
    if resume and checkpoint_dir is not None and (checkpoint_dir / "trainer.pt").exists():
        start_epoch, result = _restore(checkpoint_dir, classifier, optimizer, scheduler, options)
        log.info("resuming from the checkpoint after epoch %d", start_epoch - 1)
    bad_epochs = len([r for r in result.history if r["epoch"] > result.best_epoch])
    for epoch in range(start_epoch, options.epochs + 1):
        if options.patience and bad_epochs >= options.patience:
            break
        started = time.perf_counter()
        generator = torch.Generator().manual_seed(options.seed * 1000 + epoch)
        torch.manual_seed(options.seed * 1000 + epoch)  # dropout
        order = torch.randperm(len(sequences), generator=generator)
        flips = torch.rand(len(sequences), generator=generator) < 0.5
        classifier.train()
        losses = []
        for start in tqdm(range(0, len(order), options.batch_size), desc=f"{progress_label} epoch {epoch}",
                          leave=False, disable=None):
            chosen = order[start : start + options.batch_size].tolist()
            batch, owner = window_batch(model, [
                reverse_complement(sequences[i]) if options.rc_augment and flips[i] else sequences[i] for i in chosen
            ])
            batch = batch.to(device)
            with autocast(device):
                logits = classifier(batch.input_ids, batch.attention_mask, batch.sequence_mask, owner.to(device))
            loss = loss_fn(logits.float(), labels[chosen].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(classifier.parameters(), options.grad_clip)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "lr": scheduler.get_last_lr()[0]}
        score = float(epoch)  # without validation the last epoch is the best
        if len(validation):
            probabilities = _validation_probabilities(model, validation, options, device)
            metrics = binary_metrics(validation["label"].to_numpy(), probabilities, 0.5)
            record.update(val_loss=_bce(validation["label"].to_numpy(), probabilities),
                          val_auc=metrics["auc"], val_mcc=metrics["mcc"], val_accuracy=metrics["accuracy"])
            score = metrics["auc"] if metrics["auc"] is not None else -record["val_loss"]
        record["seconds"] = round(time.perf_counter() - started, 2)
        result.history.append(record)
        if score > result.best_score + 1e-6:
            result.best_score, result.best_epoch, bad_epochs = score, epoch, 0
            if checkpoint_dir is not None:
                _save_state(classifier, checkpoint_dir / "best.safetensors")
            else:
                best_state = {k: v.detach().clone() for k, v in classifier.state_dict().items()}
        else:
            bad_epochs += 1
        log.info("epoch %d: %s", epoch, {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()})
        if checkpoint_dir is not None:
            _checkpoint(checkpoint_dir, classifier, optimizer, scheduler, options, epoch, result)
        for callback in callbacks:
            callback(epoch, record)
    if checkpoint_dir is not None:
        load_weights(classifier, checkpoint_dir / "best.safetensors", device=str(device))
    elif result.history:
        classifier.load_state_dict(best_state)
    if len(validation):
        result.val_probabilities = _validation_probabilities(model, validation, options, device)
    return result


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
    table = read_dataset(dataset)
    started = time.perf_counter()
    if model_spec == BASELINE:
        return _train_baseline(table, dataset, outdir, options, model_id=model_id or outdir.name,
                               cross_validation=cross_validation, started=started)
    torch_device = resolve_device(device)

    def fit_fold(training: pd.DataFrame, validation: pd.DataFrame, held_out: pd.DataFrame) -> FoldResult:
        model = _fresh_model(model_spec, kmer, options, trust_remote_code)
        result = fit(model, training, validation, options, device=torch_device,
                     progress_label=f"cv {model_id or outdir.name}")
        return FoldResult(result.val_probabilities, _validation_probabilities(model, held_out, options, torch_device),
                          result.best_epoch)

    cv_summary = cross_validate(table, outdir, fit_fold) if cross_validation else None
    train_rows, validation = split_train_validation(table, options.val_fold)
    model = _fresh_model(model_spec, kmer, options, trust_remote_code)
    checkpoint_dir = outdir / CHECKPOINT_DIR
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    if not resume and (checkpoint_dir / "trainer.pt").exists():
        raise InputError(f"{checkpoint_dir}: a previous run left a checkpoint; pass --resume to continue it "
                         "or choose another --outdir")
    _write_run_identity(checkpoint_dir, dataset, model_spec, kmer, options, resume)
    result = fit(model, train_rows, validation, options, device=torch_device, checkpoint_dir=checkpoint_dir,
                 resume=resume, callbacks=callbacks, progress_label=model_id or outdir.name)
    tokenizer = model.tokenizer
    card = {
        **_card(table, dataset, train_rows, validation, options, model_id=model_id or outdir.name,
                validation_probabilities=result.val_probabilities, cv_summary=cv_summary, started=started),
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
    card = save_model(model, outdir, card)
    for path in checkpoint_dir.iterdir():
        path.unlink()
    checkpoint_dir.rmdir()
    return card


@dataclass
class FoldResult:
    """One cross-validation fold: probabilities on its inner validation fold and on its held-out fold."""

    validation_probabilities: np.ndarray
    held_out_probabilities: np.ndarray
    best_epoch: int | None


def cross_validate(table: pd.DataFrame, outdir: Path,
                   fit_fold: Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], FoldResult]) -> dict:
    """Nested k-fold cross-validation over the prepared folds; writes cv.json and the out-of-fold predictions.

    For held-out fold f, the next fold validates (early stopping, model selection, threshold) and
    the rest train, so nothing is tuned on the records that are scored. `fit_fold(training,
    validation, held_out)` trains a fresh model; the out-of-fold predictions are what stacking
    ensembles learn from.
    """
    train_rows = table[table["split"] == "train"]
    folds = sorted(int(f) for f in train_rows["fold"].unique())
    out_of_fold, per_fold = [], []
    for fold, val_fold in nested_folds(folds):
        held_out = train_rows[train_rows["fold"] == fold].reset_index(drop=True)
        validation = train_rows[train_rows["fold"] == val_fold].reset_index(drop=True)
        training = train_rows[~train_rows["fold"].isin([fold, val_fold])].reset_index(drop=True)
        result = fit_fold(training, validation, held_out)
        threshold = choose_threshold(validation["label"].to_numpy(), result.validation_probabilities)
        out_of_fold.append(pd.DataFrame({"id": held_out["id"], "fold": fold, "val_fold": val_fold,
                                         "label": held_out["label"], "threshold": threshold,
                                         "probability": np.round(result.held_out_probabilities, 6)}))
        per_fold.append({"fold": fold, "val_fold": val_fold, "best_epoch": result.best_epoch})
    return write_cross_validation(outdir, pd.concat(out_of_fold, ignore_index=True), per_fold)


def nested_folds(folds: Sequence[int]) -> list[tuple[int, int]]:
    """(held-out fold, validation fold) pairs: each fold is scored once, validated by the next one."""
    folds = sorted(folds)
    if len(folds) < 3:
        raise InputError(f"cross-validation needs at least 3 prepared folds (one trains, one validates, one is "
                         f"scored); the dataset has {len(folds)}")
    return [(fold, folds[(position + 1) % len(folds)]) for position, fold in enumerate(folds)]


def write_cross_validation(outdir: Path, out_of_fold: pd.DataFrame, per_fold: list[dict]) -> dict:
    """cv.json (per-fold metrics at each fold's own validation threshold, mean and sd) and cv_predictions.tsv."""
    for record in per_fold:
        rows = out_of_fold[out_of_fold["fold"] == record["fold"]]
        record.update(binary_metrics(rows["label"].to_numpy(), rows["probability"].to_numpy(),
                                     float(rows["threshold"].iloc[0])))
    summary = {"scheme": "nested: the fold after each held-out fold validates, the others train",
               "folds": per_fold}
    for key in CV_METRICS:
        values = [f[key] for f in per_fold if f[key] is not None]
        summary[key] = {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
    outdir.mkdir(parents=True, exist_ok=True)
    write_json(outdir / CV_SUMMARY, summary)
    write_tsv(outdir / CV_PREDICTIONS, out_of_fold)
    return {key: value for key, value in summary.items() if key in CV_METRICS}


def _train_baseline(table: pd.DataFrame, dataset, outdir: Path, options: TrainOptions, *, model_id: str,
                    cross_validation: bool, started: float) -> dict:
    """The k-mer spectrum baseline, with the same validation fold, threshold rule and card as the others."""

    def fit_fold(training: pd.DataFrame, validation: pd.DataFrame, held_out: pd.DataFrame) -> FoldResult:
        model, _ = KmerBaseline.fit(training, validation, seed=options.seed, class_weight=options.class_weight)
        return FoldResult(model.predict_proba(validation["sequence"].tolist()),
                          model.predict_proba(held_out["sequence"].tolist()), None)

    cv_summary = cross_validate(table, outdir, fit_fold) if cross_validation else None
    train_rows, validation = split_train_validation(table, options.val_fold)
    model, history = KmerBaseline.fit(train_rows, validation, seed=options.seed, class_weight=options.class_weight)
    probabilities = model.predict_proba(validation["sequence"].tolist()) if len(validation) else None
    chosen = max(history, key=lambda record: record.get("val_auc", 0))
    card = {
        **_card(table, dataset, train_rows, validation, options, model_id=model_id,
                validation_probabilities=probabilities, cv_summary=cv_summary, started=started),
        "base_model": BASELINE,
        "architecture": "logistic-regression on 1- to 6-mer frequencies",
        "parameters": int(model.weights.size + 1),
        "tokenizer": None,
        "kmer": None,
        "strand_mode": "forward",
        "hyperparameters": {"C": chosen["C"], "C_grid": list(C_GRID), "seed": options.seed,
                            "class_weight": options.class_weight, "val_fold": options.val_fold},
        "history": history,
        "best_epoch": None,
        "device": "cpu",
    }
    outdir.mkdir(parents=True, exist_ok=True)
    return model.save(outdir, card)


def _fresh_model(model_spec: str, kmer: int | None, options: TrainOptions, trust_remote_code: bool) -> LoadedModel:
    torch.manual_seed(options.seed)  # the head (and a scratch encoder) start from the same weights every time
    model = load_model(model_spec, kmer=kmer, pooling=options.pooling, trust_remote_code=trust_remote_code,
                       max_positions=options.max_length)
    if model.card:
        log.info("continuing from the trained model %s", model_spec)
    return model


def _validation_probabilities(model: LoadedModel, validation: pd.DataFrame, options: TrainOptions,
                              device: torch.device) -> np.ndarray:
    probabilities = predict_proba(model, validation["sequence"].tolist(), batch_size=options.batch_size * 2,
                                  device=device, both_strands=options.rc_augment)
    model.classifier.train()
    return probabilities


def _lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up to the base rate, then linear decay to zero."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def _positive_weight(labels: torch.Tensor, class_weight: str) -> torch.Tensor:
    if class_weight == "none":
        return torch.tensor(1.0)
    if class_weight != "balanced":
        raise InputError(f"--class-weight must be none or balanced, got {class_weight!r}")
    positives = float(labels.sum())
    return torch.tensor((len(labels) - positives) / max(positives, 1.0))


def _bce(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(probabilities, eps, 1 - eps)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def _save_state(classifier: torch.nn.Module, path: Path) -> None:
    with atomic_path(path) as tmp:
        save_weights(classifier, str(tmp))


def _checkpoint(directory: Path, classifier, optimizer, scheduler, options: TrainOptions, epoch: int,
                result: FitResult) -> None:
    _save_state(classifier, directory / "last.safetensors")
    state = {"epoch": epoch, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "history": result.history, "best_epoch": result.best_epoch, "best_score": result.best_score,
             "options": asdict(options)}
    with atomic_path(directory / "trainer.pt") as tmp:
        torch.save(state, tmp)


def _restore(directory: Path, classifier, optimizer, scheduler, options: TrainOptions) -> tuple[int, FitResult]:
    state = torch.load(directory / "trainer.pt", map_location="cpu", weights_only=True)
    if state["options"] != asdict(options):
        raise InputError(f"{directory}: the checkpoint was made with other hyper-parameters; "
                         "resume with the same options or start in another --outdir")
    load_weights(classifier, directory / "last.safetensors", device=str(next(classifier.parameters()).device))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    result = FitResult(history=state["history"], best_epoch=state["best_epoch"], best_score=state["best_score"])
    return state["epoch"] + 1, result


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


def _card(table: pd.DataFrame, dataset, train_rows: pd.DataFrame, validation: pd.DataFrame, options: TrainOptions,
          *, model_id: str, validation_probabilities: np.ndarray | None, cv_summary: dict | None,
          started: float) -> dict:
    """The model-card fields every trained model shares: task, data, threshold, validation, provenance."""
    classes = table.drop_duplicates("label").set_index("label")["class"].to_dict()
    digest = hashlib.sha256("".join(sorted(train_rows["group"])).encode()).hexdigest()[:16]
    threshold, validation_metrics = 0.5, None
    if validation_probabilities is not None:
        labels = validation["label"].to_numpy()
        threshold = choose_threshold(labels, validation_probabilities)
        validation_metrics = binary_metrics(labels, validation_probabilities, threshold)
    return {
        "model_id": model_id,
        "type": "language-model",
        "enhancerlm_version": __version__,
        "task": {"type": "binary", "dataset": Path(dataset).name.removesuffix(".dataset.tsv")},
        "labels": {str(k): v for k, v in sorted(classes.items())},
        "window": int(table["sequence"].str.len().max()),
        "threshold": threshold,
        "threshold_rule": "maximum MCC on the validation fold" if validation_metrics else "0.5 (no validation)",
        "training_data": {"path": str(dataset), "sha256": sha256_file(dataset), "train_groups_digest": digest,
                          "records": {"train": len(train_rows), "validation": len(validation)},
                          "val_fold": options.val_fold},
        "validation": validation_metrics,
        "cross_validation": cv_summary,
        "training_seconds": round(time.perf_counter() - started, 1),
        "versions": software_versions(),
    }
