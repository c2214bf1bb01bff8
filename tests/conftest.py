"""Shared fixtures: small data sets written on the fly and tiny models trained once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enhancerlm.data import prepare_samplesheet
from enhancerlm.io import resource
from enhancerlm.train import TrainOptions, train

MOTIF = "TGACTCAGCATGACTCA"  # an AP-1-like palindrome pair, planted in every positive


def write_fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in records))
    return path


def planted_samplesheet(directory: Path, *, n_train: int = 240, n_test: int = 120, length: int = 80,
                        shuffle_labels: bool = False, positive_every: int = 2, seed: int = 0) -> Path:
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
            sequences[i] = sequences[i][:start] + MOTIF + sequences[i][start + len(MOTIF):]
        if shuffle_labels:
            labels = rng.permutation(labels)
        for label, name in ((1, "positive"), (0, "negative")):
            records = [(f"{split}_{i}", s) for i, s in enumerate(sequences) if labels[i] == label]
            fasta = write_fasta(directory / f"{split}_{name}.fa", records)
            rows.append(f"planted,{fasta},{name},{split}")
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
    train(mini_dataset, "scratch-tiny", outdir, kmer=3, options=TrainOptions(epochs=2, batch_size=16),
          device="cpu")
    return outdir
