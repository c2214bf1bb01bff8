import json

import numpy as np
import pandas as pd
import pytest
from helpers import planted_samplesheet
from safetensors.torch import load_file

from enhancerlm.commands.evaluate import evaluate_model
from enhancerlm.commands.prepare import prepare_samplesheet
from enhancerlm.commands.train import train
from enhancerlm.errors import InputError
from enhancerlm.formats.dataset_table import read_dataset
from enhancerlm.formats.files import sha256_file
from enhancerlm.training.folds import split_train_validation
from enhancerlm.training.loop import TrainOptions

PLANTED_OPTIONS = TrainOptions(epochs=6, batch_size=16, lr=1e-3)


def _planted_auc(tmp_path, shuffle_labels: bool) -> float:
    sheet = planted_samplesheet(tmp_path / "data", n_train=240, n_test=400, shuffle_labels=shuffle_labels)
    dataset = prepare_samplesheet(sheet, tmp_path / "prepare")["planted"]["dataset"]
    train(dataset, "scratch-tiny", tmp_path / "model", kmer=3, options=PLANTED_OPTIONS, device="cpu")
    paths = evaluate_model(str(tmp_path / "model"), dataset, outdir=tmp_path / "eval", prefix="planted", device="cpu")
    return json.loads(paths["metrics"].read_text())["subsets"]["all"]["auc"]


def test_tiny_model_learns_a_planted_motif(tmp_path):
    assert _planted_auc(tmp_path, shuffle_labels=False) >= 0.95


def test_tiny_model_learns_nothing_from_shuffled_labels(tmp_path):
    assert _planted_auc(tmp_path, shuffle_labels=True) <= 0.65


def test_card_records_training(mini_model, mini_dataset):
    card = json.loads((mini_model / "enhancerlm.json").read_text())
    assert card["model_id"] == "mini_k3"
    assert card["labels"] == {"0": "non-enhancer", "1": "enhancer"}
    assert card["kmer"] == 3 and card["window"] == 200 and card["strand_mode"] == "forward"
    assert card["training_data"]["sha256"] == sha256_file(mini_dataset)
    assert card["weights_sha256"] == sha256_file(mini_model / "model.safetensors")
    assert [h["epoch"] for h in card["history"]] == [1, 2]
    assert {"train_loss", "val_loss", "val_auc", "lr", "seconds"} <= set(card["history"][0])
    assert 0 < card["threshold"] < 1 and card["threshold_rule"].startswith("maximum MCC")
    table = read_dataset(mini_dataset)
    n_train = int((table["split"] == "train").sum())
    records = card["training_data"]["records"]
    assert records["train"] + records["validation"] == n_train
    assert {"enhancerlm", "torch", "transformers"} <= set(card["versions"])
    assert not (mini_model / "checkpoint").exists()


def test_test_split_never_reaches_training(tmp_path, mini_dataset):
    """Scrambling every test record's sequence and label leaves the trained weights bit-identical."""
    table = read_dataset(mini_dataset)
    test = table["split"] == "test"
    scrambled = table.copy()
    scrambled.loc[test, "label"] = 1 - scrambled.loc[test, "label"]
    scrambled.loc[test, "sequence"] = scrambled.loc[test, "sequence"].str[::-1]
    scrambled_path = tmp_path / "scrambled.dataset.tsv"
    scrambled.to_csv(scrambled_path, sep="\t", index=False)
    options = TrainOptions(epochs=1, batch_size=16)
    a = train(mini_dataset, "scratch-tiny", tmp_path / "a", kmer=3, options=options, device="cpu")
    b = train(scrambled_path, "scratch-tiny", tmp_path / "b", kmer=3, options=options, device="cpu")
    assert a["weights_sha256"] == b["weights_sha256"]
    assert a["threshold"] == b["threshold"]


def test_validation_is_one_prepared_fold(mini_dataset):
    table = read_dataset(mini_dataset)
    training, validation = split_train_validation(table, 1)
    assert set(validation["fold"]) == {1} and 1 not in set(training["fold"])
    assert set(training["group"]).isdisjoint(validation["group"])
    assert (training["split"] == "train").all() and (validation["split"] == "train").all()
    with pytest.raises(InputError, match="not one of the dataset's folds"):
        split_train_validation(table, 7)


