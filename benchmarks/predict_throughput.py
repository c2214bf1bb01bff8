"""Genome-scan throughput: `enhancerlm predict` against the bare forward pass and the loops a user would write.

Usage: python benchmarks/predict_throughput.py [--windows 256] [--tiny-repeats 5] [--threads 1] [--outdir DIR]

For a DNABERT-base-shaped model (the scratch-base preset: BERT, 12 layers, hidden 768, 12 heads, k = 6 vocabulary,
random weights) and for scratch-tiny (k = 6), on the same windows (200 nt every 200 nt along a random genome,
both strands of each, batches of 64 sequences), it times

  (a) predict: `enhancerlm.commands.predict.predict` end to end: loading the model, reading the FASTA, scoring, and
      writing the bedGraph, bigWig, regions and report;
  (b) bare: the classifier's forward pass alone, on token tensors built and batched beforehand;
  (c) hf_loop: the batched loop a user would write with Hugging Face: k-mer strings through the saved
      tokenizer (AutoTokenizer), AutoModel forward, mean pooling and the saved head, per batch;
  (d) pipeline: transformers' pipeline("text-classification"), one sequence at a time. Our checkpoints are an
      encoder plus our own head, which the pipeline cannot load, so it runs BertForSequenceClassification built
      from the same encoder weights (its small pooler + linear head is newly initialised; the cost is the
      encoder's).

Model loading is outside the timing of (b), (c) and (d) and inside (a). Every (model, method) runs in a fresh
subprocess, so the peak RSS reported is its own. Results: a Markdown table on stdout and DIR/throughput.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from measure import bare_forward_seconds, print_ratio_table, rss_mb, run_worker

WINDOW = 200
BATCH = 64
METHODS = ("predict", "bare", "hf_loop", "pipeline")
MODELS = ("scratch-base", "scratch-tiny")


def build_inputs(directory: Path, n_windows: int) -> None:
    """Random-weight models saved as trained enhancerlm models, and a random genome of n_windows windows."""
    import torch

    from enhancerlm.models.checkpoint import load_model, save_model

    for preset in MODELS:
        torch.manual_seed(0)
        model = load_model(preset, kmer=6)
        save_model(
            model,
            directory / preset,
            {
                "model_id": preset,
                "type": "language-model",
                "labels": {"0": "background", "1": "enhancer"},
                "window": WINDOW,
                "threshold": 0.5,
                "strand_mode": "both",
            },
        )
    sequence = "".join(np.random.default_rng(0).choice(list("ACGT"), size=n_windows * WINDOW))
    (directory / "genome.fa").write_text(
        ">chr1\n" + "".join(sequence[i : i + 60] + "\n" for i in range(0, len(sequence), 60))
    )


def windows_of(genome: Path) -> list[str]:
    sequence = "".join(genome.read_text().splitlines()[1:])
    return [sequence[i : i + WINDOW] for i in range(0, len(sequence) - WINDOW + 1, WINDOW)]


def run_predict(model_dir: Path, genome: Path, scratch: Path) -> dict:
    from enhancerlm.commands.predict import ScanOptions, predict

    started = time.perf_counter()
    report = predict(
        str(model_dir),
        genome,
        scratch / "scan",
        prefix="bench",
        options=ScanOptions(window=WINDOW, stride=WINDOW, batch_size=BATCH, device="cpu"),
    )
    return {"seconds": time.perf_counter() - started, "windows": report["windows"]["scored"]}


def run_bare(model_dir: Path, genome: Path, scratch: Path) -> dict:
    from enhancerlm.models.scorer import load_trained

    model = load_trained(str(model_dir))
    windows = np.frombuffer("".join(windows_of(genome)).encode(), dtype=np.uint8).reshape(-1, WINDOW)
    return {"seconds": bare_forward_seconds(model, windows, BATCH), "windows": len(windows)}


def run_hf_loop(model_dir: Path, genome: Path, scratch: Path) -> dict:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    from enhancerlm.core.dna import reverse_complement

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    encoder = AutoModel.from_pretrained(str(model_dir)).eval()
    hidden = encoder.config.hidden_size
    head = torch.nn.Sequential(torch.nn.Linear(hidden, 25), torch.nn.Tanh(), torch.nn.Linear(25, 1))
    weights = load_file(str(model_dir / "model.safetensors"))
    head.load_state_dict(
        {
            "0.weight": weights["classifier.1.weight"],
            "0.bias": weights["classifier.1.bias"],
            "2.weight": weights["classifier.3.weight"],
            "2.bias": weights["classifier.3.bias"],
        }
    )
    windows = windows_of(genome)
    started = time.perf_counter()
    probabilities = []
    with torch.no_grad():
        for first in range(0, len(windows), BATCH // 2):
            batch = windows[first : first + BATCH // 2]
            batch = batch + [reverse_complement(s) for s in batch]
            texts = [" ".join(s[i : i + 6] for i in range(len(s) - 5)) for s in batch]
            encoded = tokenizer(texts, padding=True, return_tensors="pt", return_special_tokens_mask=True)
            special = encoded.pop("special_tokens_mask")
            states = encoder(**encoded).last_hidden_state
            mask = (encoded["attention_mask"] * (1 - special)).unsqueeze(-1)
            pooled = (states * mask).sum(1) / mask.sum(1)
            p = torch.sigmoid(head(pooled)).squeeze(-1)
            probabilities.extend(((p[: len(p) // 2] + p[len(p) // 2 :]) / 2).tolist())
    return {"seconds": time.perf_counter() - started, "windows": len(probabilities)}


def run_pipeline(model_dir: Path, genome: Path, scratch: Path) -> dict:
    from transformers import AutoTokenizer, BertForSequenceClassification, pipeline
    from transformers.utils import logging as hf_logging

    from enhancerlm.core.dna import reverse_complement

    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = BertForSequenceClassification.from_pretrained(str(model_dir)).eval()
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)
    windows = windows_of(genome)
    started = time.perf_counter()
    for sequence in windows:
        for strand in (sequence, reverse_complement(sequence)):
            classify(" ".join(strand[i : i + 6] for i in range(len(strand) - 5)))
    return {"seconds": time.perf_counter() - started, "windows": len(windows)}


def worker(method: str, model_dir: Path, genome: Path, threads: int, repeats: int) -> None:
    import torch

    torch.set_num_threads(threads)
    runner = {"predict": run_predict, "bare": run_bare, "hf_loop": run_hf_loop, "pipeline": run_pipeline}[method]
    with tempfile.TemporaryDirectory() as scratch:
        results = [runner(model_dir, genome, Path(scratch)) for _ in range(repeats)]
    best = min(results, key=lambda r: r["seconds"])
    best["peak_rss_mb"] = round(rss_mb(), 1)
    best["repeats"] = repeats
    print(json.dumps(best))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=256)
    parser.add_argument("--tiny-repeats", type=int, default=5, help="Best of this many runs for scratch-tiny.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in every method.")
    parser.add_argument("--outdir", type=Path, default=None)
    parser.add_argument(
        "--worker", nargs=5, metavar=("METHOD", "MODEL", "GENOME", "THREADS", "REPEATS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        method, model_dir, genome, threads, repeats = args.worker
        worker(method, Path(model_dir), Path(genome), int(threads), int(repeats))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.outdir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        build_inputs(directory, args.windows)
        results = {}
        for preset in MODELS:
            repeats = args.tiny_repeats if preset == "scratch-tiny" else 1
            for method in METHODS:
                result = run_worker(
                    __file__, method, directory / preset, directory / "genome.fa", args.threads, repeats
                )
                result["windows_per_second"] = result["windows"] / result["seconds"]
                results[f"{preset}/{method}"] = result
                print(f"{preset} {method}: {result}", file=sys.stderr, flush=True)
        if args.outdir:
            (directory / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    print_ratio_table(results, MODELS, METHODS, "windows", compared=("predict", "bare", "hf_loop"))


if __name__ == "__main__":
    main()
