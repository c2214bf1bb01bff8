"""The pipeline's steps, once: their order, the program each runs and the software each reports.

The run order of `enhancerlm run`, the software-versions file and the test that holds them against the
Nextflow workflow all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One Nextflow process: its name (without the ENHANCERLM_ prefix of the pipeline's own modules), the
    `enhancerlm` command its script runs (None: another program) and the tools it reports on the `versions` topic."""

    name: str
    command: str | None
    tools: tuple[str, ...]

    @property
    def process(self) -> str:
        """The process name as the workflow and the versions file spell it."""
        return f"ENHANCERLM_{self.name}" if self.command else self.name


STEPS = (
    Step("PREPARE", "prepare", ("enhancerlm",)),
    Step("GENOMEINDEX", "index-genome", ("enhancerlm",)),
    Step("PREPAREREGIONS", "prepare", ("enhancerlm",)),  # `prepare --bed --genome`: regions, genomic negatives
    Step("TRAIN", "train", ("enhancerlm", "torch", "transformers", "cuda")),
    Step("ENSEMBLE", "ensemble", ("enhancerlm",)),
    Step("EVALUATE", "evaluate", ("enhancerlm", "torch")),
    Step("BENCHMARK", "benchmark", ("enhancerlm",)),
    Step("EVALUATE_EXTERNAL", "evaluate", ("enhancerlm", "torch")),  # ENHANCERLM_EVALUATE on external test sets
    Step("CHUNKS", "chunks", ("enhancerlm",)),
    Step("PREDICT", "predict", ("enhancerlm", "torch", "cuda")),
    Step("MERGEPREDICTIONS", "merge-predictions", ("enhancerlm",)),
    Step("CHUNK_SUMMARY", None, ("python",)),
    Step("MOTIFS", "motifs", ("enhancerlm", "torch", "cuda")),
    Step("VARIANTS", "variants", ("enhancerlm", "torch", "cuda")),
    Step("MULTIQC", None, ()),  # reads the versions of the others and reports none itself
)
PIPELINE_STEPS = tuple(step.name for step in STEPS)
STEP_BY_NAME = {step.name: step for step in STEPS}
