"""The models layer: checkpoints (safetensors only, remote code only when trusted), model cards and weights
refused with one line, Hugging Face classifiers, long sequences."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from transformers import AutoModel, BertConfig, BertForMaskedLM

from enhancerlm.cli import main
from enhancerlm.errors import InputError
from enhancerlm.models.card import CARD_FILE, read_card
from enhancerlm.models.checkpoint import load_model, save_model
from enhancerlm.models.language_model import split_windows
from enhancerlm.models.tokenize import KmerTokenizer, kmer_vocabulary


@pytest.fixture
def dnabert_checkpoint(tmp_path):
    """A tiny checkpoint laid out as DNABERT publishes it: BertForMaskedLM in pytorch_model.bin,
    a config.json without model_type, vocab.txt and a tokenizer_config.json with max_len."""
    directory = tmp_path / "DNA_bert_4"
    directory.mkdir()
    config = BertConfig(
        vocab_size=4**4 + 5,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    torch.manual_seed(1)
    model = BertForMaskedLM(config)
    raw = config.to_dict()
    raw.pop("model_type")
    raw["architectures"] = ["BertForMaskedLM"]
    (directory / "config.json").write_text(json.dumps(raw))
    torch.save(model.state_dict(), directory / "pytorch_model.bin")
    (directory / "vocab.txt").write_text("\n".join(kmer_vocabulary(4)) + "\n")
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False, "max_len": 512}))
    (directory / "special_tokens_map.json").write_text(json.dumps({"unk_token": "[UNK]", "pad_token": "[PAD]"}))
    return directory, model


def test_bin_checkpoint_is_refused_until_converted(dnabert_checkpoint):
    directory, _ = dnabert_checkpoint
    with pytest.raises(InputError, match="enhancerlm convert"):
        load_model(str(directory))


def test_convert_then_load_through_from_pretrained(dnabert_checkpoint, tmp_path):
    directory, original = dnabert_checkpoint
    result = CliRunner().invoke(main, ["convert", "--input", str(directory), "--outdir", str(tmp_path / "conv")])
    assert result.exit_code == 0, result.output
    converted = tmp_path / "conv"
    assert (converted / "model.safetensors").exists() and not list(converted.glob("*.bin"))
    tensors = load_file(converted / "model.safetensors")
    # tied embeddings were written as separate copies, with identical values
    assert torch.equal(tensors["cls.predictions.decoder.weight"], tensors["bert.embeddings.word_embeddings.weight"])
    loaded = load_model(str(converted), kmer=4)
    assert isinstance(loaded.tokenizer, KmerTokenizer) and loaded.tokenizer.k == 4
    assert not loaded.card  # a plain language model: fresh head, no card
    encoder_state = loaded.classifier.encoder.state_dict()
    for name, value in original.bert.state_dict().items():
        if "pooler" not in name:
            assert torch.equal(encoder_state[name], value), name
    with pytest.raises(InputError, match="k=4"):
        load_model(str(converted), kmer=6)


def test_convert_refuses_pickles_that_are_not_plain_weights(tmp_path):
    directory = tmp_path / "evil"
    directory.mkdir()
    (directory / "config.json").write_text("{}")

    class Payload:
        def __reduce__(self):
            return (print, ("this code must not run",))

    torch.save({"weight": Payload()}, directory / "pytorch_model.bin")
    result = CliRunner().invoke(main, ["convert", "--input", str(directory), "--outdir", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "cannot be read as plain weights" in result.output
    assert "this code must not run" not in result.output
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_saved_classifier_round_trips_and_stays_a_hf_directory(tmp_path):
    torch.manual_seed(0)
    model = load_model("scratch-tiny", kmer=5, pooling="cls")
    card = save_model(model, tmp_path / "m", {"model_id": "m", "threshold": 0.5, "labels": {"0": "non", "1": "enh"}})
    assert card["pooling"] == "cls" and len(card["weights_sha256"]) == 64
    assert read_card(tmp_path / "m")["weights_sha256"] == card["weights_sha256"]
    tensors = load_file(tmp_path / "m" / "model.safetensors")
    assert {"classifier.1.weight", "classifier.3.bias"} <= set(tensors)
    reloaded = load_model(str(tmp_path / "m"))
    assert reloaded.classifier.pooling == "cls"
    sequences = ["ACGT" * 30, "GGGCCCAATT" * 9]
    assert np.allclose(model.predict_proba(sequences), reloaded.predict_proba(sequences), atol=1e-6)
    encoder = AutoModel.from_pretrained(str(tmp_path / "m"))  # what any transformers user gets
    assert encoder.config.id2label == {0: "non", 1: "enh"}


def test_mean_pooling_ignores_padding():
    torch.manual_seed(0)
    model = load_model("scratch-tiny", kmer=3)
    alone = model.predict_proba(["ACGTACGTAA"], batch_size=1)
    padded = model.predict_proba(["ACGTACGTAA", "ACGT" * 40], batch_size=2)
    assert np.isclose(alone[0], padded[0], atol=1e-5)


def test_split_windows_cover_long_sequences():
    assert split_windows("A" * 10, 10) == ["A" * 10]
    sequence = "".join(np.random.default_rng(0).choice(list("ACGT"), 25))
    windows = split_windows(sequence, 10)
    assert [len(w) for w in windows] == [10] * 4
    assert windows[0] == sequence[:10] and windows[1] == sequence[5:15] and windows[-1] == sequence[-10:]


def test_long_sequences_pool_their_windows_into_one_representation():
    torch.manual_seed(0)
    model = load_model("scratch-tiny", kmer=3, max_positions=32)  # 32 tokens: 32 - 2 + 2 = 32 nt per window
    assert model.max_nucleotides == 32
    torch.nn.init.normal_(model.classifier.classifier[3].weight, std=5.0)  # a head that separates inputs
    sequence = "".join(np.random.default_rng(1).choice(list("ACGT"), 80))
    windows = split_windows(sequence, 32)
    assert len(windows) == 4
    # reference: the token-weighted mean of every window's sequence tokens, then the head
    encoded = model.tokenizer.encode(windows)
    classifier = model.classifier.eval()
    with torch.no_grad():
        hidden = classifier.encoder(
            input_ids=encoded.input_ids, attention_mask=encoded.attention_mask
        ).last_hidden_state
        mask = encoded.sequence_mask.unsqueeze(-1).float()
        pooled = (hidden * mask).sum((0, 1)) / mask.sum()
        expected = torch.sigmoid(classifier.classifier(pooled)).item()
    assert np.isclose(model.predict_proba([sequence])[0], expected, atol=1e-6)
    window_means = model.predict_proba(windows).mean()
    assert not np.isclose(expected, window_means, atol=1e-4)  # not an average of window probabilities
    # batching never mixes windows of different sequences
    others = ["ACGT" * 5, sequence, "".join(np.random.default_rng(2).choice(list("ACGT"), 150))]
    alone = [model.predict_proba([s])[0] for s in others]
    assert np.allclose(model.predict_proba(others, batch_size=3), alone, atol=1e-6)


def test_both_strands_average_the_reverse_complement():
    torch.manual_seed(0)
    model = load_model("scratch-tiny", kmer=4)
    forward = model.predict_proba(["AACCGGTTTA"])[0]
    reverse = model.predict_proba(["TAAACCGGTT"])[0]
    assert np.isclose(model.predict_proba(["AACCGGTTTA"], both_strands=True)[0], (forward + reverse) / 2)


def test_other_tokenizers_and_architectures_go_through_auto_classes(bpe_checkpoint, mini_dataset, tmp_path):
    from enhancerlm.commands.evaluate import evaluate_model
    from enhancerlm.commands.train import train
    from enhancerlm.models.tokenize import HuggingFaceTokenizer
    from enhancerlm.training.loop import TrainOptions

    loaded = load_model(str(bpe_checkpoint))
    assert isinstance(loaded.tokenizer, HuggingFaceTokenizer)
    batch = loaded.tokenizer.encode(["ACGTACGTTTGACA", "ACG"])
    assert batch.input_ids[0, 0].item() == 2 and batch.sequence_mask[:, 0].sum() == 0
    card = train(
        mini_dataset, str(bpe_checkpoint), tmp_path / "ft", options=TrainOptions(epochs=1, batch_size=16), device="cpu"
    )
    assert card["architecture"] == "esm" and card["tokenizer"] == {"kind": "huggingface", "k": None}
    paths = evaluate_model(str(tmp_path / "ft"), mini_dataset, outdir=tmp_path / "eval", prefix="bpe", device="cpu")
    assert json.loads(paths["metrics"].read_text())["subsets"]["all"]["n"] == 40


@pytest.fixture
def remote_code_checkpoint(tmp_path):
    """A checkpoint whose architecture is defined by Python files shipped with it (as DNABERT-2's is)."""
    directory = tmp_path / "custom"
    directory.mkdir()
    (directory / "configuration_custom.py").write_text(
        "from transformers import BertConfig\n\n\nclass CustomConfig(BertConfig):\n    model_type = 'custom_dna'\n"
    )
    (directory / "modeling_custom.py").write_text(
        "from transformers import BertModel\n\nfrom .configuration_custom import CustomConfig\n\n\n"
        "class CustomModel(BertModel):\n    config_class = CustomConfig\n"
    )
    config = BertConfig(
        vocab_size=4**3 + 5, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    ).to_dict()
    config.update(
        model_type="custom_dna",
        auto_map={"AutoConfig": "configuration_custom.CustomConfig", "AutoModel": "modeling_custom.CustomModel"},
    )
    (directory / "config.json").write_text(json.dumps(config))
    from safetensors.torch import save_model as save_weights
    from transformers import BertModel

    save_weights(
        BertModel(
            BertConfig(**{k: v for k, v in config.items() if k not in ("model_type", "auto_map")}),
            add_pooling_layer=False,
        ),
        str(directory / "model.safetensors"),
    )
    KmerTokenizer.for_kmer(3).save_pretrained(directory)
    return directory


def test_remote_code_needs_explicit_trust(remote_code_checkpoint):
    with pytest.raises(InputError, match="--trust-remote-code"):
        load_model(str(remote_code_checkpoint))
    loaded = load_model(str(remote_code_checkpoint), trust_remote_code=True)
    assert type(loaded.classifier.encoder).__name__ == "CustomModel"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"model_id": "m", "thresh', "not a model card"),
        ("[1, 2]", "a JSON object is expected"),
        ('{"type": "cnn", "model_id": "m", "threshold": 0.5}', "unknown model type 'cnn'"),
        ('{"type": "ensemble", "model_id": "m", "threshold": 0.5}', "lacks members, method, weights"),
        ('{"type": "language-model", "model_id": "m"}', "lacks threshold"),
    ],
)
def test_a_broken_model_card_is_a_one_line_error_naming_the_file(tmp_path, text, message):
    (tmp_path / CARD_FILE).write_text(text)
    with pytest.raises(InputError, match=message) as error:
        read_card(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / CARD_FILE}: ")
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--model",
            str(tmp_path),
            "--dataset",
            str(tmp_path / CARD_FILE),
            "--outdir",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_a_directory_without_a_card_is_a_plain_checkpoint(tmp_path):
    assert read_card(tmp_path) == {}


