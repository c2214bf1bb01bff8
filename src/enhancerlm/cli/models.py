"""Commands that make and judge models: `train`, `evaluate`, `ensemble`, `benchmark`, `pretrain` and `convert`."""

from __future__ import annotations

import click

from enhancerlm.cli.shared import (
    EXISTING_FILE,
    batch_option,
    device_option,
    fmt,
    max_n_option,
    options_from,
    outdir_option,
    reports_errors,
    seed_option,
    strand_option,
    threads_option,
)
from enhancerlm.defaults import MAX_TOKENS_PER_STEP


def _fold(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    """`--val-fold`: a fold number, or 'none' for no validation fold."""
    if value.lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"expected a fold number or 'none', got {value!r}") from None


@click.command()
@click.option("--dataset", required=True, type=EXISTING_FILE, help="Prepared <dataset>.dataset.tsv.")
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
@outdir_option("Model directory to write.")
@click.option("--model-id", default=None, help="Model id in the card and reports [default: outdir name].")
@click.option("--epochs", default=10, show_default=True, type=click.IntRange(1))
@batch_option(32)
@click.option(
    "--lr", type=float, default=None, help="Peak learning rate [default: 5e-4 from scratch, 3e-5 pretrained]."
)
@click.option("--weight-decay", default=0.01, show_default=True)
@click.option(
    "--warmup", default=0.1, show_default=True, type=click.FloatRange(0, 1), help="Warm-up as a fraction of all steps."
)
@click.option("--grad-clip", default=2.0, show_default=True)
@click.option("--patience", default=3, show_default=True, help="Early-stopping patience in epochs (0: off).")
@seed_option()
@click.option(
    "--val-fold", default="0", show_default=True, callback=_fold, help="Prepared fold used for validation, or 'none'."
)
@click.option("--max-length", default=512, show_default=True, help="Maximum tokens of a model built from scratch.")
@click.option(
    "--max-tokens-per-step",
    default=MAX_TOKENS_PER_STEP,
    show_default=True,
    type=click.IntRange(1),
    help="Tokens encoded per forward pass in training (the memory budget): a batch with more is back-propagated "
    "in parts, a record with more under activation checkpointing, with the same gradient.",
)
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
@reports_errors
def train(dataset, model_spec, outdir, **params) -> None:
    """Train an enhancer classifier and write a Hugging Face model directory with its card."""
    from enhancerlm.commands.train import train as train_model
    from enhancerlm.training.loop import TrainOptions

    options = options_from(TrainOptions, params)
    chosen = ("kmer", "model_id", "device", "resume", "cross_validation", "trust_remote_code")
    card = train_model(dataset, model_spec, outdir, options=options, **{name: params[name] for name in chosen})
    validation = card["validation"] or {}
    click.echo(
        f"{card['model_id']}\tbest_epoch={card['best_epoch'] or 'NA'}\tthreshold={card['threshold']:.3f}\t"
        f"val_auc={fmt(validation.get('auc'))}\tval_mcc={fmt(validation.get('mcc'))}"
    )


@click.command()
@click.option("--model", "model_spec", required=True, help="Trained model or ensemble directory.")
@click.option("--dataset", required=True, type=EXISTING_FILE)
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "test"]))
@outdir_option()
@click.option(
    "--prefix",
    default=None,
    help="Output name prefix [default: the model id; <model id>_on_<dataset> on a dataset it was not trained on].",
)
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="Override the card's threshold.")
@click.option(
    "--training-dataset",
    type=EXISTING_FILE,
    default=None,
    help="The prepared table the model was trained on, for the leak check of an external test set "
    "[default: the path on the model's card]; it must match the card's sha256.",
)
@strand_option("Average each sequence with its reverse complement, or score the forward strand only")
@batch_option(64)
@device_option
@threads_option
@reports_errors
def evaluate(model_spec, dataset, **params) -> None:
    """Metrics (whole split and leak-free subset), predictions and MultiQC content for a trained model."""
    from enhancerlm.commands.evaluate import evaluate_model

    click.echo(evaluate_model(model_spec, dataset, **params)["metrics"])


