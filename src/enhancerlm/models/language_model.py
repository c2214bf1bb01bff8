"""A language-model classifier ready to score: the network, its tokenizer and its model card.

This is the one forward path of the language-model kind. Sequences of any length (`predict_proba`)
and fixed-width genome windows (`score_windows`) are batched differently, since long sequences are
split into windows and pooled while scan windows are scored in fixed-size batches, but both go through
the same tokens -> classifier logits step (`_logits`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from enhancerlm.core.dna import reverse_complement, strand_average, with_reverse_strands
from enhancerlm.models.card import scores_both_strands
from enhancerlm.models.classifier import EnhancerClassifier, autocast
from enhancerlm.models.tokenize import KmerTokenizer, SequenceTokenizer, TokenBatch


@dataclass
class LoadedModel:
    """A classifier with its tokenizer and, for trained models, its model card."""

    classifier: EnhancerClassifier
    tokenizer: SequenceTokenizer
    card: dict
    source: str

    @property
    def max_nucleotides(self) -> int:
        positions = getattr(self.classifier.encoder.config, "max_position_embeddings", None) or 512
        return self.tokenizer.max_nucleotides(min(positions, self.tokenizer.model_max_length))

    @property
    def max_window(self) -> int:
        """The longest window read in one pass."""
        return self.max_nucleotides

    def language_models(self) -> list[LoadedModel]:
        return [self]

    @torch.no_grad()
    def predict_proba(
        self,
        sequences: list[str],
        *,
        batch_size: int = 64,
        device: torch.device | str = "cpu",
        both_strands: bool | None = None,
    ) -> np.ndarray:
        """Enhancer probability per sequence; strands as the model card says unless `both_strands` is given.

        A sequence longer than the model's window is read as half-overlapping windows pooled into one
        representation; with both strands the reverse complement is scored too and the two probabilities
        averaged. A forward pass holds at most `batch_size` windows: a sequence with more is encoded in passes of
        `batch_size` windows whose pooled sums add up, so memory does not grow with a sequence's length.
        """
        both_strands = scores_both_strands(self.card, both_strands)
        strands = [*sequences, *map(reverse_complement, sequences)] if both_strands else list(sequences)
        classifier = self.classifier.to(device).eval()
        probabilities = np.empty(len(strands), dtype=np.float64)
        for batch in _length_batches(strands, self.max_nucleotides, batch_size):
            if len(batch) == 1 and len(window_starts(len(strands[batch[0]]), self.max_nucleotides)) > batch_size:
                logits = self._long_logit(strands[batch[0]], batch_size, classifier, device)
            else:
                tokens, owner = window_batch(self, [strands[i] for i in batch])
                logits = _logits(classifier, tokens.to(device), owner.to(device), device)
            # float32 sigmoid, as every evaluation so far was computed: switching to `_probabilities` moves
            # validation thresholds in the 8th decimal, so it is left to a release that may change results
            probabilities[batch] = torch.sigmoid(logits).cpu().numpy()
        return strand_average(probabilities, both_strands)

    def _long_logit(self, sequence: str, batch_size: int, classifier: EnhancerClassifier, device) -> torch.Tensor:
        """The logit of one sequence of more windows than a pass holds: its windows encoded `batch_size` at a time,
        their pooled sums added up, the head applied once."""
        windows = split_windows(sequence, self.max_nucleotides)
        sums, counts = 0.0, 0.0
        for first in range(0, len(windows), batch_size):
            tokens = self.tokenizer.encode(windows[first : first + batch_size]).to(device)
            with autocast(device):
                window_sums, window_counts = classifier.window_sums(
                    tokens.input_ids, tokens.attention_mask, tokens.sequence_mask
                )
            sums, counts = sums + window_sums.sum(0, keepdim=True), counts + window_counts.sum(0, keepdim=True)
        with autocast(device):
            return classifier.head(sums, counts).float()

    def score_windows(
        self,
        windows: np.ndarray,
        *,
        both_strands: bool | None = None,
        batch_size: int = 64,
        device: torch.device | str = "cpu",
    ) -> np.ndarray:
        """Enhancer probability of each window (rows of an (n, length) ASCII array); strands as the model card
        says unless `both_strands` is given (both: the two strands' probabilities averaged).

        k-mer models are tokenized straight from the array, `batch_size` rows per forward pass (a window's
        two strands are two rows), so a row's result does not depend on which rows share its batch and a
        chunked scan matches a whole one. Other tokenizers get the windows as strings.
        """
        both_strands = scores_both_strands(self.card, both_strands)
        rows = with_reverse_strands(windows, both_strands)
        if isinstance(self.tokenizer, KmerTokenizer):
            probabilities = self._fixed_batch_probabilities(rows, batch_size, device)
        else:
            sequences = [row.tobytes().decode("ascii") for row in rows]
            probabilities = self.predict_proba(sequences, batch_size=batch_size, device=device, both_strands=False)
        return strand_average(probabilities, both_strands)

    @torch.inference_mode()
    def _fixed_batch_probabilities(self, rows: np.ndarray, batch_size: int, device) -> np.ndarray:
        """Forward passes over batches of exactly `batch_size` rows (the last padded with N). Logits stay on
        the device until the end, so on a GPU the next batch is tokenized meanwhile."""
        classifier = self.classifier.to(device).eval()
        logits = []
        for first in range(0, len(rows), batch_size):
            batch = rows[first : first + batch_size]
            if len(batch) < batch_size:
                padding = np.full((batch_size - len(batch), rows.shape[1]), ord("N"), np.uint8)
                batch = np.concatenate([batch, padding])
            logits.append(_logits(classifier, self.tokenizer.encode_windows(batch).to(device), None, device))
        if not logits:
            return np.zeros(0)
        return _probabilities(torch.cat(logits)[: len(rows)])


def _logits(classifier: EnhancerClassifier, tokens: TokenBatch, owner: torch.Tensor | None, device) -> torch.Tensor:
    with autocast(device):
        return classifier(tokens.input_ids, tokens.attention_mask, tokens.sequence_mask, owner).float()


def _probabilities(logits: torch.Tensor) -> np.ndarray:
    """The sigmoid in float64 with numpy: torch's float32 sigmoid gives the last elements of a vector (past its
    SIMD width) a slightly different value, which would make a probability depend on its place among the others."""
    return 1.0 / (1.0 + np.exp(-logits.cpu().numpy().astype(np.float64)))


def _length_batches(strands: list[str], window: int, batch_size: int) -> list[list[int]]:
    """Indices of the sequences in each batch: similar lengths together, at most `batch_size` windows each."""
    order = np.argsort([len(s) for s in strands], kind="stable")
    n_windows = [len(split_windows(s, window)) for s in strands]
    batches, batch, windows = [], [], 0
    for position, index in enumerate(order):
        batch.append(int(index))
        windows += n_windows[index]
        upcoming = order[position + 1] if position + 1 < len(order) else None
        if upcoming is None or windows + n_windows[upcoming] > batch_size:
            batches.append(batch)
            batch, windows = [], 0
    return batches


def window_batch(model: LoadedModel, sequences: list[str]) -> tuple[TokenBatch, torch.Tensor]:
    """Tokens of every window of the sequences (long ones split by `split_windows`) and, per window,
    the index of the sequence it belongs to."""
    pieces: list[str] = []
    owner: list[int] = []
    for index, sequence in enumerate(sequences):
        windows = split_windows(sequence, model.max_nucleotides)
        pieces.extend(windows)
        owner.extend([index] * len(windows))
    return model.tokenizer.encode(pieces), torch.tensor(owner)


def window_starts(length: int, window: int) -> list[int]:
    """Starts of the windows `split_windows` cuts: 0 if the sequence fits, else every half window, the last
    one flush with the sequence end."""
    if length <= window:
        return [0]
    step = max(window // 2, 1)
    starts = list(range(0, length - window + 1, step))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def split_windows(sequence: str, window: int) -> list[str]:
    """The sequence itself if it fits, else windows of `window` nt with half-window overlap,
    the last one flush with the sequence end."""
    return [sequence[s : s + window] for s in window_starts(len(sequence), window)]
