"""Per-nucleotide importance from a trained language model: [CLS] attention or integrated gradients.

`attention` is DNABERT's motif score: the last layer's attention from [CLS] to every token,
summed over heads. `ig` is integrated gradients of the enhancer logit with respect to the
token embeddings (baseline: zero embeddings at sequence tokens, special tokens unchanged),
summed over the hidden dimension, so positive values push towards "enhancer". Token scores
become nucleotide scores through the k-mer layout or the tokenizer's offsets (`motifs`).
Sequences longer than the model's window are read as half-overlapping windows whose
nucleotide scores are averaged; memory is bounded by `batch_size` windows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from enhancerlm.errors import InputError
from enhancerlm.models.language_model import LoadedModel, window_starts
from enhancerlm.models.scorer import Scorer
from enhancerlm.models.tokenize import TokenBatch

METHODS = ("attention", "ig")


def _l2_normalise(values: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm; an all-zero row stays zero."""
    norms = np.linalg.norm(values, axis=-1, keepdims=True)
    return np.divide(values, norms, out=np.zeros_like(values), where=norms > 0)


def _as_batch(token_scores: np.ndarray) -> tuple[np.ndarray, bool]:
    """Scores as a float 2-D array (rows = sequences) and whether the input was 1-D."""
    scores = np.asarray(token_scores, dtype=float)
    if scores.ndim not in (1, 2):
        raise InputError(f"token scores must be 1-D or 2-D (rows = sequences), got {scores.ndim}-D")
    if not np.all(np.isfinite(scores)):
        raise InputError("token scores contain NaN or infinite values")
    return np.atleast_2d(scores), scores.ndim == 1


def nucleotide_scores(token_scores: np.ndarray, k: int, length: int) -> np.ndarray:
    """Per-nucleotide scores from per-k-mer-token scores, L2-normalised per sequence.

    `token_scores` excludes [CLS]/[SEP]; token i covers nucleotides i..i+k-1. Each nucleotide
    gets the mean score of the tokens covering it (0 where none does, e.g. after truncation),
    so the result does not depend on how many tokens overlap a position. A 2-D input is a
    batch (rows = sequences) and gives a (rows, length) array.
    """
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    scores, single = _as_batch(token_scores)
    n_tokens = scores.shape[1]
    if n_tokens > max(length - k + 1, 0):
        raise InputError(f"{n_tokens} {k}-mer tokens do not fit in a sequence of {length} nucleotides")
    sums = np.zeros((scores.shape[0], length))
    counts = np.zeros(length)
    for shift in range(k):  # nucleotide i + shift is covered by token i
        sums[:, shift : shift + n_tokens] += scores
        counts[shift : shift + n_tokens] += 1
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    result = _l2_normalise(means)
    return result[0] if single else result


def offsets_to_nucleotide_scores(token_scores: np.ndarray, offsets: np.ndarray, length: int) -> np.ndarray:
    """Per-nucleotide scores from BPE token scores and their (start, end) character offsets.

    Each token's score is spread over nucleotides start..end-1 and averaged where tokens
    overlap; tokens with start == end (special and padding tokens, offset (0, 0)) are ignored
    and uncovered nucleotides score 0. Rows are L2-normalised, as in `nucleotide_scores`, so
    both tokenizers feed region calling on the same scale. Accepts a batch: scores (rows,
    tokens) with offsets (rows, tokens, 2).
    """
    scores, single = _as_batch(token_scores)
    spans = np.asarray(offsets)
    if single:
        spans = spans[np.newaxis]
    if spans.shape != (*scores.shape, 2):
        raise InputError(f"offsets must have shape {(*np.shape(token_scores), 2)}, got {np.shape(offsets)}")
    spans = spans.astype(int)
    starts, ends = spans[..., 0], spans[..., 1]
    if np.any(starts < 0) or np.any(ends > length) or np.any(ends < starts):
        raise InputError(f"token offsets must satisfy 0 <= start <= end <= {length}")
    rows = np.broadcast_to(np.arange(scores.shape[0])[:, None], scores.shape)
    used = ends > starts
    sum_diff = np.zeros((scores.shape[0], length + 1))
    count_diff = np.zeros((scores.shape[0], length + 1), dtype=np.int64)
    np.add.at(sum_diff, (rows[used], starts[used]), scores[used])
    np.add.at(sum_diff, (rows[used], ends[used]), -scores[used])
    np.add.at(count_diff, (rows[used], starts[used]), 1)
    np.add.at(count_diff, (rows[used], ends[used]), -1)
    sums = np.cumsum(sum_diff, axis=1)[:, :length]
    counts = np.cumsum(count_diff, axis=1)[:, :length]
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    result = _l2_normalise(means)
    return result[0] if single else result


def language_models(model: Scorer) -> list[LoadedModel]:
    """The language models inside `model`: itself, or an ensemble's language-model members."""
    found = model.language_models()
    if not found:
        raise InputError(
            f"{model.card.get('model_id', 'this model')}: attributions need a language model; "
            "a k-mer baseline has no attention or embeddings"
        )
    return found


