"""Per-nucleotide scores from models: attention, integrated gradients, long inputs, ensembles, BPE offsets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from enhancerlm.analysis.attribution import (
    integrated_gradients,
    language_models,
    nucleotide_scores,
    pooled_integrated_gradients,
    record_ig_scores,
    score_nucleotides,
    window_scores,
)
from enhancerlm.errors import InputError
from enhancerlm.models.checkpoint import load_model
from enhancerlm.models.language_model import split_windows, window_starts
from enhancerlm.models.scorer import load_trained

RNG = np.random.default_rng(7)
SEQUENCES = ["".join(RNG.choice(list("ACGT"), size=n)) for n in (60, 75, 40)]


@pytest.fixture(scope="module")
def short_window_model():
    """An untrained k = 3 model that reads at most 32 nt at a time, so 60+ nt inputs need several windows."""
    torch.manual_seed(0)
    return load_model("scratch-tiny", kmer=3, max_positions=32)


def test_attention_is_the_cls_row_of_the_last_layer_summed_over_heads(mini_model):
    model = load_trained(str(mini_model))
    sequence = SEQUENCES[0][:50]
    encoder = model.classifier.encoder
    encoder.set_attn_implementation("eager")
    tokens = model.tokenizer.encode([sequence])
    with torch.no_grad():
        attentions = encoder(
            input_ids=tokens.input_ids, attention_mask=tokens.attention_mask, output_attentions=True
        ).attentions
    expected = nucleotide_scores(attentions[-1][0, :, 0, 1:-1].sum(0).numpy(), k=3, length=len(sequence))
    (scores,) = score_nucleotides(model, [sequence], method="attention")
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert np.isclose(np.linalg.norm(scores), 1.0)


def test_integrated_gradients_are_complete(mini_model):
    """IG's attributions add up to the logit difference between the input and the baseline."""
    model = load_trained(str(mini_model))
    classifier = model.classifier.eval()
    tokens = model.tokenizer.encode(SEQUENCES[:2])
    attributions = integrated_gradients(model, tokens, steps=64)
    embeddings = classifier.encoder.get_input_embeddings()(tokens.input_ids)
    baseline = embeddings * (1 - tokens.sequence_mask).unsqueeze(-1)
    with torch.no_grad():
        full = classifier(tokens.input_ids, tokens.attention_mask, tokens.sequence_mask, inputs_embeds=embeddings)
        empty = classifier(tokens.input_ids, tokens.attention_mask, tokens.sequence_mask, inputs_embeds=baseline)
    np.testing.assert_allclose(attributions.sum(1).numpy(), (full - empty).numpy(), atol=0.02)
    assert torch.all(attributions[tokens.sequence_mask == 0] == 0)  # specials keep their embeddings


