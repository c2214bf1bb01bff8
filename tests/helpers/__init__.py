"""Helpers the tests share: random DNA, FASTA files, samplesheets with planted signals (a motif, a
composition difference, JASPAR-like motifs) and the command line run in-process. Fixtures stay in conftest.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MOTIF = "TGACTCAGCATGACTCA"  # an AP-1-like palindrome pair, planted in every positive


def invoke(*args):
    """Run the `enhancerlm` command line in-process; arguments may be paths or numbers."""
    from click.testing import CliRunner

    from enhancerlm.cli import main

    return CliRunner().invoke(main, [str(arg) for arg in args])


def random_dna(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=length))


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


def untrained_lm(directory: Path, window: int) -> Path:
    """An untrained scratch-tiny k = 3 language model saved with a card (64 tokens, so windows up to 64 nt; card
    window `window`, forward strand): the same weights every time, for tests of scoring mechanics."""
    import torch

    from enhancerlm.models.checkpoint import load_model, save_model

    torch.manual_seed(0)
    card = {"model_id": "tiny", "type": "language-model", "window": window, "threshold": 0.5, "strand_mode": "forward"}
    save_model(load_model("scratch-tiny", kmer=3, max_positions=64), directory, card)
    return directory
