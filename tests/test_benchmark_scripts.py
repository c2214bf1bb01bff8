"""The benchmark scripts' own machinery: what they compare must compute what enhancerlm computes, and the memory
cap that keeps a peer from exhausting the machine must stop a run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def benchmarks(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def test_the_hugging_face_loop_scores_a_sequence_classifier_as_predict_does(benchmarks, tmp_path):
    """predict_throughput.py's Hugging Face loop (tokenizer + AutoModelForSequenceClassification on the checkpoint
    measure.dnabert_checkpoint writes) gives enhancerlm's probabilities for the same windows."""
    import predict_throughput
    import torch
    from measure import dnabert_checkpoint
    from transformers import AutoTokenizer

    from enhancerlm.models.scorer import load_trained

    directory = dnabert_checkpoint("micro", tmp_path / "dnabert")
    windows = ["".join(np.random.default_rng(i).choice(list("ACGT"), 60)) for i in range(3)]
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    texts = [" ".join(w[i : i + 6] for i in range(len(w) - 5)) for w in windows]
    encoded = tokenizer(texts, padding=True, return_tensors="pt", return_special_tokens_mask=True)
    with torch.no_grad():
        theirs = predict_throughput.hf_model(directory)(encoded, encoded.pop("special_tokens_mask")).numpy()
    ours = load_trained(str(directory)).predict_proba(windows, both_strands=False)
    assert np.abs(theirs - ours).max() < 1e-5 and np.ptp(ours) > 0


def test_a_run_past_the_memory_cap_is_stopped_and_reported(benchmarks):
    """The peer benchmarks' launcher (measure.monitored) stops a worker (and its children) whose memory passes the
    cap, and says so instead of a result; a worker under the cap reports its own JSON."""
    from measure import monitored

    grow = "import time\nblocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))\n    time.sleep(0.05)"
    stopped = monitored([sys.executable, "-c", grow], {}, cap_mb=300)
    assert stopped["stopped"] == "passed the 300 MB cap" and stopped["sampled_peak_pss_mb"] > 300
    finished = monitored([sys.executable, "-c", "print('{\"alleles\": 3}')"], {}, cap_mb=300)
    assert finished["alleles"] == 3 and "stopped" not in finished
