"""Genome-scan throughput: `enhancerlm predict` against the bare forward pass, the loops a user would write with
Hugging Face, and the k-mer baseline as the cost floor.

Usage: python benchmarks/predict_throughput.py [--windows 128] [--tiny-repeats 5] [--threads 1] [--outdir DIR]

Models, on the same windows (200 nt every 200 nt along a random genome, both strands of each, batches of 64
sequences):

  dnabert-base: a DNABERT-6-layout `BertForSequenceClassification` checkpoint (DNABERT-base's shape: 12 layers,
      hidden 768; random weights), what a fine-tuned DNABERT on the Hub is. Every method loads this one
      directory: `predict` scores it as its softmax probability of label 1, the Hugging Face methods through
      AutoModelForSequenceClassification and pipeline().
  scratch-tiny: our smallest preset (k = 6, random weights) saved as a trained enhancerlm model, where the
      overheads around the network show. Its head (mean pooling, two layers) is ours: the Hugging Face loop
      adds it by hand, and the pipeline runs BertForSequenceClassification built from the same encoder weights.
  kmer-baseline: the k-mer spectrum logistic regression (random weights), `predict` only: the cheapest model
      a scan can run, the floor the language models' cost is set against.

Methods:
  (a) predict: `enhancerlm.commands.predict.predict` end to end, regions called at a raw threshold: loading the
      model, reading the FASTA, scoring, and writing the bedGraph, bigWig, regions and report;
  (a') predict_fdr: the same with the default calling, an FDR against shuffled windows, which scores a sample
      of up to 10,000 shuffled windows besides the genome's (on this small genome, one per window);
  (b) bare: the classifier's forward pass alone, on token tensors built and batched beforehand;
  (c) hf_loop: the batched loop a user would write: k-mer strings through the saved tokenizer (AutoTokenizer),
      the model's forward pass, strands averaged;
  (d) pipeline: transformers' pipeline("text-classification"), one sequence at a time.

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
from measure import bare_forward_seconds, dnabert_checkpoint, print_ratio_table, rss_mb, run_worker

WINDOW = 200
BATCH = 64
METHODS = ("predict", "predict_fdr", "bare", "hf_loop", "pipeline")
MODELS = {"dnabert-base": METHODS, "scratch-tiny": METHODS, "kmer-baseline": ("predict", "predict_fdr")}
FLOOR = "kmer-baseline"


def build_inputs(directory: Path, n_windows: int) -> None:
    """The three models (random weights) and a random genome of n_windows windows."""
    import torch

    from enhancerlm.models.baseline import KmerBaseline, spectrum_features
    from enhancerlm.models.checkpoint import load_model, save_model

    dnabert_checkpoint("base", directory / "dnabert-base")
    card = {"labels": {"0": "background", "1": "enhancer"}, "window": WINDOW, "threshold": 0.5, "strand_mode": "both"}
    torch.manual_seed(0)
    tiny_card = {**card, "model_id": "scratch-tiny", "type": "language-model"}
    save_model(load_model("scratch-tiny", kmer=6), directory / "scratch-tiny", tiny_card)
    features = spectrum_features(["ACGT"]).shape[1]
    weights = np.random.default_rng(0).normal(size=features).astype(np.float32)
    baseline = KmerBaseline(np.zeros(features, np.float32), np.ones(features, np.float32), weights, 0.0)
    baseline.save(directory / "kmer-baseline", {**card, "model_id": "kmer-baseline", "type": "kmer-baseline"})
    sequence = "".join(np.random.default_rng(0).choice(list("ACGT"), size=n_windows * WINDOW))
    (directory / "genome.fa").write_text(
        ">chr1\n" + "".join(sequence[i : i + 60] + "\n" for i in range(0, len(sequence), 60))
    )


def windows_of(genome: Path) -> list[str]:
    sequence = "".join(genome.read_text().splitlines()[1:])
    return [sequence[i : i + WINDOW] for i in range(0, len(sequence) - WINDOW + 1, WINDOW)]


def run_predict(model_dir: Path, genome: Path, scratch: Path, *, fdr: bool = False) -> dict:
    from enhancerlm.commands.predict import ScanOptions, predict

    calling = {} if fdr else {"calibrate": False, "threshold": 0.5}
    options = ScanOptions(window=WINDOW, stride=WINDOW, batch_size=BATCH, device="cpu", **calling)
    started = time.perf_counter()
    report = predict(str(model_dir), genome, scratch / "scan", prefix="bench", options=options)
    return {"seconds": time.perf_counter() - started, "windows": report["windows"]["scored"]}


def run_predict_fdr(model_dir: Path, genome: Path, scratch: Path) -> dict:
    return run_predict(model_dir, genome, scratch, fdr=True)


def run_bare(model_dir: Path, genome: Path, scratch: Path) -> dict:
    from enhancerlm.models.scorer import load_trained

    model = load_trained(str(model_dir))
    windows = np.frombuffer("".join(windows_of(genome)).encode(), dtype=np.uint8).reshape(-1, WINDOW)
    return {"seconds": bare_forward_seconds(model, windows, BATCH), "windows": len(windows)}


def hf_model(model_dir: Path):
    """What a Hugging Face user scores a batch with: (encoded batch, special-token mask) -> probabilities. A
    sequence-classification checkpoint is its own softmax of label 1; our checkpoints are their encoder (AutoModel)
    plus our head, mean-pooled over the sequence tokens, added by hand from the saved weights."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoModelForSequenceClassification

    architectures = json.loads((model_dir / "config.json").read_text()).get("architectures") or []
    if any(name.endswith("ForSequenceClassification") for name in architectures):
        classifier = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
        return lambda encoded, special: torch.softmax(classifier(**encoded).logits, -1)[:, 1]
    encoder = AutoModel.from_pretrained(str(model_dir)).eval()
    head = torch.nn.Sequential(torch.nn.Linear(encoder.config.hidden_size, 25), torch.nn.Tanh(), torch.nn.Linear(25, 1))
    weights = load_file(str(model_dir / "model.safetensors"))
    head.load_state_dict(
        {f"{i}.{name}": weights[f"classifier.{i + 1}.{name}"] for i in (0, 2) for name in ("weight", "bias")}
    )

    def probabilities(encoded, special):
        mask = (encoded["attention_mask"] * (1 - special)).unsqueeze(-1)
        pooled = (encoder(**encoded).last_hidden_state * mask).sum(1) / mask.sum(1)
        return torch.sigmoid(head(pooled)).squeeze(-1)

    return probabilities


