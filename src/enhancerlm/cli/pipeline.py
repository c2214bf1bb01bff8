"""Commands about the whole pipeline: `run` (its steps in this process) and `versions` (of the software a run
uses, which every Nextflow task asks for: it imports nothing it does not print)."""

from __future__ import annotations

import click

from enhancerlm.cli.shared import EXISTING_FILE, device_option, reports_errors, threads_option
from enhancerlm.versions import software_versions, tool_version


@click.command()
@click.option("--profile", default=None, help="Parameter profile: test or test_full [default: the pipeline defaults].")
@click.option(
    "--params",
    "params_file",
    type=EXISTING_FILE,
    default=None,
    help="YAML or JSON file of pipeline parameters (as nextflow -params-file).",
)
@click.option("--outdir", default=None, help="Results directory [default: the params' outdir].")
@device_option
@click.option(
    "--resume",
    is_flag=True,
    help="Skip every step whose parameters, input contents and enhancerlm "
    "version match a completed run in the same --outdir (as nextflow -resume).",
)
@threads_option
@reports_errors
def run(profile: str | None, params_file: str | None, outdir: str | None, device: str, resume: bool) -> None:
    """Run the pipeline's steps in-process, with the parameters the Nextflow pipeline uses."""
    import torch

    from enhancerlm.cli import run_task
    from enhancerlm.pipeline.params import load_params
    from enhancerlm.pipeline.runner import run_pipeline

    params = load_params(profile=profile, params_file=params_file, overrides={"outdir": outdir} if outdir else {})
    summary = run_pipeline(params, run_task, device=device, resume=resume, threads=torch.get_num_threads())
    click.echo(summary)


@click.command()
@click.option(
    "--tool",
    type=click.Choice(["enhancerlm", "torch", "transformers", "cuda"]),
    default=None,
    help="Print only this tool's version.",
)
def versions(tool: str | None) -> None:
    """Versions of enhancerlm, torch, transformers and the CUDA runtime torch was built with."""
    if tool:
        click.echo(tool_version(tool))
        return
    for name, version in software_versions().items():
        click.echo(f"{name}\t{version}")
