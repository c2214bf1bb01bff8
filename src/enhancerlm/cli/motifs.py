"""Commands about motifs: `motifs` (discover what a model relies on and match it to known motifs) and
`scan-motifs` (known motifs' sites in a FASTA file)."""

from __future__ import annotations

from pathlib import Path

import click

from enhancerlm.cli.shared import (
    EXISTING_FILE,
    batch_option,
    device_option,
    jaspar_options,
    options_from,
    outdir_option,
    prefix_option,
    reports_errors,
    seed_option,
    threads_option,
)


@click.command()
@click.option("--model", "model_spec", required=True, help="Trained language model or ensemble directory.")
@click.option(
    "--dataset",
    required=True,
    type=EXISTING_FILE,
    help="Prepared dataset (.dataset.tsv) whose sequences are explained.",
)
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True)
@click.option(
    "--method",
    type=click.Choice(["attention", "ig"]),
    default="attention",
    show_default=True,
    help="Nucleotide scores: last-layer [CLS] attention, or integrated gradients on the embeddings.",
)
@click.option("--min-len", default=5, show_default=True, type=click.IntRange(1), help="Shortest high-score region.")
@click.option(
    "--min-factor",
    "--f",
    "min_factor",
    default=1.0,
    show_default=True,
    type=float,
    help="A region's scores exceed this times the sequence minimum (DNABERT's f: 10, iEnhancer-ELM's: 1).",
)
@click.option(
    "--gap", default=1, show_default=True, type=click.IntRange(0), help="Low nucleotides bridged in a region."
)
@click.option("--kmer-length", default=6, show_default=True, type=click.IntRange(1, 12), help="Candidate length.")
@click.option(
    "--min-count",
    default=3,
    show_default=True,
    type=click.IntRange(1),
    help="Candidates lie in high-score regions of at least this many discovery sequences.",
)
@click.option(
    "--attention-p",
    default=0.01,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Candidates lie in high-score regions more often than chance at this binomial p.",
)
@click.option(
    "--max-q",
    default=0.005,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Enrichment q-value (held-out sequences, Benjamini-Hochberg) a candidate needs.",
)
@click.option(
    "--min-instances",
    default=11,
    show_default=True,
    type=click.IntRange(1),
    help="Instances in positives a merged motif needs.",
)
@click.option(
    "--motif-width",
    default=10,
    show_default=True,
    type=click.IntRange(1),
    help="Window around instances that forms the PFM (wider when merged candidates span more).",
)
@click.option(
    "--discovery-fraction",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of each class that picks candidates; the rest tests them.",
)
@click.option(
    "--max-skill-p",
    default=0.01,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Report motifs only if the model separates held-out classes at this p (1: always).",
)
@click.option(
    "--known-motifs",
    default="jaspar",
    show_default=True,
    help="'jaspar' (JASPAR CORE, offline) or a MEME file of known motifs to match.",
)
@jaspar_options
@click.option(
    "--match-q",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="TOMTOM q-value that counts as a known-motif match.",
)
@click.option("--ig-steps", default=20, show_default=True, type=click.IntRange(1), help="Integrated-gradients steps.")
@seed_option("Seed of the discovery/held-out split.")
@outdir_option()
@prefix_option()
@batch_option(32, "Windows per pass.")
@device_option
@threads_option
@reports_errors
def motifs(model_spec, dataset, outdir, prefix, **params) -> None:
    """Discover the motifs a model relies on (attention or integrated gradients), test them on held-out
    sequences, match them to JASPAR with TOMTOM; MEME, TSV, logos, score tracks, JSON and MultiQC content."""
    from enhancerlm.analysis.motif_search import MotifOptions
    from enhancerlm.commands.motifs import discover_motifs

    report = discover_motifs(model_spec, dataset, outdir, prefix=prefix, options=options_from(MotifOptions, params))
    click.echo(
        f"{report['prefix']}\tmotifs={report['counts']['motifs']}\tknown={report['counts']['known']}\t"
        f"{Path(outdir) / report['outputs']['json']}"
    )


@click.command("scan-motifs")
@click.option("--motifs", "source", required=True, help="'jaspar' (JASPAR CORE, offline) or a MEME file.")
@click.option("--fasta", required=True, type=EXISTING_FILE, help="Sequences to scan.")
@jaspar_options
@click.option("--threshold", default=1e-4, show_default=True, type=click.FloatRange(0, 1), help="FIMO p-value cut-off.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="TSV of hits to write.")
@threads_option
@reports_errors
def scan_motifs(source, fasta, jaspar_release, tax_group, threshold, output) -> None:
    """FIMO hits of known motifs in every sequence of a FASTA file (both strands, 0-based half-open)."""
    from enhancerlm.commands.motifs import scan_fasta

    hits = scan_fasta(source, fasta, output, release=jaspar_release, tax_group=tax_group, threshold=threshold)
    click.echo(f"{output}\thits={hits}")
