"""The optimiser loop, once for fine-tuning and pre-training: AdamW with linear warm-up and decay, gradient
clipping, per-epoch seeds (so a resumed run ends with the same weights), early stopping and checkpoints."""

from __future__ import annotations

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

from enhancerlm.core.dna import reverse_complement
from enhancerlm.core.stats import binary_metrics
from enhancerlm.defaults import MAX_TOKENS_PER_STEP
from enhancerlm.errors import InputError
from enhancerlm.formats.files import atomic_path
from enhancerlm.models.checkpoint import load_model
from enhancerlm.models.classifier import PRESETS
from enhancerlm.models.language_model import LoadedModel, window_batch
from enhancerlm.training.window_budget import accumulate_gradients

log = logging.getLogger(__name__)

SCRATCH_LR, PRETRAINED_LR = 5e-4, 3e-5
CHECKPOINT_DIR = "checkpoint"


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
    max_tokens_per_step: int = MAX_TOKENS_PER_STEP  # tokens encoded per forward pass (training memory budget)

    def learning_rate(self, model_spec: str) -> float:
        return self.lr if self.lr is not None else (SCRATCH_LR if model_spec in PRESETS else PRETRAINED_LR)


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -math.inf
    val_probabilities: np.ndarray | None = None


EpochCallback = Callable[[int, dict], None]


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
    labels = torch.tensor(train["label"].to_numpy(), dtype=torch.float32)
    optimizer, scheduler, loss_fn = _optimisation(classifier, model.source, labels, options, device)
    result, start_epoch = FitResult(), 1
    if resume and checkpoint_dir is not None and (checkpoint_dir / "trainer.pt").exists():
        start_epoch, result = _restore(checkpoint_dir, classifier, optimizer, scheduler, options)
        log.info("resuming from the checkpoint after epoch %d", start_epoch - 1)
    bad_epochs = len([r for r in result.history if r["epoch"] > result.best_epoch])
    best_state = None
    for epoch in range(start_epoch, options.epochs + 1):
        if options.patience and bad_epochs >= options.patience:
            break
        started = time.perf_counter()
        losses = _train_epoch(
            model,
            train["sequence"].tolist(),
            labels,
            options,
            epoch,
            optimizer,
            scheduler,
            loss_fn,
            device,
            f"{progress_label} epoch {epoch}",
        )
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)), "lr": scheduler.get_last_lr()[0]}
        score = _validate(model, validation, options, device, record) if len(validation) else float(epoch)
        record["seconds"] = round(time.perf_counter() - started, 2)
        result.history.append(record)
        if score > result.best_score + 1e-6:
            result.best_score, result.best_epoch, bad_epochs = score, epoch, 0
            best_state = _keep_best(classifier, checkpoint_dir)
        else:
            bad_epochs += 1
        log.info("epoch %d: %s", epoch, {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()})
        if checkpoint_dir is not None:
            _checkpoint(checkpoint_dir, classifier, optimizer, scheduler, options, epoch, result)
        for callback in callbacks:
            callback(epoch, record)
    _load_best(classifier, checkpoint_dir, best_state, result, device)
    if len(validation):
        result.val_probabilities = predict_validation(model, validation, options, device)
    return result


def _optimisation(
    classifier: torch.nn.Module, model_source: str, labels: torch.Tensor, options: TrainOptions, device: torch.device
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR, torch.nn.BCEWithLogitsLoss]:
    """The optimiser, schedule (over all steps of all epochs) and class-weighted loss of one classifier training run."""
    total_steps = math.ceil(len(labels) / options.batch_size) * options.epochs
    optimizer, scheduler = optimiser(
        classifier.parameters(),
        options.learning_rate(model_source),
        options.weight_decay,
        int(options.warmup * total_steps),
        total_steps,
    )
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=_positive_weight(labels, options.class_weight).to(device))
    return optimizer, scheduler, loss_fn


def _load_best(
    classifier: torch.nn.Module,
    checkpoint_dir: Path | None,
    best_state: dict | None,
    result: FitResult,
    device: torch.device,
) -> None:
    """Leave the classifier holding the best epoch's weights: from the checkpoint, or from memory without one."""
    if checkpoint_dir is not None:
        load_weights(classifier, checkpoint_dir / "best.safetensors", device=str(device))
    elif result.history:
        classifier.load_state_dict(best_state)


