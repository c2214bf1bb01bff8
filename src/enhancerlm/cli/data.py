"""Commands that prepare inputs: `prepare` (data sets from FASTA files or from regions of a genome), `chunks`
and `index-genome` (a genome cut and indexed once for the tasks that scan it)."""

from __future__ import annotations

import click
from click.core import ParameterSource

from enhancerlm.cli.shared import (
    EXISTING_FILE,
    contig_options,
    max_n_option,
    outdir_option,
    prefix_option,
    reports_errors,
    seed_option,
    threads_option,
)

BED_ONLY_OPTIONS = ("genome", "name", "blacklist", "test_chroms", "negatives_per_positive", "gc_tolerance")


@click.command()
@click.option(
    "--input",
    "samplesheet",
    default=None,
    type=EXISTING_FILE,
    help="Samplesheet CSV: dataset,fasta,label,split. Or give --bed and --genome instead.",
)
@click.option(
    "--bed",
    default=None,
    type=EXISTING_FILE,
    help="Positive regions (BED, 0-based half-open) of one dataset; negatives are drawn from --genome.",
)
@click.option("--genome", default=None, type=EXISTING_FILE, help="Genome FASTA of the --bed regions, plain or bgzip.")
@click.option("--name", default=None, help="Dataset name with --bed [default: the BED file name].")
@click.option(
    "--blacklist", default=None, type=EXISTING_FILE, help="BED of regions that no positive or negative may overlap."
)
@click.option(
    "--test-chroms",
    default=None,
    help="Comma-separated chromosomes whose regions form the test split [default: none, all train].",
)
@click.option(
    "--negatives-per-positive",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="GC-matched genome negatives drawn per positive region.",
)
@click.option(
    "--gc-tolerance",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Largest GC-fraction difference of a negative from its positive (doubled when none is found).",
)
@outdir_option()
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2), help="Cross-validation folds.")
@seed_option("Seed of the fold assignment and of the negatives.")
@max_n_option(0.1, "Flag records with a larger fraction of N; with --bed, reject such positives and negatives.")
@click.option("--positive", default=None, help="Class name of the positive class (default: inferred, see docs).")
@click.option(
    "--near-duplicates",
    type=click.Choice(["on", "off"]),
    default="on",
    show_default=True,
    help="Find near copies on either strand: a test record that nearly copies a training record is a leak "
    "(near_duplicate), and near copies in train share a fold.",
)
@click.option(
    "--near-identity",
    default=0.9,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Near copies are at least this identical...",
)
@click.option(
    "--near-coverage",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="...over at least this share of the shorter record.",
)
@prefix_option("Output name prefix of a samplesheet holding one dataset [default: the dataset name].")
@threads_option
@reports_errors
def prepare(samplesheet: str | None, bed: str | None, **params) -> None:
    """Write prepared datasets (<dataset>.dataset.tsv and .prepare.json) from a samplesheet of FASTA files, or
    from positive regions (--bed) with GC-matched negatives drawn from --genome."""
    from enhancerlm.analysis.near_duplicates import NearDuplicateRule
    from enhancerlm.commands.prepare import prepare_bed, prepare_samplesheet

    _check_prepare_mode(samplesheet, bed, params)
    shared = {name: params[name] for name in ("folds", "seed", "max_n_fraction")}
    if params["near_duplicates"] == "on":
        shared["near_duplicates"] = NearDuplicateRule(params["near_identity"], params["near_coverage"])
    else:
        shared["near_duplicates"] = None
    if samplesheet:
        written = prepare_samplesheet(
            samplesheet, params["outdir"], positive=params["positive"], prefix=params["prefix"], **shared
        )
    else:
        chroms = [chrom.strip() for chrom in (params["test_chroms"] or "").split(",") if chrom.strip()]
        bed_only = {name: params[name] for name in ("name", "blacklist", "negatives_per_positive", "gc_tolerance")}
        written = prepare_bed(bed, params["genome"], params["outdir"], test_chroms=chroms, **bed_only, **shared)
    for dataset, paths in written.items():
        click.echo(f"{dataset}\t{paths['dataset']}\t{paths['report']}")


def _check_prepare_mode(samplesheet: str | None, bed: str | None, params: dict) -> None:
    """Exactly one input mode: --input, or --bed with --genome; options of the other mode are refused."""
    if bool(samplesheet) == bool(bed):
        raise click.UsageError(
            "give either --input (a samplesheet) or --bed with --genome, not both"
            if samplesheet
            else "give --input (a samplesheet) or --bed with --genome"
        )
    if bed and not params["genome"]:
        raise click.UsageError("--bed needs --genome, the FASTA its regions are on")
    if bed and params["positive"]:
        raise click.UsageError("--positive applies to --input; with --bed the BED regions are the positive class")
    if bed and params["prefix"]:
        raise click.UsageError("--prefix applies to --input; with --bed, --name names the dataset and its files")
    context = click.get_current_context()
    given = [name for name in BED_ONLY_OPTIONS if context.get_parameter_source(name) != ParameterSource.DEFAULT]
    if samplesheet and given:
        options = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise click.UsageError(f"{options} only apply with --bed, not with --input")


@click.command()
@click.option("--genome", default=None, type=EXISTING_FILE, help="Genome FASTA.")
@click.option("--fai", default=None, type=EXISTING_FILE, help="Its .fai index (enough on its own).")
@click.option("--size", default=10_000_000, show_default=True, type=click.IntRange(1), help="Largest chunk in bp.")
@contig_options
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="BED file to write.")
@threads_option
@reports_errors
def chunks(genome, fai, size, include_contigs, exclude_contigs, output) -> None:
    """BED of pieces (chrom, start, end, chrom:start-end) covering the genome, for `predict --chunk`; a window
    belongs to the chunk that holds its start."""
    from enhancerlm.commands.chunks import write_chunks

    written = write_chunks(genome, output, size=size, fai=fai, include=include_contigs, exclude=exclude_contigs)
    click.echo(f"{written}\tchunks={len(written.read_text().splitlines())}")


@click.command("index-genome")
@click.option("--genome", required=True, type=EXISTING_FILE, help="Genome FASTA: plain, gzip or bgzip.")
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="BGZF FASTA to write (*.gz); OUTPUT.fai and OUTPUT.gzi are written beside it.",
)
@threads_option
@reports_errors
def index_genome(genome, output) -> None:
    """Index a genome once for every task that reads it: a BGZF copy with its .fai and .gzi."""
    from enhancerlm.formats.genome import index_genome as build_index

    report = build_index(genome, output)
    click.echo(f"{report['fasta']}\tcontigs={report['contigs']}\tbases={report['bases']}")
