import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

from enhancerlm.analysis.benchmark import choose_best, model_family, summary_table
from enhancerlm.cli import main
from enhancerlm.commands.benchmark import read_evaluations, run_benchmark
from enhancerlm.commands.evaluate import write_evaluation
from enhancerlm.core.stats import delong_test, mcnemar_test
from enhancerlm.training.folds import write_cross_validation

N_TEST, N_TRAIN = 120, 150


def _test_table(rng):
    labels = np.tile([1, 0], N_TEST // 2)
    return pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(N_TEST)],
            "split": "test",
            "source": "test",
            "class": np.where(labels == 1, "enhancer", "non-enhancer"),
            "label": labels,
            "leak": np.where(np.arange(N_TEST) < 20, "identical", "none"),
        }
    )


def _write_model(directory, dataset, family, seed, skill, rng, *, cv=True):
    """A fake evaluated model: probabilities that separate the classes by `skill`."""
    table = _test_table(rng)
    model_id = f"{dataset}_{family}_seed{seed}"
    probabilities = 1 / (1 + np.exp(-(skill * (2 * table["label"] - 1) + rng.normal(0, 1, N_TEST))))
    write_evaluation(
        table,
        probabilities,
        0.5,
        model_id=model_id,
        outdir=directory,
        prefix=model_id,
        provenance={"dataset": f"/x/{dataset}.dataset.tsv", "seed": seed},
    )
    if cv:
        labels = np.tile([1, 0], N_TRAIN // 2)
        folds = np.arange(N_TRAIN) % 3
        oof = pd.DataFrame(
            {
                "id": [f"r{i}" for i in range(N_TRAIN)],
                "fold": folds,
                "val_fold": (folds + 1) % 3,
                "label": labels,
                "threshold": 0.5,
                "probability": 1 / (1 + np.exp(-(skill * (2 * labels - 1) + rng.normal(0, 1, N_TRAIN)))),
            }
        )
        staging = directory / f"cv_{model_id}"
        write_cross_validation(staging, oof, [{"fold": f, "val_fold": (f + 1) % 3, "best_epoch": 1} for f in range(3)])
        (staging / "cv.json").rename(directory / f"{model_id}.cv.json")
        (staging / "cv_predictions.tsv").rename(directory / f"{model_id}.cv_predictions.tsv")
        staging.rmdir()
    return model_id


@pytest.fixture
def evaluations(tmp_path):
    rng = np.random.default_rng(1)
    for seed in (1, 2, 3):
        for family, skill in (("k3", 1.0), ("k6", 2.5), ("kmer-baseline", 0.8), ("ensemble", 2.0)):
            _write_model(tmp_path, "layer1", family, seed, skill, rng)
    _write_model(tmp_path, "other", "k3", 1, 1.0, rng)  # another dataset in the same directory
    return tmp_path


def test_delong_matches_auc_and_detects_a_real_difference():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    strong = labels * 1.5 + rng.normal(0, 1, 400)
    weak = labels * 0.3 + rng.normal(0, 1, 400)
    result = delong_test(labels, strong, weak)
    assert result["auc_a"] == pytest.approx(roc_auc_score(labels, strong))
    assert result["auc_b"] == pytest.approx(roc_auc_score(labels, weak))
    assert result["difference"] > 0.2 and result["p"] < 1e-6
    assert delong_test(labels, strong, strong)["p"] == pytest.approx(1.0)
    noise = strong + rng.normal(0, 0.01, 400)
    assert delong_test(labels, strong, noise)["p"] > 0.05
    assert delong_test(np.ones(5), np.arange(5), np.arange(5))["undefined"] == "only one class present"


def test_mcnemar_counts_discordant_pairs_exactly():
    a = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 1], dtype=bool)
    b = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1], dtype=bool)
    result = mcnemar_test(a, b)
    assert (result["only_a_correct"], result["only_b_correct"]) == (7, 1)
    assert result["p"] == pytest.approx(2 * 9 / 256)  # two-sided exact binomial: P(X <= 1 | n = 8)
    assert mcnemar_test(a, a)["p"] == 1.0


def test_model_family_strips_dataset_and_seed():
    assert model_family("ienhancer2l_layer1_k3_seed42", "ienhancer2l_layer1") == "k3"
    assert model_family("ienhancer2l_layer1_ensemble", "ienhancer2l_layer1") == "ensemble"
    assert model_family("mine", "other") == "mine"


