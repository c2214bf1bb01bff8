"""The `enhancerlm` command line: a thin click layer over the library.

Every command takes explicit input paths and writes into `--outdir`; commands whose outputs
are named take `--prefix`. Errors the user can act on end in one line and exit status 1, with the
parameters the library names shown as their flags.

Size: one click declaration per option of 17 commands (about 160 options, one per line as the formatter
writes them); each command's body is a few lines, and the work happens in `enhancerlm.commands`.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from enhancerlm import __version__
from enhancerlm.analysis.calibration import CALIBRATION_WINDOWS
from enhancerlm.analysis.known_motifs import JASPAR_RELEASE, TAX_GROUP
from enhancerlm.analysis.variant_effect import EDGES
from enhancerlm.commands.benchmark import run_benchmark
from enhancerlm.commands.chunks import write_chunks
from enhancerlm.commands.ensemble import build_ensemble
from enhancerlm.commands.evaluate import evaluate_model
from enhancerlm.commands.merge_predictions import merge_predictions as run_merge_predictions
from enhancerlm.commands.merge_variants import merge_variants as run_merge_variants
from enhancerlm.commands.motifs import MotifOptions, discover_motifs, scan_fasta
from enhancerlm.commands.predict import ScanOptions
from enhancerlm.commands.predict import predict as run_predict
from enhancerlm.commands.prepare import prepare_bed, prepare_samplesheet
from enhancerlm.commands.pretrain import pretrain as run_pretrain
from enhancerlm.commands.scan_report import DEFAULT_FDR
from enhancerlm.commands.train import train as train_model
from enhancerlm.commands.variants import VariantOptions, score_variants
from enhancerlm.errors import EnhancerLMError
from enhancerlm.formats.genome import index_genome as run_index
from enhancerlm.models.card import read_card
from enhancerlm.models.checkpoint import convert_checkpoint
from enhancerlm.pipeline.params import load_params
from enhancerlm.pipeline.runner import run_pipeline
from enhancerlm.training.loop import TrainOptions
from enhancerlm.training.pretrain import PretrainOptions
from enhancerlm.versions import software_versions, tool_version

DEVICES = click.Choice(["auto", "cpu", "cuda", "mps"])


def _set_threads(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    """Give torch's intra-op pool the CPUs the task was granted (Nextflow's task.cpus)."""
    if value is not None and not ctx.resilient_parsing:
        import torch

        torch.set_num_threads(value)


def threads_option(command):
    """`--threads N`: the CPU threads a command may use (default: torch's, usually every core)."""
    return click.option(
        "--threads",
        type=click.IntRange(1),
        default=None,
        expose_value=False,
        callback=_set_threads,
        help="CPU threads for torch [default: all cores].",
    )(command)


def device_option(command):
    """`--device`: where torch runs (auto: CUDA, then Apple MPS, then the CPU)."""
    return click.option("--device", type=DEVICES, default="auto", show_default=True)(command)


def genome_index_options(command):
    """`--fai` and `--gzi`: the genome's indexes as staged beside it, instead of finding or building them."""
    command = click.option(
        "--gzi",
        default=None,
        type=click.Path(exists=True, dir_okay=False),
        help="The .gzi index of a bgzip genome, used with --fai instead of finding or building them.",
    )(command)
    return click.option(
        "--fai",
        default=None,
        type=click.Path(exists=True, dir_okay=False),
        help="An existing .fai index of the genome, used instead of finding or building one.",
    )(command)


def jaspar_options(command):
    """`--jaspar-release` and `--tax-group`: which JASPAR CORE motifs (bundled, so offline)."""
    command = click.option("--tax-group", default=TAX_GROUP, show_default=True, help="JASPAR taxonomic group.")(command)
    return click.option(
        "--jaspar-release", default=JASPAR_RELEASE, show_default=True, help="JASPAR release (2014 to 2026)."
    )(command)


def _reports_errors(command):
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="enhancerlm")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def main(verbose: int, quiet: bool) -> None:
    """Find enhancers in DNA with genomic language models."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


BED_ONLY_OPTIONS = ("genome", "name", "blacklist", "test_chroms", "negatives_per_positive", "gc_tolerance")


@main.command()
@click.option(
    "--input",
    "samplesheet",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Samplesheet CSV: dataset,fasta,label,split. Or give --bed and --genome instead.",
)
@click.option(
    "--bed",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Positive regions (BED, 0-based half-open) of one dataset; negatives are drawn from --genome.",
)
@click.option(
    "--genome",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Genome FASTA of the --bed regions, plain or bgzip-compressed.",
)
@click.option("--name", default=None, help="Dataset name with --bed [default: the BED file name].")
@click.option(
    "--blacklist",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="BED of regions that no positive or negative may overlap.",
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
@click.option("--outdir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2), help="Cross-validation folds.")
@click.option("--seed", default=42, show_default=True, help="Seed of the fold assignment and of the negatives.")
@click.option(
    "--max-n-fraction",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Flag records with a larger fraction of N; with --bed, reject such positives and negatives.",
)
@click.option("--positive", default=None, help="Class name of the positive class (default: inferred, see docs).")
@click.option(
    "--prefix",
    default=None,
    help="Output name prefix of a samplesheet holding one dataset [default: the dataset name].",
)
@threads_option
@_reports_errors
def prepare(
    samplesheet: str | None,
    bed: str | None,
    genome: str | None,
    name: str | None,
    blacklist: str | None,
    test_chroms: str | None,
    negatives_per_positive: int,
    gc_tolerance: float,
    outdir: str,
    folds: int,
    seed: int,
    max_n_fraction: float,
    positive: str | None,
    prefix: str | None,
) -> None:
    """Write prepared datasets (<dataset>.dataset.tsv and .prepare.json) from a samplesheet of FASTA files, or
    from positive regions (--bed) with GC-matched negatives drawn from --genome."""

    _check_prepare_mode(samplesheet, bed, genome, positive, prefix)
    if samplesheet:
        written = prepare_samplesheet(
            samplesheet, outdir, folds=folds, seed=seed, max_n_fraction=max_n_fraction, positive=positive, prefix=prefix
        )
    else:
        chroms = [chrom.strip() for chrom in (test_chroms or "").split(",") if chrom.strip()]
        written = prepare_bed(
            bed,
            genome,
            outdir,
            name=name,
            blacklist=blacklist,
            test_chroms=chroms,
            negatives_per_positive=negatives_per_positive,
            gc_tolerance=gc_tolerance,
            folds=folds,
            seed=seed,
            max_n_fraction=max_n_fraction,
        )
    for dataset, paths in written.items():
        click.echo(f"{dataset}\t{paths['dataset']}\t{paths['report']}")


def _check_prepare_mode(
    samplesheet: str | None, bed: str | None, genome: str | None, positive: str | None, prefix: str | None
) -> None:
    """Exactly one input mode: --input, or --bed with --genome; options of the other mode are refused."""
    if bool(samplesheet) == bool(bed):
        raise click.UsageError(
            "give either --input (a samplesheet) or --bed with --genome, not both"
            if samplesheet
            else "give --input (a samplesheet) or --bed with --genome"
        )
    if bed and not genome:
        raise click.UsageError("--bed needs --genome, the FASTA its regions are on")
    if bed and positive:
        raise click.UsageError("--positive applies to --input; with --bed the BED regions are the positive class")
    if bed and prefix:
        raise click.UsageError("--prefix applies to --input; with --bed, --name names the dataset and its files")
    context = click.get_current_context()
    given = [name for name in BED_ONLY_OPTIONS if context.get_parameter_source(name) != ParameterSource.DEFAULT]
    if samplesheet and given:
        options = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise click.UsageError(f"{options} only apply with --bed, not with --input")


@main.command()
@click.option(
    "--dataset", required=True, type=click.Path(exists=True, dir_okay=False), help="Prepared <dataset>.dataset.tsv."
)
@click.option(
    "--model",
    "model_spec",
    default="scratch-tiny",
    show_default=True,
    help="Preset (scratch-tiny, scratch-small, scratch-base), kmer-baseline (logistic regression on "
    "1- to 6-mer frequencies), a model directory or a Hub id.",
)
@click.option(
    "--kmer",
    type=click.IntRange(3, 6),
    default=None,
    help="k for overlapping k-mers (required for presets; checked against a checkpoint's vocabulary).",
)
@click.option("--outdir", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option("--model-id", default=None, help="Model id in the card and reports [default: outdir name].")
@click.option("--epochs", default=10, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option(
    "--lr", type=float, default=None, help="Peak learning rate [default: 5e-4 from scratch, 3e-5 pretrained]."
)
@click.option("--weight-decay", default=0.01, show_default=True)
@click.option(
    "--warmup", default=0.1, show_default=True, type=click.FloatRange(0, 1), help="Warm-up as a fraction of all steps."
)
@click.option("--grad-clip", default=2.0, show_default=True)
@click.option("--patience", default=3, show_default=True, help="Early-stopping patience in epochs (0: off).")
@click.option("--seed", default=42, show_default=True)
@click.option("--val-fold", default="0", show_default=True, help="Prepared fold used for validation, or 'none'.")
@click.option("--max-length", default=512, show_default=True, help="Maximum tokens of a model built from scratch.")
@click.option("--pooling", type=click.Choice(["mean", "cls"]), default="mean", show_default=True)
@click.option(
    "--rc-augment/--no-rc-augment",
    default=False,
    show_default=True,
    help="Train on random reverse complements; score both strands.",
)
@click.option("--class-weight", type=click.Choice(["none", "balanced"]), default="none", show_default=True)
@click.option("--cv", "cross_validation", is_flag=True, help="Also run k-fold cross-validation (cv.json).")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in --outdir.")
@device_option
@click.option("--trust-remote-code", is_flag=True, help="Allow checkpoints that run their own model code.")
@threads_option
@_reports_errors
def train(
    dataset,
    model_spec,
    kmer,
    outdir,
    model_id,
    epochs,
    batch_size,
    lr,
    weight_decay,
    warmup,
    grad_clip,
    patience,
    seed,
    val_fold,
    max_length,
    pooling,
    rc_augment,
    class_weight,
    cross_validation,
    resume,
    device,
    trust_remote_code,
) -> None:
    """Train an enhancer classifier and write a Hugging Face model directory with its card."""

    options = TrainOptions(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        warmup=warmup,
        grad_clip=grad_clip,
        seed=seed,
        val_fold=_fold(val_fold),
        patience=patience,
        rc_augment=rc_augment,
        class_weight=class_weight,
        pooling=pooling,
        max_length=max_length,
    )
    card = train_model(
        dataset,
        model_spec,
        outdir,
        kmer=kmer,
        options=options,
        model_id=model_id,
        device=device,
        resume=resume,
        cross_validation=cross_validation,
        trust_remote_code=trust_remote_code,
    )
    validation = card["validation"] or {}
    click.echo(
        f"{card['model_id']}\tbest_epoch={card['best_epoch'] or 'NA'}\tthreshold={card['threshold']:.3f}\t"
        f"val_auc={_fmt(validation.get('auc'))}\tval_mcc={_fmt(validation.get('mcc'))}"
    )


@main.command()
@click.option("--model", "model_spec", required=True, help="Trained model or ensemble directory.")
@click.option("--dataset", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test"]))
@click.option("--outdir", required=True, type=click.Path(file_okay=False))
@click.option(
    "--prefix",
    default=None,
    help="Output name prefix [default: the model id; <model id>_on_<dataset> on a dataset it was not trained on].",
)
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="Override the card's threshold.")
@click.option(
    "--training-dataset",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The prepared table the model was trained on, for the leak check of an external test set "
    "[default: the path on the model's card]; it must match the card's sha256.",
)
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@device_option
@threads_option
@_reports_errors
def evaluate(model_spec, dataset, split, outdir, prefix, threshold, training_dataset, batch_size, device) -> None:
    """Metrics (whole split and leak-free subset), predictions and MultiQC content for a trained model."""

    paths = evaluate_model(
        model_spec,
        dataset,
        outdir=outdir,
        prefix=prefix,
        split=split,
        batch_size=batch_size,
        device=device,
        threshold=threshold,
        training_dataset=training_dataset,
    )
    click.echo(paths["metrics"])


@main.command()
@click.option(
    "--model",
    "members",
    required=True,
    multiple=True,
    help="A trained member model directory; repeat for each member (any k, tokenizer or architecture).",
)
@click.option(
    "--dataset",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The prepared dataset the members were trained on (its training records only are read).",
)
@click.option(
    "--method",
    type=click.Choice(["mean", "weighted", "stacking"]),
    default="mean",
    show_default=True,
    help="mean of probabilities; weights fitted on the validation fold; or logistic-regression stacking "
    "on out-of-fold predictions (members trained with --cv).",
)
@click.option("--outdir", required=True, type=click.Path(file_okay=False), help="Ensemble model directory to write.")
@click.option("--model-id", default=None, help="Model id in the card and reports [default: outdir name].")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@device_option
@threads_option
@_reports_errors
def ensemble(members, dataset, method, outdir, model_id, batch_size, device) -> None:
    """Combine trained models into one ensemble model that every --model option accepts."""

    card = build_ensemble(
        list(members), dataset, outdir, method=method, model_id=model_id, batch_size=batch_size, device=device
    )
    weights = ",".join(f"{w:.3f}" for w in card["weights"])
    click.echo(f"{card['model_id']}\tmethod={method}\tweights={weights}\tthreshold={card['threshold']:.3f}")


@main.command()
@click.option(
    "--evaluations",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Directory of `evaluate` outputs (NAME.metrics.json, .predictions.tsv, .cv.json, "
    ".cv_predictions.tsv) of every model and seed of one dataset.",
)
@click.option("--outdir", required=True, type=click.Path(file_okay=False))
@click.option("--dataset", "dataset_id", default=None, help="Use only the evaluations of this dataset id.")
@click.option("--prefix", default=None, help="Output name prefix [default: the dataset id].")
@click.option(
    "--published",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="TSV of published results (dataset, method, Acc, Sn, Sp, MCC, AUC) [default: the bundled iEnhancer-2L table].",
)
@threads_option
@_reports_errors
def benchmark(evaluations, outdir, dataset_id, prefix, published) -> None:
    """Benchmark table over models and seeds (test, leak-free, cross-validation), paired tests against the
    k-mer baseline, published results beside it, and its MultiQC section."""

    paths = run_benchmark(evaluations, outdir, dataset=dataset_id, prefix=prefix, published=published)
    click.echo(paths["markdown"])


@main.command()
@click.option(
    "--fasta",
    "fasta_paths",
    required=True,
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Corpus FASTA (plain or gzipped; a genome or any sequences); repeat for several.",
)
@click.option("--kmer", required=True, type=click.IntRange(3, 6), help="k for overlapping k-mers.")
@click.option("--outdir", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option(
    "--model",
    "preset",
    default="scratch-small",
    show_default=True,
    type=click.Choice(["scratch-tiny", "scratch-small", "scratch-base"]),
    help="Encoder size.",
)
@click.option("--window", default=200, show_default=True, type=click.IntRange(8), help="Window length in nt.")
@click.option("--stride", default=200, show_default=True, type=click.IntRange(1), help="Window step in nt.")
@click.option(
    "--max-n-fraction",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Skip windows with a larger fraction of N.",
)
@click.option("--max-windows", type=click.IntRange(1), default=None, help="Train on a random sample of the windows.")
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1))
@click.option("--lr", default=5e-4, show_default=True)
@click.option(
    "--mask-fraction",
    default=0.15,
    show_default=True,
    type=click.FloatRange(0.01, 0.5),
    help="Fraction of tokens masked, in contiguous spans of k.",
)
@click.option("--seed", default=42, show_default=True)
@device_option
@threads_option
@_reports_errors
def pretrain(
    fasta_paths,
    kmer,
    outdir,
    preset,
    window,
    stride,
    max_n_fraction,
    max_windows,
    epochs,
    batch_size,
    lr,
    mask_fraction,
    seed,
    device,
) -> None:
    """Masked-LM pre-training of a from-scratch k-mer BERT; fine-tune the result with `train --model`."""

    options = PretrainOptions(
        window=window,
        stride=stride,
        max_n_fraction=max_n_fraction,
        max_windows=max_windows,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        mask_fraction=mask_fraction,
        seed=seed,
    )
    card = run_pretrain(list(fasta_paths), kmer, outdir, preset=preset, options=options, device=device)
    click.echo(f"{outdir}\twindows={card['windows']}\tloss={card['history'][-1]['loss']:.4f}")


@main.command()
@click.option("--input", "source", required=True, help="Checkpoint directory or Hub id with pytorch_model.bin.")
@click.option("--outdir", required=True, type=click.Path(file_okay=False))
@threads_option
@_reports_errors
def convert(source: str, outdir: str) -> None:
    """Convert a pytorch_model.bin checkpoint (DNABERT's) to model.safetensors, read without running code."""

    click.echo(convert_checkpoint(source, outdir))


@main.command()
@click.option("--profile", default=None, help="Parameter profile: test or test_full [default: the pipeline defaults].")
@click.option(
    "--params",
    "params_file",
    type=click.Path(exists=True, dir_okay=False),
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
@_reports_errors
def run(profile: str | None, params_file: str | None, outdir: str | None, device: str, resume: bool) -> None:
    """Run the pipeline's steps in-process, with the parameters the Nextflow pipeline uses."""

    import torch

    params = load_params(profile=profile, params_file=params_file, overrides={"outdir": outdir} if outdir else {})
    summary = run_pipeline(params, run_task, device=device, resume=resume, threads=torch.get_num_threads())
    click.echo(summary)


def run_task(argv: list[str]) -> None:
    """One task of `enhancerlm run`: an enhancerlm command line, run in this process as the shell would run it."""
    main.main(args=argv, prog_name="enhancerlm", standalone_mode=False)


@main.command()
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


def _fold(value: str) -> int | None:
    if value.lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"expected a fold number or 'none', got {value!r}", param_hint="--val-fold")


def _fmt(value: float | None) -> str:
    return "NA" if value is None else f"{value:.3f}"


EXCLUDE_HELP = (
    "Regular expression (searched in contig names) of contigs not to scan [default: _alt|_random|^chrUn|"
    "decoy|_fix|hap, i.e. alternate haplotypes, unplaced, decoy and fix contigs; '' scans all]."
)


def _contig_list(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


@main.command()
@click.option("--model", "model_spec", required=True, help="Trained model, k-mer baseline or ensemble directory.")
@click.option(
    "--genome",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Genome FASTA: plain, bgzip, or plain gzip (re-compressed once to a cached BGZF copy).",
)
@genome_index_options
@click.option(
    "--regions",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
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
@click.option(
    "--max-n-fraction",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Skip windows with a larger fraction of N (any base but ACGT).",
)
@click.option(
    "--blacklist",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="BED of regions: windows overlapping them are skipped.",
)
@click.option("--include-contigs", default=None, help="Comma-separated contigs to scan [default: all].")
@click.option("--exclude-contigs", default=None, help=EXCLUDE_HELP)
@click.option(
    "--strand-mode",
    type=click.Choice(["both", "forward"]),
    default="both",
    show_default=True,
    help="Average each window with its reverse complement, or score the forward strand only.",
)
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
    type=click.Path(exists=True, dir_okay=False),
    help="BED of known enhancers: report region-level precision and recall.",
)
@click.option("--seed", default=42, show_default=True, help="Seed of the calibration sample and shuffles.")
@click.option("--outdir", required=True, type=click.Path(file_okay=False))
@click.option("--prefix", default=None, help="Output name prefix [default: the model id].")
@click.option(
    "--batch-size",
    default=64,
    show_default=True,
    type=click.IntRange(1),
    help="Sequences per forward pass (both strands count).",
)
@device_option
@threads_option
@_reports_errors
def predict(
    model_spec,
    genome,
    fai,
    gzi,
    regions,
    chunk,
    window,
    stride,
    fdr,
    threshold,
    merge_gap,
    max_n_fraction,
    blacklist,
    include_contigs,
    exclude_contigs,
    strand_mode,
    calibrate,
    calibration_windows,
    truth,
    seed,
    outdir,
    prefix,
    batch_size,
    device,
) -> None:
    """Scan a genome with a trained model: window probabilities (bedGraph, bigWig), enhancer regions (BED),
    a report and MultiQC content."""

    options = ScanOptions(
        window=window,
        stride=stride,
        threshold=threshold,
        fdr=fdr,
        merge_gap=merge_gap,
        max_n_fraction=max_n_fraction,
        strand_mode=strand_mode,
        include_contigs=_contig_list(include_contigs),
        exclude_contigs=exclude_contigs,
        chunk=chunk,
        regions=regions,
        blacklist=blacklist,
        truth=truth,
        calibrate=calibrate,
        calibration_windows=calibration_windows,
        seed=seed,
        batch_size=batch_size,
        device=device,
    )
    report = run_predict(model_spec, genome, outdir, prefix=prefix, options=options, fai=fai, gzi=gzi)
    click.echo(
        f"{report['prefix']}\twindows={report['windows']['scored']}\tregions={report['regions']['called']}\t"
        f"{Path(outdir) / report['outputs']['json']}"
    )


@main.command()
@click.option("--genome", default=None, type=click.Path(exists=True, dir_okay=False), help="Genome FASTA.")
@click.option(
    "--fai", default=None, type=click.Path(exists=True, dir_okay=False), help="Its .fai index (enough on its own)."
)
@click.option("--size", default=10_000_000, show_default=True, type=click.IntRange(1), help="Largest chunk in bp.")
@click.option("--include-contigs", default=None, help="Comma-separated contigs to cover [default: all].")
@click.option("--exclude-contigs", default=None, help=EXCLUDE_HELP)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="BED file to write.")
@threads_option
@_reports_errors
def chunks(genome, fai, size, include_contigs, exclude_contigs, output) -> None:
    """BED of pieces (chrom, start, end, chrom:start-end) covering the genome, for `predict --chunk`; a window
    belongs to the chunk that holds its start."""

    written = write_chunks(
        genome, output, size=size, fai=fai, include=_contig_list(include_contigs), exclude=exclude_contigs
    )
    click.echo(f"{written}\tchunks={len(written.read_text().splitlines())}")


@main.command("index-genome")
@click.option(
    "--genome", required=True, type=click.Path(exists=True, dir_okay=False), help="Genome FASTA: plain, gzip or bgzip."
)
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="BGZF FASTA to write (*.gz); OUTPUT.fai and OUTPUT.gzi are written beside it.",
)
@threads_option
@_reports_errors
def index_genome(genome, output) -> None:
    """Index a genome once for every task that reads it: a BGZF copy with its .fai and .gzi."""

    report = run_index(genome, output)
    click.echo(f"{report['fasta']}\tcontigs={report['contigs']}\tbases={report['bases']}")


