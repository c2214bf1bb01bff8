"""The GPU path: `enhancerlm train`, `predict` and `variants` with `--device cuda` on a DNABERT-base-shaped model, each
end to end against the network alone on tensors batched beforehand, and the share of the GPU's bf16 peak the rates
imply.

Usage: python benchmarks/gpu_throughput.py [--device cuda] [--shape base] [--phases train,predict,variants]
           [--epochs 2] [--contigs 6]
           [--chunk CONTIG:START-END] [--variants 30000] [--batch-size 256] [--peak-tflops 989]
           [--samplesheet CSV] [--outdir DIR]

The model is one DNABERT-6-layout `BertForSequenceClassification` checkpoint (random weights; base: DNABERT's
hidden 768, 12 layers; `--shape micro` makes a CPU smoke run), loaded by every command as a user's fine-tuned
DNABERT would be. On CUDA each command runs its network under bf16 autocast (its own choice there), and so do the
bare passes here.

  train: `enhancerlm train --model CHECKPOINT` (fine-tuning, batches of 32, `--epochs`, no early stopping) on the
      bundled iEnhancer-2L layer-1 training set (`enhancerlm prepare` of `--samplesheet`), against forward pass,
      backward pass and AdamW step over as many of its 200 nt sequences (training records x epochs), batched
      beforehand;
  predict: `enhancerlm predict` (200 nt windows every 50 nt, both strands, the default FDR calling) on a random
      genome of `--contigs` 1 Mb contigs (`--chunk` scans one region of it), against the forward pass over the
      same windows and their reverse complements;
  variants: `enhancerlm variants` (200 nt windows, both strands) on `--variants` SNVs of that genome, against the
      forward pass over each allele's reference and alternative windows, both strands.

End to end is the command line in a fresh process: start-up, model loading, reading, writing and, for predict,
the shuffled calibration windows included. The FLOPs of a pass are counted from the model's shape at the padded
token length the network sees (2 per multiply-add: the projections and feed-forward, 2T(4d^2 + 2df) per layer,
attention's scores and weighted sum, 4T^2 d per layer; a training step 3 times the forward pass); their rate over
`--peak-tflops` (the H200's dense bf16 peak on its data sheet: 989) is the share of peak. Results: a Markdown table
on stdout and DIR/gpu_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from measure import bare_forward_seconds, dnabert_checkpoint, run_worker, synchronize
from variants_memory import write_genome, write_vcf
from variants_throughput import allele_windows_of

ROOT = Path(__file__).resolve().parents[1]
SAMPLESHEET = ROOT / "assets" / "samplesheets" / "ienhancer2l_layer1.csv"
WINDOW, STRIDE, TRAIN_BATCH = 200, 50, 32
PASSES = {"train": 3, "predict": 1, "variants": 1}  # forward-pass equivalents of one sequence's work
UNITS = {"train": "sequences", "predict": "windows", "variants": "alleles"}
SEQUENCES_PER_UNIT = {"train": 1, "predict": 2, "variants": 4}  # strands, and reference and alternative


def enhancerlm(*arguments) -> float:
    """Run the command line in a fresh process; returns its wall seconds."""
    command = [sys.executable, "-c", "from enhancerlm.cli import main; main()", "-q", *map(str, arguments)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def forward_flops(config, tokens: int) -> float:
    """FLOPs of one BERT forward pass over `tokens` positions (see the module's docstring)."""
    d, f = config.hidden_size, config.intermediate_size
    return config.num_hidden_layers * (2 * tokens * (4 * d * d + 2 * d * f) + 4 * tokens * tokens * d)


def build_inputs(directory: Path, shape: str, contigs: int, variants: int, samplesheet: Path) -> dict[str, Path]:
    """The checkpoint, the prepared training set, the random genome and its SNVs."""
    sequences = write_genome(directory / "genome.fa", contigs)
    enhancerlm("prepare", "--input", samplesheet, "--outdir", directory / "prepare")
    return {
        "model": dnabert_checkpoint(shape, directory / f"dnabert-{shape}"),
        "dataset": next((directory / "prepare").glob("*.dataset.tsv")),
        "genome": directory / "genome.fa",
        "vcf": write_vcf(directory / "snvs.vcf.gz", sequences, variants),
    }


def run_end_to_end(phase: str, inputs: dict[str, Path], out: Path, args) -> dict:
    """One command end to end; the units it scored (training: sequences seen) and its seconds."""
    from enhancerlm.models.card import read_card

    common = ["--model", inputs["model"], "--outdir", out, "--device", args.device]
    if phase == "train":
        options = ["--dataset", inputs["dataset"], "--epochs", args.epochs, "--batch-size", TRAIN_BATCH]
        seconds = enhancerlm("train", *common, *options, "--patience", 0)
        return {"seconds": seconds, "sequences": read_card(out)["training_data"]["records"]["train"] * args.epochs}
    scan = ["--genome", inputs["genome"], "--prefix", "bench", "--window", WINDOW, "--batch-size", args.batch_size]
    if phase == "predict":
        chunk = ["--chunk", args.chunk] if args.chunk else []
        seconds = enhancerlm("predict", *common, *scan, "--stride", STRIDE, "--strand-mode", "both", *chunk)
        return {
            "seconds": seconds,
            "windows": json.loads((out / "bench.predict.json").read_text())["windows"]["scored"],
        }
    seconds = enhancerlm("variants", *common, *scan, "--vcf", inputs["vcf"], "--strand-mode", "both")
    return {"seconds": seconds, "alleles": json.loads((out / "bench.variants.json").read_text())["alleles"]["scored"]}


def scan_windows(genome_path: Path, chunk: str | None) -> np.ndarray:
    """The windows `predict` scores, as ASCII rows: the scan's own window grid over the chunk or the genome."""
    from enhancerlm.analysis.scan import parse_chunk, window_blocks
    from enhancerlm.formats.genome import open_genome

    with open_genome(genome_path) as genome:
        region = parse_chunk(chunk, genome.sizes) if chunk else None
        contigs = [region[0]] if region else list(genome.sizes)
        blocks = window_blocks(genome, contigs, window=WINDOW, stride=STRIDE, chunk=region)
        return np.concatenate([windows for _, _, windows in blocks])


def bare_training_seconds(model, windows: np.ndarray, batch_size: int, device: str) -> float:
    """Seconds of forward pass, backward pass and AdamW step over the windows (rows of ASCII codes, random
    labels), batched on `device` beforehand, after one step of warm-up."""
    import torch

    from enhancerlm.models.classifier import autocast

    generator = np.random.default_rng(0)
    batches = [
        (
            model.tokenizer.encode_windows(windows[i : i + batch_size]).to(device),
            torch.tensor(generator.integers(0, 2, len(windows[i : i + batch_size])), dtype=torch.float32).to(device),
        )
        for i in range(0, len(windows), batch_size)
    ]
    classifier = model.classifier.to(device).train()
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=3e-5)

    def step(tokens, labels) -> None:
        with autocast(device):
            logits = classifier(tokens.input_ids, tokens.attention_mask, tokens.sequence_mask)
        torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), labels).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(*batches[0])
    synchronize(device)
    started = time.perf_counter()
    for batch in batches:
        step(*batch)
    synchronize(device)
    return time.perf_counter() - started


