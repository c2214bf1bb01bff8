"""Versions of the software enhancerlm runs on, for model cards, MultiQC and the Nextflow versions topic.

Kept apart from the heavy modules: asking for one tool's version imports nothing it does not need.
"""

from __future__ import annotations

import platform
from importlib.metadata import version

from enhancerlm import __version__

TOOLS = ("enhancerlm", "torch", "transformers", "cuda", "python")


def tool_version(tool: str) -> str:
    """One tool's version; `cuda` is the CUDA runtime torch was built with, `none` for CPU builds."""
    if tool == "enhancerlm":
        return __version__
    if tool in ("torch", "transformers", "multiqc"):
        return version(tool)
    if tool == "cuda":
        import torch

        return torch.version.cuda or "none"
    if tool == "python":
        return platform.python_version()
    raise ValueError(f"unknown tool {tool!r}")


def software_versions() -> dict[str, str]:
    """Every tool in TOOLS with its version."""
    return {tool: tool_version(tool) for tool in TOOLS}
