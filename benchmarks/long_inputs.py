"""Memory of scoring long inputs: peak resident memory and time of `predict_proba` on records of 1, 3, 6 and 20 kb
(an untrained k = 6 encoder of a preset shape, scratch-small by default, its windows 512 tokens; 16 records, both
strands, batch 32 windows), each in a fresh process, with this checkout and, with --before, an older one. A record
with more windows than a pass holds is encoded in passes of at most the batch size, so memory should stay flat as
records grow; before, a long record's windows all went through the encoder at once.

Usage: python benchmarks/long_inputs.py [--lengths 1000,3000,6000,20000] [--records 16] [--preset scratch-small]
       [--before SRC]
Prints a Markdown table. Training on long inputs is not covered yet.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import rss_mb


def worker(model_dir: str, length: int, records: int) -> dict:
    """Score `records` random records of `length` nt; the peak resident memory of this process and the seconds."""
    import numpy as np

    from enhancerlm.models.scorer import load_trained

    model = load_trained(model_dir)
    rng = np.random.default_rng(length)
    sequences = ["".join(rng.choice(list("ACGT"), length)) for _ in range(records)]
    before = rss_mb("VmRSS")
    started = time.perf_counter()
    model.predict_proba(sequences, batch_size=32, both_strands=True)
    return {"seconds": round(time.perf_counter() - started, 1), "rss_before_mb": before, "peak_rss_mb": rss_mb()}


def build_model(directory: Path, preset: str) -> Path:
    """An untrained k = 6 model of the preset's shape with a card (memory and time do not depend on the weights)."""
    import torch

    from enhancerlm.models.checkpoint import load_model, save_model

    torch.manual_seed(0)
    card = {"model_id": "long", "type": "language-model", "window": 1000, "threshold": 0.5, "strand_mode": "both"}
    save_model(load_model(preset, kmer=6, max_positions=512), directory, card)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1000,3000,6000,20000")
    parser.add_argument("--records", type=int, default=16)
    parser.add_argument("--preset", default="scratch-small", choices=["scratch-tiny", "scratch-small", "scratch-base"])
    parser.add_argument("--before", type=Path, default=None, help="src folder of an older checkout")
    parser.add_argument("--worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", args.preset)
        versions = {"this checkout": {}, **({"before": {"PYTHONPATH": str(args.before)}} if args.before else {})}
        print("| record length | " + " | ".join(f"{name}: peak RSS (MB), seconds" for name in versions) + " |")
        print("|---:|" + "---:|" * len(versions))
        for length in map(int, args.lengths.split(",")):
            cells = []
            for extra in versions.values():
                command = [sys.executable, __file__, "--worker", str(model), str(length), str(args.records)]
                env = {**os.environ, **extra}
                output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
                result = json.loads(output.strip().splitlines()[-1])
                cells.append(f"{result['peak_rss_mb']:,.0f}, {result['seconds']}")
            print(f"| {length:,} nt | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