def score_nucleotides(
    model: Scorer,
    sequences: Sequence[str],
    *,
    method: str = "attention",
    batch_size: int = 32,
    ig_steps: int = 20,
    device: torch.device | str = "cpu",
) -> Iterator[np.ndarray]:
    """Per-nucleotide scores of each sequence, in order, L2-normalised per sequence.

    An ensemble's language-model members are scored separately and averaged per nucleotide.
    Sequences are processed `batch_size` at a time, so results stream.
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    members = language_models(model)
    for first in range(0, len(sequences), batch_size):
        chunk = list(sequences[first : first + batch_size])
        per_member = [_member_scores(m, chunk, method, batch_size, ig_steps, device) for m in members]
        for index in range(len(chunk)):
            yield np.mean([scores[index] for scores in per_member], axis=0)


def _eager_attention(model: LoadedModel) -> None:
    """SDPA and flash attention return no weights; eager attention does."""
    encoder = model.classifier.encoder
    if getattr(encoder.config, "_attn_implementation", "eager") != "eager":
        encoder.set_attn_implementation("eager")


def _member_scores(
    model: LoadedModel, sequences: list[str], method: str, batch_size: int, ig_steps: int, device
) -> list[np.ndarray]:
    """Nucleotide scores of each sequence under one model, windows averaged where they overlap."""
    window = model.max_nucleotides
    pieces, owners, starts = [], [], []
    for index, sequence in enumerate(sequences):
        if not sequence:
            raise InputError("cannot score an empty sequence")
        for start in window_starts(len(sequence), window):
            pieces.append(sequence[start : start + window])
            owners.append(index)
            starts.append(start)
    sums = [np.zeros(len(s)) for s in sequences]
    counts = [np.zeros(len(s)) for s in sequences]
    for first in range(0, len(pieces), batch_size):
        batch = pieces[first : first + batch_size]
        for offset, scores in enumerate(window_scores(model, batch, method=method, ig_steps=ig_steps, device=device)):
            owner, start = owners[first + offset], starts[first + offset]
            sums[owner][start : start + len(scores)] += scores
            counts[owner][start : start + len(scores)] += 1
    return [_l2_normalise(np.divide(s, c, out=np.zeros_like(s), where=c > 0)) for s, c in zip(sums, counts)]


def window_scores(
    model: LoadedModel,
    windows: list[str],
    *,
    method: str = "attention",
    ig_steps: int = 20,
    device: torch.device | str = "cpu",
) -> list[np.ndarray]:
    """Nucleotide scores of windows that each fit the model in one pass, one forward/backward batch."""
    model.classifier.to(device).eval()  # dropout off: attributions of the model as it predicts
    tokens, offsets = model.tokenizer.encode_with_offsets(windows)
    tokens = tokens.to(device)
    if method == "attention":
        token_scores = cls_attention(model, tokens)
    else:
        token_scores = integrated_gradients(model, tokens, steps=ig_steps)
    token_scores = token_scores.float().cpu().numpy()
    results = []
    for row, window in enumerate(windows):
        if offsets is None:
            used = tokens.sequence_mask[row].bool().cpu().numpy()
            results.append(nucleotide_scores(token_scores[row][used], model.tokenizer.k, len(window)))
        else:
            results.append(offsets_to_nucleotide_scores(token_scores[row], offsets[row], len(window)))
    return results


@torch.no_grad()
def cls_attention(model: LoadedModel, tokens: TokenBatch) -> torch.Tensor:
    """Last-layer attention from [CLS] (the first token) to every token, summed over heads: (batch, tokens)."""
    _eager_attention(model)
    output = model.classifier.encoder(
        input_ids=tokens.input_ids, attention_mask=tokens.attention_mask, output_attentions=True
    )
    if not output.attentions:
        raise InputError(f"{model.source}: the encoder returns no attention weights")
    return output.attentions[-1][:, :, 0, :].sum(dim=1)


def integrated_gradients(model: LoadedModel, tokens: TokenBatch, *, steps: int = 20) -> torch.Tensor:
    """Integrated gradients of the enhancer logit per token (midpoint rule, `steps` points): (batch, tokens).

    The path runs from zero embeddings at sequence tokens (special tokens keep theirs) to the
    real embeddings; summing over the hidden dimension gives one signed score per token.
    """
    if steps < 1:
        raise InputError(f"integrated gradients need at least 1 step, got {steps}")
    classifier = model.classifier
    embeddings = classifier.encoder.get_input_embeddings()(tokens.input_ids).detach()
    baseline = embeddings * (1 - tokens.sequence_mask).unsqueeze(-1).to(embeddings.dtype)
    difference = embeddings - baseline
    gradients = torch.zeros_like(embeddings)
    for alpha in (np.arange(steps) + 0.5) / steps:
        point = (baseline + float(alpha) * difference).requires_grad_(True)
        logits = classifier(tokens.input_ids, tokens.attention_mask, tokens.sequence_mask, inputs_embeds=point)
        (gradient,) = torch.autograd.grad(logits.sum(), point)
        gradients += gradient
    return (difference * gradients / steps).sum(dim=-1).detach()
