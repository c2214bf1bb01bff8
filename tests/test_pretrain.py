import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from enhancerlm.cli import main
from enhancerlm.commands.train import train
from enhancerlm.errors import InputError
from enhancerlm.models.checkpoint import load_model
from enhancerlm.models.tokenize import KmerTokenizer
from enhancerlm.training.loop import TrainOptions
from enhancerlm.training.pretrain import corpus_windows, mask_spans


def test_masks_are_spans_of_k_sequence_tokens():
    tokenizer = KmerTokenizer.for_kmer(4)
    rng = np.random.default_rng(0)
    batch = tokenizer.encode(["".join(rng.choice(list("ACGT"), 300)), "ACGTACGTAC"])
    generator = torch.Generator().manual_seed(1)
    corrupted, labels = mask_spans(
        batch.input_ids, batch.sequence_mask, 4, 0.15, tokenizer.mask_token_id, tokenizer.vocab_size, 5, generator
    )
    masked = labels != -100
    assert not (masked & (batch.sequence_mask == 0)).any()  # never [CLS], [SEP] or padding
    assert torch.equal(labels[masked], batch.input_ids[masked])
    fraction = masked[0].sum().item() / batch.sequence_mask[0].sum().item()
    assert 0.08 < fraction < 0.3
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, masked[0].int().numpy(), 0])))[::2]
    last = batch.sequence_mask[0].sum().item()
    ends = np.flatnonzero(np.diff(np.r_[masked[0].int().numpy(), 0]) == -1)
    assert all(run >= 4 or end == last for run, end in zip(runs, ends))  # only the sequence end cuts a span
    assert (corrupted[masked] == tokenizer.mask_token_id).float().mean() > 0.6
    assert torch.equal(corrupted[~masked], batch.input_ids[~masked])


def test_corpus_windows_skip_n_and_upper_case(tmp_path):
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chrA\n" + "acgt" * 10 + "N" * 20 + "ACGT" * 5 + "\n>chrB\nAC\n")
    windows = list(corpus_windows([fasta], window=20, stride=20))
    assert windows == ["ACGT" * 5, "ACGT" * 5, "ACGT" * 5]  # the two N windows and the short record are skipped
    assert len(list(corpus_windows([fasta], window=20, stride=10, max_n_fraction=0.5))) == 6


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pretrain")
    rng = np.random.default_rng(0)
    genome = np.array(list("GATTACAGATTACA" * 600))  # a repeat with 10% of its bases mutated
    mutated = rng.random(len(genome)) < 0.1
    genome[mutated] = rng.choice(list("ACGT"), mutated.sum())
    genome = "".join(genome)
    (directory / "genome.fa").write_text(f">chrT\n{genome}\n")
    result = CliRunner().invoke(
        main,
        [
            "pretrain",
            "--fasta",
            str(directory / "genome.fa"),
            "--kmer",
            "3",
            "--outdir",
            str(directory / "lm"),
            "--model",
            "scratch-tiny",
            "--window",
            "64",
            "--stride",
            "16",
            "--epochs",
            "4",
            "--batch-size",
            "32",
            "--lr",
            "2e-3",
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    return directory / "lm"


def test_pretraining_learns(pretrained):
    card = json.loads((pretrained / "pretrain.json").read_text())
    assert card["kmer"] == 3 and card["windows"] == (8400 - 64) // 16 + 1
    first, last = card["history"][0]["first_batch_loss"], card["history"][-1]["loss"]
    assert first > 3.5  # about ln(69): an untrained model guesses among the 69 tokens
    assert last < first - 1.0, card["history"]  # the repeat becomes predictable


def test_pretrained_model_fine_tunes(pretrained, mini_dataset, tmp_path):
    encoder = load_model(str(pretrained), kmer=3).classifier.encoder
    saved = load_file(pretrained / "model.safetensors")
    for name, value in encoder.state_dict().items():
        if not name.startswith("pooler."):  # masked-LM models have no pooler; enhancerlm's heads do not use it
            assert torch.equal(value, saved[f"bert.{name}"]), name
    card = train(mini_dataset, str(pretrained), tmp_path / "ft", kmer=3, options=TrainOptions(epochs=1), device="cpu")
    assert card["base_model"] == str(pretrained) and card["hyperparameters"]["lr"] == 3e-5
    with pytest.raises(InputError, match="k=3"):
        load_model(str(pretrained), kmer=6)