def run_bare(spec: dict) -> dict:
    """The network alone on one phase's sequences, in this (fresh) process."""
    import pandas as pd
    import torch

    from enhancerlm.models.scorer import load_trained

    phase, device, batch_size = spec["phase"], spec["device"], spec["batch_size"]
    torch.set_num_threads(spec["threads"])
    model = load_trained(spec["model"])
    if phase == "train":
        table = pd.read_csv(spec["dataset"], sep="\t")
        epoch = table.loc[table["split"] == "train", "sequence"].head(spec["count"] // spec["epochs"])
        windows = np.tile(np.frombuffer("".join(epoch).encode(), np.uint8).reshape(-1, WINDOW), (spec["epochs"], 1))
        seconds, units = bare_training_seconds(model, windows, TRAIN_BATCH, device), len(windows)
    elif phase == "predict":
        windows = scan_windows(Path(spec["genome"]), spec["chunk"])
        seconds, units = bare_forward_seconds(model, windows, batch_size, device), len(windows)
    else:
        windows = allele_windows_of(Path(spec["genome"]), Path(spec["vcf"])).reshape(-1, WINDOW)
        seconds, units = bare_forward_seconds(model, windows, batch_size, device), len(windows) // 2
    result = {
        "seconds": seconds,
        UNITS[phase]: units,
        "tokens": model.tokenizer.encode_windows(windows[:1]).input_ids.shape[1],
    }
    if torch.device(device).type == "cuda":
        result.update(
            gpu=torch.cuda.get_device_name(device), peak_gpu_mb=round(torch.cuda.max_memory_allocated() / 2**20)
        )
    return result


def measure_phase(phase: str, inputs: dict[str, Path], directory: Path, args) -> dict:
    """One phase end to end and bare, with the rates, their ratio and the FLOP rates they imply."""
    from transformers import AutoConfig

    unit = UNITS[phase]
    end_to_end = run_end_to_end(phase, inputs, directory / phase, args)
    spec = {
        **{name: str(path) for name, path in inputs.items()},
        "phase": phase,
        "device": args.device,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "epochs": args.epochs,
        "chunk": args.chunk,
        "count": end_to_end[unit],
    }
    bare = run_worker(__file__, json.dumps(spec))
    flops = forward_flops(AutoConfig.from_pretrained(inputs["model"]), bare["tokens"])
    flops *= PASSES[phase] * SEQUENCES_PER_UNIT[phase]
    result = {"unit": unit, "end_to_end": end_to_end, "bare": bare, "gflop_per_unit": flops / 1e9}
    for method in ("end_to_end", "bare"):
        rate = result[method][unit] / result[method]["seconds"]
        tflops = rate * flops / 1e12
        result[method].update(per_second=rate, tflops=tflops, share_of_peak=tflops / args.peak_tflops)
    result["ratio"] = result["end_to_end"]["per_second"] / result["bare"]["per_second"]
    return result


def results_table(results: dict[str, dict]) -> str:
    """The Markdown table of the results, as committed in benchmarks/gpu/gpu_throughput.md."""
    lines = [
        "| command | unit | end to end /s | bare /s | end to end / bare | GFLOP per unit | TFLOP/s end to end | "
        "TFLOP/s bare | share of bf16 peak, end to end | bare |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase, r in results.items():
        e, b = r["end_to_end"], r["bare"]
        lines.append(
            f"| {phase} | {r['unit']} | {e['per_second']:,.1f} | {b['per_second']:,.1f} | {r['ratio']:.2f} | "
            f"{r['gflop_per_unit']:.3g} | {e['tflops']:.3g} | {b['tflops']:.3g} | "
            f"{e['share_of_peak']:.1%} | {b['share_of_peak']:.1%} |"
        )
    return "\n".join(lines)


def recorded_arguments(args) -> dict:
    """The run's options as the JSON records them: the samplesheet relative to the repository where it lies in it,
    without the output directory and the worker's internals."""
    recorded = {name: value for name, value in vars(args).items() if name not in ("outdir", "worker")}
    samplesheet = args.samplesheet.resolve()
    recorded["samplesheet"] = str(samplesheet.relative_to(ROOT) if samplesheet.is_relative_to(ROOT) else samplesheet)
    return recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--shape", default="base", help="Checkpoint shape: micro, small or base.")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--phases", default=",".join(PASSES), help="Commands to measure, comma-separated.")
    parser.add_argument("--contigs", type=int, default=6, help="1 Mb random contigs in the genome.")
    parser.add_argument("--chunk", default=None, help="Scan only CONTIG:START-END of the genome.")
    parser.add_argument("--variants", type=int, default=30_000, help="SNVs to score.")
    parser.add_argument("--batch-size", type=int, default=256, help="Sequences per forward pass in scoring.")
    parser.add_argument("--threads", type=int, default=4, help="torch CPU threads of the bare passes.")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="The GPU's dense bf16 peak.")
    parser.add_argument("--samplesheet", type=Path, default=SAMPLESHEET, help="Training set to prepare.")
    parser.add_argument("--outdir", type=Path, default=None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    phases = args.phases.split(",")
    if not set(phases) <= set(PASSES):
        parser.error(f"--phases: each of {args.phases!r} must be one of {', '.join(PASSES)}")
    if args.worker:
        print(json.dumps(run_bare(json.loads(args.worker))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.outdir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        inputs = build_inputs(directory, args.shape, args.contigs, args.variants, args.samplesheet)
        results = {}
        for phase in phases:
            results[phase] = measure_phase(phase, inputs, directory, args)
            print(f"{phase}: {json.dumps(results[phase])}", file=sys.stderr, flush=True)
        if args.outdir:
            (directory / "gpu_throughput.json").write_text(
                json.dumps({"arguments": recorded_arguments(args), "results": results}, indent=2) + "\n"
            )
    print(results_table(results))


if __name__ == "__main__":
    main()
