import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import write_fasta
from sklearn import metrics as skm

from enhancerlm.cli import main
from enhancerlm.commands.evaluate import evaluate_model
from enhancerlm.commands.prepare import prepare_samplesheet
from enhancerlm.commands.train import train
from enhancerlm.core.stats import CURVE_GRID, binary_metrics, choose_threshold, curves
from enhancerlm.errors import InputError
from enhancerlm.formats.dataset_table import read_dataset
from enhancerlm.formats.files import resource


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory, mini_model, mini_dataset):
    outdir = tmp_path_factory.mktemp("evaluate")
    paths = evaluate_model(str(mini_model), mini_dataset, outdir=outdir, prefix="mini", device="cpu")
    return paths, json.loads(paths["metrics"].read_text())


def test_metrics_match_scikit_learn_on_saved_predictions(evaluation):
    paths, metrics = evaluation
    predictions = pd.read_csv(paths["predictions"], sep="\t")
    assert len(predictions) == 40 and set(predictions["split"]) == {"test"}
    y, p = predictions["label"].to_numpy(), predictions["probability"].to_numpy()
    threshold = metrics["threshold"]
    predicted = (p >= threshold).astype(int)
    assert (predicted == predictions["predicted"]).all()
    whole = metrics["subsets"]["all"]
    assert whole["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert whole["sensitivity"] == pytest.approx(skm.recall_score(y, predicted))
    assert whole["specificity"] == pytest.approx(skm.recall_score(y, predicted, pos_label=0))
    assert whole["mcc"] == pytest.approx(skm.matthews_corrcoef(y, predicted))
    assert whole["auc"] == pytest.approx(skm.roc_auc_score(y, p), abs=1e-4)  # predictions are rounded to 1e-6
    assert whole["auprc"] == pytest.approx(skm.average_precision_score(y, p), abs=1e-4)
    tn, fp, fn, tp = skm.confusion_matrix(y, predicted).ravel()
    assert whole["confusion_matrix"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    assert whole["n"] == 40 and whole["threshold"] == threshold


def test_leak_free_subset_drops_copies_of_training_records(evaluation):
    paths, metrics = evaluation
    predictions = pd.read_csv(paths["predictions"], sep="\t")
    leak_free = metrics["subsets"]["leak_free"]
    assert leak_free["n"] == 30  # the mini slice's 10 test strong enhancers are all training copies
    assert (predictions.loc[predictions["leak"] != "none", "source"] == "test_strong").all()
    kept = predictions[predictions["leak"] == "none"]
    assert leak_free["mcc"] == pytest.approx(skm.matthews_corrcoef(kept["label"], kept["predicted"]))


def test_one_class_subsets_report_null_with_reason(evaluation):
    _, metrics = evaluation
    strong = metrics["subsets"]["source:test_strong"]
    assert strong["n"] == 10 and strong["auc"] is None and strong["mcc"] is None and strong["specificity"] is None
    assert strong["undefined"]["auc"] == "only one class present"
    assert strong["undefined"]["specificity"] == "no negative records"
    assert strong["sensitivity"] is not None


def test_multiqc_files_are_keyed_by_model_id(evaluation):
    paths, metrics = evaluation
    lines = paths["general_stats"].read_text().splitlines()
    assert "# plot_type: 'generalstats'" in lines
    header, row = lines[-2].split("\t"), lines[-1].split("\t")
    assert header == ["Sample", "Acc", "Sn", "Sp", "MCC", "AUC", "AUPRC"]
    assert row[0] == "mini_k3" == metrics["model_id"]
    whole = metrics["subsets"]["all"]
    assert float(row[1]) == pytest.approx(whole["accuracy"], abs=1e-4)
    assert float(row[4]) == pytest.approx(whole["mcc"], abs=1e-4)
    roc = json.loads(paths["roc"].read_text())
    assert roc["plot_type"] == "linegraph" and list(roc["data"]) == ["mini_k3"]
    points = roc["data"]["mini_k3"]
    assert [float(x) for x in points] == CURVE_GRID.tolist()
    assert points["1.0"] == 1.0 and all(0 <= v <= 1 for v in points.values())


def test_binary_metrics_hand_computed():
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.2, 0.7, 0.1, 0.3, 0.4, 0.05])
    m = binary_metrics(labels, scores, 0.5)
    assert m["confusion_matrix"] == {"tn": 4, "fp": 1, "fn": 1, "tp": 2}
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["sensitivity"] == pytest.approx(2 / 3) and m["specificity"] == pytest.approx(4 / 5)
    assert m["mcc"] == pytest.approx((2 * 4 - 1 * 1) / np.sqrt(3 * 3 * 5 * 5))


