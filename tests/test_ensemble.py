import filecmp
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from enhancerlm.cli import main
from enhancerlm.commands.ensemble import build_ensemble
from enhancerlm.commands.evaluate import evaluate_model
from enhancerlm.commands.train import train
from enhancerlm.errors import InputError
from enhancerlm.formats.dataset_table import read_dataset
from enhancerlm.models.baseline import KmerBaseline, spectrum_features
from enhancerlm.models.ensemble import combine
from enhancerlm.models.scorer import load_trained
from enhancerlm.training.ensemble import fit_weights
from enhancerlm.training.loop import TrainOptions


@pytest.fixture(scope="module")
def members(tmp_path_factory, mini_dataset, mini_model):
    """Three members that differ in k and architecture, each with out-of-fold predictions."""
    root = tmp_path_factory.mktemp("members")
    options = TrainOptions(epochs=1, batch_size=16)
    train(mini_dataset, "scratch-tiny", root / "k3", kmer=3, options=options, device="cpu", cross_validation=True)
    train(mini_dataset, "scratch-tiny", root / "k5", kmer=5, options=options, device="cpu", cross_validation=True)
    train(mini_dataset, "kmer-baseline", root / "baseline", options=options, cross_validation=True)
    return [root / "k3", root / "k5", root / "baseline"]


def _scrambled_test_labels(dataset, directory):
    table = read_dataset(dataset)
    test = table["split"] == "test"
    table.loc[test, "label"] = np.random.default_rng(0).permutation(table.loc[test, "label"].to_numpy())
    directory.mkdir()
    path = directory / dataset.name
    table.to_csv(path, sep="\t", index=False)
    return path


def _same_tree(a, b):
    """The same files, byte for byte, but for the card's record of which table it was built from (its path and
    sha256, which differ with the test labels by construction)."""
    comparison = filecmp.dircmp(a, b)
    assert not comparison.left_only and not comparison.right_only, comparison.report()
    for name in comparison.common_dirs:
        _same_tree(a / name, b / name)
    for name in comparison.common_files:
        if name == "enhancerlm.json" and "members" in json.loads((a / name).read_text()):
            cards = [json.loads((d / name).read_text()) for d in (a, b)]
            assert cards[0]["training_data"].pop("path") != cards[1]["training_data"].pop("path")
            assert cards[0]["training_data"].pop("sha256") != cards[1]["training_data"].pop("sha256")
            assert cards[0] == cards[1]
        else:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_mean_ensemble_is_the_mean_of_member_probabilities(members, mini_dataset, tmp_path):
    card = build_ensemble([str(m) for m in members], mini_dataset, tmp_path / "ens", method="mean", device="cpu")
    assert card["weights"] == pytest.approx([1 / 3] * 3)
    evaluate_model(str(tmp_path / "ens"), mini_dataset, outdir=tmp_path / "eval", prefix="ens", device="cpu")
    columns = []
    for member in members:
        evaluate_model(str(member), mini_dataset, outdir=tmp_path / "eval", prefix=member.name, device="cpu")
        columns.append(pd.read_csv(tmp_path / "eval" / f"{member.name}.predictions.tsv", sep="\t")["probability"])
    ensemble = pd.read_csv(tmp_path / "eval" / "ens.predictions.tsv", sep="\t")["probability"]
    assert np.allclose(ensemble, np.mean(columns, axis=0), atol=2e-6)  # predictions are written to 6 decimals
    metrics = json.loads((tmp_path / "eval" / "ens.metrics.json").read_text())
    assert metrics["model_id"] == "ens" and metrics["threshold"] == card["threshold"]
    assert {"all", "leak_free"} <= set(metrics["subsets"])


@pytest.mark.parametrize("method", ["mean", "weighted", "stacking"])
def test_test_labels_never_reach_the_ensemble(members, mini_dataset, tmp_path, method):
    """Permuting the test labels leaves the ensemble directory byte-identical, but for the table's name."""
    scrambled = _scrambled_test_labels(mini_dataset, tmp_path / "scrambled")
    specs = [str(m) for m in members]
    build_ensemble(specs, mini_dataset, tmp_path / "a" / "ens", method=method, device="cpu")
    build_ensemble(specs, scrambled, tmp_path / "b" / "ens", method=method, device="cpu")
    _same_tree(tmp_path / "a" / "ens", tmp_path / "b" / "ens")


def test_stacking_learns_from_out_of_fold_predictions(members, mini_dataset, tmp_path):
    card = build_ensemble([str(m) for m in members], mini_dataset, tmp_path / "stack", method="stacking", device="cpu")
    assert card["threshold_rule"].startswith("maximum MCC on the stacker's out-of-fold")
    assert len(card["weights"]) == 3 and isinstance(card["bias"], float)
    assert card["validation"]["n"] == int((read_dataset(mini_dataset)["split"] == "train").sum())
    ensemble = load_trained(str(tmp_path / "stack"))
    sequences = read_dataset(mini_dataset)["sequence"].tolist()[:5]
    member_p = ensemble.member_probabilities(sequences, device="cpu")
    logits = np.log(member_p / (1 - member_p)) @ np.array(card["weights"]) + card["bias"]
    assert np.allclose(ensemble.predict_proba(sequences, device="cpu"), 1 / (1 + np.exp(-logits)))


