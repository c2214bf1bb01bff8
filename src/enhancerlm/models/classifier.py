"""The enhancer classifier: a language-model encoder with a small pooled head; the presets for models trained
from scratch; devices and mixed precision."""

from __future__ import annotations

import torch
from torch import nn

from enhancerlm.errors import InputError

HEAD_PREFIX = "classifier."


POOLINGS = ("mean", "cls")


# Encoder sizes for models trained from scratch; scratch-base has DNABERT's (BERT-base) dimensions.
PRESETS: dict[str, dict[str, int]] = {
    "scratch-tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128),
    "scratch-small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "scratch-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


class EnhancerClassifier(nn.Module):
    """Encoder -> pooled tokens -> dropout -> Linear(H, 25) -> tanh -> Linear(25, 1) (iEnhancer-ELM's head).

    `pooling="mean"` averages the sequence tokens (no [CLS], [SEP] or padding); `"cls"` takes [CLS].
    A sequence longer than the encoder's window arrives as several windows with the same `owner`:
    their token representations are pooled together before the head, so a long input gets one
    representation and one logit. The forward pass returns one logit per sequence.
    """

    def __init__(self, encoder: nn.Module, pooling: str = "mean", head_size: int = 25, dropout: float = 0.3):
        super().__init__()
        if pooling not in POOLINGS:
            raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        hidden = encoder.config.hidden_size
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(hidden, head_size), nn.Tanh(), nn.Linear(head_size, 1)
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        sequence_mask: torch.Tensor,
        owner: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`inputs_embeds`, when given, replaces the token embeddings (for gradients on the embeddings)."""
        sums, weights = self.window_sums(input_ids, attention_mask, sequence_mask, inputs_embeds)
        if owner is None:
            owner = torch.arange(len(sums), device=sums.device)
        n_sequences = int(owner.max()) + 1
        pooled = torch.zeros(n_sequences, sums.shape[-1], device=sums.device).index_add(0, owner, sums)
        counts = torch.zeros(n_sequences, device=sums.device).index_add(0, owner, weights)
        return self.head(pooled, counts)

    def window_sums(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        sequence_mask: torch.Tensor,
        inputs_embeds: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per window, the sum of the token representations that pooling averages, and how many tokens that is
        (one [CLS] with `cls` pooling): sums of a sequence's windows add up, so its windows may be encoded in
        several passes and pooled after."""
        tokens = {"input_ids": input_ids} if inputs_embeds is None else {"inputs_embeds": inputs_embeds}
        hidden = self.encoder(**tokens, attention_mask=attention_mask).last_hidden_state.float()
        if self.pooling == "cls":
            return hidden[:, 0], torch.ones(len(hidden), device=hidden.device)
        mask = sequence_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1), mask.sum((1, 2))

    def head(self, sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """One logit per sequence from its pooled sums and token counts (`window_sums` added up by sequence)."""
        return self.classifier(sums / counts.clamp(min=1.0).unsqueeze(-1)).squeeze(-1)


def autocast(device: torch.device | str):
    """bf16 autocast on CUDA; a no-op context elsewhere."""
    device_type = torch.device(device).type
    return (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        if device_type == "cuda"
        else torch.autocast(device_type=device_type, enabled=False)
    )


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda was asked for, but torch sees no CUDA device", parameters=("device",))
    return torch.device(name)