@main.command("merge-predictions")
@click.option(
    "--input",
    "inputs",
    required=True,
    multiple=True,
    type=click.Path(exists=False),
    help="A directory of predict outputs or an output prefix DIR/NAME; repeat for each chunk.",
)
@click.option("--genome", default=None, type=click.Path(exists=True, dir_okay=False), help="Genome FASTA.")
@click.option(
    "--fai", default=None, type=click.Path(exists=True, dir_okay=False), help="Its .fai index (enough on its own)."
)
@click.option("--outdir", required=True, type=click.Path(file_okay=False))
@click.option("--prefix", required=True, help="Output name prefix (region names use it).")
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
@_reports_errors
def merge_predictions(inputs, genome, fai, outdir, prefix, fdr, threshold, merge_gap) -> None:
    """Gather chunked `predict` outputs into the files one whole-genome run writes (regions across chunk
    borders included)."""

    report = run_merge_predictions(
        list(inputs), outdir, prefix=prefix, genome=genome, fai=fai, threshold=threshold, fdr=fdr, merge_gap=merge_gap
    )
    click.echo(
        f"{report['prefix']}\twindows={report['windows']['scored']}\tregions={report['regions']['called']}\t"
        f"{Path(outdir) / report['outputs']['json']}"
    )


@main.command()
@click.option("--model", "model_spec", required=True, help="Trained language model or ensemble directory.")
@click.option(
    "--dataset",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
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
    "--f",
    "min_factor",
    default=1.0,
    show_default=True,
    type=float,
    help="A region's scores exceed this times the sequence minimum (DNABERT: 10, iEnhancer-ELM: 1).",
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
@click.option("--seed", default=42, show_default=True, help="Seed of the discovery/held-out split.")
@click.option("--outdir", required=True, type=click.Path(file_okay=False))
@click.option("--prefix", default=None, help="Output name prefix [default: the model id].")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1), help="Windows per pass.")
@device_option
@threads_option
@_reports_errors
def motifs(
    model_spec,
    dataset,
    split,
    method,
    min_len,
    min_factor,
    gap,
    kmer_length,
    min_count,
    attention_p,
    max_q,
    min_instances,
    motif_width,
    discovery_fraction,
    max_skill_p,
    known_motifs,
    jaspar_release,
    tax_group,
    match_q,
    ig_steps,
    seed,
    outdir,
    prefix,
    batch_size,
    device,
) -> None:
    """Discover the motifs a model relies on (attention or integrated gradients), test them on held-out
    sequences, match them to JASPAR with TOMTOM; MEME, TSV, logos, score tracks, JSON and MultiQC content."""

    options = MotifOptions(
        method=method,
        split=split,
        min_len=min_len,
        f=min_factor,
        gap=gap,
        kmer_length=kmer_length,
        min_count=min_count,
        attention_p=attention_p,
        max_q=max_q,
        min_instances=min_instances,
        motif_width=motif_width,
        discovery_fraction=discovery_fraction,
        max_skill_p=max_skill_p,
        seed=seed,
        jaspar_release=jaspar_release,
        tax_group=tax_group,
        known_motifs=known_motifs,
        match_q=match_q,
        ig_steps=ig_steps,
        batch_size=batch_size,
        device=device,
    )
    name = prefix or read_card(model_spec).get("model_id") or Path(model_spec).name
    report = discover_motifs(model_spec, dataset, outdir, prefix=name, options=options)
    click.echo(
        f"{report['prefix']}\tmotifs={report['counts']['motifs']}\tknown={report['counts']['known']}\t"
        f"{Path(outdir) / report['outputs']['json']}"
    )