def test_stacking_needs_cross_validated_members(mini_model, mini_dataset, members, tmp_path):
    with pytest.raises(InputError, match="stacking needs members trained with cv"):
        build_ensemble([str(mini_model), str(members[2])], mini_dataset, tmp_path / "s", method="stacking")


def test_members_must_share_labels(members, mini_dataset, tmp_path):
    card_path = tmp_path / "other" / "enhancerlm.json"
    import shutil

    shutil.copytree(members[2], tmp_path / "other")
    card = json.loads(card_path.read_text())
    card["labels"] = {"0": "weak", "1": "strong"}
    card_path.write_text(json.dumps(card))
    with pytest.raises(InputError, match="different labels"):
        build_ensemble([str(members[0]), str(tmp_path / "other")], mini_dataset, tmp_path / "e")


def test_ensemble_command_writes_a_self_contained_model(members, mini_dataset, tmp_path):
    args = [
        "ensemble",
        *sum((["--model", str(m)] for m in members), []),
        "--dataset",
        str(mini_dataset),
        "--method",
        "weighted",
        "--outdir",
        str(tmp_path / "ens"),
        "--model-id",
        "multi",
        "--device",
        "cpu",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("multi\tmethod=weighted\tweights=")
    card = json.loads((tmp_path / "ens" / "enhancerlm.json").read_text())
    assert sum(card["weights"]) == pytest.approx(1) and min(card["weights"]) >= 0
    assert [m["path"] for m in card["members"]] == ["members/k3", "members/k5", "members/baseline"]
    for member in members:  # the directory can move: members are copies, not links
        assert (tmp_path / "ens" / "members" / member.name / "enhancerlm.json").exists()
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--model",
            str(tmp_path / "ens"),
            "--dataset",
            str(mini_dataset),
            "--outdir",
            str(tmp_path / "eval"),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "eval" / "multi.metrics.json").exists()


def test_fit_weights_favour_the_informative_member():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    informative = np.clip(labels * 0.6 + 0.2 + rng.normal(0, 0.1, 400), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, 400)
    weights = fit_weights(np.column_stack([noise, informative]), labels)
    assert weights[1] > 0.8 and weights.sum() == pytest.approx(1)
    assert combine(np.array([[0.2, 0.6]]), "mean", np.array([0.5, 0.5]))[0] == pytest.approx(0.4)


def test_spectrum_features_hand_computed():
    features = spectrum_features(["ACGTN"], kmax=2)
    assert features.shape == (1, 4 + 16)
    assert features[0, :4].tolist() == [0.25, 0.25, 0.25, 0.25]  # A, C, G, T once each; N skipped
    dinucleotides = features[0, 4:]
    # AC = 0*4+1, CG = 1*4+2, GT = 2*4+3 (GN and others skipped)
    assert np.flatnonzero(dinucleotides).tolist() == [1, 6, 11]
    assert dinucleotides[[1, 6, 11]] == pytest.approx([1 / 3] * 3)


def test_baseline_card_and_round_trip(members, mini_dataset):
    baseline = load_trained(str(members[2]))
    assert isinstance(baseline, KmerBaseline)
    card = baseline.card
    assert card["type"] == "kmer-baseline" and card["base_model"] == "kmer-baseline"
    assert card["hyperparameters"]["C"] in card["hyperparameters"]["C_grid"]
    assert (members[2] / "cv.json").exists() and (members[2] / "model.safetensors").exists()
    sequences = read_dataset(mini_dataset)["sequence"].tolist()[:10]
    reloaded = KmerBaseline.load(members[2])
    assert np.array_equal(baseline.predict_proba(sequences), reloaded.predict_proba(sequences))


@pytest.mark.parametrize("method", ["mean", "weighted", "stacking"])
def test_ensemble_cross_validation_comes_from_member_out_of_fold_predictions(members, mini_dataset, tmp_path, method):
    card = build_ensemble([str(m) for m in members], mini_dataset, tmp_path / "ens", method=method, device="cpu")
    ours = pd.read_csv(tmp_path / "ens" / "cv_predictions.tsv", sep="\t", dtype={"id": str}).set_index("id")
    member_oof = [
        pd.read_csv(m / "cv_predictions.tsv", sep="\t", dtype={"id": str}).set_index("id").loc[ours.index]
        for m in members
    ]
    for fold, rows in ours.groupby("fold"):  # same nested scheme as the members
        assert {frame.loc[rows.index, "val_fold"].iloc[0] for frame in member_oof} == {rows["val_fold"].iloc[0]}
    if method == "mean":
        expected = np.mean([frame["probability"] for frame in member_oof], axis=0)
        assert np.allclose(ours["probability"], expected, atol=2e-6)
    cv = json.loads((tmp_path / "ens" / "cv.json").read_text())
    assert card["cross_validation"]["auc"] == cv["auc"] and len(cv["folds"]) == 3
    for fold in cv["folds"] if method == "mean" else []:  # a fixed rule: thresholds come from the validation fold
        validation = ours[ours["fold"] == fold["val_fold"]]
        candidates = np.append(validation["probability"].to_numpy(), 0.5)
        assert np.abs(candidates - fold["threshold"]).min() < 1e-6
