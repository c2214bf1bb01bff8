"""Versions of the software enhancerlm runs on, for model cards, MultiQC and the Nextflow versions topic.

Kept apart from the heavy modules: asking for one tool's version imports nothing it does not need.
"""

from __future__ import annotations

import ast
import platform
from importlib.metadata import distribution, version

from enhancerlm import __version__

TOOLS = ("enhancerlm", "torch", "transformers", "cuda", "python")


def tool_version(tool: str) -> str:
    """One tool's version; `cuda` is the CUDA runtime torch was built with, `none` for CPU builds."""
    if tool == "enhancerlm":
        return __version__
    if tool in ("torch", "transformers", "multiqc"):
        return version(tool)
    if tool == "cuda":
        return cuda_version()
    if tool == "python":
        return platform.python_version()
    raise ValueError(f"unknown tool {tool!r}")


def software_versions() -> dict[str, str]:
    """Every tool in TOOLS with its version."""
    return {tool: tool_version(tool) for tool in TOOLS}


def cuda_version() -> str:
    """The CUDA runtime torch was built with, `none` for CPU builds: read from the `cuda` line of torch's
    generated version file, since importing torch for it takes over a second in every task."""
    tree = ast.parse(distribution("torch").locate_file("torch/version.py").read_text())
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == "cuda" and node.value is not None:
            return ast.literal_eval(node.value) or "none"
    return "none"
