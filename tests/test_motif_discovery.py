"""Motif recovery: a planted JASPAR motif is found from a trained model, and not from controls."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from helpers import composition_samplesheet, planted_motif_samplesheet

from enhancerlm.analysis.known_motifs import load_motifs
from enhancerlm.analysis.motif_discovery import MOTIF_COLUMNS, containing, shuffled_controls, split_halves
from enhancerlm.analysis.motif_search import MotifOptions
from enhancerlm.cli import main
from enhancerlm.commands.motifs import discover_motifs
from enhancerlm.commands.prepare import prepare_samplesheet
from enhancerlm.commands.train import train
from enhancerlm.formats.meme import read_meme
from enhancerlm.models.card import read_card
from enhancerlm.models.checkpoint import load_model, save_model
from enhancerlm.training.loop import TrainOptions

PLANTED, DECOY = "MA0139.2", "MA0035.5"  # CTCF and GATA1, JASPAR 2024 CORE vertebrates
TRAINING = TrainOptions(epochs=20, batch_size=32, lr=3e-3, patience=100)


def _dataset(directory, shuffle_labels=False):
    motifs = {motif.id: motif.pfm for motif in load_motifs("jaspar")}
    sheet = planted_motif_samplesheet(directory, motifs[PLANTED], motifs[DECOY], shuffle_labels=shuffle_labels)
    return prepare_samplesheet(sheet, directory / "prepared", folds=3)["planted"]["dataset"]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The planted data set and a tiny k = 3 model trained on it."""
    root = tmp_path_factory.mktemp("planted")
    dataset = _dataset(root)
    train(dataset, "scratch-tiny", root / "model", kmer=3, options=TRAINING, device="cpu")
    return dataset, root / "model"


def _found(report) -> pd.DataFrame:
    return pd.DataFrame(report["motifs"], columns=MOTIF_COLUMNS)


def _planted_matches(motifs: pd.DataFrame) -> pd.DataFrame:
    return motifs[(motifs["match_name"] == "CTCF") & (motifs["match_q"] < 0.05)]


@pytest.mark.parametrize("method", ["attention", "ig"])
def test_the_planted_motif_is_recovered_and_the_decoy_is_not(planted, tmp_path, method):
    dataset, model = planted
    report = discover_motifs(
        str(model), dataset, tmp_path, prefix="planted", options=MotifOptions(method=method, ig_steps=8, device="cpu")
    )
    motifs = _found(report)
    assert report["skill"]["passed"] and report["skill"]["source"] == "test split"
    assert len(_planted_matches(motifs)) >= 1
    best = motifs.sort_values("enrichment_p").iloc[0]
    assert best["match_name"] == "CTCF" and best["known"]
    assert not motifs["match_name"].fillna("").str.startswith("GATA").any()  # the decoy is in both classes
    assert (motifs["enrichment_q"] < 0.005).all() and (motifs["instances_positive"] >= 11).all()


def test_controls_do_not_report_the_planted_motif(planted, tmp_path):
    dataset, trained = planted
    torch.manual_seed(0)
    untrained = tmp_path / "untrained"
    save_model(
        load_model("scratch-tiny", kmer=3),
        untrained,
        {k: v for k, v in read_card(trained).items() if k != "weights_sha256"},
    )
    report = discover_motifs(
        str(untrained), dataset, tmp_path / "untrained_motifs", prefix="untrained", options=MotifOptions(device="cpu")
    )
    assert not report["skill"]["passed"] and report["skill"]["auc"] < 0.65
    assert report["counts"]["motifs"] == 0

    shuffled = _dataset(tmp_path / "shuffled", shuffle_labels=True)
    train(shuffled, "scratch-tiny", tmp_path / "shuffled_model", kmer=3, options=TRAINING, device="cpu")
    for method in ("attention", "ig"):  # without the skill check: enrichment alone must reject it
        report = discover_motifs(
            str(tmp_path / "shuffled_model"),
            shuffled,
            tmp_path / f"shuffled_{method}",
            prefix="shuffled",
            options=MotifOptions(method=method, ig_steps=8, max_skill_p=1.0, device="cpu"),
        )
        assert _planted_matches(_found(report)).empty


