"""The `enhancerlm` command line: a thin click layer over the library.

Every command takes explicit input paths and writes into `--outdir`; commands whose outputs are named take
`--prefix`. Errors the user can act on end in one line and exit status 1, with the parameters the library names
shown as their flags.

The commands live in modules by group (`data`, `models`, `scan`, `motifs`, `pipeline`) and are loaded only when
named, and each imports the library when it runs: `enhancerlm --help`, `--version` and `versions --tool
enhancerlm` (which every Nextflow task runs) start without torch.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from enhancerlm import __version__
from enhancerlm.cli.shared import flag_names

COMMANDS = {  # command -> the module of this package that defines it
    "prepare": "data",
    "chunks": "data",
    "index-genome": "data",
    "train": "models",
    "evaluate": "models",
    "ensemble": "models",
    "benchmark": "models",
    "pretrain": "models",
    "convert": "models",
    "predict": "scan",
    "merge-predictions": "scan",
    "variants": "scan",
    "merge-variants": "scan",
    "motifs": "motifs",
    "scan-motifs": "motifs",
    "run": "pipeline",
    "versions": "pipeline",
}

__all__ = ["COMMANDS", "flag_names", "main", "run_task"]


class LazyGroup(click.Group):
    """A group whose commands are imported when first named (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"enhancerlm.cli.{COMMANDS[name]}")
        return getattr(module, name.replace("-", "_"))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="enhancerlm")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def main(verbose: int, quiet: bool) -> None:
    """Find enhancers in DNA with genomic language models."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def run_task(argv: list[str]) -> None:
    """One task of `enhancerlm run`: an enhancerlm command line, run in this process as the shell would run it."""
    main.main(args=argv, prog_name="enhancerlm", standalone_mode=False)