def test_resumed_run_ends_with_identical_weights(tmp_path, mini_dataset):
    options = TrainOptions(epochs=3, batch_size=16, rc_augment=True, patience=0)
    uninterrupted = train(mini_dataset, "scratch-tiny", tmp_path / "full", kmer=4, options=options, device="cpu")

    def interrupt(epoch, record):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            mini_dataset,
            "scratch-tiny",
            tmp_path / "resumed",
            kmer=4,
            options=options,
            device="cpu",
            callbacks=[interrupt],
        )
    assert (tmp_path / "resumed" / "checkpoint" / "trainer.pt").exists()
    assert not (tmp_path / "resumed" / "enhancerlm.json").exists()  # no card: the model is not done
    with pytest.raises(InputError, match="a previous run left a checkpoint; set resume to continue it"):
        train(mini_dataset, "scratch-tiny", tmp_path / "resumed", kmer=4, options=options, device="cpu")
    with pytest.raises(InputError, match="options"):
        train(
            mini_dataset,
            "scratch-tiny",
            tmp_path / "resumed",
            kmer=4,
            device="cpu",
            resume=True,
            options=TrainOptions(epochs=3, batch_size=8, rc_augment=True, patience=0),
        )
    resumed = train(
        mini_dataset, "scratch-tiny", tmp_path / "resumed", kmer=4, options=options, device="cpu", resume=True
    )
    assert resumed["weights_sha256"] == uninterrupted["weights_sha256"]
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in uninterrupted["history"]]
    assert resumed["strand_mode"] == "both"


def test_cross_validation_reports_every_fold(tmp_path, mini_dataset):
    card = train(
        mini_dataset,
        "scratch-tiny",
        tmp_path / "cv",
        kmer=3,
        device="cpu",
        cross_validation=True,
        options=TrainOptions(epochs=1, batch_size=32),
    )
    cv = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert [(f["fold"], f["val_fold"]) for f in cv["folds"]] == [
        (0, 1),
        (1, 2),
        (2, 0),
    ]  # nested: never tuned on the scored fold
    assert cv["auc"]["mean"] == pytest.approx(sum(f["auc"] for f in cv["folds"]) / 3)
    assert card["cross_validation"]["auc"] == cv["auc"]
    out_of_fold = pd.read_csv(tmp_path / "cv" / "cv_predictions.tsv", sep="\t")
    table = read_dataset(mini_dataset)
    assert sorted(out_of_fold["id"]) == sorted(table.loc[table["split"] == "train", "id"])
    for fold in cv["folds"]:  # each fold's threshold came from its validation fold, and its metrics use it
        rows = out_of_fold[out_of_fold["fold"] == fold["fold"]]
        assert rows["threshold"].nunique() == 1 and fold["threshold"] == pytest.approx(rows["threshold"].iloc[0])
        assert fold["accuracy"] == pytest.approx(((rows["probability"] >= fold["threshold"]) == rows["label"]).mean())


def test_checkpoint_weights_are_safetensors(tmp_path, mini_dataset):
    def stop(epoch, record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            mini_dataset,
            "scratch-tiny",
            tmp_path / "m",
            kmer=3,
            options=TrainOptions(epochs=2),
            device="cpu",
            callbacks=[stop],
        )
    tensors = load_file(tmp_path / "m" / "checkpoint" / "last.safetensors")
    assert any(name.startswith("classifier.") for name in tensors)


def test_long_imbalanced_inputs_are_learned_through_pooled_windows(tmp_path):
    """Long inputs: 200 nt sequences read as six 64 nt windows pooled together, one positive in four."""
    sheet = planted_samplesheet(tmp_path / "data", n_train=240, n_test=400, length=200, positive_every=4)
    dataset = prepare_samplesheet(sheet, tmp_path / "prepare")["planted"]["dataset"]
    options = TrainOptions(epochs=8, batch_size=16, lr=2e-3, max_length=64, class_weight="balanced")
    card = train(dataset, "scratch-tiny", tmp_path / "model", kmer=3, options=options, device="cpu")
    assert card["max_nucleotides"] == 64 and card["window"] == 200
    paths = evaluate_model(str(tmp_path / "model"), dataset, outdir=tmp_path / "eval", prefix="long", device="cpu")
    metrics = json.loads(paths["metrics"].read_text())["subsets"]["all"]
    assert metrics["n_positive"] == 100 and metrics["n_negative"] == 300
    # chance: AUC 0.5, balanced accuracy 0.5, AUPRC 0.25, MCC 0
    assert metrics["auc"] >= 0.85 and metrics["balanced_accuracy"] >= 0.7, metrics
    assert metrics["auprc"] >= 0.6 and metrics["mcc"] >= 0.4, metrics


