"""Masked-language-model pre-training of a from-scratch k-mer BERT on any DNA.

How a user makes a language model for a species without a public one: cut a genome (or any
FASTA) into windows, mask contiguous spans of k tokens (with overlapping k-mers a lone masked
token is given away by its neighbours, so DNABERT masks k at a time), and train BERT to fill them
in. The output is a Hugging Face `BertForMaskedLM` directory that `enhancerlm train --model`
fine-tunes like any pretrained checkpoint.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import invalid_characters, read_fasta
from .errors import InputError
from .io import write_json
from .model import PRESETS, autocast, resolve_device
from .tokenize import KmerTokenizer
from .versions import software_versions

log = logging.getLogger(__name__)

CARD_FILE = "pretrain.json"


@dataclass
class PretrainOptions:
    """Corpus windowing and optimisation settings; recorded in pretrain.json."""

    window: int = 200
    stride: int = 200
    max_n_fraction: float = 0.0
    max_windows: int | None = None  # a random sample of the windows, for very large genomes
    epochs: int = 1
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: float = 0.05
    mask_fraction: float = 0.15
    seed: int = 42


def corpus_windows(fasta_paths: list[str | Path], window: int, stride: int, max_n_fraction: float = 0.0
                   ) -> Iterator[str]:
    """Windows of `window` nt every `stride` nt along every record, upper-cased, N-rich ones skipped."""
    for path in fasta_paths:
        for record in read_fasta(path):
            sequence = record.sequence
            for start in range(0, len(sequence) - window + 1, stride):
                piece = sequence[start : start + window]
                if piece.count("N") / window > max_n_fraction or invalid_characters(piece.replace("N", "A")):
                    continue
                yield piece


def mask_spans(input_ids: torch.Tensor, sequence_mask: torch.Tensor, k: int, fraction: float,
               mask_token_id: int, vocab_size: int, n_special: int, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask contiguous spans of k sequence tokens covering about `fraction` of them (BERT's 80/10/10 rule).

    Returns the corrupted ids and the labels (the original id where masked, -100 elsewhere).
    Special tokens and padding are never masked.
    """
    starts = (torch.rand(input_ids.shape, generator=generator) < fraction / k) & sequence_mask.bool()
    masked = torch.zeros_like(starts)
    for offset in range(k):
        masked[:, offset:] |= starts[:, : starts.shape[1] - offset]
    masked &= sequence_mask.bool()
    labels = torch.where(masked, input_ids, torch.full_like(input_ids, -100))
    corrupted = input_ids.clone()
    roll = torch.rand(input_ids.shape, generator=generator)
    corrupted[masked & (roll < 0.8)] = mask_token_id
    random_tokens = torch.randint(n_special, vocab_size, input_ids.shape, generator=generator)
    swap = masked & (roll >= 0.8) & (roll < 0.9)
    corrupted[swap] = random_tokens[swap]
    return corrupted, labels


def pretrain(fasta_paths: list[str | Path], kmer: int, outdir: str | Path, *, preset: str = "scratch-small",
             options: PretrainOptions | None = None, device: str = "auto") -> dict:
    """Pre-train a from-scratch BERT on the windows of `fasta_paths`; write a BertForMaskedLM directory."""
    from transformers import BertConfig, BertForMaskedLM
    from transformers.utils import logging as hf_logging

    options = options or PretrainOptions()
    if preset not in PRESETS:
        raise InputError(f"--model must be one of {', '.join(PRESETS)} for pre-training, got {preset!r}")
    windows = list(corpus_windows(fasta_paths, options.window, options.stride, options.max_n_fraction))
    if not windows:
        raise InputError(f"{', '.join(map(str, fasta_paths))}: no window of {options.window} nt with at most "
                         f"{options.max_n_fraction:.0%} N")
    rng = np.random.default_rng(options.seed)
    if options.max_windows and len(windows) > options.max_windows:
        windows = [windows[i] for i in sorted(rng.choice(len(windows), options.max_windows, replace=False))]
    tokenizer = KmerTokenizer.for_kmer(kmer)
    if options.window - kmer + 3 > tokenizer.model_max_length:
        raise InputError(f"--window {options.window} gives more than {tokenizer.model_max_length} tokens")
    torch.manual_seed(options.seed)
    config = BertConfig(vocab_size=tokenizer.vocab_size, max_position_embeddings=tokenizer.model_max_length,
                        pad_token_id=tokenizer.pad_token_id, **PRESETS[preset])
    model = BertForMaskedLM(config)
    torch_device = resolve_device(device)
    model.to(torch_device).train()
    steps = math.ceil(len(windows) / options.batch_size) * options.epochs
    warmup = max(1, int(options.warmup * steps))
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (steps - s) / max(1, steps - warmup)))
    history, started = [], time.perf_counter()
    for epoch in range(1, options.epochs + 1):
        generator = torch.Generator().manual_seed(options.seed * 1000 + epoch)
        order = torch.randperm(len(windows), generator=generator).tolist()
        losses = []
        for start in tqdm(range(0, len(order), options.batch_size), desc=f"pretrain epoch {epoch}", leave=False,
                          disable=None):
            batch = tokenizer.encode([windows[i] for i in order[start : start + options.batch_size]])
            corrupted, labels = mask_spans(batch.input_ids, batch.sequence_mask, kmer, options.mask_fraction,
                                           tokenizer.mask_token_id, tokenizer.vocab_size, 5, generator)
            with autocast(torch_device):
                output = model(input_ids=corrupted.to(torch_device), attention_mask=batch.attention_mask.to(torch_device),
                               labels=labels.to(torch_device))
            optimizer.zero_grad(set_to_none=True)
            output.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(output.loss.item())
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "first_batch_loss": losses[0],
                        "last_batch_loss": losses[-1], "seconds": round(time.perf_counter() - started, 1)})
        log.info("pretrain epoch %d: masked-LM loss %.4f", epoch, history[-1]["loss"])
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    hf_logging.disable_progress_bar()
    model.save_pretrained(str(outdir), safe_serialization=True)
    tokenizer.save_pretrained(outdir)
    card = {"preset": preset, "kmer": kmer, "corpus": [str(p) for p in fasta_paths], "windows": len(windows),
            "options": asdict(options), "history": history, "device": str(torch_device),
            "seconds": round(time.perf_counter() - started, 1), "versions": software_versions()}
    write_json(outdir / CARD_FILE, card)
    return card
