"""The embedded local runner: the Nextflow workflow's tasks, one after another, without Nextflow.

Each task is the command line its module renders (`pipeline.tasks`), run through the `enhancerlm` CLI in this
process. The plan follows `workflows/enhancerlm.nf` and its subworkflows: prepare the FASTA datasets -> index the
genome when a step needs it -> prepare the region datasets (GC-matched genomic negatives) -> train (one model per
dataset with train rows, k and seed, and the k-mer baseline) -> ensemble of the k-mer models -> evaluate every
model on the test split -> benchmark table per dataset -> with the final models (the first seed's ensembles, else
its k-mer models): evaluation on every external test set (a dataset of test rows only), genome scan in chunks,
gathered per model, motif discovery on the model's dataset and variant scoring -> MultiQC.

Results land where the Nextflow pipeline publishes them (OUTDIR/prepare, train, ensemble, evaluate, benchmark,
predict, motifs, variants, multiqc and pipeline_info); what Nextflow keeps in its work directory (the genome index,
chunk scans) stays in OUTDIR/pipeline_info/work. With `resume`, a task is skipped when a completed record of it
(OUTDIR/pipeline_info/steps) has the same key: its command line, the content of its inputs and the package version.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from enhancerlm import __version__
from enhancerlm.commands.prepare import load_regions_sheet, load_samplesheet
from enhancerlm.errors import EnhancerLMError, InputError
from enhancerlm.formats.files import resource, sha256_file, sweep_temporaries, write_json, write_text
from enhancerlm.models.baseline import MODEL_TYPE as BASELINE
from enhancerlm.pipeline import tasks
from enhancerlm.pipeline.params import schema
from enhancerlm.pipeline.reports import workflow_summary_yaml, write_versions_yaml
from enhancerlm.pipeline.tasks import Task
from enhancerlm.training.loop import CHECKPOINT_DIR

log = logging.getLogger(__name__)

STEP_RECORDS = Path("pipeline_info") / "steps"
NOT_IN_KEY = {"--resume"}  # training continued from its checkpoint ends with the same weights
Invoke = Callable[[list[str]], Any]


@dataclass
class Runner:
    """Runs tasks through `invoke` (the CLI's entry point), skipping those a resumed run completed before."""

    outdir: Path
    invoke: Invoke
    resume: bool = False
    steps: list[dict] = field(default_factory=list)

    def run(self, task: Task) -> None:
        clock = time.perf_counter()
        record = self.outdir / STEP_RECORDS / f"{file_name(task.name)}.json"
        key = task_key(task)
        if self.resume and completed(record, key):
            log.info("step %s: cached (same command, inputs and version)", task.name)
            self.steps.append({"step": task.name, "seconds": 0.0, "cached": True})
            return
        log.info("step %s", task.name)
        if task.runs == "enhancerlm":
            self.invoke(list(task.argv))
        else:
            run_program(task)
        write_json(
            record, {"step": task.name, "key": key, "argv": list(task.argv), "outputs": [str(p) for p in task.outputs]}
        )
        self.steps.append({"step": task.name, "seconds": round(time.perf_counter() - clock, 1)})


@dataclass
class Plan:
    """What the run has made so far, as the workflow's channels carry it."""

    datasets: dict[str, Path] = field(default_factory=dict)  # dataset id -> prepared table, of those that train
    external: dict[str, Path] = field(default_factory=dict)  # dataset id -> prepared table, of test rows only
    evaluations: dict[str, list[Path]] = field(default_factory=dict)  # dataset id -> evaluation files
    final_models: list[tuple[Path, str]] = field(default_factory=list)  # (model, dataset id)


def run_pipeline(
    params: dict[str, Any], invoke: Invoke, *, device: str = "auto", resume: bool = False, threads: int = 1
) -> Path:
    """Run every task of the workflow for these parameters; returns the run summary's path."""
    check_inputs(params)  # before any task, as the workflow fails before any task
    outdir, started = Path(params["outdir"]), datetime.now(timezone.utc)
    swept = sweep_temporaries(outdir)  # a killed earlier run's half-written files: never an output, never reused
    if swept:
        log.info("removed %d temporary files of an interrupted run under %s", len(swept), outdir)
    runner, plan = Runner(outdir, invoke, resume), Plan()
    sheet = prepare(params, runner, plan, threads)
    indexed = genome_index(params, runner, threads)
    prepare_regions(params, runner, plan, sheet, indexed, threads)
    for dataset, table in plan.datasets.items():
        train_evaluate(params, runner, plan, dataset, table, device, threads)
    for dataset in plan.datasets:
        runner.run(tasks.benchmark_task(dataset, plan.evaluations.get(dataset, []), outdir, threads))
    for (model, dataset), external in itertools.product(plan.final_models, plan.external.values()):
        runner.run(tasks.evaluate_task(model, external, outdir, threads, training_dataset=plan.datasets[dataset]))
    ran = genome_steps(params, runner, plan, indexed, device, threads)
    multiqc(params, runner, ran)
    summary = {
        "enhancerlm_version": __version__,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round((datetime.now(timezone.utc) - started).total_seconds(), 1),
        "steps": runner.steps,
    }
    write_json(outdir / "pipeline_info" / f"params_{started.strftime('%Y-%m-%d_%H-%M-%S')}.json", params)
    return write_json(outdir / "pipeline_info" / "run_summary.json", summary)


def check_inputs(params: dict) -> None:
    """The parameter combinations the workflow refuses before any task."""
    if not params.get("input") and not params.get("input_regions"):
        raise InputError(
            "--input or --input_regions is required: a samplesheet of FASTA files (dataset,fasta,label,split) "
            "or of regions on --genome (dataset,bed,test_chroms)"
        )
    if params.get("vcf") and not params.get("genome"):
        raise InputError(f"--vcf {params['vcf']}: variant scoring needs --genome, the reference the VCF refers to")
    if params.get("input_regions") and not params.get("genome"):
        raise InputError(
            f"--input_regions {params['input_regions']}: region datasets need --genome, the genome their regions "
            "and negatives come from"
        )


def prepare(params: dict, runner: Runner, plan: Plan, threads: int) -> pd.DataFrame | None:
    """One prepare task per dataset of the samplesheet, each with a samplesheet of that dataset only; a dataset of
    test rows only is an external test set. Returns the samplesheet (None without --input)."""
    if not params.get("input"):
        return None
    sheet = load_samplesheet(params["input"])
    for dataset, rows in sheet.groupby("dataset", sort=False):
        samplesheet = Path(params["input"])
        if len(rows) != len(sheet):  # as the workflow's collectFile writes one per dataset
            samplesheet = work_dir(runner.outdir) / f"{dataset}.samplesheet.csv"
            write_text(samplesheet, rows.to_csv(index=False))
        task = tasks.prepare_task(
            params, samplesheet, list(map(Path, rows["fasta"])), str(dataset), runner.outdir, threads
        )
        runner.run(task)
        (plan.datasets if "train" in set(rows["split"]) else plan.external)[str(dataset)] = task.outputs[0]
    return sheet


def genome_index(params: dict, runner: Runner, threads: int) -> Path | None:
    """The genome, indexed once, when a step needs it: region datasets, the scan or variant scoring."""
    scan = not params["skip_predict"]
    score = bool(params.get("vcf")) and not params["skip_variants"]
    if not params.get("genome") or not (scan or score or params.get("input_regions")):
        return None
    genome = Path(params["genome"])
    indexed = work_dir(runner.outdir) / f"{tasks.simple_name(genome)}.fa.gz"
    runner.run(tasks.genome_index_task(genome, indexed, threads))
    return indexed


def prepare_regions(
    params: dict, runner: Runner, plan: Plan, sheet: pd.DataFrame | None, indexed: Path | None, threads: int
) -> None:
    """One PREPAREREGIONS task per dataset of the regions samplesheet: it trains like the FASTA datasets."""
    if not params.get("input_regions"):
        return
    for row in load_regions_sheet(params["input_regions"], sheet).itertuples(index=False):
        task = tasks.prepare_regions_task(
            params, row.dataset, Path(row.bed), row.test_chroms, indexed, runner.outdir, threads
        )
        runner.run(task)
        plan.datasets[row.dataset] = task.outputs[0]


def train_evaluate(
    params: dict, runner: Runner, plan: Plan, dataset: str, table: Path, device: str, threads: int
) -> None:
    """Per seed: the k-mer models and the baseline, the ensemble of the k-mer models; then every model evaluated."""
    outdir, evaluated = runner.outdir, []
    kmers = sorted(int(k) for k in str(params["kmers"]).split(","))
    for seed in [params["seed"] + replicate for replicate in range(params["replicates"])]:
        suffix = f"_seed{seed}" if params["replicates"] > 1 else ""
        models = [(f"{dataset}_k{k}{suffix}", params["model"], k) for k in kmers]
        models += [(f"{dataset}_{BASELINE}{suffix}", BASELINE, None)] if params["baseline"] else []
        for model_id, spec, k in models:
            checkpoint = outdir / "train" / model_id / CHECKPOINT_DIR / "trainer.pt"
            runner.run(
                tasks.train_task(
                    params,
                    model_id,
                    table,
                    spec,
                    k,
                    seed,
                    device,
                    outdir,
                    threads,
                    resume=runner.resume and checkpoint.exists(),
                )
            )
            evaluated.append(outdir / "train" / model_id)
        finals = [outdir / "train" / model_id for model_id, _, k in models if k is not None]  # the k-mer models
        if params["ensemble"] != "none" and len(finals) >= 2:
            ensemble_id = f"{dataset}_ensemble{suffix}"
            runner.run(tasks.ensemble_task(params, ensemble_id, finals, table, outdir, threads))
            finals = [outdir / "ensemble" / ensemble_id]
            evaluated += finals
        plan.final_models += [(model, dataset) for model in finals] if seed == params["seed"] else []
    for model in evaluated:
        task = tasks.evaluate_task(model, table, outdir, threads)
        runner.run(task)
        plan.evaluations.setdefault(dataset, []).extend(evaluation_files(task.outputs[0]))


def genome_steps(
    params: dict, runner: Runner, plan: Plan, indexed: Path | None, device: str, threads: int
) -> dict[str, bool]:
    """Scan, motifs and variants of the final models, where the parameters ask for them."""
    final = plan.final_models
    scan = indexed is not None and not params["skip_predict"] and bool(final)
    score = indexed is not None and bool(params.get("vcf")) and not params["skip_variants"] and bool(final)
    motifs = not params["skip_motifs"] and bool(final)
    if scan:
        genome_predict(params, runner, [model for model, _ in final], indexed, device, threads)
    for model, dataset in final if motifs else []:
        runner.run(tasks.motifs_task(params, model, plan.datasets[dataset], device, runner.outdir, threads))
    for model, _ in final if score else []:
        runner.run(tasks.variants_task(params, model, indexed, device, runner.outdir, threads))
    return {"predict": scan, "motifs": motifs, "variants": score}


def genome_predict(params: dict, runner: Runner, models: list[Path], indexed: Path, device: str, threads: int) -> None:
    """The genome cut into chunks, every chunk scanned by every model, each model's scans merged and summarised."""
    work = work_dir(runner.outdir)
    chunks = tasks.chunks_task(params, indexed, work / f"{tasks.simple_name(indexed)}.chunks.bed", threads)
    runner.run(chunks)
    names = [line.split("\t")[3] for line in chunks.outputs[0].read_text().splitlines()]
    for model in models:
        parts = [work / f"{model.name}.{re.sub(r'[^A-Za-z0-9._]', '_', chunk)}" for chunk in names]
        for chunk, part in zip(names, parts):
            runner.run(tasks.predict_task(params, model, indexed, chunk, part, device, threads))
        by_name = sorted(parts, key=lambda part: part.name)  # as the workflow hands them on (the same under -resume)
        runner.run(tasks.merge_predictions_task(model.name, by_name, indexed, runner.outdir, threads))
        runner.run(tasks.chunk_summary_task(model.name, by_name, runner.outdir))


def multiqc(params: dict, runner: Runner, ran: dict[str, bool]) -> None:
    """The report over every step's MultiQC files, the software versions and the workflow summary."""
    outdir = runner.outdir
    params_schema = schema()
    steps_run = {step["step"].split(" (")[0] for step in runner.steps}
    pipeline = params_schema["title"].removesuffix(" pipeline parameters")  # the manifest name
    versions = write_versions_yaml(
        outdir / "pipeline_info" / "enhancerlm_software_mqc_versions.yml", steps_run, pipeline
    )
    summary = write_text(work_dir(outdir) / "workflow_summary_mqc.yaml", workflow_summary_yaml(params, params_schema))
    reports = [
        outdir / "prepare",
        outdir / "evaluate",
        outdir / "benchmark",
        *(outdir / name for name, done in ran.items() if done),
    ]
    configs = [
        resource("assets/multiqc_config.yml"),
        *([Path(params["multiqc_config"])] if params.get("multiqc_config") else []),
    ]
    runner.run(tasks.multiqc_task(params, reports, [versions, summary], configs, outdir))


def evaluation_files(metrics: Path) -> list[Path]:
    """The files an evaluation wrote beside its metrics (predictions, cross-validation), as the benchmark reads them."""
    stem = metrics.name.removesuffix(".metrics.json")
    return sorted(p for p in metrics.parent.glob(f"{stem}.*") if p.name.split(".")[0] == stem)


def work_dir(outdir: Path) -> Path:
    """What Nextflow keeps in its work directory: the genome index, chunk scans, per-dataset samplesheets."""
    return outdir / "pipeline_info" / "work"


def task_key(task: Task) -> str:
    """What identifies a task's result: its command line, the content of its inputs and the package version."""
    payload = {
        "step": task.name,
        "runs": task.runs,
        "version": __version__,
        "argv": [a for a in task.argv if a not in NOT_IN_KEY],
        "inputs": {str(path): content_digest(path) for path in task.inputs},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def content_digest(path: Path) -> str:
    """sha256 of a file, or of every file's relative path and digest under a directory ("missing" if neither)."""
    if path.is_file():
        return sha256_file(path)
    if not path.is_dir():
        return "missing"
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path)}\t{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def completed(record: Path, key: str) -> bool:
    """Whether a completed task with this key is recorded and all its outputs exist."""
    if not record.is_file():
        return False
    done = json.loads(record.read_text())
    return done.get("key") == key and all(Path(p).exists() for p in done.get("outputs", []))


def run_program(task: Task) -> None:
    """Run MultiQC, or one of the pipeline's own scripts (bin/, on PATH in Nextflow tasks), with this Python."""
    program = ["-m", "multiqc"] if task.runs == "multiqc" else [str(resource(f"bin/{task.runs}"))]
    finished = subprocess.run([sys.executable, *program, *task.argv], capture_output=True, text=True)
    if finished.returncode != 0:
        raise EnhancerLMError(f"{task.name} failed (exit {finished.returncode}): {finished.stderr.strip()[-500:]}")


def file_name(name: str) -> str:
    """`TRAIN (layer1_k3)` -> `TRAIN_layer1_k3`."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_")