def run_hf_loop(model_dir: Path, genome: Path, scratch: Path) -> dict:
    import torch
    from transformers import AutoTokenizer

    from enhancerlm.core.dna import reverse_complement

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    score = hf_model(model_dir)
    windows = windows_of(genome)
    started = time.perf_counter()
    probabilities = []
    with torch.no_grad():
        for first in range(0, len(windows), BATCH // 2):
            batch = windows[first : first + BATCH // 2]
            batch = batch + [reverse_complement(s) for s in batch]
            texts = [" ".join(s[i : i + 6] for i in range(len(s) - 5)) for s in batch]
            encoded = tokenizer(texts, padding=True, return_tensors="pt", return_special_tokens_mask=True)
            p = score(encoded, encoded.pop("special_tokens_mask"))
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
    runner = {
        "predict": run_predict,
        "predict_fdr": run_predict_fdr,
        "bare": run_bare,
        "hf_loop": run_hf_loop,
        "pipeline": run_pipeline,
    }[method]
    with tempfile.TemporaryDirectory() as scratch:
        results = [runner(model_dir, genome, Path(scratch)) for _ in range(repeats)]
    best = min(results, key=lambda r: r["seconds"])
    best["peak_rss_mb"] = round(rss_mb(), 1)
    best["repeats"] = repeats
    print(json.dumps(best))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=128)
    parser.add_argument("--tiny-repeats", type=int, default=5, help="Best of this many runs for the small models.")
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
        for model, methods in MODELS.items():
            repeats = 1 if model == "dnabert-base" else args.tiny_repeats
            for method in methods:
                result = run_worker(__file__, method, directory / model, directory / "genome.fa", args.threads, repeats)
                result["windows_per_second"] = result["windows"] / result["seconds"]
                results[f"{model}/{method}"] = result
                print(f"{model} {method}: {result}", file=sys.stderr, flush=True)
        if args.outdir:
            (directory / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    print_ratio_table(results, MODELS, METHODS, "windows", compared=("predict", "bare", "hf_loop"))
    floor = results[f"{FLOOR}/predict"]["windows_per_second"]
    for model in MODELS:
        slower = floor / results[f"{model}/predict"]["windows_per_second"]
        print(f"{model}: predict at 1/{slower:.1f} of the {FLOOR}'s rate")


if __name__ == "__main__":
    main()
