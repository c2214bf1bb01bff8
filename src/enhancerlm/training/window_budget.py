"""Training memory set by a budget of tokens per forward pass, not by the length of the records.

A batch of `--batch-size` records becomes a number of windows that grows with the records' length (a 20 kb
record is ~80 windows of a k = 6 model). The batch is cut into groups, each holding whole records, and each group
into pieces of at most `max_tokens` tokens (windows x their padded width):

- a group of short records is one piece: its loss is back-propagated before the next group is encoded, so the
  gradients of the batch accumulate and only one piece's activations are held at a time;
- a record with more windows than a piece holds is one group of several pieces, checkpointed by hand: the pieces
  are encoded without gradients and their pooled sums added up to the record's one representation (the model pools
  before its head); the loss is back-propagated to that representation, then each piece is encoded again, with the
  same dropout, and the representation's gradient carried back through it. The record still gets one gradient
  through its pooled representation, exactly as if all its windows had been encoded at once; the price is one
  more forward pass of that record's windows.

A batch that fits the budget is one group and trains exactly as without one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from enhancerlm.models.classifier import EnhancerClassifier, autocast
from enhancerlm.models.tokenize import TokenBatch


@dataclass(frozen=True)
class StepGroup:
    """Consecutive records of a batch (`first`..`stop`) and the window slices (pieces) that encode them."""

    first: int
    stop: int
    pieces: tuple[tuple[int, int], ...]


def step_groups(windows_per_record: list[int], max_windows: int) -> list[StepGroup]:
    """Records (in batch order, their windows consecutive) packed into groups of at most `max_windows` windows; a
    record with more windows than that is a group of its own, cut into pieces of `max_windows`."""
    max_windows = max(max_windows, 1)
    groups: list[StepGroup] = []
    first, window, start = 0, 0, 0  # first record, first window and window count of the open group
    for record, count in enumerate(windows_per_record):
        if count > max_windows or window - start + count > max_windows:
            if record > first:
                groups.append(StepGroup(first, record, ((start, window),)))
            first, start = record, window
        if count > max_windows:
            pieces = tuple(
                (a, min(a + max_windows, window + count)) for a in range(window, window + count, max_windows)
            )
            groups.append(StepGroup(record, record + 1, pieces))
            first, start = record + 1, window + count
        window += count
    if len(windows_per_record) > first:
        groups.append(StepGroup(first, len(windows_per_record), ((start, window),)))
    return groups


def accumulate_gradients(
    classifier: EnhancerClassifier,
    tokens: TokenBatch,
    owner: torch.Tensor,
    labels: torch.Tensor,
    loss_fn: torch.nn.Module,
    max_tokens: int,
    device: torch.device,
) -> float:
    """Back-propagate the batch's mean loss group by group (see the module docstring); the mean loss.

    `loss_fn` reduces by the mean, so a group's loss is weighed by its share of the records: the gradients add up
    to those of the whole batch's mean loss.
    """
    windows_per_record = torch.bincount(owner, minlength=len(labels)).tolist()
    groups = step_groups(windows_per_record, max_tokens // max(tokens.input_ids.shape[1], 1))
    total = 0.0
    for group in groups:
        share = (group.stop - group.first) / len(labels) if len(groups) > 1 else 1.0
        labels_of_group = labels[group.first : group.stop].to(device)
        if len(group.pieces) == 1:
            total += _whole_records(classifier, tokens, owner, group, labels_of_group, loss_fn, share, device)
        else:
            total += _one_long_record(classifier, tokens, group, labels_of_group, loss_fn, share, device)
    return total


def _whole_records(
    classifier: EnhancerClassifier,
    tokens: TokenBatch,
    owner: torch.Tensor,
    group: StepGroup,
    labels: torch.Tensor,
    loss_fn: torch.nn.Module,
    share: float,
    device: torch.device,
) -> float:
    """One forward and backward pass over a group of whole records; their share of the batch's loss."""
    a, b = group.pieces[0]
    piece = tokens[a:b].to(device)
    with autocast(device):
        logits = classifier(
            piece.input_ids, piece.attention_mask, piece.sequence_mask, (owner[a:b] - group.first).to(device)
        )
    loss = loss_fn(logits.float(), labels)
    if share != 1.0:
        loss = loss * share
    loss.backward()
    return loss.item()


def _one_long_record(
    classifier: EnhancerClassifier,
    tokens: TokenBatch,
    group: StepGroup,
    labels: torch.Tensor,
    loss_fn: torch.nn.Module,
    share: float,
    device: torch.device,
) -> float:
    """A record of more windows than a pass holds: its pieces encoded without gradients and their sums pooled, the
    head's loss back-propagated to the pooled sums, then each piece encoded again, with the random state of its
    first pass (the same dropout), and the pooled sums' gradient carried back through it (activation
    checkpointing by hand: torch's own kept every piece's activations here)."""
    sums, counts, states = 0.0, 0.0, []
    with torch.no_grad():
        for a, b in group.pieces:
            states.append(_random_state(device))
            piece_sums, piece_counts = _piece_sums(classifier, tokens[a:b].to(device), device)
            sums, counts = sums + piece_sums.sum(0, keepdim=True), counts + piece_counts.sum(0, keepdim=True)
    pooled = sums.requires_grad_(True)
    with autocast(device):
        logits = classifier.head(pooled, counts)
    loss = loss_fn(logits.float(), labels) * share
    loss.backward()
    for (a, b), state in zip(group.pieces, states):
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            _set_random_state(state, device)
            piece_sums, _ = _piece_sums(classifier, tokens[a:b].to(device), device)
        (piece_sums.sum(0, keepdim=True) * pooled.grad).sum().backward()
    return loss.item()


def _piece_sums(
    classifier: EnhancerClassifier, piece: TokenBatch, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    with autocast(device):
        return classifier.window_sums(piece.input_ids, piece.attention_mask, piece.sequence_mask)


def _random_state(device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The generators dropout draws from: the CPU's, and the device's on CUDA."""
    return torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def _set_random_state(state: tuple[torch.Tensor, torch.Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)
