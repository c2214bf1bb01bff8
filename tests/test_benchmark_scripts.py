"""The benchmark scripts' own machinery: what they compare must compute what enhancerlm computes, and the memory
cap that keeps a peer from exhausting the machine must stop a run."""

from __future__ import annotations

import sys
import threading
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


def test_a_worker_that_writes_more_than_a_pipe_holds_still_finishes(benchmarks):
    """A worker's result (with every allele's probability) and its warnings pass 64 KB; the launcher must not
    block it, and must return the worker's last line."""
    from measure import monitored

    chatty = "import json, sys\nsys.stderr.write('w' * 300_000)\nprint(json.dumps({'alleles': 2, 'p': 'x' * 300_000}))"
    results = []
    launcher = threading.Thread(
        target=lambda: results.append(monitored([sys.executable, "-c", chatty], {}, cap_mb=300)), daemon=True
    )
    launcher.start()
    launcher.join(timeout=60)  # a launcher that blocks the worker fails here instead of hanging the suite
    assert results, "the launcher is still waiting on a worker that has written 600 KB"
    finished = results[0]
    assert finished["alleles"] == 2 and len(finished["p"]) == 300_000
    failed = monitored(
        [sys.executable, "-c", "import sys\nsys.stderr.write('e' * 100_000 + '\\nbad input')\nsys.exit(3)"],
        {},
        cap_mb=300,
    )
    assert failed["error"] == "bad input"


@pytest.mark.parametrize("shape, tokens", [("micro", 197), ("small", 61)])
def test_the_flop_count_of_a_forward_pass_is_what_torch_counts(benchmarks, shape, tokens):
    """gpu_throughput.forward_flops (from the model's shape) equals torch's own count of a BERT encoder's forward
    pass (eager attention, which the counter sees whole), per sequence."""
    import torch
    from gpu_throughput import forward_flops
    from measure import DNABERT_SHAPES
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=4**6 + 5, attn_implementation="eager", **DNABERT_SHAPES[shape])
    encoder = BertModel(config, add_pooling_layer=False).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        encoder(torch.randint(5, 4**6, (2, tokens)))
    assert counter.get_total_flops() / 2 == forward_flops(config, tokens)


def assert_rates_follow_from_counts(result: dict, unit: str, peak_tflops: float) -> None:
    """A phase's result of gpu_throughput.py: each rate is its units over its seconds, the FLOP rate that rate
    times the FLOPs per unit, the share of peak that over the peak, and the ratio end to end over bare."""
    for method in (result["end_to_end"], result["bare"]):
        assert method["per_second"] == pytest.approx(method[unit] / method["seconds"])
        assert method["tflops"] == pytest.approx(method["per_second"] * result["gflop_per_unit"] / 1e3)
        assert method["share_of_peak"] == pytest.approx(method["tflops"] / peak_tflops)
    assert result["ratio"] == pytest.approx(result["end_to_end"]["per_second"] / result["bare"]["per_second"])