def test_a_batch_gets_the_same_gradient_however_the_token_budget_splits_it(tmp_path):
    """Training under --max-tokens-per-step: a batch of short records and a record of 40-odd windows, cut into
    groups and checkpointed pieces, gives the loss and every gradient of the batch encoded at once, and no
    encoder pass holds more windows than the budget (dropout off, so the passes compare)."""
    import torch
    from helpers import random_dna, untrained_lm

    from enhancerlm.models.language_model import window_batch
    from enhancerlm.models.scorer import load_trained
    from enhancerlm.training.window_budget import accumulate_gradients

    model = load_trained(str(untrained_lm(tmp_path / "tiny", 60)))
    classifier = model.classifier.eval()
    rng = np.random.default_rng(3)
    sequences = [random_dna(rng, n) for n in (150, 2_000, 60, 40, 600, 90)]
    labels = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    tokens, owner = window_batch(model, sequences)
    width = tokens.input_ids.shape[1]
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(2.0))
    passes = []
    classifier.encoder.register_forward_pre_hook(
        lambda module, args, kwargs: passes.append(len(kwargs["input_ids"])), with_kwargs=True
    )

    def gradients(max_tokens: int) -> tuple[float, dict]:
        classifier.zero_grad(set_to_none=True)
        passes.clear()
        loss = accumulate_gradients(classifier, tokens, owner, labels, loss_fn, max_tokens, torch.device("cpu"))
        return loss, {name: p.grad.clone() for name, p in classifier.named_parameters() if p.grad is not None}

    whole_loss, whole = gradients(10**9)
    assert passes == [len(owner)] and len(owner) > 50
    for windows in (1, 3, 8):
        loss, split = gradients(windows * width)
        assert max(passes) <= windows and len(passes) > len(owner) // windows, windows
        assert loss == pytest.approx(whole_loss, abs=1e-6), windows
        assert split.keys() == whole.keys()
        for name, gradient in whole.items():
            assert torch.allclose(split[name], gradient, atol=1e-6, rtol=1e-4), (windows, name)


def test_records_are_packed_whole_into_groups_and_a_long_one_into_pieces():
    from enhancerlm.training.window_budget import StepGroup, step_groups

    assert step_groups([1, 1, 1], 4) == [StepGroup(0, 3, ((0, 3),))]
    assert step_groups([1, 5, 2, 2, 1], 3) == [
        StepGroup(0, 1, ((0, 1),)),
        StepGroup(1, 2, ((1, 4), (4, 6))),
        StepGroup(2, 3, ((6, 8),)),
        StepGroup(3, 5, ((8, 11),)),
    ]
    assert step_groups([7], 3) == [StepGroup(0, 1, ((0, 3), (3, 6), (6, 7)))]
    assert step_groups([2, 2], 0) == [StepGroup(0, 1, ((0, 1), (1, 2))), StepGroup(1, 2, ((2, 3), (3, 4)))]


def test_a_long_record_encoded_again_in_pieces_keeps_each_piece_dropout(tmp_path):
    """Training mode: a record of 40-odd windows under a budget of 5 windows gets the gradient of its pieces
    encoded once with their graphs kept (the same random state, so the same dropout masks), although each piece is
    encoded twice, the second time without the first's graph."""
    import torch
    from helpers import random_dna, untrained_lm

    from enhancerlm.models.language_model import window_batch
    from enhancerlm.models.scorer import load_trained
    from enhancerlm.training.window_budget import accumulate_gradients

    model = load_trained(str(untrained_lm(tmp_path / "tiny", 60)))
    classifier = model.classifier.train()
    tokens, owner = window_batch(model, [random_dna(np.random.default_rng(4), 2_000)])
    label, loss_fn = torch.tensor([1.0]), torch.nn.BCEWithLogitsLoss()
    torch.manual_seed(7)
    sums, counts = 0.0, 0.0
    for first in range(0, len(owner), 5):
        piece = tokens[first : first + 5]
        piece_sums, piece_counts = classifier.window_sums(piece.input_ids, piece.attention_mask, piece.sequence_mask)
        sums, counts = sums + piece_sums.sum(0, keepdim=True), counts + piece_counts.sum(0, keepdim=True)
    reference_loss = loss_fn(classifier.head(sums, counts), label)
    reference_loss.backward()
    reference = {name: p.grad.clone() for name, p in classifier.named_parameters() if p.grad is not None}
    classifier.zero_grad(set_to_none=True)
    torch.manual_seed(7)
    width = tokens.input_ids.shape[1]
    loss = accumulate_gradients(classifier, tokens, owner, label, loss_fn, 5 * width, torch.device("cpu"))
    assert loss == pytest.approx(reference_loss.item(), abs=1e-6)
    gradients = {name: p.grad for name, p in classifier.named_parameters() if p.grad is not None}
    assert gradients.keys() == reference.keys() and len(reference) > 10
    for name, gradient in gradients.items():
        assert torch.allclose(gradient, reference[name], atol=1e-6, rtol=1e-4), name
