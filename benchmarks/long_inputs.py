"""Memory of long inputs: peak resident memory and time of one training epoch and of scoring (what `evaluate` runs,
`predict_proba` on both strands) on records of 1, 3, 6 and 20 kb, the same number of records and the same budget at
every length, each measurement in a fresh process, with this checkout and, with --before, an older one.

The model is a k = 6 encoder of a preset shape (scratch-tiny by default, as in the issue's measurement), its windows
512 tokens (515 nt), untrained for scoring (memory and time do not depend on the weights). Training: batch 32
records, `--max-tokens-per-step` tokens per forward pass; scoring: batch 64 windows per pass (evaluate's default).
Memory should stay flat as records grow and time should grow with the number of windows, not faster.

Usage: python benchmarks/long_inputs.py [--lengths 1000,3000,6000,20000] [--records 64] [--preset scratch-tiny]
       [--tasks train,evaluate] [--max-tokens 8192] [--before SRC [--before-lengths 1000,3000,6000]]
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from measure import rss_mb, run_worker

KMER, MAX_TOKENS = 6, 512


def random_records(length: int, records: int) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(length)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(records)]


def train_worker(preset: str, length: int, records: int, max_tokens: int) -> dict:
    """One epoch of training on `records` random records (half labelled enhancer), no validation."""
    import pandas as pd
    import torch

    from enhancerlm.training.loop import TrainOptions, fit, fresh_model

    budget = {"max_tokens_per_step": max_tokens}
    if "max_tokens_per_step" not in {field.name for field in dataclasses.fields(TrainOptions)}:
        budget = {}  # an older checkout: every window of a batch at once
    options = TrainOptions(epochs=1, batch_size=32, val_fold=None, patience=0, max_length=MAX_TOKENS, **budget)
    model = fresh_model(preset, KMER, options, False)
    table = pd.DataFrame({"sequence": random_records(length, records), "label": [i % 2 for i in range(records)]})
    return measured(lambda: fit(model, table, table.iloc[:0], options, device=torch.device("cpu")))


def evaluate_worker(model_dir: str, length: int, records: int) -> dict:
    """Score `records` random records on both strands, 64 windows per forward pass."""
    from enhancerlm.models.scorer import load_trained

    model = load_trained(model_dir)
    sequences = random_records(length, records)
    return measured(lambda: model.predict_proba(sequences, batch_size=64, both_strands=True))


def measured(work) -> dict:
    before = rss_mb("VmRSS")
    started = time.perf_counter()
    work()
    return {"seconds": round(time.perf_counter() - started, 1), "rss_before_mb": before, "peak_rss_mb": rss_mb()}


def build_model(directory: Path, preset: str) -> Path:
    """An untrained k = 6 model of the preset's shape with a card."""
    import torch

    from enhancerlm.models.checkpoint import load_model, save_model

    torch.manual_seed(0)
    card = {"model_id": "long", "type": "language-model", "window": 1000, "threshold": 0.5, "strand_mode": "both"}
    save_model(load_model(preset, kmer=KMER, max_positions=MAX_TOKENS), directory, card)
    return directory


def windows_per_record(length: int) -> int:
    from enhancerlm.models.language_model import window_starts

    return len(window_starts(length, MAX_TOKENS - 2 + KMER - 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1000,3000,6000,20000")
    parser.add_argument("--records", type=int, default=64)
    parser.add_argument("--preset", default="scratch-tiny", choices=["scratch-tiny", "scratch-small", "scratch-base"])
    parser.add_argument("--tasks", default="train,evaluate")
    parser.add_argument("--max-tokens", type=int, default=8192, help="training's --max-tokens-per-step")
    parser.add_argument("--before", type=Path, default=None, help="src folder of an older checkout")
    parser.add_argument("--before-lengths", default=None, help="lengths to run the older checkout at [all]")
    parser.add_argument("--worker", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, *rest = args.worker
        if task == "train":
            result = train_worker(rest[0], int(rest[1]), int(rest[2]), int(rest[3]))
        else:
            result = evaluate_worker(rest[0], int(rest[1]), int(rest[2]))
        print(json.dumps(result))
        return
    versions = {"this checkout": {}, **({"before": {"PYTHONPATH": str(args.before)}} if args.before else {})}
    before_lengths = set(map(int, (args.before_lengths or args.lengths).split(",")))
    print(
        "| task | record length | windows per record | " + " | ".join(f"{v}: peak RSS (MB), s" for v in versions) + " |"
    )
    print("|---|---:|---:|" + "---:|" * len(versions))
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", args.preset)
        for task in args.tasks.split(","):
            for length in map(int, args.lengths.split(",")):
                cells = []
                for name, extra in versions.items():
                    if name == "before" and length not in before_lengths:
                        cells.append("not run")
                        continue
                    if task == "train":
                        arguments = ["train", args.preset, str(length), str(args.records), str(args.max_tokens)]
                    else:
                        arguments = ["evaluate", str(model), str(length), str(args.records)]
                    result = run_worker(__file__, *arguments, env=extra)
                    cells.append(f"{result['peak_rss_mb']:,.0f}, {result['seconds']}")
                row = f"| {task} | {length:,} nt | {windows_per_record(length)} | " + " | ".join(cells) + " |"
                print(row, flush=True)


if __name__ == "__main__":
    main()