def test_threshold_maximises_mcc():
    labels = np.array([0, 0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.9])
    threshold = choose_threshold(labels, scores)
    assert 0.3 < threshold <= 0.35
    assert binary_metrics(labels, scores, threshold)["mcc"] == pytest.approx(1.0)
    assert choose_threshold(np.array([1, 1]), np.array([0.2, 0.8])) == 0.5


def test_curves_of_a_perfect_classifier():
    c = curves(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert all(v == 1.0 for x, v in c["roc"].items() if x > 0)
    assert all(v == 1.0 for v in c["pr"].values())


def test_leak_is_stated_plainly(evaluation):
    _, metrics = evaluation
    (warning,) = metrics["warnings"]
    assert warning.startswith("LEAK: 10 of 40 scored records (10 enhancer) copy or nearly copy a training record")
    assert "leak_free subset holds the other 30" in warning


def test_layer2_leak_free_subset_reports_specificity_alone(tmp_path):
    """Every layer-2 test strong enhancer is a training copy: the leak-free subset is weak enhancers only."""
    from enhancerlm.commands.prepare import prepare_samplesheet
    from enhancerlm.commands.train import train
    from enhancerlm.formats.files import resource
    from enhancerlm.training.loop import TrainOptions

    dataset = prepare_samplesheet(resource("assets/samplesheets/mini_layer2.csv"), tmp_path, folds=3)["mini_layer2"][
        "dataset"
    ]
    train(dataset, "kmer-baseline", tmp_path / "baseline", options=TrainOptions())
    paths = evaluate_model(str(tmp_path / "baseline"), dataset, outdir=tmp_path / "eval", prefix="l2")
    metrics = json.loads(paths["metrics"].read_text())
    assert "only specificity is defined there" in metrics["warnings"][0]
    leak_free = metrics["subsets"]["leak_free"]
    assert leak_free["n"] == 10 and leak_free["specificity"] is not None
    assert leak_free["sensitivity"] is None and leak_free["mcc"] is None and leak_free["auc"] is None


def external_samplesheet(directory: Path, copied: str) -> Path:
    """A dataset of test rows only, as someone else's enhancer set: the mini test FASTAs, plus one record that
    copies a sequence the mini model was trained on."""
    data = resource("assets/data/ienhancer-2l-mini")
    write_fasta(directory / "copied.fa", [("copy_of_training", copied)])
    rows = [
        f"external,{data / 'test_strong.fa'},enhancer,test",
        f"external,{data / 'test_non.fa'},non-enhancer,test",
        f"external,{directory / 'copied.fa'},enhancer,test",
    ]
    sheet = directory / "external.csv"
    sheet.write_text("dataset,fasta,label,split\n" + "\n".join(rows) + "\n")
    return sheet


def test_an_external_test_set_is_evaluated_with_leaks_checked_against_the_training_data(
    tmp_path, mini_model, mini_dataset
):
    training = read_dataset(mini_dataset)
    copied = training.loc[training["split"] == "train", "sequence"].iloc[0]
    sheet = external_samplesheet(tmp_path, copied)
    result = CliRunner().invoke(main, ["prepare", "--input", str(sheet), "--outdir", str(tmp_path / "prepared")])
    assert result.exit_code == 0, result.output
    external = tmp_path / "prepared" / "external.dataset.tsv"
    table = read_dataset(external)
    assert set(table["split"]) == {"test"} and (table["fold"] == -1).all() and (table["leak"] == "none").all()
    with pytest.raises(InputError, match="no train records: an external test set"):
        train(external, "scratch-tiny", tmp_path / "model", kmer=3, device="cpu")

    args = ["evaluate", "--model", str(mini_model), "--dataset", str(external), "--outdir", str(tmp_path / "eval")]
    result = CliRunner().invoke(main, [*args, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval" / "mini_k3_on_external.metrics.json").read_text())
    predictions = pd.read_csv(
        tmp_path / "eval" / "mini_k3_on_external.predictions.tsv", sep="\t", keep_default_na=False
    )
    assert (
        metrics["model_id"] == "mini_k3_on_external" and metrics["external"] and metrics["trained_on"] == "mini_layer1"
    )
    general_stats = (tmp_path / "eval" / "mini_k3_on_external.general_stats_mqc.tsv").read_text()
    assert general_stats.splitlines()[-1].startswith("mini_k3_on_external\t")  # its own row beside the model's
    assert predictions.set_index("id").loc["copy_of_training", "leak"] == "identical"
    trained = set(training.loc[training["split"] == "train", "sequence"].str.upper())
    expected_leaks = int(table["sequence"].str.upper().isin(trained).sum())
    assert expected_leaks >= 1 and (predictions["leak"] != "none").sum() >= expected_leaks
    assert metrics["subsets"]["leak_free"]["n"] == int((predictions["leak"] == "none").sum()) < len(table)
    assert any("copy or nearly copy a training record" in warning for warning in metrics["warnings"])


def test_missing_training_data_is_said_not_guessed(tmp_path, mini_model, mini_dataset):
    moved = tmp_path / "model"
    shutil.copytree(mini_model, moved)
    card = json.loads((moved / "enhancerlm.json").read_text())
    card["training_data"]["path"] = str(tmp_path / "gone.dataset.tsv")
    (moved / "enhancerlm.json").write_text(json.dumps(card))
    sheet = external_samplesheet(tmp_path, "ACGT" * 50)
    prepared = prepare_samplesheet(sheet, tmp_path / "prepared")["external"]["dataset"]
    paths = evaluate_model(str(moved), prepared, outdir=tmp_path / "eval", prefix="moved", device="cpu")
    warnings = json.loads(paths["metrics"].read_text())["warnings"]
    assert any("training data" in w and "could not be checked" in w for w in warnings), warnings


def test_an_external_set_is_labelled_by_the_model_s_classes(tmp_path, mini_model):
    """Its own prepare step may number the classes the other way (non-enhancer positive here, as asked); evaluate
    scores it the model's way round, so the metrics equal those of the same records numbered as the model does.
    A set of one class (enhancers only) is prepared and evaluated too; an unknown class is an error."""
    data = resource("assets/data/ienhancer-2l-mini")
    rows = [f"ext,{data / 'test_strong.fa'},enhancer,test", f"ext,{data / 'test_non.fa'},non-enhancer,test"]
    (tmp_path / "ext.csv").write_text("dataset,fasta,label,split\n" + "\n".join(rows) + "\n")
    metrics = {}
    for positive in ("enhancer", "non-enhancer"):
        prepared = prepare_samplesheet(tmp_path / "ext.csv", tmp_path / positive, positive=positive)["ext"]["dataset"]
        assert read_dataset(prepared).groupby("class")["label"].first()[positive] == 1
        paths = evaluate_model(str(mini_model), prepared, outdir=tmp_path / "eval", device="cpu")
        assert paths["metrics"].name == "mini_k3_on_ext.metrics.json"
        metrics[positive] = json.loads(paths["metrics"].read_text())["subsets"]["all"]
    assert metrics["enhancer"] == metrics["non-enhancer"]

    (tmp_path / "vista.csv").write_text(f"dataset,fasta,label,split\nvista,{data / 'test_strong.fa'},enhancer,test\n")
    prepared = prepare_samplesheet(tmp_path / "vista.csv", tmp_path / "prepared")["vista"]["dataset"]
    paths = evaluate_model(str(mini_model), prepared, outdir=tmp_path / "eval", device="cpu")
    only_enhancers = json.loads(paths["metrics"].read_text())["subsets"]["all"]
    assert only_enhancers["n"] == 10 and only_enhancers["sensitivity"] is not None
    assert only_enhancers["specificity"] is None and only_enhancers["mcc"] is None

    (tmp_path / "other.csv").write_text(f"dataset,fasta,label,split\nother,{data / 'test_strong.fa'},strong,test\n")
    prepared = prepare_samplesheet(tmp_path / "other.csv", tmp_path / "prepared")["other"]["dataset"]
    args = ["evaluate", "--model", str(mini_model), "--dataset", str(prepared), "--outdir", str(tmp_path / "x")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and not (tmp_path / "x").exists()
    assert "other.dataset.tsv: class 'strong' is not a class of model mini_k3 (enhancer, non-enhancer)" in result.output