def test_a_hugging_face_sequence_classifier_scores_as_its_own_softmax(tmp_path):
    """A fine-tuned DNABERT-6 laid out as BertForSequenceClassification (safetensors, k-mer vocab.txt, no card)
    loads as a trained model whose probability is the checkpoint's own softmax of label 1, on k-mers tokenized as
    DNABERT tokenizes them (BertTokenizer over space-separated 6-mers)."""
    from transformers import BertForSequenceClassification, BertTokenizer

    from enhancerlm.models.scorer import load_trained

    directory = tmp_path / "dnabert6_enhancer"
    config = BertConfig(
        vocab_size=4**6 + 5,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=2,
        id2label={0: "non-enhancer", 1: "enhancer"},
        label2id={"non-enhancer": 0, "enhancer": 1},
    )
    torch.manual_seed(3)
    hf_model = BertForSequenceClassification(config).eval()
    hf_model.save_pretrained(directory, safe_serialization=True)
    (directory / "vocab.txt").write_text("\n".join(kmer_vocabulary(6)) + "\n")
    hf_tokenizer = BertTokenizer(str(directory / "vocab.txt"), do_lower_case=False)
    hf_tokenizer.save_pretrained(directory)

    model = load_trained(str(directory))
    assert model.card["labels"] == {"0": "non-enhancer", "1": "enhancer"} and model.card["strand_mode"] == "forward"
    sequences = ["".join(np.random.default_rng(i).choice(list("ACGT"), 120)) for i in range(4)]
    ours = model.predict_proba(sequences, both_strands=False)
    kmers = [" ".join(s[i : i + 6] for i in range(len(s) - 5)) for s in sequences]
    with torch.no_grad():
        logits = hf_model(**hf_tokenizer(kmers, return_tensors="pt", padding=True)).logits
    assert np.allclose(ours, logits.softmax(-1)[:, 1].numpy(), atol=1e-5)

    (directory / "config.json").write_text(
        json.dumps({**json.loads((directory / "config.json").read_text()), "architectures": ["BertForMaskedLM"]})
    )
    with pytest.raises(InputError, match="not a trained enhancerlm model"):
        load_trained(str(directory))