def test_motifs_command_writes_every_output(planted, tmp_path):
    dataset, model = planted
    outdir = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["motifs", "--model", str(model), "--dataset", str(dataset), "--outdir", str(outdir), "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    prefix = read_card(model)["model_id"]
    assert result.output.startswith(f"{prefix}\tmotifs=")
    report = json.loads((outdir / f"{prefix}.motifs.json").read_text())
    table = pd.read_csv(outdir / f"{prefix}.motifs.tsv", sep="\t")
    assert list(table.columns) == MOTIF_COLUMNS and len(table) == report["counts"]["motifs"] > 0
    assert report["counts"]["known"] == int(table["known"].sum())
    meme = read_meme(outdir / f"{prefix}.motifs.meme")
    assert list(meme) == table["motif"].tolist()
    for row in table.itertuples():
        assert "".join("ACGT"[i] for i in meme[row.motif].argmax(axis=1)) == row.consensus
        assert (outdir / f"{prefix}.logos" / f"{row.motif}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    candidates = pd.read_csv(outdir / f"{prefix}.candidates.tsv", sep="\t")
    assert len(candidates) == report["counts"]["candidates"]
    train_split = pd.read_csv(dataset, sep="\t", dtype=str, keep_default_na=False).query("split == 'train'")
    train_split = train_split.assign(label=train_split["label"].astype(int)).reset_index(drop=True)
    heldout = train_split[~split_halves(train_split, 0.5, 42)]  # enrichment is counted on the held-out half only
    for row in candidates.head(5).itertuples():
        for label, column in ((1, row.n_positive), (0, row.n_negative)):
            assert column == containing([row.candidate], heldout.loc[heldout["label"] == label, "sequence"].tolist())
    controls = shuffled_controls(heldout.loc[heldout["label"] == 1, "sequence"].tolist(), 42)
    for row in candidates.head(5).itertuples():
        assert row.n_control == containing([row.candidate], controls)  # the same positives, shuffled
    assert report["counts"]["enriched"] == int((candidates["q_value"] < 0.005).sum())
    survives = (candidates["q_value"] < 0.005) & (candidates["control_q_value"] < 0.005)
    assert report["counts"]["significant"] == int(survives.sum()) == int(candidates["survives"].sum())
    assert (table["enrichment_q"] < 0.005).all() and (table["control_q"] < 0.005).all()
    with gzip.open(outdir / f"{prefix}.scores.bedGraph.gz", "rt") as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith("track type=bedGraph")
    assert len(lines) - 1 == 60 * report["counts"]["positives"]  # one line per nucleotide of every positive
    first = lines[1].split("\t")
    assert first[0] == "train_0" and first[1:3] == ["0", "1"] and np.isfinite(float(first[3]))
    general = (outdir / f"{prefix}.motif_hits_mqc.tsv").read_text().splitlines()
    assert general[-1] == f"{prefix}\t{report['counts']['motifs']}\t{report['counts']['known']}"
    html = (outdir / f"{prefix}.motifs_mqc.html").read_text()
    assert html.count("data:image/png;base64,") == len(table) and "CTCF" in html


def test_motifs_command_rejects_a_split_without_both_classes(planted, tmp_path):
    dataset, model = planted
    table = pd.read_csv(dataset, sep="\t", dtype=str, keep_default_na=False)
    one_class = tmp_path / "one.dataset.tsv"
    table[table["label"] == "1"].to_csv(one_class, sep="\t", index=False)
    result = CliRunner().invoke(
        main, ["motifs", "--model", str(model), "--dataset", str(one_class), "--outdir", str(tmp_path / "o")]
    )
    assert result.exit_code == 1 and "needs both positives and negatives" in result.output


def test_a_composition_difference_alone_reports_no_motif(tmp_path):
    """Positives only GC-richer than the negatives, no motif anywhere: the model separates the classes and GC-rich
    k-mers are enriched over the negatives, but not over shuffled copies of the positives, so none is a motif."""
    sheet = composition_samplesheet(tmp_path / "data", gc_positive=0.7)
    dataset = prepare_samplesheet(sheet, tmp_path / "prepared", folds=3)["composition"]["dataset"]
    train(dataset, "scratch-tiny", tmp_path / "model", kmer=3, options=TRAINING, device="cpu")
    report = discover_motifs(
        str(tmp_path / "model"), dataset, tmp_path / "motifs", prefix="gc", options=MotifOptions(device="cpu")
    )
    assert report["skill"]["passed"]  # the model has learnt the composition
    assert report["counts"]["enriched"] > 0  # which enriches GC-rich k-mers over the negatives
    candidates = pd.read_csv(tmp_path / "motifs" / "gc.candidates.tsv", sep="\t")
    enriched = candidates[candidates["q_value"] < 0.005]
    assert enriched["candidate"].map(lambda k: (k.count("G") + k.count("C")) / len(k)).mean() > 0.6
    assert report["counts"]["significant"] == 0 and report["motifs"] == []
