"""What the commands share: option groups declared once, the conversion of library errors into one-line messages,
`--threads`, and option objects built from the parsed parameters.

Nothing here imports torch, pandas or the library's heavy modules: `enhancerlm --help`, `--version` and
`versions` load this module, and each command imports what it needs when it runs.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import sys
from typing import Any, Callable, TypeVar

import click

from enhancerlm.defaults import DEFAULT_EXCLUDE, JASPAR_RELEASE, STRAND_MODES, TAX_GROUP
from enhancerlm.errors import EnhancerLMError

Options = TypeVar("Options")
Decorator = Callable[[Callable], Callable]
DEVICES = click.Choice(["auto", "cpu", "cuda", "mps"])
EXISTING_FILE = click.Path(exists=True, dir_okay=False)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
EXCLUDE_HELP = (
    f"Regular expression (searched in contig names) of contigs not to scan [default: {DEFAULT_EXCLUDE}, i.e. "
    "alternate haplotypes, unplaced, decoy and fix contigs; '' scans all]."
)


def options_from(cls: type[Options], params: dict[str, Any]) -> Options:
    """A command's option dataclass from click's parsed parameters: every field the parameters name, the
    dataclass defaults for the rest (so an option is declared once, in click, and copied nowhere)."""
    return cls(**{field.name: params[field.name] for field in dataclasses.fields(cls) if field.name in params})


def stack(*decorators: Decorator) -> Decorator:
    """Several option decorators as one, applied in the order given (the first is the first in `--help`)."""

    def apply(command: Callable) -> Callable:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def set_threads(value: int | None) -> None:
    """Cap every thread pool a command may use at `value`: torch's intra-op pool and the BLAS and OpenMP pools of
    numpy, scipy and scikit-learn (threadpoolctl for those already loaded, the environment for those loaded
    later), so a Nextflow task stays on the CPUs it was granted."""
    if value is None:
        return
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(value)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=value)
    if "torch" in sys.modules:  # a torch imported later reads OMP_NUM_THREADS
        sys.modules["torch"].set_num_threads(value)


def _threads_callback(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    if not ctx.resilient_parsing:
        set_threads(value)


threads_option = click.option(
    "--threads",
    type=click.IntRange(1),
    default=None,
    expose_value=False,
    callback=_threads_callback,
    help="CPU threads for torch and the BLAS/OpenMP pools [default: all cores].",
)
device_option = click.option(
    "--device", type=DEVICES, default="auto", show_default=True, help="Where torch runs (auto: CUDA, MPS, then CPU)."
)


def outdir_option(help: str = "Output directory.") -> Decorator:
    return click.option("--outdir", required=True, type=click.Path(file_okay=False), help=help)


def prefix_option(help: str = "Output name prefix [default: the model id].", required: bool = False) -> Decorator:
    return click.option("--prefix", default=None, required=required, help=help)


def batch_option(default: int, help: str | None = None) -> Decorator:
    return click.option("--batch-size", default=default, show_default=True, type=click.IntRange(1), help=help)


def seed_option(help: str | None = None) -> Decorator:
    return click.option("--seed", default=42, show_default=True, help=help)


def max_n_option(default: float, help: str) -> Decorator:
    return click.option("--max-n-fraction", default=default, show_default=True, type=click.FloatRange(0, 1), help=help)


def strand_option(help: str) -> Decorator:
    return click.option(
        "--strand-mode",
        type=click.Choice(STRAND_MODES),
        default=None,
        help=f"{help} [default: the model card's: both if trained with --rc-augment, else forward].",
    )


def _contig_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


contig_options = stack(
    click.option(
        "--include-contigs", default=None, callback=_contig_list, help="Comma-separated contigs [default: all]."
    ),
    click.option("--exclude-contigs", default=None, help=EXCLUDE_HELP),
)
genome_index_options = stack(
    click.option(
        "--fai",
        default=None,
        type=EXISTING_FILE,
        help="An existing .fai index of the genome, used instead of finding or building one.",
    ),
    click.option(
        "--gzi",
        default=None,
        type=EXISTING_FILE,
        help="The .gzi index of a bgzip genome, used with --fai instead of finding or building them.",
    ),
)
jaspar_options = stack(
    click.option("--jaspar-release", default=JASPAR_RELEASE, show_default=True, help="JASPAR release (2014 to 2026)."),
    click.option("--tax-group", default=TAX_GROUP, show_default=True, help="JASPAR taxonomic group."),
)


def reports_errors(command: Callable) -> Callable:
    """Turn library errors into click's one-line `Error: ...` and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EnhancerLMError as error:
            raise click.ClickException(flag_names(error)) from error

    return wrapper


def flag_names(error: EnhancerLMError) -> str:
    """The error's message with the parameters it names (`val_fold`) shown as their flags (`--val-fold`)."""
    message = str(error)
    for name in getattr(error, "parameters", ()):
        message = re.sub(rf"(?<![\w-]){name}\b", "--" + name.replace("_", "-"), message, count=1)
    return message


def fmt(value: float | None) -> str:
    """A metric for a one-line summary: three decimals, NA when missing."""
    return "NA" if value is None else f"{value:.3f}"