def test_summary_is_mean_and_sd_over_seeds(evaluations):
    found = read_evaluations(evaluations, "layer1")
    assert len(found) == 12 and {e.seed for e in found} == {1, 2, 3}
    table = summary_table(found)
    assert list(table["model"].unique()) == ["k3", "k6", "kmer-baseline", "ensemble"]
    row = table[(table["model"] == "k6") & (table["subset"] == "leak_free")].iloc[0]
    values = [
        json.loads((evaluations / f"layer1_k6_seed{s}.metrics.json").read_text())["subsets"]["leak_free"]["auc"]
        for s in (1, 2, 3)
    ]
    assert row["seeds"] == 3 and row["AUC"] == pytest.approx(np.mean(values))
    assert row["AUC_sd"] == pytest.approx(np.std(values, ddof=1))
    cv_row = table[(table["model"] == "k6") & (table["subset"] == "cv")].iloc[0]
    cv_values = [json.loads((evaluations / f"layer1_k6_seed{s}.cv.json").read_text())["mcc"]["mean"] for s in (1, 2, 3)]
    assert cv_row["MCC"] == pytest.approx(np.mean(cv_values))


def test_best_model_is_chosen_by_cross_validation_not_by_the_test_split(evaluations):
    table = summary_table(read_evaluations(evaluations, "layer1"))
    best, rule = choose_best(table)
    assert best == "k6" and "cross-validation" in rule
    # make k3 look best on the test split only: the choice must not move
    table.loc[(table["model"] == "k3") & (table["subset"] != "cv"), "AUC"] = 0.99
    assert choose_best(table)[0] == "k6"
    assert choose_best(table[table["subset"] != "cv"])[0] is None


def test_benchmark_outputs_and_paired_tests(evaluations, tmp_path):
    published = tmp_path / "published.tsv"
    published.write_text(
        "# a comment\ndataset\tmethod\tAcc\tSn\tSp\tMCC\tAUC\tnote\n"
        "layer1\tOldTool\t0.730\t0.710\t0.750\t0.460\t\t\nother\tElse\t0.5\t\t\t\t\t\n"
    )
    paths = run_benchmark(evaluations, tmp_path / "bench", dataset="layer1", published=published)
    report = json.loads(paths["json"].read_text())
    assert report["best"] == "k6" and [p["seed"] for p in report["paired_tests"]] == [1, 2, 3]
    first = report["paired_tests"][0]
    assert first["model_id"] == "layer1_k6_seed1" and first["baseline_id"] == "layer1_kmer-baseline_seed1"
    assert set(first["tests"]) == {"all", "leak_free", "cv"}
    assert first["tests"]["leak_free"]["delong"]["n"] == N_TEST - 20
    assert first["tests"]["cv"]["delong"]["n"] == N_TRAIN
    predictions = pd.read_csv(evaluations / "layer1_k6_seed1.predictions.tsv", sep="\t")
    baseline = pd.read_csv(evaluations / "layer1_kmer-baseline_seed1.predictions.tsv", sep="\t")
    a, b = predictions["predicted"] == predictions["label"], baseline["predicted"] == baseline["label"]
    assert first["tests"]["all"]["mcnemar"]["only_a_correct"] == int((a & ~b).sum())
    assert report["test_summary"]["cv"]["delong_p_max"] == max(
        t["tests"]["cv"]["delong"]["p"] for t in report["paired_tests"]
    )
    assert [r["method"] for r in report["published"]] == ["OldTool"]
    markdown = paths["markdown"].read_text()
    assert "| OldTool (published) | test split | – | 0.73 | 0.71 | 0.75 | 0.46 | – |" in markdown
    assert "Best model: k6" in markdown and "DeLong p" in markdown
    section = paths["multiqc"].read_text()
    header = yaml.safe_load(section[len("<!--") : section.index("-->")])
    assert header["parent_id"] == "enhancerlm_benchmark" and header["id"] == "enhancerlm_benchmark_layer1"
    assert section.count("<tr>") == 1 + 12 + 1
    table = pd.read_csv(paths["tsv"], sep="\t")
    assert len(table) == 12 and set(table["subset"]) == {"all", "leak_free", "cv"}


def test_benchmark_command_and_errors(evaluations, tmp_path):
    result = CliRunner().invoke(
        main, ["benchmark", "--evaluations", str(evaluations), "--outdir", str(tmp_path / "b"), "--dataset", "layer1"]
    )
    assert result.exit_code == 0, result.output
    assert Path(result.output.strip()).read_text().startswith("# Benchmark: layer1")
    result = CliRunner().invoke(main, ["benchmark", "--evaluations", str(evaluations), "--outdir", str(tmp_path / "c")])
    assert result.exit_code == 1 and "several datasets (layer1, other); choose one" in result.output
    (evaluations / "layer1_k3_seed1.predictions.tsv").unlink()
    result = CliRunner().invoke(
        main, ["benchmark", "--evaluations", str(evaluations), "--outdir", str(tmp_path / "d"), "--dataset", "layer1"]
    )
    assert result.exit_code == 1 and "layer1_k3_seed1.predictions.tsv: missing" in result.output