@click.command()
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
    type=EXISTING_FILE,
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
@outdir_option("Ensemble model directory to write.")
@click.option("--model-id", default=None, help="Model id in the card and reports [default: outdir name].")
@batch_option(64)
@device_option
@threads_option
@reports_errors
def ensemble(members, dataset, outdir, **params) -> None:
    """Combine trained models into one ensemble model that every --model option accepts."""
    from enhancerlm.commands.ensemble import build_ensemble

    card = build_ensemble(list(members), dataset, outdir, **params)
    weights = ",".join(f"{w:.3f}" for w in card["weights"])
    click.echo(f"{card['model_id']}\tmethod={card['method']}\tweights={weights}\tthreshold={card['threshold']:.3f}")


@click.command()
@click.option(
    "--evaluations",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Directory of `evaluate` outputs (NAME.metrics.json, .predictions.tsv, .cv.json, "
    ".cv_predictions.tsv) of every model and seed of one dataset.",
)
@outdir_option()
@click.option("--dataset", default=None, help="Use only the evaluations of this dataset id.")
@click.option("--prefix", default=None, help="Output name prefix [default: the dataset id].")
@click.option(
    "--published",
    type=EXISTING_FILE,
    default=None,
    help="TSV of published results (dataset, method, Acc, Sn, Sp, MCC, AUC) [default: the bundled iEnhancer-2L table].",
)
@threads_option
@reports_errors
def benchmark(evaluations, outdir, **params) -> None:
    """Benchmark table over models and seeds (test, leak-free, cross-validation), paired tests against the
    k-mer baseline, published results beside it, and its MultiQC section."""
    from enhancerlm.commands.benchmark import run_benchmark

    click.echo(run_benchmark(evaluations, outdir, **params)["markdown"])


@click.command()
@click.option(
    "--fasta",
    "fasta_paths",
    required=True,
    multiple=True,
    type=EXISTING_FILE,
    help="Corpus FASTA (plain or gzipped; a genome or any sequences); repeat for several.",
)
@click.option("--kmer", required=True, type=click.IntRange(3, 6), help="k for overlapping k-mers.")
@outdir_option("Model directory to write.")
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
@max_n_option(0.0, "Skip windows with a larger fraction of N.")
@click.option("--max-windows", type=click.IntRange(1), default=None, help="Train on a random sample of the windows.")
@click.option("--epochs", default=1, show_default=True, type=click.IntRange(1))
@batch_option(64)
@click.option("--lr", default=5e-4, show_default=True)
@click.option(
    "--mask-fraction",
    default=0.15,
    show_default=True,
    type=click.FloatRange(0.01, 0.5),
    help="Fraction of tokens masked, in contiguous spans of k.",
)
@seed_option()
@device_option
@threads_option
@reports_errors
def pretrain(fasta_paths, kmer, outdir, preset, device, **params) -> None:
    """Masked-LM pre-training of a from-scratch k-mer BERT; fine-tune the result with `train --model`."""
    from enhancerlm.commands.pretrain import pretrain as run_pretrain
    from enhancerlm.training.pretrain import PretrainOptions

    options = options_from(PretrainOptions, params)
    card = run_pretrain(list(fasta_paths), kmer, outdir, preset=preset, options=options, device=device)
    click.echo(f"{outdir}\twindows={card['windows']}\tloss={card['history'][-1]['loss']:.4f}")


@click.command()
@click.option("--input", "source", required=True, help="Checkpoint directory or Hub id with pytorch_model.bin.")
@outdir_option()
@threads_option
@reports_errors
def convert(source: str, outdir: str) -> None:
    """Convert a pytorch_model.bin checkpoint (DNABERT's) to model.safetensors, read without running code."""
    from enhancerlm.models.checkpoint import convert_checkpoint

    click.echo(convert_checkpoint(source, outdir))
