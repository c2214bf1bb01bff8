"""Checkpoints: a preset, a local directory or a Hub id to a classifier (safetensors only, remote code only when
asked), saving a trained classifier as a Hugging Face directory, and converting `pytorch_model.bin` once."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from enhancerlm.errors import InputError
from enhancerlm.formats.files import atomic_path, sha256_file, write_json
from enhancerlm.models.card import CARD_FILE, WEIGHTS_FILE, check_weights, read_card
from enhancerlm.models.classifier import HEAD_PREFIX, PRESETS, EnhancerClassifier
from enhancerlm.models.language_model import LoadedModel
from enhancerlm.models.tokenize import KmerTokenizer, load_tokenizer

log = logging.getLogger(__name__)


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
            raise InputError(f"kmer is required to build {spec} from scratch", parameters=("kmer",))
        return _scratch_model(spec, kmer, pooling, max_positions)
    directory = resolve_checkpoint(spec)
    if not trust_remote_code and _needs_remote_code(directory):
        raise InputError(
            f"{spec}: this checkpoint runs its own Python code (auto_map); read it, and pass "
            "--trust-remote-code if you trust it"
        )
    card = read_card(directory)
    tokenizer = load_tokenizer(directory, trust_remote_code=trust_remote_code)
    if kmer is not None and isinstance(tokenizer, KmerTokenizer) and tokenizer.k != kmer:
        raise InputError(
            f"{spec}: its vocabulary is for k={tokenizer.k}, but kmer {kmer} was given", parameters=("kmer",)
        )
    encoder = _load_encoder(directory, trust_remote_code)
    imported = None if card else sequence_classifier(directory, encoder)
    if imported:
        classifier, card = imported
        return LoadedModel(classifier, tokenizer, card, spec)
    classifier = EnhancerClassifier(encoder, pooling=card.get("pooling", pooling))
    if card:
        head = {
            k.removeprefix(HEAD_PREFIX): v
            for k, v in load_file(directory / WEIGHTS_FILE).items()
            if k.startswith(HEAD_PREFIX)
        }
        classifier.classifier.load_state_dict(head)
    return LoadedModel(classifier, tokenizer, card, spec)


def sequence_classifier(directory: Path, encoder: nn.Module) -> tuple[EnhancerClassifier, dict] | None:
    """A Hugging Face `*ForSequenceClassification` checkpoint of two labels (a fine-tuned DNABERT, say) as a
    trained model: [CLS] -> the pooler's dense layer and tanh -> the difference of the two label rows, so that the
    sigmoid of the logit is the checkpoint's own softmax probability of label 1. None for other checkpoints."""
    config = json.loads((directory / "config.json").read_text())
    if not any(name.endswith("ForSequenceClassification") for name in config.get("architectures") or []):
        return None
    weights = load_file(directory / WEIGHTS_FILE)
    pooler = [key for key in weights if key.endswith("pooler.dense.weight")]
    rows, bias = weights.get("classifier.weight"), weights.get("classifier.bias")
    if len(pooler) != 1 or rows is None or rows.shape[0] != 2:
        raise InputError(f"{directory}: a sequence classifier without a pooler and a head of two labels")
    classifier = EnhancerClassifier(encoder, pooling="cls", head_size=encoder.config.hidden_size)
    head = classifier.classifier
    with torch.no_grad():
        head[1].weight.copy_(weights[pooler[0]])
        head[1].bias.copy_(weights[pooler[0].removesuffix("weight") + "bias"])
        head[3].weight.copy_((rows[1] - rows[0]).unsqueeze(0))
        head[3].bias.copy_((bias[1] - bias[0]).unsqueeze(0))
    labels = config.get("id2label") or {}
    card = {
        "model_id": directory.name,
        "type": "language-model",
        "source": f"Hugging Face {config['architectures'][0]} (softmax probability of label 1)",
        "labels": {"0": labels.get("0", "0"), "1": labels.get("1", "1")},
        "threshold": 0.5,
        "strand_mode": "forward",
    }
    return classifier, card


def _scratch_model(preset: str, kmer: int, pooling: str, max_positions: int) -> LoadedModel:
    from transformers import BertConfig, BertModel

    tokenizer = KmerTokenizer.for_kmer(kmer, model_max_length=max_positions)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
        **PRESETS[preset],
    )
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
            str(directory),
            config=config,
            use_safetensors=True,
            trust_remote_code=trust_remote_code,
            output_loading_info=True,
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    missing = [k for k in info.get("missing_keys", []) if "pooler" not in k]
    if missing:
        log.warning(
            "%s: %d encoder weights not in the checkpoint and newly initialised, e.g. %s",
            directory,
            len(missing),
            missing[:3],
        )
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
    if (directory / WEIGHTS_FILE).exists():
        check_weights(directory / WEIGHTS_FILE)
    return directory


def _download(repo_id: str, allow_bin: bool) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.txt", "*.model", "*.py", "*.safetensors"] + (["*.bin"] if allow_bin else [])
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as error:  # network, auth or unknown id: all end the same way for the user
        raise InputError(f"{repo_id}: not a local directory and could not be fetched from the Hub ({error})") from error


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
        tensors.update(
            {HEAD_PREFIX + k: v.detach().cpu().contiguous() for k, v in classifier.classifier.state_dict().items()}
        )
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
