"""Enhancer classifiers: a language-model encoder with a small pooled head.

Checkpoints are Hugging Face model directories. Ours add the head's tensors (`classifier.*`)
to `model.safetensors` and a model card, `enhancerlm.json`, so `AutoModel.from_pretrained`
still reads the encoder while enhancerlm reads the whole classifier.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .data import reverse_complement
from .errors import InputError
from .io import atomic_path, sha256_file, write_json
from .tokenize import KmerTokenizer, SequenceTokenizer, TokenBatch, load_tokenizer

log = logging.getLogger(__name__)

CARD_FILE = "enhancerlm.json"
WEIGHTS_FILE = "model.safetensors"
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

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, sequence_mask: torch.Tensor,
                owner: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """`inputs_embeds`, when given, replaces the token embeddings (for gradients on the embeddings)."""
        tokens = {"input_ids": input_ids} if inputs_embeds is None else {"inputs_embeds": inputs_embeds}
        hidden = self.encoder(**tokens, attention_mask=attention_mask).last_hidden_state.float()
        if self.pooling == "cls":
            sums, weights = hidden[:, 0], torch.ones(len(hidden), device=hidden.device)
        else:
            mask = sequence_mask.unsqueeze(-1).to(hidden.dtype)
            sums, weights = (hidden * mask).sum(1), mask.sum((1, 2))
        if owner is None:
            owner = torch.arange(len(hidden), device=hidden.device)
        n_sequences = int(owner.max()) + 1
        pooled = torch.zeros(n_sequences, hidden.shape[-1], device=hidden.device).index_add(0, owner, sums)
        counts = torch.zeros(n_sequences, device=hidden.device).index_add(0, owner, weights)
        return self.classifier(pooled / counts.clamp(min=1.0).unsqueeze(-1)).squeeze(-1)


@dataclass
class LoadedModel:
    """A classifier with its tokenizer and, for trained models, its model card."""

    classifier: EnhancerClassifier
    tokenizer: SequenceTokenizer
    card: dict
    source: str

    def predict_proba(self, sequences: list[str], *, batch_size: int = 64, device: torch.device | str = "cpu",
                      both_strands: bool | None = None) -> np.ndarray:
        """Enhancer probabilities; strands as the model card says unless `both_strands` is given."""
        if both_strands is None:
            both_strands = self.card.get("strand_mode") == "both"
        return predict_proba(self, sequences, batch_size=batch_size, device=device, both_strands=both_strands)

    @property
    def max_nucleotides(self) -> int:
        positions = getattr(self.classifier.encoder.config, "max_position_embeddings", None) or 512
        return self.tokenizer.max_nucleotides(min(positions, self.tokenizer.model_max_length))


def load_model(
    spec: str,
    *,
    kmer: int | None = None,
    pooling: str = "mean",
    trust_remote_code: bool = False,
    max_positions: int = 512,
) -> LoadedModel:
    """Load a classifier from a preset name, a local checkpoint directory or a Hub id.

    Trained enhancerlm models come back with their head and model card; plain language-model
    checkpoints (DNABERT, Nucleotide Transformer, ...) get a freshly initialised head.
    """
    if spec in PRESETS:
        if kmer is None:
            raise InputError(f"--kmer is required to build {spec} from scratch")
        return _scratch_model(spec, kmer, pooling, max_positions)
    directory = resolve_checkpoint(spec)
    if not trust_remote_code and _needs_remote_code(directory):
        raise InputError(f"{spec}: this checkpoint runs its own Python code (auto_map); read it, and pass "
                         "--trust-remote-code if you trust it")
    card = read_card(directory)
    tokenizer = load_tokenizer(directory, trust_remote_code=trust_remote_code)
    if kmer is not None and isinstance(tokenizer, KmerTokenizer) and tokenizer.k != kmer:
        raise InputError(f"{spec}: its vocabulary is for k={tokenizer.k}, but --kmer {kmer} was given")
    encoder = _load_encoder(directory, trust_remote_code)
    classifier = EnhancerClassifier(encoder, pooling=card.get("pooling", pooling))
    if card:
        head = {k.removeprefix(HEAD_PREFIX): v for k, v in load_file(directory / WEIGHTS_FILE).items()
                if k.startswith(HEAD_PREFIX)}
        classifier.classifier.load_state_dict(head)
    return LoadedModel(classifier, tokenizer, card, spec)


def load_trained(spec: str):
    """Any trained enhancerlm model, ready to score: a language-model classifier, the k-mer
    baseline, or an ensemble. Each has `.card` and `.predict_proba(sequences, **options)`."""
    card = read_card(spec) if Path(spec).is_dir() else {}
    if card.get("type") == "ensemble":
        from .ensemble import Ensemble

        return Ensemble.load(spec)
    if card.get("type") == "kmer-baseline":
        from .baseline import KmerBaseline

        return KmerBaseline.load(spec)
    model = load_model(spec)
    if not model.card:
        raise InputError(f"{spec}: not a trained enhancerlm model (no {CARD_FILE}); train it first")
    return model


def _scratch_model(preset: str, kmer: int, pooling: str, max_positions: int) -> LoadedModel:
    from transformers import BertConfig, BertModel

    tokenizer = KmerTokenizer.for_kmer(kmer, model_max_length=max_positions)
    config = BertConfig(vocab_size=tokenizer.vocab_size, max_position_embeddings=max_positions,
                        pad_token_id=tokenizer.pad_token_id, **PRESETS[preset])
    return LoadedModel(EnhancerClassifier(BertModel(config, add_pooling_layer=False), pooling), tokenizer, {}, preset)


def _needs_remote_code(directory: Path) -> bool:
    configs = [directory / "config.json", directory / "tokenizer_config.json"]
    return any("auto_map" in json.loads(path.read_text()) for path in configs if path.exists())


def _load_encoder(directory: Path, trust_remote_code: bool) -> nn.Module:
    from transformers import AutoConfig, AutoModel, BertConfig
    from transformers.utils import logging as hf_logging

    raw_config = json.loads((directory / "config.json").read_text())
    if "model_type" not in raw_config:  # DNABERT's configs predate `model_type`; they are BERT
        config = BertConfig.from_pretrained(str(directory))
    else:
        config = AutoConfig.from_pretrained(str(directory), trust_remote_code=trust_remote_code)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # we report missing encoder weights ourselves, below
    hf_logging.disable_progress_bar()
    try:
        encoder, info = AutoModel.from_pretrained(
            str(directory), config=config, use_safetensors=True,
            trust_remote_code=trust_remote_code, output_loading_info=True,
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = [k for k in info.get("missing_keys", []) if "pooler" not in k]
    if missing:
        log.warning("%s: %d encoder weights not in the checkpoint and newly initialised, e.g. %s",
                    directory, len(missing), missing[:3])
    return encoder


def resolve_checkpoint(spec: str, allow_bin: bool = False) -> Path:
    """Local directory of a checkpoint given as a path or a Hub id; checks it holds safetensors."""
    directory = Path(spec)
    if not directory.exists():
        if spec.startswith((".", "/")) or spec.count("/") != 1:  # a Hub id is exactly "owner/name"
            raise InputError(f"{spec}: no such model directory")
        directory = _download(spec, allow_bin)
    if not (directory / "config.json").exists():
        raise InputError(f"{directory}: not a model directory (no config.json)")
    has_safetensors = (directory / WEIGHTS_FILE).exists() or (directory / f"{WEIGHTS_FILE}.index.json").exists()
    if not has_safetensors and not allow_bin:
        if list(directory.glob("pytorch_model*.bin")):
            raise InputError(
                f"{directory}: weights are only in pytorch_model.bin; enhancerlm loads safetensors only. "
                f"Convert once with: enhancerlm convert --input {spec} --outdir <dir>"
            )
        raise InputError(f"{directory}: no {WEIGHTS_FILE} found")
    return directory


def _download(repo_id: str, allow_bin: bool) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.txt", "*.model", "*.py", "*.safetensors"] + (["*.bin"] if allow_bin else [])
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as error:  # network, auth or unknown id: all end the same way for the user
        raise InputError(f"{repo_id}: not a local directory and could not be fetched from the Hub ({error})") from error


def read_card(directory: str | Path) -> dict:
    """The model card of a trained enhancerlm model, or {} for a plain checkpoint."""
    path = Path(directory) / CARD_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def save_model(model: LoadedModel, directory: str | Path, card: dict) -> dict:
    """Write a Hugging Face model directory with the head's weights and the model card.

    Every file is moved into place atomically and the card goes last, so a directory with a
    card always holds complete weights. Returns the card with the weights' sha256 added.
    """
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    classifier = model.classifier
    with tempfile.TemporaryDirectory(dir=directory, prefix=".save.", suffix=".tmp") as staging:
        staging = Path(staging)
        if card.get("labels"):
            classifier.encoder.config.id2label = {int(k): v for k, v in card["labels"].items()}
        classifier.encoder.save_pretrained(str(staging), safe_serialization=True, max_shard_size="100GB")
        tensors = load_file(staging / WEIGHTS_FILE)
        tensors.update({HEAD_PREFIX + k: v.detach().cpu().contiguous() for k, v in classifier.classifier.state_dict().items()})
        save_file(tensors, staging / WEIGHTS_FILE, metadata={"format": "pt"})
        model.tokenizer.save_pretrained(staging)
        for path in staging.iterdir():
            os.replace(path, directory / path.name)
    card = {**card, "pooling": classifier.pooling, "weights_sha256": sha256_file(directory / WEIGHTS_FILE)}
    write_json(directory / CARD_FILE, card)
    return card


def convert_checkpoint(source: str, outdir: str | Path) -> Path:
    """Turn a `pytorch_model.bin` checkpoint (as DNABERT publishes) into `model.safetensors`.

    The pickle is read with `weights_only=True`, so it cannot run code. Tensors that share
    storage (tied embeddings) are written as separate copies, which safetensors requires.
    """
    directory = resolve_checkpoint(source, allow_bin=True)
    shards = sorted(directory.glob("pytorch_model*.bin"))
    if not shards:
        raise InputError(f"{directory}: no pytorch_model*.bin to convert")
    tensors: dict[str, torch.Tensor] = {}
    for shard in shards:
        try:
            state = torch.load(shard, map_location="cpu", weights_only=True)
        except Exception as error:
            raise InputError(f"{shard}: cannot be read as plain weights ({error})") from error
        tensors.update({k: v.detach().clone().contiguous() for k, v in state.items()})
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for path in directory.iterdir():
        if path.is_file() and path.suffix in {".json", ".txt", ".model", ".py"} and "pytorch_model" not in path.name:
            shutil.copyfile(path, outdir / path.name)
    with atomic_path(outdir / WEIGHTS_FILE) as tmp:
        save_file(tensors, tmp, metadata={"format": "pt"})
    return outdir / WEIGHTS_FILE


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but torch sees no CUDA device")
    return torch.device(name)


def window_batch(model: "LoadedModel", sequences: list[str]) -> tuple[TokenBatch, torch.Tensor]:
    """Tokens of every window of the sequences (long ones split by `split_windows`) and, per window,
    the index of the sequence it belongs to."""
    pieces: list[str] = []
    owner: list[int] = []
    for index, sequence in enumerate(sequences):
        windows = split_windows(sequence, model.max_nucleotides)
        pieces.extend(windows)
        owner.extend([index] * len(windows))
    return model.tokenizer.encode(pieces), torch.tensor(owner)


@torch.no_grad()
def predict_proba(
    model: LoadedModel,
    sequences: list[str],
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    both_strands: bool = False,
) -> np.ndarray:
    """Enhancer probability per sequence.

    A sequence longer than the model's window is read as half-overlapping windows pooled into one
    representation; with `both_strands` the reverse complement is scored too and the two
    probabilities averaged. A batch holds at most `batch_size` windows (or one long sequence).
    """
    strands = [*sequences, *map(reverse_complement, sequences)] if both_strands else list(sequences)
    classifier = model.classifier.to(device).eval()
    probabilities = np.empty(len(strands), dtype=np.float64)
    order = np.argsort([len(s) for s in strands], kind="stable")  # similar lengths share a batch
    n_windows = [len(split_windows(s, model.max_nucleotides)) for s in strands]
    batch: list[int] = []
    windows = 0
    for position, index in enumerate(order):
        batch.append(index)
        windows += n_windows[index]
        upcoming = order[position + 1] if position + 1 < len(order) else None
        if upcoming is not None and windows + n_windows[upcoming] <= batch_size:
            continue
        tokens, owner = window_batch(model, [strands[i] for i in batch])
        tokens = tokens.to(device)
        with autocast(device):
            logits = classifier(tokens.input_ids, tokens.attention_mask, tokens.sequence_mask, owner.to(device))
        probabilities[batch] = torch.sigmoid(logits.float()).cpu().numpy()
        batch, windows = [], 0
    return probabilities.reshape(2, -1).mean(0) if both_strands else probabilities


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


def autocast(device: torch.device | str):
    """bf16 autocast on CUDA; a no-op context elsewhere."""
    device_type = torch.device(device).type
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device_type == "cuda" else torch.autocast(
        device_type=device_type, enabled=False)
