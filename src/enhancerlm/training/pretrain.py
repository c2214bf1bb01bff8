"""Masked-language-model pre-training of a from-scratch k-mer BERT on any DNA.

How a user makes a language model for a species without a public one: cut a genome (or any
FASTA) into windows, mask contiguous spans of k tokens (with overlapping k-mers a lone masked
token is given away by its neighbours, so DNABERT masks k at a time), and train BERT to fill them
in. The output is a Hugging Face `BertForMaskedLM` directory that `enhancerlm train --model`
fine-tunes like any pretrained checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from enhancerlm.core.dna import invalid_characters
from enhancerlm.formats.fasta import read_fasta

PRETRAIN_RECORD = "pretrain.json"  # what a pre-training run did (a pretrained encoder is not a trained model)


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


def corpus_windows(
    fasta_paths: list[str | Path], window: int, stride: int, max_n_fraction: float = 0.0
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


def mask_spans(
    input_ids: torch.Tensor,
    sequence_mask: torch.Tensor,
    k: int,
    fraction: float,
    mask_token_id: int,
    vocab_size: int,
    n_special: int,
    generator: torch.Generator,
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
