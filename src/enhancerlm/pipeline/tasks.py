"""The tasks of a run, each as the command line its Nextflow module's `script:` renders.

Every function here returns the `enhancerlm` argv of one task: the module's own options in the order its script
writes them, then what `conf/modules.config` passes as `ext.args`. Paths are those the embedded runner uses:
inputs where earlier steps wrote them, outputs where Nextflow would publish them. A test renders every module with
the same inputs and holds the two command lines equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enhancerlm.pipeline.steps import STEP_BY_NAME


@dataclass(frozen=True)
class Task:
    """One task: its step, a label (`TRAIN (mini_k3)`), its command line (argv without the program name), the files
    whose content decides its result, and the outputs that must exist for a recorded run of it to be reused."""

    step: str
    label: str
    argv: tuple[str, ...]
    inputs: tuple[Path, ...] = ()
    outputs: tuple[Path, ...] = ()
    runs: str = field(default="enhancerlm")  # or the name of a program of the pipeline's bin/, or "multiqc"

    @property
    def name(self) -> str:
        return f"{self.step} ({self.label})" if self.label else self.step


def text(value: Any) -> str:
    """A parameter as Groovy's string interpolation writes it (`true`, `null`, `0.1`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def enhancerlm_task(step: str, label: str, options: list[str], **files: tuple[Path, ...]) -> Task:
    return Task(step, label, (STEP_BY_NAME[step].command, *options), **files)


def prepare_task(params: dict, samplesheet: Path, fastas: list[Path], dataset: str, outdir: Path, threads: int) -> Task:
    prepared = outdir / "prepare"
    options = [
        "--input",
        str(samplesheet),
        "--outdir",
        str(prepared),
        "--prefix",
        dataset,
        "--threads",
        str(threads),
        *dataset_options(params),
        *(["--positive", params["positive"]] if params.get("positive") else []),
    ]
    return enhancerlm_task(
        "PREPARE",
        dataset,
        options,
        inputs=(samplesheet, *fastas),
        outputs=(prepared / f"{dataset}.dataset.tsv", prepared / f"{dataset}.prepare.json"),
    )


def dataset_options(params: dict) -> list[str]:
    """The options PREPARE and PREPAREREGIONS share: folds, their seed, the N threshold and the near-copy rule."""
    return [
        "--folds",
        text(params["folds"]),
        "--seed",
        text(params["seed"]),
        "--max-n-fraction",
        text(params["max_n_fraction"]),
        "--near-duplicates",
        "on" if params["near_duplicates"] else "off",
        "--near-identity",
        text(params["near_identity"]),
        "--near-coverage",
        text(params["near_coverage"]),
    ]


def prepare_regions_task(
    params: dict, dataset: str, bed: Path, test_chroms: str, indexed: Path, outdir: Path, threads: int
) -> Task:
    """PREPAREREGIONS: one dataset of positive regions on the indexed genome, with GC-matched genomic negatives."""
    prepared, blacklist = outdir / "prepare", params.get("blacklist")
    options = [
        "--bed",
        str(bed),
        "--genome",
        str(indexed),
        *(["--blacklist", blacklist] if blacklist else []),
        "--test-chroms",
        test_chroms,
        "--name",
        dataset,
        "--outdir",
        str(prepared),
        "--threads",
        str(threads),
        *dataset_options(params),
        "--negatives-per-positive",
        text(params["negatives_per_positive"]),
        "--gc-tolerance",
        text(params["gc_tolerance"]),
    ]
    return enhancerlm_task(
        "PREPAREREGIONS",
        dataset,
        options,
        inputs=(bed, indexed, *([Path(blacklist)] if blacklist else [])),
        outputs=(prepared / f"{dataset}.dataset.tsv", prepared / f"{dataset}.prepare.json"),
    )


def train_task(
    params: dict,
    model_id: str,
    dataset: Path,
    model: str,
    kmer: int | None,
    seed: int,
    device: str,
    outdir: Path,
    threads: int,
    resume: bool,
) -> Task:
    model_dir = outdir / "train" / model_id
    cross_validation = params["cv"] or params["ensemble"] == "stacking"
    options = [
        "--dataset",
        str(dataset),
        "--model",
        model,
        "--outdir",
        str(model_dir),
        "--model-id",
        model_id,
        "--device",
        device,
        "--threads",
        str(threads),
        *(["--kmer", text(kmer)] if kmer else []),
        *train_options(params, seed),
        *(["--trust-remote-code"] if params["trust_remote_code"] else []),
        *(["--cv"] if cross_validation else []),
        *(["--resume"] if resume else []),
    ]
    return enhancerlm_task(
        "TRAIN",
        model_id,
        options,
        inputs=(dataset, *([Path(model)] if Path(model).exists() else [])),
        outputs=(model_dir / "enhancerlm.json",),
    )