def test_the_gpu_benchmark_runs_on_the_cpu_and_both_methods_see_the_same_work(benchmarks, tmp_path):
    """gpu_throughput.py end to end on a micro checkpoint and the CPU: for train, predict and variants the command
    and the bare pass did the same units of work (the bare pass's windows are the scan's and the VCF's), and the
    ratio, FLOP rates and share of peak follow from the rates."""
    import json
    import subprocess

    import pandas as pd
    from gpu_throughput import PASSES, SEQUENCES_PER_UNIT, forward_flops
    from transformers import AutoConfig

    samplesheet = BENCHMARKS.parent / "assets" / "samplesheets" / "mini_layer1.csv"
    arguments = "--device cpu --shape micro --epochs 2 --contigs 1 --chunk chr1:1000-11000 --variants 60 --threads 1"
    command = [sys.executable, str(BENCHMARKS / "gpu_throughput.py"), *arguments.split()]
    table = subprocess.run(
        [*command, "--samplesheet", str(samplesheet), "--outdir", str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    results = json.loads((tmp_path / "gpu_throughput.json").read_text())["results"]
    prepared = pd.read_csv(next((tmp_path / "prepare").glob("*.dataset.tsv")), sep="\t")
    trained = int(((prepared["split"] == "train") & (prepared["fold"] != 0)).sum())  # validation: fold 0
    flops = forward_flops(AutoConfig.from_pretrained(tmp_path / "dnabert-micro"), 197)
    expected = {"train": ("sequences", 2 * trained), "predict": ("windows", 200), "variants": ("alleles", 59)}
    for phase, (unit, count) in expected.items():
        result, end_to_end, bare = results[phase], results[phase]["end_to_end"], results[phase]["bare"]
        assert result["unit"] == unit and end_to_end[unit] == bare[unit] and bare["tokens"] == 197
        assert end_to_end[unit] == count
        assert result["gflop_per_unit"] * 1e9 == pytest.approx(flops * PASSES[phase] * SEQUENCES_PER_UNIT[phase])
        assert_rates_follow_from_counts(result, unit, peak_tflops=989)
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == ["| train", "| predict", "| variants"]


@pytest.mark.parametrize("run_directory", ["gpu", "gpu/scale"])
def test_the_committed_gpu_measurements_are_what_their_json_says(benchmarks, run_directory):
    """benchmarks/gpu/ holds the GPU run, benchmarks/gpu/scale/ the scan and variants at 3.3 times its size: each
    table is the one its JSON renders, every rate follows from the counts and seconds measured, the GPU is the
    one nvidia-smi reported, and the README quotes the same ratios."""
    import json

    import pandas as pd
    from gpu_throughput import UNITS, results_table

    directory = BENCHMARKS / run_directory
    run = json.loads((directory / "gpu_throughput.json").read_text())
    results, peak = run["results"], run["arguments"]["peak_tflops"]
    gpu = pd.read_csv(directory / "gpu.csv", skipinitialspace=True)["name"].item()
    assert run["arguments"]["device"] == "cuda" and list(results) == run["arguments"].get(
        "phases", ",".join(UNITS)
    ).split(",")
    for phase, result in results.items():
        unit, end_to_end, bare = UNITS[phase], result["end_to_end"], result["bare"]
        assert result["unit"] == unit and end_to_end[unit] == bare[unit] > 0 and bare["gpu"] == gpu
        assert_rates_follow_from_counts(result, unit, peak)
    assert (directory / "gpu_throughput.md").read_text().strip() == results_table(results)
    readme = (BENCHMARKS.parent / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `train`, `predict`, `variants` with"))
    assert " / ".join(f"{result['ratio']:.2f}" for result in results.values()) in row


def test_a_nextflow_run_and_the_runner_compare_equal_when_only_paths_and_provenance_differ(benchmarks, tmp_path):
    """compare_runs.py: the runner records absolute paths and its command line, a Nextflow task the names it staged
    and Nextflow's version; those and the engines' own reports are not results. A changed value still differs."""
    import gzip
    import json

    from compare_runs import compare

    runner, engine = tmp_path / "runner", tmp_path / "nextflow"
    sides = (
        (runner, "/r/out/prepare/d.dataset.tsv", "auto", "work/x"),
        (engine, "d.dataset.tsv", "cpu", "execution_1.txt"),
    )
    for side, path, device, own in sides:
        (side / "evaluate").mkdir(parents=True)
        (side / "pipeline_info" / own).parent.mkdir(parents=True)
        (side / "pipeline_info" / own).write_text("the engine's own record")
        metrics = {"dataset": path, "mcc": 0.5, "seconds": len(path), "command": f"evaluate --device {device}"}
        (side / "evaluate" / "m.metrics.json").write_text(json.dumps(metrics))
        header = f"##enhancerlm_command=enhancerlm variants --genome {path}\n#CHROM\n22\t1\n"
        (side / "m.vcf.gz").write_bytes(gzip.compress(header.encode()))
        versions = "TRAIN:\n    torch: 2.13.0\nWorkflow:\n    enhancerlm/enhancerlm: v0.1.0\n"
        (side / "pipeline_info" / "v.yml").write_text(versions + ("    Nextflow: 25.10.7\n" if side is engine else ""))
    assert compare(runner, engine) == ([], 3)
    (engine / "evaluate" / "m.metrics.json").write_text(json.dumps({"dataset": "d.dataset.tsv", "mcc": 0.6}))
    assert compare(runner, engine) == (["differs: evaluate/m.metrics.json"], 2)


def test_a_replayed_step_writes_where_the_replay_says_and_reads_the_run(benchmarks, tmp_path):
    """replay_steps.py moves only where a step writes (--outdir) and a merge's chunk folders (--input) from the run
    to the replay's folder; the model, genome and other inputs are still read from the run."""
    from replay_steps import moved

    run, out = tmp_path / "run", tmp_path / "out"
    argv = ["merge-predictions", "--input", f"{run}/pipeline_info/work/a", "--fai", f"{run}/g.fa.fai"]
    argv += ["--outdir", f"{run}/predict", "--prefix", "m", "--model", f"{run}/ensemble/m"]
    assert moved(argv, run, out) == [
        "merge-predictions",
        "--input",
        f"{out}/pipeline_info/work/a",
        "--fai",
        f"{run}/g.fa.fai",
        "--outdir",
        f"{out}/predict",
        "--prefix",
        "m",
        "--model",
        f"{run}/ensemble/m",
    ]
