"""Shared fixtures: small data sets written on the fly and tiny models trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import invoke
from helpers.nextflow import RunnerRecord, record_runner, variant_params

from enhancerlm.commands.prepare import prepare_samplesheet
from enhancerlm.commands.train import train
from enhancerlm.formats.files import resource
from enhancerlm.training.loop import TrainOptions


@pytest.fixture(scope="session")
def test_profile_results(tmp_path_factory) -> Path:
    """`enhancerlm run --profile test`, the whole pipeline on the bundled mini data, run once per session."""
    results = tmp_path_factory.mktemp("test_profile") / "results"
    result = invoke("run", "--profile", "test", "--outdir", results, "--device", "cpu")
    assert result.exit_code == 0, result.output
    return results


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread, and do not stall when other jobs share the CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def mini_dataset(tmp_path_factory) -> Path:
    """The bundled 200-record iEnhancer-2L slice, prepared with 3 folds."""
    outdir = tmp_path_factory.mktemp("mini_prepare")
    written = prepare_samplesheet(resource("assets/samplesheets/mini_layer1.csv"), outdir, folds=3)
    return written["mini_layer1"]["dataset"]


@pytest.fixture(scope="session")
def mini_model(tmp_path_factory, mini_dataset) -> Path:
    """scratch-tiny, k = 3, two epochs on the mini data set."""
    outdir = tmp_path_factory.mktemp("mini_model") / "mini_k3"
    train(mini_dataset, "scratch-tiny", outdir, kmer=3, options=TrainOptions(epochs=2, batch_size=16), device="cpu")
    return outdir


@pytest.fixture
def bpe_checkpoint(tmp_path, mini_dataset):
    """A tiny BPE-tokenized ESM encoder (the Nucleotide Transformer's architecture; BPE as DNABERT-2 and GENA-LM)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import EsmConfig, EsmModel, PreTrainedTokenizerFast

    from enhancerlm.formats.dataset_table import read_dataset

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    bpe.train_from_iterator(
        read_dataset(mini_dataset)["sequence"].tolist(), trainers.BpeTrainer(vocab_size=96, special_tokens=specials)
    )
    bpe.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=256,
    )
    directory = tmp_path / "bpe_esm"
    tokenizer.save_pretrained(str(directory))
    config = EsmConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=258,
        pad_token_id=0,
        mask_token_id=4,
        position_embedding_type="absolute",
    )
    torch.manual_seed(2)
    EsmModel(config, add_pooling_layer=False).save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="module")
def runner_records(tmp_path_factory):
    cache: dict[str, RunnerRecord] = {}

    def get(variant: str) -> RunnerRecord:
        if variant not in cache:
            outdir = tmp_path_factory.mktemp(f"runner_{variant}")
            params = {**variant_params(variant), "outdir": str(outdir)}
            cache[variant] = record_runner(params)
        return cache[variant]

    return get
