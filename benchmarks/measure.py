"""What the benchmark scripts share: memory readings, and each measurement in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path


def rss_mb(field: str = "VmHWM") -> float:
    """Peak (VmHWM: unlike getrusage's maxrss, not inherited across exec) or current (VmRSS) resident memory
    of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def run_worker(script: str, *arguments) -> dict:
    """Run `script --worker ARGUMENTS...` in a fresh Python process and return the JSON it prints last."""
    command = [sys.executable, script, "--worker", *map(str, arguments)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


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