def test_long_sequences_average_overlapping_windows_of_attention(short_window_model):
    method = "attention"
    model = short_window_model
    window = model.max_nucleotides
    sequence = SEQUENCES[1]
    assert len(sequence) > window
    pieces = split_windows(sequence, window)
    starts = [min(i * (window // 2), len(sequence) - window) for i in range(len(pieces))]
    sums, counts = np.zeros(len(sequence)), np.zeros(len(sequence))
    for start, scores in zip(starts, window_scores(model, pieces, method=method, ig_steps=4)):
        sums[start : start + window] += scores
        counts[start : start + window] += 1
    expected = sums / counts
    expected /= np.linalg.norm(expected)
    (scores,) = score_nucleotides(model, [sequence], method=method, ig_steps=4, batch_size=2)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-7)


def test_integrated_gradients_of_a_long_record_explain_its_pooled_logit(short_window_model):
    """A record of several windows: IG of its one pooled logit, complete over all its windows (the attributions add
    up to the logit difference from the baseline record), the same for any number of windows per pass, no pass
    over that number; for a record of one window it is plain IG."""
    model = short_window_model
    classifier = model.classifier.eval()
    sequence = "".join(np.random.default_rng(11).choice(list("ACGT"), 200))
    tokens = model.tokenizer.encode(split_windows(sequence, model.max_nucleotides))
    assert len(tokens.input_ids) > 8
    passes = []
    hook = classifier.encoder.register_forward_pre_hook(
        lambda module, args, kwargs: passes.append(len(kwargs["inputs_embeds"])), with_kwargs=True
    )
    whole = pooled_integrated_gradients(model, tokens, steps=64, batch_size=len(tokens.input_ids))
    for batch_size in (1, 3):
        passes.clear()
        split = pooled_integrated_gradients(model, tokens, steps=64, batch_size=batch_size)
        torch.testing.assert_close(split, whole, atol=1e-5, rtol=1e-4)
        assert max(passes) == batch_size
    hook.remove()
    embeddings = classifier.encoder.get_input_embeddings()(tokens.input_ids)
    baseline = embeddings * (1 - tokens.sequence_mask).unsqueeze(-1)
    owner = torch.zeros(len(embeddings), dtype=torch.long)
    with torch.no_grad():
        full, empty = (
            classifier(tokens.input_ids, tokens.attention_mask, tokens.sequence_mask, owner, inputs_embeds=e)
            for e in (embeddings, baseline)
        )
    assert float(whole.sum()) == pytest.approx(float(full - empty), abs=0.02)
    one = model.tokenizer.encode([sequence[:30]])
    torch.testing.assert_close(
        pooled_integrated_gradients(model, one, steps=8),
        integrated_gradients(model, one, steps=8),
        atol=1e-6,
        rtol=1e-5,
    )


def test_a_long_record_gets_its_pooled_integrated_gradients_in_genome_order(short_window_model):
    """score_nucleotides(method="ig") on a long record: each window's nucleotide shares added up at their place in
    the record; short records in the same call keep the per-window path."""
    model = short_window_model
    window = model.max_nucleotides
    long_record = "".join(np.random.default_rng(12).choice(list("ACGT"), 90))
    scores = list(score_nucleotides(model, [SEQUENCES[2][:window], long_record], method="ig", ig_steps=4))
    np.testing.assert_allclose(scores[0], window_scores(model, [SEQUENCES[2][:window]], method="ig", ig_steps=4)[0])
    tokens = model.tokenizer.encode(split_windows(long_record, window))
    token_scores = pooled_integrated_gradients(model, tokens, steps=4).numpy()
    expected = np.zeros(len(long_record))
    for row, start in enumerate(window_starts(len(long_record), window)):
        used = tokens.sequence_mask[row].bool().numpy()
        expected[start : start + window] += nucleotide_scores(token_scores[row][used], 3, window, normalise=False)
    np.testing.assert_allclose(scores[1], expected / np.linalg.norm(expected), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(scores[1], record_ig_scores(model, long_record, 4, 2, "cpu"), rtol=1e-4, atol=1e-6)


def test_batches_do_not_change_scores(short_window_model):
    one_by_one = [next(score_nucleotides(short_window_model, [s])) for s in SEQUENCES]
    together = list(score_nucleotides(short_window_model, SEQUENCES, batch_size=2))
    for a, b in zip(one_by_one, together):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_ensembles_average_member_scores(tmp_path, mini_model, mini_dataset):
    from enhancerlm.commands.ensemble import build_ensemble
    from enhancerlm.commands.train import train
    from enhancerlm.training.loop import TrainOptions

    train(
        mini_dataset,
        "scratch-tiny",
        tmp_path / "k4",
        kmer=4,
        options=TrainOptions(epochs=1, batch_size=16),
        device="cpu",
    )
    build_ensemble([str(mini_model), str(tmp_path / "k4")], mini_dataset, tmp_path / "ens", method="mean", device="cpu")
    ensemble = load_trained(str(tmp_path / "ens"))
    assert len(language_models(ensemble)) == 2
    members = [list(score_nucleotides(load_trained(str(m)), SEQUENCES)) for m in (mini_model, tmp_path / "k4")]
    combined = list(score_nucleotides(ensemble, SEQUENCES))
    for index, scores in enumerate(combined):
        np.testing.assert_allclose(scores, (members[0][index] + members[1][index]) / 2, rtol=1e-5)


def test_bpe_models_spread_token_scores_through_offsets(bpe_checkpoint):
    model = load_model(str(bpe_checkpoint))
    sequence = SEQUENCES[0]
    for method in ("attention", "ig"):
        (scores,) = score_nucleotides(model, [sequence], method=method, ig_steps=4)
        assert scores.shape == (len(sequence),) and np.isclose(np.linalg.norm(scores), 1.0)
    encoded = model.tokenizer.tokenizer([sequence], return_offsets_mapping=True)
    spans = [(s, e) for s, e in encoded["offset_mapping"][0] if e > s]
    assert spans[0][0] == 0 and spans[-1][1] == len(sequence)  # every nucleotide is covered by a token


def test_k_mer_baselines_have_no_attributions(tmp_path, mini_dataset):
    from enhancerlm.commands.train import train
    from enhancerlm.training.loop import TrainOptions

    train(mini_dataset, "kmer-baseline", tmp_path / "baseline", options=TrainOptions(epochs=1))
    with pytest.raises(InputError, match="k-mer baseline"):
        list(score_nucleotides(load_trained(str(tmp_path / "baseline")), SEQUENCES))
