"""`enhancerlm pretrain`: masked-language-model pre-training of a from-scratch k-mer BERT on a corpus."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from enhancerlm.errors import InputError
from enhancerlm.formats.files import write_json
from enhancerlm.models.classifier import PRESETS, autocast, resolve_device
from enhancerlm.models.tokenize import KmerTokenizer
from enhancerlm.training.loop import epoch_generator, optimisation_step, optimiser
from enhancerlm.training.pretrain import PRETRAIN_RECORD, PretrainOptions, corpus_windows, mask_spans
from enhancerlm.versions import software_versions

log = logging.getLogger(__name__)


def pretrain(
    fasta_paths: list[str | Path],
    kmer: int,
    outdir: str | Path,
    *,
    preset: str = "scratch-small",
    options: PretrainOptions | None = None,
    device: str = "auto",
) -> dict:
    """Pre-train a from-scratch BERT on the windows of `fasta_paths`; write a BertForMaskedLM directory."""
    from transformers import BertConfig, BertForMaskedLM
    from transformers.utils import logging as hf_logging

    options = options or PretrainOptions()
    if preset not in PRESETS:
        raise InputError(
            f"model must be one of {', '.join(PRESETS)} for pre-training, got {preset!r}", parameters=("model",)
        )
    windows = list(corpus_windows(fasta_paths, options.window, options.stride, options.max_n_fraction))
    if not windows:
        raise InputError(
            f"{', '.join(map(str, fasta_paths))}: no window of {options.window} nt with at most "
            f"{options.max_n_fraction:.0%} N"
        )
    rng = np.random.default_rng(options.seed)
    if options.max_windows and len(windows) > options.max_windows:
        windows = [windows[i] for i in sorted(rng.choice(len(windows), options.max_windows, replace=False))]
    tokenizer = KmerTokenizer.for_kmer(kmer)
    if options.window - kmer + 3 > tokenizer.model_max_length:
        raise InputError(
            f"window {options.window} gives more than {tokenizer.model_max_length} tokens", parameters=("window",)
        )
    torch.manual_seed(options.seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        max_position_embeddings=tokenizer.model_max_length,
        pad_token_id=tokenizer.pad_token_id,
        **PRESETS[preset],
    )
    model = BertForMaskedLM(config)
    torch_device = resolve_device(device)
    model.to(torch_device).train()
    history = _pretrain_epochs(model, tokenizer, windows, kmer, options, torch_device)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    hf_logging.disable_progress_bar()
    model.save_pretrained(str(outdir), safe_serialization=True)
    tokenizer.save_pretrained(outdir)
    card = {
        "preset": preset,
        "kmer": kmer,
        "corpus": [str(p) for p in fasta_paths],
        "windows": len(windows),
        "options": asdict(options),
        "history": history,
        "device": str(torch_device),
        "seconds": history[-1]["seconds"] if history else 0.0,
        "versions": software_versions(),
    }
    write_json(outdir / PRETRAIN_RECORD, card)
    return card


def _pretrain_epochs(
    model, tokenizer: KmerTokenizer, windows: list[str], kmer: int, options: PretrainOptions, device: torch.device
) -> list[dict]:
    """Masked-language-model epochs over the windows, with the optimiser of fine-tuning; one record per epoch."""
    steps = math.ceil(len(windows) / options.batch_size) * options.epochs
    optimizer, scheduler = optimiser(
        model.parameters(), options.lr, options.weight_decay, max(1, int(options.warmup * steps)), steps
    )
    history, started = [], time.perf_counter()
    for epoch in range(1, options.epochs + 1):
        generator = epoch_generator(options.seed, epoch)
        order = torch.randperm(len(windows), generator=generator).tolist()
        losses = []
        for start in tqdm(
            range(0, len(order), options.batch_size), desc=f"pretrain epoch {epoch}", leave=False, disable=None
        ):
            batch = tokenizer.encode([windows[i] for i in order[start : start + options.batch_size]])
            corrupted, labels = mask_spans(
                batch.input_ids,
                batch.sequence_mask,
                kmer,
                options.mask_fraction,
                tokenizer.mask_token_id,
                tokenizer.vocab_size,
                5,
                generator,
            )
            with autocast(device):
                output = model(
                    input_ids=corrupted.to(device),
                    attention_mask=batch.attention_mask.to(device),
                    labels=labels.to(device),
                )
            losses.append(optimisation_step(output.loss, model.parameters(), optimizer, scheduler, 1.0))
        history.append(
            {
                "epoch": epoch,
                "loss": float(np.mean(losses)),
                "first_batch_loss": losses[0],
                "last_batch_loss": losses[-1],
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        log.info("pretrain epoch %d: masked-LM loss %.4f", epoch, history[-1]["loss"])
    return history