def train_options(params: dict, seed: int) -> list[str]:
    """The hyper-parameter options of a TRAIN task, in the order the module's script writes them."""
    return [
        "--epochs",
        text(params["epochs"]),
        "--batch-size",
        text(params["batch_size"]),
        *(["--lr", text(params["lr"])] if params.get("lr") else []),
        "--weight-decay",
        text(params["weight_decay"]),
        "--warmup",
        text(params["warmup"]),
        "--grad-clip",
        text(params["grad_clip"]),
        "--patience",
        text(params["patience"]),
        "--seed",
        text(seed),
        "--val-fold",
        text(params["val_fold"]),
        "--max-length",
        text(params["max_length"]),
        "--max-tokens-per-step",
        text(params["max_tokens_per_step"]),
        "--pooling",
        params["pooling"],
        "--rc-augment" if params["rc_augment"] else "--no-rc-augment",
        "--class-weight",
        params["class_weight"],
    ]


def ensemble_task(
    params: dict, ensemble_id: str, members: list[Path], dataset: Path, outdir: Path, threads: int
) -> Task:
    ensemble_dir = outdir / "ensemble" / ensemble_id
    options = [
        *(option for member in members for option in ("--model", str(member))),
        "--dataset",
        str(dataset),
        "--outdir",
        str(ensemble_dir),
        "--model-id",
        ensemble_id,
        "--device",
        "cpu",
        "--threads",
        str(threads),
        "--method",
        params["ensemble"],
    ]
    return enhancerlm_task(
        "ENSEMBLE", ensemble_id, options, inputs=(dataset, *members), outputs=(ensemble_dir / "enhancerlm.json",)
    )


def evaluate_task(model: Path, dataset: Path, outdir: Path, threads: int, training_dataset: Path | None = None) -> Task:
    """EVALUATE of a model on its own dataset's test split, or with `training_dataset` (the table it was trained
    on) EVALUATE_EXTERNAL on an external test set, named `<model>_on_<test set>` and published apart."""
    name = model.name + (f"_on_{dataset.name.removesuffix('.dataset.tsv')}" if training_dataset else "")
    evaluated = outdir / "evaluate" / ("external" if training_dataset else "")
    options = [
        "--model",
        str(model),
        "--dataset",
        str(dataset),
        *(["--training-dataset", str(training_dataset)] if training_dataset else []),
        "--outdir",
        str(evaluated),
        "--prefix",
        name,
        "--device",
        "cpu",
        "--threads",
        str(threads),
        "--split",
        "test",
    ]
    return enhancerlm_task(
        "EVALUATE_EXTERNAL" if training_dataset else "EVALUATE",
        name,
        options,
        inputs=(model, dataset, *([training_dataset] if training_dataset else [])),
        outputs=(evaluated / f"{name}.metrics.json",),
    )


def benchmark_task(dataset: str, evaluations: list[Path], outdir: Path, threads: int) -> Task:
    options = [
        "--evaluations",
        str(outdir / "evaluate"),
        "--dataset",
        dataset,
        "--outdir",
        str(outdir / "benchmark"),
        "--prefix",
        dataset,
        "--threads",
        str(threads),
    ]
    return enhancerlm_task(
        "BENCHMARK",
        dataset,
        options,
        inputs=tuple(evaluations),
        outputs=(outdir / "benchmark" / f"{dataset}.benchmark.json",),
    )


def simple_name(path: Path) -> str:
    """The file name up to its first dot, as Nextflow's Path.simpleName (the genome tasks' tag)."""
    return path.name.split(".", 1)[0]


def genome_index_task(genome: Path, indexed: Path, threads: int) -> Task:
    options = ["--genome", str(genome), "--output", str(indexed), "--threads", str(threads)]
    return enhancerlm_task(
        "GENOMEINDEX",
        simple_name(genome),
        options,
        inputs=(genome,),
        outputs=(indexed, Path(f"{indexed}.fai"), Path(f"{indexed}.gzi")),
    )


def chunks_task(params: dict, indexed: Path, chunks: Path, threads: int) -> Task:
    fai = Path(f"{indexed}.fai")
    options = [
        "--fai",
        str(fai),
        "--output",
        str(chunks),
        "--threads",
        str(threads),
        "--size",
        text(params["predict_chunk_size"]),
    ]
    return enhancerlm_task("CHUNKS", simple_name(indexed), options, inputs=(fai,), outputs=(chunks,))