@pytest.mark.parametrize("damage", ["truncated", "not safetensors"])
def test_a_broken_weights_file_is_a_one_line_error_naming_the_file(mini_model, mini_dataset, tmp_path, damage):
    """A copy cut short or a file that is not safetensors: the file and the reason, no SafetensorError traceback."""
    import shutil

    model = shutil.copytree(mini_model, tmp_path / "model")
    weights = model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not weights" * 100)
    argv = ["evaluate", "--model", str(model), "--dataset", str(mini_dataset), "--outdir", str(tmp_path / "out")]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"Error: {weights}: not a readable safetensors file (")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_long_sequence_scores_alike_however_its_windows_are_split_across_passes(tmp_path):
    """A sequence of more windows than a pass holds is encoded `batch_size` windows at a time and pooled after:
    its probability is the one-pass probability, for any batch size (mean and [CLS] pooling, both strands)."""
    from helpers import random_dna, untrained_lm

    from enhancerlm.models.scorer import load_trained

    model = load_trained(str(untrained_lm(tmp_path / "tiny", 60)))
    sequences = [random_dna(np.random.default_rng(1), 2_000), random_dna(np.random.default_rng(2), 150)]
    windows, short = (len(split_windows(sequence, model.max_nucleotides)) for sequence in sequences)
    assert windows > 40 and short < 7
    passes = []  # windows per encoder pass: never more than the batch size, however long the sequence
    model.classifier.encoder.register_forward_pre_hook(
        lambda module, args, kwargs: passes.append(len(kwargs.get("input_ids", kwargs.get("inputs_embeds")))),
        with_kwargs=True,
    )
    for pooling in ("mean", "cls"):
        model.classifier.pooling = pooling
        whole = model.predict_proba(sequences, batch_size=windows, both_strands=True)
        for batch_size in (1, 7, windows - 1):
            passes.clear()
            split = model.predict_proba(sequences, batch_size=batch_size, both_strands=True)
            assert np.allclose(split, whole, atol=1e-6, rtol=0), (pooling, batch_size)
            assert max(passes) <= max(batch_size, short) and sum(passes) == 2 * (windows + short), batch_size


def test_one_rule_decides_the_strands_of_every_command():
    """models.card.strand_mode: the user's choice, else both after --rc-augment, forward otherwise (a card that
    names none included), each member its own in an ensemble; a mode that does not exist is a named error."""
    from enhancerlm.models.card import PER_MEMBER, both_strands, scores_both_strands, strand_mode

    trained_both, forward, unnamed = {"strand_mode": "both"}, {"strand_mode": "forward"}, {}
    ensemble = {"type": "ensemble", "strand_mode": "per member"}
    assert [strand_mode(card) for card in (trained_both, forward, unnamed, ensemble)] == [
        "both",
        "forward",
        "forward",
        PER_MEMBER,
    ]
    assert strand_mode(forward, "both") == "both" and strand_mode(ensemble, "forward") == "forward"
    assert [both_strands(mode) for mode in ("both", "forward", PER_MEMBER)] == [True, False, None]
    assert scores_both_strands(trained_both, None) and not scores_both_strands(unnamed, None)
    assert scores_both_strands(forward, True) and not scores_both_strands(trained_both, False)
    with pytest.raises(InputError, match="strand_mode must be one of both, forward, got 'reverse'") as error:
        strand_mode(forward, "reverse")
    assert error.value.parameters == ("strand_mode",)
