"""Commands that score a genome: `predict` (windows, regions, tracks) and `variants` (the effect of each allele of a
VCF), each with the merge of its chunked runs."""

from __future__ import annotations

from pathlib import Path

import click

from enhancerlm.cli.shared import (
    EXISTING_FILE,
    batch_option,
    contig_options,
    device_option,
    genome_index_options,
    jaspar_options,
    max_n_option,
    options_from,
    outdir_option,
    prefix_option,
    reports_errors,
    seed_option,
    strand_option,
    threads_option,
)
from enhancerlm.defaults import CALIBRATION_WINDOWS, DEFAULT_FDR, EDGES

model_option = click.option(
    "--model", "model_spec", required=True, help="Trained model, k-mer baseline or ensemble directory."
)
chunk_inputs_option = click.option(
    "--input",
    "inputs",
    required=True,
    multiple=True,
    type=click.Path(exists=False),
    help="A directory of the command's outputs or an output prefix DIR/NAME; repeat for each chunk.",
)
batch_both_strands = batch_option(64, "Sequences per forward pass (both strands count).")


@click.command()
@model_option
@click.option(
    "--genome",
    required=True,
    type=EXISTING_FILE,
    help="Genome FASTA: plain, bgzip, or plain gzip (re-compressed once to a cached BGZF copy).",
)
@genome_index_options
@click.option(
    "--regions",
    default=None,
    type=EXISTING_FILE,
    help="BED: score only windows whose start lies in a region (same grid as a whole-genome scan).",
)
@click.option(
    "--chunk",
    default=None,
    help="CONTIG:START-END (0-based, half-open): score only windows whose start is in it (see `chunks`).",
)
@click.option("--window", type=click.IntRange(8), default=None, help="Window length in nt [default: the model card's].")
@click.option("--stride", default=50, show_default=True, type=click.IntRange(1), help="Window step in nt.")
@click.option(
    "--fdr",
    type=click.FloatRange(0, 1, min_open=True),
    default=DEFAULT_FDR,
    show_default=True,
    help="Call windows whose empirical FDR against their dinucleotide-shuffled copies is at most this.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Call windows at this raw probability instead of an FDR (the card's validation threshold is no "
    "genome-scan cut-off).",
)
@click.option(
    "--merge-gap",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Merge called windows whose intervals are at most this far apart.",
)
@max_n_option(0.1, "Skip windows with a larger fraction of N (any base but ACGT).")
@click.option(
    "--blacklist", default=None, type=EXISTING_FILE, help="BED of regions: windows overlapping them are skipped."
)
@contig_options
@strand_option("Average each window with its reverse complement, or score the forward strand only")
@click.option(
    "--calibrate/--no-calibrate",
    default=True,
    show_default=True,
    help="Score dinucleotide-shuffled copies of a sample of the scanned windows: the null of the FDR (--no-calibrate "
    "needs --threshold).",
)
@click.option(
    "--calibration-windows",
    default=CALIBRATION_WINDOWS,
    show_default=True,
    type=click.IntRange(1),
    help="Windows in the shuffled sample; the smallest FDR a scan can reach is about windows scored / this / "
    "windows called.",
)
@click.option(
    "--truth",
    default=None,
    type=EXISTING_FILE,
    help="BED of known enhancers: report region-level precision and recall.",
)
@seed_option("Seed of the calibration sample and shuffles.")
@outdir_option()
@prefix_option()
@batch_both_strands
@device_option
@threads_option
@reports_errors
def predict(model_spec, genome, outdir, prefix, fai, gzi, **params) -> None:
    """Scan a genome with a trained model: window probabilities (bedGraph, bigWig), enhancer regions (BED),
    a report and MultiQC content."""
    from enhancerlm.commands.predict import ScanOptions
    from enhancerlm.commands.predict import predict as scan

    options = options_from(ScanOptions, params)
    report = scan(model_spec, genome, outdir, prefix=prefix, options=options, fai=fai, gzi=gzi)
    regions = report["regions"]["called"] if "regions" in report else "at merge"  # a chunk calls none
    click.echo(
        f"{report['prefix']}\twindows={report['windows']['scored']}\tregions={regions}\t"
        f"{Path(outdir) / report['outputs']['json']}"
    )


