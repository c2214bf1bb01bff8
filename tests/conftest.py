"""Shared fixtures: small data sets written on the fly and tiny models trained once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enhancerlm.commands.prepare import prepare_samplesheet
from enhancerlm.commands.train import train
from enhancerlm.formats.files import resource
from enhancerlm.training.loop import TrainOptions

MOTIF = "TGACTCAGCATGACTCA"  # an AP-1-like palindrome pair, planted in every positive


def invoke(*args):
    """Run the `enhancerlm` command line in-process; arguments may be paths or numbers."""
    from click.testing import CliRunner

    from enhancerlm.cli import main

    return CliRunner().invoke(main, [str(arg) for arg in args])


def random_dna(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=length))


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


def write_fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records))
    return path


def planted_samplesheet(
    directory: Path,
    *,
    n_train: int = 240,
    n_test: int = 120,
    length: int = 80,
    shuffle_labels: bool = False,
    positive_every: int = 2,
    seed: int = 0,
) -> Path:
    """A task with a planted signal: positives carry MOTIF at a random position, negatives do not.

    One record in `positive_every` is positive. With `shuffle_labels` the same sequences are
    split into classes at random, so there is nothing to learn.
    """
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    rows = ["dataset,fasta,label,split"]
    for split, n in (("train", n_train), ("test", n_test)):
        sequences = ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]
        labels = (np.arange(n) % positive_every == 0).astype(int)
        for i in np.flatnonzero(labels):
            start = rng.integers(0, length - len(MOTIF))
            sequences[i] = sequences[i][:start] + MOTIF + sequences[i][start + len(MOTIF) :]
        if shuffle_labels:
            labels = rng.permutation(labels)
        for label, name in ((1, "positive"), (0, "negative")):
            records = [(f"{split}_{i}", s) for i, s in enumerate(sequences) if labels[i] == label]
            fasta = write_fasta(directory / f"{split}_{name}.fa", records)
            rows.append(f"planted,{fasta},{name},{split}")
    sheet = directory / "samplesheet.csv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


def composition_samplesheet(
    directory: Path, *, n_train: int = 240, n_test: int = 120, length: int = 80, gc_positive: float = 0.7, seed: int = 0
) -> Path:
    """A task with a composition difference and nothing else: positives drawn with GC fraction `gc_positive`,
    negatives with 0.5, no motif in either."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    rows = ["dataset,fasta,label,split"]
    for split, n in (("train", n_train), ("test", n_test)):
        for name, gc in (("positive", gc_positive), ("negative", 0.5)):
            letters = rng.choice(list("ACGT"), size=(n // 2, length), p=[(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
            records = [(f"{split}_{name}_{i}", "".join(row)) for i, row in enumerate(letters)]
            rows.append(f"composition,{write_fasta(directory / f'{split}_{name}.fa', records)},{name},{split}")
    sheet = directory / "samplesheet.csv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


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


def planted_motif_samplesheet(
    directory: Path,
    planted: np.ndarray,
    decoy: np.ndarray,
    *,
    n_train: int = 800,
    n_test: int = 200,
    length: int = 60,
    shuffle_labels: bool = False,
    seed: int = 0,
) -> Path:
    """Motif recovery data: every positive carries an instance sampled from the `planted` matrix (rows =
    positions, columns A C G T), every negative a shuffled copy of one (same composition, no motif), and
    half of all records an instance of the `decoy` matrix, so only the planted motif tells the classes apart."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)

    def sample(pfm: np.ndarray) -> str:
        return "".join("ACGT"[rng.choice(4, p=row / row.sum())] for row in pfm)

    def place(sequence: list[str], instance: str, taken: list[tuple[int, int]]) -> None:
        for _ in range(50):
            start = int(rng.integers(0, length - len(instance) + 1))
            if all(start + len(instance) <= a or start >= b for a, b in taken):
                break
        sequence[start : start + len(instance)] = instance
        taken.append((start, start + len(instance)))

    rows = ["dataset,fasta,label,split"]
    for split, n in (("train", n_train), ("test", n_test)):
        labels = (np.arange(n) % 2 == 0).astype(int)
        sequences = []
        for label in labels:
            sequence, taken = list(rng.choice(list("ACGT"), size=length)), []
            instance = sample(planted)
            place(sequence, instance if label else "".join(rng.permutation(list(instance))), taken)
            if rng.random() < 0.5:
                place(sequence, sample(decoy), taken)
            sequences.append("".join(sequence))
        if shuffle_labels:
            labels = rng.permutation(labels)
        for label, name in ((1, "positive"), (0, "negative")):
            records = [(f"{split}_{i}", s) for i, s in enumerate(sequences) if labels[i] == label]
            rows.append(f"planted,{write_fasta(directory / f'{split}_{name}.fa', records)},{name},{split}")
    sheet = directory / "samplesheet.csv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet
