"""What the benchmark scripts share: memory readings, each measurement in a fresh process (with a memory cap
where a peer may hold its whole input), the checkpoint every tool in a comparison loads, the bare forward pass
that end-to-end runs are compared with, and the table of ratios."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

MEMORY_SAMPLE_SECONDS = 0.2


def rss_mb(field: str = "VmHWM") -> float:
    """Peak (VmHWM: unlike getrusage's maxrss, not inherited across exec) or current (VmRSS) resident memory
    of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


DNABERT_SHAPES = {
    "micro": dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def dnabert_checkpoint(shape: str, directory: Path) -> Path:
    """A DNABERT-6-layout `BertForSequenceClassification` checkpoint (random weights, DNABERT's 6-mer `vocab.txt`,
    512 positions, two labels) of one of DNABERT_SHAPES (base: DNABERT's own): what a fine-tuned DNABERT on the
    Hub looks like, so that every tool in a comparison loads the same file."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    from enhancerlm.models.tokenize import kmer_vocabulary

    directory.mkdir(parents=True, exist_ok=True)
    config = BertConfig(
        vocab_size=4**6 + 5,
        max_position_embeddings=512,
        num_labels=2,
        id2label={0: "background", 1: "enhancer"},
        **DNABERT_SHAPES[shape],
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(directory, safe_serialization=True)
    (directory / "vocab.txt").write_text("\n".join(kmer_vocabulary(6)) + "\n")
    BertTokenizer(str(directory / "vocab.txt"), do_lower_case=False).save_pretrained(directory)
    return directory


def run_worker(script: str, *arguments, env: dict | None = None) -> dict:
    """Run `script --worker ARGUMENTS...` in a fresh Python process (with `env` added to the environment) and
    return the JSON it prints last."""
    command = [sys.executable, script, "--worker", *map(str, arguments)]
    environment = {**os.environ, **env} if env else None
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
    return json.loads(output.strip().splitlines()[-1])


def enhancerlm_command(*arguments: str) -> dict:
    """Run one `enhancerlm` command in its own process: its seconds and peak resident memory (from wait4, that
    process alone)."""
    started = time.perf_counter()
    process = subprocess.Popen(["enhancerlm", "-q", *arguments], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"enhancerlm {' '.join(arguments)} failed")
    return {"seconds": time.perf_counter() - started, "peak_mb": usage.ru_maxrss / 1024}


def tree_pss_mb(pid: int) -> float:
    """Proportional resident memory (PSS: a page shared by n processes counts 1/n in each, so forked children
    are not counted twice) of a process and its descendants now, in MB (0 once it has gone)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/smaps_rollup").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Pss:")), 0) / 1024
        pending.extend(int(child) for child in children)
    return total


def monitored(command: list[str], env: dict, cap_mb: float) -> dict:
    """Run a worker, sampling its memory; stop it (and its children) if it passes `cap_mb`. Its output goes to
    files, not pipes: a pipe nobody reads while the worker runs fills at 64 KB and the worker blocks for ever."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, text=True, env=env, start_new_session=True)
        peak, stopped = 0.0, False
        while process.poll() is None:
            peak = max(peak, tree_pss_mb(process.pid))
            if peak > cap_mb:
                os.killpg(process.pid, signal.SIGKILL)
                stopped = True
                break
            time.sleep(MEMORY_SAMPLE_SECONDS)
        process.wait()
        stdout.seek(0)
        stderr.seek(0)
        out, err = stdout.read().strip(), stderr.read().strip()
    outcome = {"sampled_peak_pss_mb": round(peak, 1), "wall_seconds": round(time.perf_counter() - started, 1)}
    if stopped:
        return {**outcome, "stopped": f"passed the {cap_mb:,.0f} MB cap"}
    if process.returncode != 0:
        return {**outcome, "error": err.splitlines()[-1] if err else f"exit {process.returncode}"}
    return {**outcome, **json.loads(out.splitlines()[-1])}


def measure_memory(mode: str, run: Callable[[], dict]) -> dict:
    """Call `run` once and add its seconds and, by `mode`, either the resident memory before it and this
    process's peak (`rss`) or the Python heap's peak during it (`heap`, tracemalloc: slower)."""
    before = rss_mb("VmRSS")
    if mode == "heap":
        tracemalloc.start()
    started = time.perf_counter()
    result = run()
    result["seconds"] = round(time.perf_counter() - started, 1)
    if mode == "heap":
        result["heap_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    else:
        result.update(rss_before_mb=before, peak_rss_mb=rss_mb())
    return result


def bare_forward_seconds(model, windows, batch_size: int, device: str = "cpu") -> float:
    """Seconds the classifier alone takes on the windows (rows of ASCII codes) and their reverse complements,
    tokenized into batches (on `device`) before the clock starts: the ceiling an end-to-end run is measured
    against. Under the commands' own autocast (bf16 on CUDA), after one batch of warm-up off a CPU."""
    import numpy as np
    import torch

    from enhancerlm.core.dna import reverse_complement_windows
    from enhancerlm.models.classifier import autocast

    rows = np.concatenate([windows, reverse_complement_windows(windows)])
    batches = [
        model.tokenizer.encode_windows(rows[i : i + batch_size]).to(device) for i in range(0, len(rows), batch_size)
    ]
    classifier = model.classifier.to(device).eval()

    def forward(batch) -> None:
        with autocast(device):
            torch.sigmoid(classifier(batch.input_ids, batch.attention_mask, batch.sequence_mask).float())

    with torch.inference_mode():
        if device != "cpu":
            forward(batches[0])
        synchronize(device)
        started = time.perf_counter()
        for batch in batches:
            forward(batch)
        synchronize(device)
    return time.perf_counter() - started


def synchronize(device: str) -> None:
    """Wait for the device's queued work, so that a clock read after it counts that work."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def print_ratio_table(results: dict[str, dict], models, methods, unit: str, compared: tuple[str, str, str]) -> None:
    """A markdown table of every (model, method) result, `unit` per second, with the end-to-end method's
    ratios to the other two of `compared` ((a)/(b), (a)/(c)) in its row; a model measured by fewer methods
    (a cost floor, say) has its rows without ratios."""
    print(f"| model | method | {unit} | seconds | {unit}/s | (a)/(b) | (a)/(c) | peak RSS (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for model in models:
        rates = [results.get(f"{model}/{method}", {}).get(f"{unit}_per_second") for method in compared]
        for method in methods:
            r = results.get(f"{model}/{method}")
            if r is None:
                continue
            a, b, c = rates
            ratios = f"{a / b:.2f} | {a / c:.2f}" if method == compared[0] and None not in rates else " | "
            print(
                f"| {model} | {method} | {r[unit]} | {r['seconds']:.2f} | {r[f'{unit}_per_second']:.1f} | "
                f"{ratios} | {r['peak_rss_mb']} |"
            )