@main.command("scan-motifs")
@click.option("--motifs", "source", required=True, help="'jaspar' (JASPAR CORE, offline) or a MEME file.")
@click.option("--fasta", required=True, type=click.Path(exists=True, dir_okay=False), help="Sequences to scan.")
@jaspar_options
@click.option("--threshold", default=1e-4, show_default=True, type=click.FloatRange(0, 1), help="FIMO p-value cut-off.")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="TSV of hits to write.")
@threads_option
@_reports_errors
def scan_motifs(source, fasta, jaspar_release, tax_group, threshold, output) -> None:
    """FIMO hits of known motifs in every sequence of a FASTA file (both strands, 0-based half-open)."""

    hits = scan_fasta(source, fasta, output, release=jaspar_release, tax_group=tax_group, threshold=threshold)
    click.echo(f"{output}\thits={hits}")


@main.command()
@click.option("--model", "model_spec", required=True, help="Trained model, k-mer baseline or ensemble directory.")
@click.option(
    "--genome",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Genome FASTA of the VCF: plain, bgzip, or plain gzip (re-compressed once to a cached BGZF copy).",
)
@click.option(
    "--vcf",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Variants: VCF (plain, gzip or bgzip) or BCF. Contigs chr1/1 and chrM/MT are matched to the genome.",
)
@genome_index_options
@click.option("--outdir", required=True, type=click.Path(file_okay=False))
@click.option("--prefix", default=None, help="Output name prefix [default: the VCF's name].")
@click.option(
    "--window",
    type=click.IntRange(8),
    default=None,
    help="Window length in nt, centred on each variant [default: the model card's].",
)
@click.option(
    "--strand-mode",
    type=click.Choice(["both", "forward"]),
    default=None,
    help="Average each window with its reverse complement, or score the forward strand only "
    "[default: the model card's, else both].",
)
@click.option(
    "--max-n-fraction",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Skip alleles whose reference or alternative window has a larger fraction of non-ACGT bases.",
)
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
@click.option(
    "--batch-size",
    default=64,
    show_default=True,
    type=click.IntRange(1),
    help="Sequences per forward pass (both strands count).",
)
@device_option
@threads_option
@_reports_errors
def variants(
    model_spec,
    genome,
    vcf,
    fai,
    gzi,
    outdir,
    prefix,
    window,
    strand_mode,
    max_n_fraction,
    edge,
    motifs,
    jaspar_release,
    tax_group,
    motif_threshold,
    chunk,
    batch_size,
    device,
) -> None:
    """Score the effect of every ALT allele of a VCF on the enhancer probability around it: a scored VCF
    (bgzip, tabix), a TSV of scores, a report and MultiQC content."""

    options = VariantOptions(
        window=window,
        strand_mode=strand_mode,
        max_n_fraction=max_n_fraction,
        edge=edge,
        motifs=motifs,
        jaspar_release=jaspar_release,
        tax_group=tax_group,
        motif_threshold=motif_threshold,
        chunk=chunk,
        batch_size=batch_size,
        device=device,
    )
    report = score_variants(model_spec, genome, vcf, outdir, prefix=prefix, options=options, fai=fai, gzi=gzi)
    click.echo(
        f"{report['prefix']}\trecords={report['records']['reported']}\talleles={report['alleles']['total']}\t"
        f"scored={report['alleles']['scored']}\t{Path(outdir) / report['outputs']['json']}"
    )


@main.command("merge-variants")
@click.option(
    "--input",
    "inputs",
    required=True,
    multiple=True,
    type=click.Path(exists=False),
    help="A directory of variants outputs or an output prefix DIR/NAME; repeat for each chunk.",
)
@click.option("--outdir", required=True, type=click.Path(file_okay=False))
@click.option("--prefix", required=True, help="Output name prefix.")
@threads_option
@_reports_errors
def merge_variants(inputs, outdir, prefix) -> None:
    """Gather chunked `variants` outputs into the files one unchunked run writes; the chunks must hold every
    record once (chunks covering every contig, plus `--chunk unplaced` for records off the genome)."""

    report = run_merge_variants(list(inputs), outdir, prefix=prefix)
    click.echo(
        f"{report['prefix']}\trecords={report['records']['reported']}\talleles={report['alleles']['total']}\t"
        f"scored={report['alleles']['scored']}\t{Path(outdir) / report['outputs']['json']}"
    )