@click.command("merge-predictions")
@chunk_inputs_option
@click.option("--genome", default=None, type=EXISTING_FILE, help="Genome FASTA.")
@click.option("--fai", default=None, type=EXISTING_FILE, help="Its .fai index (enough on its own).")
@outdir_option()
@prefix_option("Output name prefix (region names use it).", required=True)
@click.option(
    "--fdr", type=click.FloatRange(0, 1, min_open=True), default=None, help="Call at this FDR [default: as the chunks]."
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Call at this raw probability [default: as the chunks].",
)
@click.option("--merge-gap", type=click.IntRange(0), default=None, help="[default: the chunks' merge gap]")
@threads_option
@reports_errors
def merge_predictions(inputs, outdir, **params) -> None:
    """Gather chunked `predict` outputs into the files one whole-genome run writes (regions across chunk
    borders included)."""
    from enhancerlm.commands.merge_predictions import merge_predictions as merge

    report = merge(list(inputs), outdir, **params)
    click.echo(
        f"{report['prefix']}\twindows={report['windows']['scored']}\tregions={report['regions']['called']}\t"
        f"{Path(outdir) / report['outputs']['json']}"
    )


@click.command()
@model_option
@click.option(
    "--genome",
    required=True,
    type=EXISTING_FILE,
    help="Genome FASTA of the VCF: plain, bgzip, or plain gzip (re-compressed once to a cached BGZF copy).",
)
@click.option(
    "--vcf",
    required=True,
    type=EXISTING_FILE,
    help="Variants: VCF (plain, gzip or bgzip) or BCF. Contigs chr1/1 and chrM/MT are matched to the genome.",
)
@genome_index_options
@outdir_option()
@prefix_option("Output name prefix [default: the VCF's name].")
@click.option(
    "--window",
    type=click.IntRange(8),
    default=None,
    help="Window length in nt, centred on each variant [default: the model card's].",
)
@strand_option("Average each window with its reverse complement, or score the forward strand only")
@max_n_option(0.1, "Skip alleles whose reference or alternative window has a larger fraction of non-ACGT bases.")
@click.option(
    "--edge",
    type=click.Choice(EDGES),
    default="center",
    show_default=True,
    help="A window that runs off a contig end: 'center' leaves the allele unscored (window_off_contig); 'shift' "
    "slides the window inside the contig, the variant off centre (its offset in ENHLM_OFFSET and window_offset).",
)
@click.option(
    "--motifs",
    default=None,
    help="Report TF sites gained and lost: 'jaspar' (JASPAR CORE, offline) or a MEME motif file.",
)
@jaspar_options
@click.option(
    "--motif-threshold",
    default=1e-4,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="FIMO p-value threshold of a TF site.",
)
@click.option(
    "--chunk",
    default=None,
    help="CONTIG:START-END (0-based, half-open): score only the records whose POS - 1 is in it; "
    "'unplaced': only the records off the genome (see `merge-variants`).",
)
@batch_both_strands
@device_option
@threads_option
@reports_errors
def variants(model_spec, genome, vcf, outdir, prefix, fai, gzi, **params) -> None:
    """Score the effect of every ALT allele of a VCF on the enhancer probability around it: a scored VCF
    (bgzip, tabix), a TSV of scores, a report and MultiQC content."""
    from enhancerlm.commands.variants import VariantOptions, score_variants

    options = options_from(VariantOptions, params)
    report = score_variants(model_spec, genome, vcf, outdir, prefix=prefix, options=options, fai=fai, gzi=gzi)
    click.echo(
        f"{report['prefix']}\trecords={report['records']['reported']}\talleles={report['alleles']['total']}\t"
        f"scored={report['alleles']['scored']}\t{Path(outdir) / report['outputs']['json']}"
    )


@click.command("merge-variants")
@chunk_inputs_option
@outdir_option()
@prefix_option("Output name prefix.", required=True)
@threads_option
@reports_errors
def merge_variants(inputs, outdir, prefix) -> None:
    """Gather chunked `variants` outputs into the files one unchunked run writes; the chunks must hold every
    record once (chunks covering every contig, plus `--chunk unplaced` for records off the genome)."""
    from enhancerlm.commands.merge_variants import merge_variants as merge

    report = merge(list(inputs), outdir, prefix=prefix)
    click.echo(
        f"{report['prefix']}\trecords={report['records']['reported']}\talleles={report['alleles']['total']}\t"
        f"scored={report['alleles']['scored']}\t{Path(outdir) / report['outputs']['json']}"
    )
