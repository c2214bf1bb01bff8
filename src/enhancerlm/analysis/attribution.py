"""Per-nucleotide importance from a trained language model: [CLS] attention or integrated gradients.

`attention` is DNABERT's motif score: the last layer's attention from [CLS] to every token,
summed over heads. `ig` is integrated gradients of the enhancer logit with respect to the
token embeddings (baseline: zero embeddings at sequence tokens, special tokens unchanged),
summed over the hidden dimension, so positive values push towards "enhancer". Token scores
become nucleotide scores through the k-mer layout or the tokenizer's offsets (`motifs`).
Sequences longer than the model's window are read as half-overlapping windows. Their attention
scores are averaged where windows overlap; their integrated gradients are those of the record's one
pooled logit (the model's prediction for the whole record), each window's share added up, so a long
record's explanation says which of its bases moved its probability. Memory is bounded by
`batch_size` windows at a time, however long the record.
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


def nucleotide_scores(token_scores: np.ndarray, k: int, length: int, *, normalise: bool = True) -> np.ndarray:
    """Per-nucleotide scores from per-k-mer-token scores, L2-normalised per sequence (unless `normalise` is off).

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
    result = _l2_normalise(means) if normalise else means
    return result[0] if single else result


def offsets_to_nucleotide_scores(
    token_scores: np.ndarray, offsets: np.ndarray, length: int, *, normalise: bool = True
) -> np.ndarray:
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
    result = _l2_normalise(means) if normalise else means
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
    """Nucleotide scores of each sequence under one model: integrated gradients of a long record's pooled logit,
    else windows scored in batches and averaged where they overlap."""
    if not all(sequences):
        raise InputError("cannot score an empty sequence")
    window = model.max_nucleotides
    pooled = {i for i, s in enumerate(sequences) if method == "ig" and len(s) > window}
    results = {i: record_ig_scores(model, sequences[i], ig_steps, batch_size, device) for i in pooled}
    short = [i for i in range(len(sequences)) if i not in pooled]
    averaged = _averaged_window_scores(model, [sequences[i] for i in short], method, batch_size, ig_steps, device)
    results.update(zip(short, averaged))
    return [results[i] for i in range(len(sequences))]


def _averaged_window_scores(
    model: LoadedModel, sequences: list[str], method: str, batch_size: int, ig_steps: int, device
) -> list[np.ndarray]:
    """Each sequence's windows scored on their own, `batch_size` at a time, and averaged where they overlap."""
    window = model.max_nucleotides
    pieces, owners, starts = [], [], []
    for index, sequence in enumerate(sequences):
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


def record_ig_scores(model: LoadedModel, sequence: str, ig_steps: int, batch_size: int, device) -> np.ndarray:
    """Nucleotide scores of one long record: integrated gradients of its pooled logit, each window's nucleotide
    shares added up where windows overlap (they add up to the record's logit difference), L2-normalised."""
    model.classifier.to(device).eval()
    starts = window_starts(len(sequence), model.max_nucleotides)
    windows = [sequence[start : start + model.max_nucleotides] for start in starts]
    tokens, offsets = model.tokenizer.encode_with_offsets(windows)
    token_scores = pooled_integrated_gradients(model, tokens.to(device), steps=ig_steps, batch_size=batch_size)
    per_window = _to_nucleotides(model, token_scores.float().cpu().numpy(), tokens, offsets, windows, normalise=False)
    total = np.zeros(len(sequence))
    for start, scores in zip(starts, per_window):
        total[start : start + len(scores)] += scores
    return _l2_normalise(total)


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
    return _to_nucleotides(model, token_scores.float().cpu().numpy(), tokens, offsets, windows)


def _to_nucleotides(
    model: LoadedModel,
    token_scores: np.ndarray,
    tokens: TokenBatch,
    offsets: np.ndarray | None,
    windows: list[str],
    *,
    normalise: bool = True,
) -> list[np.ndarray]:
    """Each window's token scores as nucleotide scores: through the k-mer layout, or the tokenizer's offsets."""
    results = []
    for row, window in enumerate(windows):
        if offsets is None:
            used = tokens.sequence_mask[row].bool().cpu().numpy()
            results.append(
                nucleotide_scores(token_scores[row][used], model.tokenizer.k, len(window), normalise=normalise)
            )
        else:
            results.append(
                offsets_to_nucleotide_scores(token_scores[row], offsets[row], len(window), normalise=normalise)
            )
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
    classifier = model.classifier
    baseline, difference = _ig_path(model, tokens)
    gradients = torch.zeros_like(difference)
    for alpha in _ig_points(steps):
        point = (baseline + alpha * difference).requires_grad_(True)
        logits = classifier(tokens.input_ids, tokens.attention_mask, tokens.sequence_mask, inputs_embeds=point)
        (gradient,) = torch.autograd.grad(logits.sum(), point)
        gradients += gradient
    return (difference * gradients / steps).sum(dim=-1).detach()


def pooled_integrated_gradients(
    model: LoadedModel, tokens: TokenBatch, *, steps: int = 20, batch_size: int = 32
) -> torch.Tensor:
    """Integrated gradients of ONE record's pooled logit, its windows the rows of `tokens`: (windows, tokens).

    At each point of the path the windows are encoded `batch_size` at a time without gradients and their pooled
    sums added up; the head's gradient with respect to the pooled sums is then carried back through each group of
    windows in turn. So the attributions are those of the record's one logit (they add up to its difference from
    the baseline's, over all windows) while no pass holds more than `batch_size` windows.
    """
    classifier = model.classifier
    groups = [slice(first, first + batch_size) for first in range(0, len(tokens.input_ids), max(batch_size, 1))]
    paths = [_ig_path(model, tokens[group]) for group in groups]
    attributions = torch.zeros(tokens.input_ids.shape, device=tokens.input_ids.device)
    for alpha in _ig_points(steps):
        with torch.no_grad():
            sums, counts = 0.0, 0.0
            for group, (baseline, difference) in zip(groups, paths):
                piece = tokens[group]
                window_sums, window_counts = classifier.window_sums(
                    piece.input_ids, piece.attention_mask, piece.sequence_mask, baseline + alpha * difference
                )
                sums, counts = sums + window_sums.sum(0, keepdim=True), counts + window_counts.sum(0, keepdim=True)
        pooled = sums.requires_grad_(True)
        (direction,) = torch.autograd.grad(classifier.head(pooled, counts).sum(), pooled)
        for group, (baseline, difference) in zip(groups, paths):
            piece = tokens[group]
            point = (baseline + alpha * difference).requires_grad_(True)
            window_sums, _ = classifier.window_sums(piece.input_ids, piece.attention_mask, piece.sequence_mask, point)
            (gradient,) = torch.autograd.grad((window_sums * direction).sum(), point)
            attributions[group] += (difference * gradient).sum(dim=-1)
    return attributions / steps


def _ig_points(steps: int) -> list[float]:
    """The midpoints of `steps` equal steps from 0 to 1."""
    if steps < 1:
        raise InputError(f"integrated gradients need at least 1 step, got {steps}")
    return [float(alpha) for alpha in (np.arange(steps) + 0.5) / steps]


def _ig_path(model: LoadedModel, tokens: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """The path's start (zero embeddings at sequence tokens, special tokens keeping theirs) and its direction."""
    embeddings = model.classifier.encoder.get_input_embeddings()(tokens.input_ids).detach()
    baseline = embeddings * (1 - tokens.sequence_mask).unsqueeze(-1).to(embeddings.dtype)
    return baseline, embeddings - baseline