def model_and_genome(model: Path, indexed: Path) -> list[str]:
    """`--model` and the indexed genome with its two indexes, as PREDICT and VARIANTS stage the genome tuple."""
    return ["--model", str(model), "--genome", str(indexed), "--fai", f"{indexed}.fai", "--gzi", f"{indexed}.gzi"]


def predict_task(params: dict, model: Path, indexed: Path, chunk: str, part: Path, device: str, threads: int) -> Task:
    regions, blacklist = params.get("genome_regions"), params.get("blacklist")
    options = [
        *model_and_genome(model, indexed),
        "--chunk",
        chunk,
        *(["--regions", regions] if regions else []),
        *(["--blacklist", blacklist] if blacklist else []),
        "--outdir",
        str(part),
        "--prefix",
        model.name,
        "--device",
        device,
        "--threads",
        str(threads),
        "--stride",
        text(params["predict_stride"]),
        "--fdr",
        text(params["predict_fdr"]),
        *(["--threshold", text(params["predict_threshold"])] if params.get("predict_threshold") is not None else []),
        "--merge-gap",
        text(params["predict_merge_gap"]),
    ]
    return enhancerlm_task(
        "PREDICT",
        f"{model.name} {chunk}",
        options,
        inputs=(model, indexed, *(Path(p) for p in (regions, blacklist) if p)),
        outputs=(part / f"{model.name}.predict.json",),
    )


def merge_predictions_task(model_id: str, parts: list[Path], indexed: Path, outdir: Path, threads: int) -> Task:
    options = [
        *(option for part in parts for option in ("--input", str(part))),
        "--fai",
        f"{indexed}.fai",
        "--outdir",
        str(outdir / "predict"),
        "--prefix",
        model_id,
        "--threads",
        str(threads),
    ]
    return enhancerlm_task(
        "MERGEPREDICTIONS",
        model_id,
        options,
        inputs=tuple(parts),
        outputs=(outdir / "predict" / f"{model_id}.predict.json",),
    )


def chunk_summary_task(model_id: str, parts: list[Path], outdir: Path) -> Task:
    summary = outdir / "predict" / f"{model_id}.chunks_mqc.tsv"
    argv = (
        *(option for part in parts for option in ("--input", str(part))),
        "--model-id",
        model_id,
        "--output",
        str(summary),
    )
    return Task("CHUNK_SUMMARY", model_id, argv, inputs=tuple(parts), outputs=(summary,), runs="chunk_scans_mqc.py")


def motifs_task(params: dict, model: Path, dataset: Path, device: str, outdir: Path, threads: int) -> Task:
    options = [
        "--model",
        str(model),
        "--dataset",
        str(dataset),
        "--outdir",
        str(outdir / "motifs"),
        "--prefix",
        model.name,
        "--device",
        device,
        "--threads",
        str(threads),
        "--method",
        params["motif_method"],
    ]
    return enhancerlm_task(
        "MOTIFS",
        model.name,
        options,
        inputs=(model, dataset),
        outputs=(outdir / "motifs" / f"{model.name}.motifs.json",),
    )


def variants_task(params: dict, model: Path, indexed: Path, device: str, outdir: Path, threads: int) -> Task:
    motifs = params.get("variant_motifs")
    options = [
        *model_and_genome(model, indexed),
        "--vcf",
        params["vcf"],
        *(["--motifs", motifs] if motifs and motifs != "jaspar" else []),
        "--outdir",
        str(outdir / "variants"),
        "--prefix",
        model.name,
        "--device",
        device,
        "--threads",
        str(threads),
        "--edge",
        params["variant_edge"],
        *(["--motifs", "jaspar"] if motifs == "jaspar" else []),
    ]
    return enhancerlm_task(
        "VARIANTS",
        model.name,
        options,
        inputs=(model, indexed, Path(params["vcf"])),
        outputs=(outdir / "variants" / f"{model.name}.variants.json",),
    )


def multiqc_task(
    params: dict, reports: list[Path], pipeline_files: list[Path], configs: list[Path], outdir: Path
) -> Task:
    """MultiQC over the steps' report folders (the task's inputs) and the pipeline's own files (versions, summary)."""
    logo, title = params.get("multiqc_logo"), params.get("multiqc_title")
    argv = (
        "--force",
        *(option for config in configs for option in ("--config", str(config))),
        *(["--cl-config", f'custom_logo: "{logo}"'] if logo else []),
        *(["--title", title] if title else []),
        "--outdir",
        str(outdir / "multiqc"),
        *map(str, [*reports, *pipeline_files]),
    )
    return Task(
        "MULTIQC",
        "multiqc",
        argv,
        inputs=tuple(reports),
        outputs=(outdir / "multiqc" / "multiqc_report.html",),
        runs="multiqc",
    )