def optimiser(parameters, lr: float, weight_decay: float, warmup_steps: int, total_steps: int):
    """AdamW with linear warm-up and linear decay: the optimiser of fine-tuning and of pre-training."""
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _lr_factor(step, warmup_steps, total_steps))
    return optimizer, scheduler


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random source of one epoch (order, flips, masks): seeded from (seed, epoch), so a resumed run repeats
    the epochs it continues exactly."""
    return torch.Generator().manual_seed(seed * 1000 + epoch)


def optimisation_step(loss: torch.Tensor, parameters, optimizer, scheduler, grad_clip: float) -> float:
    """One step: gradients of `loss`, clipped to `grad_clip`, then the optimiser and the schedule."""
    loss.backward()
    apply_gradients(parameters, optimizer, scheduler, grad_clip)
    return loss.item()


def apply_gradients(parameters, optimizer, scheduler, grad_clip: float) -> None:
    """The accumulated gradients clipped to `grad_clip`, the optimiser and schedule stepped, the gradients cleared."""
    torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def _train_epoch(
    model: LoadedModel,
    sequences: list[str],
    labels: torch.Tensor,
    options: TrainOptions,
    epoch: int,
    optimizer,
    scheduler,
    loss_fn,
    device: torch.device,
    label: str,
) -> list[float]:
    """One pass over the training records in this epoch's order (reverse-complemented at random with
    `rc_augment`); the loss of each batch."""
    classifier = model.classifier
    generator = epoch_generator(options.seed, epoch)
    torch.manual_seed(options.seed * 1000 + epoch)  # dropout
    order = torch.randperm(len(sequences), generator=generator)
    flips = torch.rand(len(sequences), generator=generator) < 0.5
    classifier.train()
    losses = []
    for start in tqdm(range(0, len(order), options.batch_size), desc=label, leave=False, disable=None):
        chosen = order[start : start + options.batch_size].tolist()
        batch, owner = window_batch(
            model,
            [reverse_complement(sequences[i]) if options.rc_augment and flips[i] else sequences[i] for i in chosen],
        )
        loss = accumulate_gradients(
            classifier, batch, owner, labels[chosen], loss_fn, options.max_tokens_per_step, device
        )
        apply_gradients(classifier.parameters(), optimizer, scheduler, options.grad_clip)
        losses.append(loss)
    return losses


def _validate(
    model: LoadedModel, validation: pd.DataFrame, options: TrainOptions, device: torch.device, record: dict
) -> float:
    """Add the validation loss, AUC, MCC and accuracy to the epoch's record; the score that picks the best epoch."""
    probabilities = predict_validation(model, validation, options, device)
    metrics = binary_metrics(validation["label"].to_numpy(), probabilities, 0.5)
    record.update(
        val_loss=_bce(validation["label"].to_numpy(), probabilities),
        val_auc=metrics["auc"],
        val_mcc=metrics["mcc"],
        val_accuracy=metrics["accuracy"],
    )
    return metrics["auc"] if metrics["auc"] is not None else -record["val_loss"]


def _keep_best(classifier: torch.nn.Module, checkpoint_dir: Path | None) -> dict | None:
    """Keep the weights of the best epoch so far: in the checkpoint directory, or in memory without one."""
    if checkpoint_dir is not None:
        _save_state(classifier, checkpoint_dir / "best.safetensors")
        return None
    return {k: v.detach().clone() for k, v in classifier.state_dict().items()}


def _lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up to the base rate, then linear decay to zero."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def _positive_weight(labels: torch.Tensor, class_weight: str) -> torch.Tensor:
    if class_weight == "none":
        return torch.tensor(1.0)
    if class_weight != "balanced":
        raise InputError(f"class_weight must be none or balanced, got {class_weight!r}", parameters=("class_weight",))
    positives = float(labels.sum())
    return torch.tensor((len(labels) - positives) / max(positives, 1.0))


def _bce(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    p = np.clip(probabilities, eps, 1 - eps)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def _save_state(classifier: torch.nn.Module, path: Path) -> None:
    with atomic_path(path) as tmp:
        save_weights(classifier, str(tmp))


def _checkpoint(
    directory: Path, classifier, optimizer, scheduler, options: TrainOptions, epoch: int, result: FitResult
) -> None:
    _save_state(classifier, directory / "last.safetensors")
    state = {
        "epoch": epoch,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "best_score": result.best_score,
        "options": asdict(options),
    }
    with atomic_path(directory / "trainer.pt") as tmp:
        torch.save(state, tmp)


def _restore(directory: Path, classifier, optimizer, scheduler, options: TrainOptions) -> tuple[int, FitResult]:
    state = torch.load(directory / "trainer.pt", map_location="cpu", weights_only=True)
    if state["options"] != asdict(options):
        raise InputError(
            f"{directory}: the checkpoint was made with other hyper-parameters; "
            "resume with the same options or start in another --outdir"
        )
    load_weights(classifier, directory / "last.safetensors", device=str(next(classifier.parameters()).device))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    result = FitResult(history=state["history"], best_epoch=state["best_epoch"], best_score=state["best_score"])
    return state["epoch"] + 1, result


def predict_validation(
    model: LoadedModel, validation: pd.DataFrame, options: TrainOptions, device: torch.device
) -> np.ndarray:
    probabilities = model.predict_proba(
        validation["sequence"].tolist(),
        batch_size=options.batch_size * 2,
        device=device,
        both_strands=options.rc_augment,
    )
    model.classifier.train()
    return probabilities


def fresh_model(model_spec: str, kmer: int | None, options: TrainOptions, trust_remote_code: bool) -> LoadedModel:
    """The classifier a training run starts from: a preset built from scratch, a pretrained checkpoint with a new
    head, or a trained model to continue, its head seeded alike every time."""
    torch.manual_seed(options.seed)  # the head (and a scratch encoder) start from the same weights every time
    model = load_model(
        model_spec,
        kmer=kmer,
        pooling=options.pooling,
        trust_remote_code=trust_remote_code,
        max_positions=options.max_length,
    )
    if model.card:
        log.info("continuing from the trained model %s", model_spec)
    return model
