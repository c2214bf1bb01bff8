"""The Nextflow layer, checked without Nextflow.

Nextflow and container engines cannot run here, so these tests read the `.nf` and `.config` files (reftrace
and tests/helpers/nfparse.py), render each module's command as a task would, parse it with the CLI's own click
parser, run it (and its stub) in a staged work directory, and compare what the Nextflow pipeline does with
what the embedded runner (`enhancerlm run`) does.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest
import reftrace
import yaml
from click.testing import CliRunner
from helpers import nfparse
from helpers.nextflow import (
    CASES,
    MODULE_FILES,
    NF_FILES,
    OVERRIDES,
    REPO,
    SHELL_OPERATORS,
    ChannelOp,
    Task,
    check_command,
    command_argv,
    enhancerlm_context,
    materialize,
    module_id,
    module_options,
    multiqc_context,
    parse_chain,
    process_aliases,
    read_module,
    render_task,
    schema_properties,
    stage,
    variant_params,
)
from helpers.nfparse import NextflowParseError

import enhancerlm
from enhancerlm import cli
from enhancerlm.analysis.scan import genome_chunks
from enhancerlm.commands.prepare import load_regions_sheet, load_samplesheet, prepare_samplesheet
from enhancerlm.errors import InputError
from enhancerlm.formats.genome import genome_sizes
from enhancerlm.pipeline import params as pipeline_params
from enhancerlm.pipeline import runner as pipeline_runner
from enhancerlm.pipeline.reports import write_versions_yaml
from enhancerlm.pipeline.steps import PIPELINE_STEPS, STEPS

VENV_BIN = Path(sys.executable).parent
CONFIG_FILES = [REPO / "nextflow.config", *sorted(REPO.glob("conf/*.config"))]
RESOURCE_LABELS = {"process_single", "process_low", "process_medium", "process_high", "process_gpu"}
MODULE_DIRECTIVES = {"tag", "label", "conda", "container"}

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # rich-click, via MultiQC


def rel(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


VARIANTS = ("test", "all_optional")  # every module command is rendered and parsed under these


CASES["ENHANCERLM_PREPAREREGIONS/blacklist"] = {  # two held-out chromosomes and a blacklist
    **CASES["ENHANCERLM_PREPAREREGIONS"],
    "inputs": {
        **CASES["ENHANCERLM_PREPAREREGIONS"]["inputs"],
        "test_chroms": "chr20_slice,chr22_slice",
        "blacklist": "blacklist.bed",
    },
}


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------


def module_path(name: str) -> Path:
    for path in MODULE_FILES:
        if read_module(path).name == name:
            return path
    raise AssertionError(f"no module defines process {name}")


def staged_command(
    process: nfparse.Process,
    case: dict,
    workdir: Path,
    params: dict,
    monkeypatch,
    meta: dict | None = None,
    alias: str | None = None,
) -> tuple[Task, nfparse.Rendered, list[str]]:
    """Stage a task's inputs in `workdir`, enter it, and render the task's command as Nextflow would."""
    task = stage(process, case, meta=meta, alias=alias)
    materialize(task, workdir)
    monkeypatch.chdir(workdir)
    rendered = render_task(task, params)
    return task, rendered, command_argv(rendered.command)


def option_values(arguments: list[str]) -> dict[str, list[str]]:
    """{--option: [values]} of `--option value` and `--option=value` arguments (every option takes a value)."""
    values: dict[str, list[str]] = {}
    items = iter(arguments)
    for item in items:
        assert item.startswith("--"), f"a value without an option: {item}"
        name, _, value = item.partition("=")
        values.setdefault(name, []).append(value if "=" in item else next(items))
    return values


def device_flag(argv: list[str]) -> str | None:
    return argv[argv.index("--device") + 1] if "--device" in argv else None


def single_directive(process: nfparse.Process, name: str) -> nfparse.Snippet:
    found = process.directive(name)
    assert len(found) == 1, f"{process.name}: expected one {name} directive, found {len(found)}"
    return found[0]


def container_urls(process: nfparse.Process) -> dict[tuple[str, object], str]:
    expression = single_directive(process, "container")
    return {
        (engine, accelerator): nfparse.evaluate(
            expression, {"task": {"accelerator": accelerator}, "workflow": {"containerEngine": engine}}
        )
        for engine in ("docker", "singularity", "apptainer", "podman")
        for accelerator in (None, 1)
    }


@functools.lru_cache(maxsize=None)
def process_shell() -> list[str]:
    return nfparse.config_value(nfparse.read_config(REPO / "nextflow.config")["process"]["shell"])


@functools.lru_cache(maxsize=None)
def task_env() -> dict[str, str]:
    scope = nfparse.read_config(REPO / "nextflow.config").get("env", {})
    return {name: nfparse.groovy_str(nfparse.config_value(value)) for name, value in scope.items()}


def run_script(command: str, workdir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a task script as Nextflow would: the configured process.shell, the env scope, the image's tools."""
    script = workdir / ".command.sh"
    script.write_text(command)
    env = {**os.environ, **task_env(), "PATH": os.pathsep.join([str(REPO / "bin"), str(VENV_BIN), os.environ["PATH"]])}
    done = subprocess.run(
        [*process_shell(), str(script)], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"task script failed ({done.returncode}):\n{command}\n{done.stderr[-3000:]}"
    return done


def check_outputs(task: Task, rendered: nfparse.Rendered, workdir: Path) -> set[str]:
    """Every declared non-optional output matches something; every produced top-level entry is declared."""
    staged_top = {PurePosixPath(name).parts[0] for name in task.files}
    # an index built beside a staged FASTA (samtools-style .fai, bgzip .gzi) is the task's cache, not an output
    indexes = {f"{name}{suffix}" for name in staged_top for suffix in (".fai", ".gzi")}
    produced = {p.name for p in workdir.iterdir() if not p.name.startswith(".") and p.name not in staged_top | indexes}
    covered: set[str] = set()
    for output, patterns in nfparse.output_patterns(task.process, rendered):
        for pattern in patterns:
            matches = [
                m
                for m in workdir.glob(pattern)
                if m.relative_to(workdir).parts[0] not in staged_top
                and not any(part.startswith(".") for part in m.relative_to(workdir).parts)
            ]
            if not output.optional:
                assert matches, (
                    f"{task.process.name}: output {output.emit} ({pattern!r}) matched nothing; "
                    f"produced {sorted(produced)}"
                )
            for match in matches:
                covered.add(match.relative_to(workdir).parts[0])
                if match.is_file() and match.name.endswith(".gz"):
                    with gzip.open(match) as handle:
                        handle.read()
    undeclared = produced - covered
    assert not undeclared, f"{task.process.name}: produced but not declared as outputs: {sorted(undeclared)}"
    return covered


def workflow_text(path: str) -> nfparse.Snippet:
    return nfparse.Snippet((REPO / path).read_text(), REPO / path)


SUBWORKFLOW = "subworkflows/local/train_evaluate/main.nf"
INITIALISATION = "subworkflows/local/utils_enhancerlm_pipeline/main.nf"
GENOME_PREDICT = "subworkflows/local/genome_predict/main.nf"


def channel_chain(channel: str, expected: list[str], path: str = SUBWORKFLOW) -> list[ChannelOp]:
    """The operators of `channel = ...` in a workflow file, checked against the sequence this test emulates."""
    text = workflow_text(path)
    match = re.search(rf"^[ \t]*{channel}\s*=", nfparse.mask(text), re.M)
    assert match, f"{path}: cannot find `{channel} = ...`"
    source, ops = parse_chain(text.sub(match.end()))
    found = [source, *[op.signature for op in ops]]
    assert found == expected, (
        f"{path}: {channel} is now {found}, the test emulates {expected}: update "
        f"nextflow_plan() in tests/test_nextflow.py"
    )
    return ops


def closure_call(op: ChannelOp, item: list, params: dict, scope: dict | None = None):
    """Evaluate a closure operator's body on one channel item (destructured as Nextflow does); the workflows see
    the parameters as `settings` (typed), and `scope` holds the workflow's own variables."""
    assert op.bracket == "{", op
    arrow = nfparse.mask(op.body).find("->")
    assert arrow >= 0, f"{op.body.path}:{op.body.line}: a closure without named parameters (implicit `it`)"
    names = [name.strip() for name in str(op.body)[:arrow].split(",")]
    assert len(names) == len(item), f"{op.body.path}:{op.body.line}: {names} on an item of {len(item)}"
    body = op.body.sub(arrow + 2).stripped()
    return nfparse.evaluate(body, {**(scope or {}), **dict(zip(names, item)), "params": params, "settings": params})


def workflow_def(name: str, scope: dict, path: str = "workflows/enhancerlm.nf"):
    """The value of `def NAME = expression` (one line) in a workflow file, evaluated in `scope`."""
    text = workflow_text(path)
    match = re.search(rf"^[ \t]*def {name}\s*=\s*(.+)$", nfparse.mask(text), re.M)
    assert match, f"{path}: cannot find `def {name} = ...`"
    return nfparse.evaluate(text.sub(match.start(1), match.end(1)).stripped(), scope)


def normalized(snippet) -> str:
    return re.sub(r"\s+", " ", str(snippet)).strip()


@dataclasses.dataclass
class Plan:
    """The tasks TRAIN_EVALUATE makes for ENHANCERLM_TRAIN (dicts of meta, dataset, meta2, base_model),
    ENHANCERLM_ENSEMBLE (meta, members, dataset), ENHANCERLM_EVALUATE (meta, model, dataset) and
    ENHANCERLM_BENCHMARK (meta, evaluations)."""

    train: list[dict]
    ensemble: list[dict]
    evaluate: list[dict]
    benchmark: list[dict]
    final: list[list] = dataclasses.field(default_factory=list)  # [meta, model] of ch_predict_models
    predict: list[dict] = dataclasses.field(default_factory=list)
    merge: list[dict] = dataclasses.field(default_factory=list)
    motifs: list[dict] = dataclasses.field(default_factory=list)
    variants: list[dict] = dataclasses.field(default_factory=list)
    external: list[dict] = dataclasses.field(default_factory=list)  # ENHANCERLM_EVALUATE_EXTERNAL tasks


def prepared_regions_meta(params: dict, meta: dict) -> dict:
    """The meta map of an ENHANCERLM_PREPAREREGIONS task, from the closure the workflow maps ch_regions with."""
    call = re.search(r"ENHANCERLM_PREPAREREGIONS \( (.*?) \)", normalized(workflow_text("workflows/enhancerlm.nf")))
    assert call, "workflows/enhancerlm.nf: the ENHANCERLM_PREPAREREGIONS call"
    closure = "ch_regions.map { meta, bed, test_chroms -> [ meta + [ test_only: false ], bed, test_chroms ] }"
    assert call.group(1) == f"{closure}, ch_genome, ch_blacklist", call.group(1)
    return {**meta, "test_only": False}


def prepared_datasets(params: dict, datasets: dict[str, str], test_only: frozenset, regions: frozenset) -> tuple:
    """ENHANCERLM_PREPARE.out.dataset split by the workflow's filters into the datasets that train models and the
    external test sets (meta.test_only is set when the samplesheet gives the dataset no train row), the region
    datasets of ENHANCERLM_PREPAREREGIONS mixed into the first."""
    workflow = "workflows/enhancerlm.nf"
    text = normalized(workflow_text(workflow))
    assert "[ meta + [ test_only: !splits.contains('train') ], fastas, rows ]" in text, f"{workflow}: test_only"
    assert "TRAIN_EVALUATE ( ch_training_datasets, ch_kmers," in text, f"{workflow}: TRAIN_EVALUATE call"
    prepared = [[{"id": d, "test_only": d in test_only}, name] for d, name in datasets.items() if d not in regions]
    from_regions = [[prepared_regions_meta(params, {"id": d}), name] for d, name in datasets.items() if d in regions]
    ops = channel_chain("ch_training_datasets", ["ENHANCERLM_PREPARE.out.dataset", "filter{", "mix("], path=workflow)
    assert normalized(ops[1].body) == "ENHANCERLM_PREPAREREGIONS.out.dataset"
    training = [item for item in prepared if nfparse.truthy(closure_call(ops[0], item, params))] + from_regions
    (keep,) = channel_chain("ch_external_datasets", ["ENHANCERLM_PREPARE.out.dataset", "filter{"], path=workflow)
    return training, [item for item in prepared if nfparse.truthy(closure_call(keep, item, params))]


def external_plan(params: dict, final: list[list], ch_training: list[list], ch_external: list[list]) -> list[dict]:
    """The ENHANCERLM_EVALUATE_EXTERNAL tasks (meta, model, dataset, training_dataset) of workflows/enhancerlm.nf:
    every final model on every external test set, with the table the model was trained on."""
    workflow = "workflows/enhancerlm.nf"
    ops = channel_chain("ch_external", ["ch_final_models", "map{", "combine(", "combine(", "map{"], path=workflow)
    assert normalized(ops[1].body) == "ch_training_datasets.map { meta, dataset -> [ meta.id, dataset ] }, by: 0"
    assert normalized(ops[2].body) == "ch_external_datasets"
    assert "ENHANCERLM_EVALUATE_EXTERNAL ( ch_external )" in normalized(workflow_text(workflow))
    keyed = [closure_call(ops[0], item, params) for item in final]
    trained = [[meta["id"], dataset] for meta, dataset in ch_training]  # the map inside combine(..., by: 0)
    items = [[key, *rest, table] for key, *rest in keyed for other, table in trained if other == key]
    items = [[*item, *external] for item in items for external in ch_external]  # combine: every pair
    return [
        dict(zip(("meta", "model", "dataset", "training_dataset"), closure_call(ops[3], item, params), strict=True))
        for item in items
    ]


def nextflow_plan(
    params: dict,
    datasets: dict[str, str],
    model_dir=lambda meta: meta["id"],
    test_only: frozenset = frozenset(),
    regions: frozenset = frozenset(),
) -> Plan:
    """Emulate the channels of TRAIN_EVALUATE and of the workflow after it, their closures evaluated from the files.

    `datasets` maps each prepared dataset id to its staged file name, `test_only` names the external test sets
    among them and `regions` those ENHANCERLM_PREPAREREGIONS made; `model_dir(meta)` is the directory a TRAIN task
    with that meta emits.
    """
    ch_training, ch_external = prepared_datasets(params, datasets, test_only, regions)
    ch_dataset = ch_training
    ch_kmers = [int(k) for k in str(params["kmers"]).split(",")]  # workflows/enhancerlm.nf: tokenize(',')*.toInteger()
    ch_base_model = [[{"id": params["model"]}, []]]  # a preset or Hub id (a local directory is staged instead)
    seeds = "ch_seeds = channel.fromList((0..<settings.replicates).collect { replicate -> settings.seed + replicate })"
    assert seeds in normalized(workflow_text("workflows/enhancerlm.nf")), "workflows/enhancerlm.nf: ch_seeds changed"
    ch_seeds = [params["seed"] + replicate for replicate in range(params["replicates"])]

    ops = channel_chain("ch_kmer_models", ["ch_dataset", "combine(", "combine(", "combine(", "map{"])
    assert [normalized(op.body) for op in ops[:3]] == ["ch_kmers", "ch_seeds", "ch_base_model"]
    kmer_models = [
        closure_call(ops[3], [meta, dataset, k, seed, meta2, base_model], params)
        for meta, dataset in ch_dataset
        for k in ch_kmers
        for seed in ch_seeds
        for meta2, base_model in ch_base_model
    ]
    ops = channel_chain("ch_baseline", ["ch_dataset", "combine(", "filter{", "map{"])
    assert normalized(ops[0].body) == "ch_seeds"
    items = [[meta, dataset, seed] for meta, dataset in ch_dataset for seed in ch_seeds]
    baseline = [
        closure_call(ops[2], item, params) for item in items if nfparse.truthy(closure_call(ops[1], item, params))
    ]
    ops = channel_chain("ch_train", ["ch_kmer_models", "mix(", "multiMap{"])
    assert normalized(ops[0].body) == "ch_baseline"
    train = [
        dict(zip(("meta", "dataset", "meta2", "base_model"), item, strict=True)) for item in kmer_models + baseline
    ]

    ops = channel_chain(
        "ch_ensemble",
        ["ENHANCERLM_TRAIN.out.model", "filter{", "map{", "groupTuple(", "filter{", "map{", "combine(", "map{"],
    )
    items = [[task["meta"], model_dir(task["meta"])] for task in train]
    # groupKey(key, n): GroupTupleOp emits the group once it holds n items; the key compares as its target
    assert "def kmer_count = settings.kmers.toString().tokenize(',').size()" in normalized(workflow_text(SUBWORKFLOW))
    assert (
        normalized(ops[1].body)
        == "meta, model -> [ groupKey([ meta.dataset, meta.seed ], kmer_count), meta.kmer, model ]"
    )
    items = [
        [[meta["dataset"], meta["seed"]], meta["kmer"], model]
        for meta, model in items
        if nfparse.truthy(closure_call(ops[0], [meta, model], params))
    ]
    assert not normalized(ops[2].body), "groupTuple with options"
    items = group_tuple(items)
    items = [item for item in items if nfparse.truthy(closure_call(ops[3], item, params))]
    # nfparse evaluates no closures inside a closure: check the text, then do what it does (models by k)
    sort_by_k = (
        "key, kmers, models -> [ key.getGroupTarget()[0], key.getGroupTarget()[1], [ kmers, models ]"
        ".transpose().sort { pair -> pair[0] }.collect { pair -> pair[1] } ]"
    )
    assert normalized(ops[4].body) == sort_by_k, f"{SUBWORKFLOW}: the members are no longer sorted as emulated"
    items = [
        [key[0], key[1], [model for _, model in sorted(zip(kmers, models), key=lambda pair: pair[0])]]
        for key, kmers, models in items
    ]
    assert normalized(ops[5].body).endswith("}, by: 0"), normalized(ops[5].body)
    source, join_ops = parse_chain(ops[5].body)
    assert source == "ch_dataset" and [op.signature for op in join_ops] == ["map{"], normalized(ops[5].body)
    right = [closure_call(join_ops[0], item, params) for item in ch_dataset]
    items = [[key, *rest, *other[1:]] for key, *rest in items for other in right if other[0] == key]  # by: 0
    ensemble = [
        dict(zip(("meta", "members", "dataset"), closure_call(ops[6], item, params), strict=True)) for item in items
    ]

    # every trained model with the dataset of its TRAIN task, and every ensemble with its dataset
    ops = channel_chain("ch_evaluate", ["ENHANCERLM_TRAIN.out.model", "join(", "mix(", "map{"])
    assert normalized(ops[0].body) == "ch_train.dataset"
    no_training_table = ops[2]  # [ meta, model, dataset ] -> [ meta, model, dataset, [] ]
    source, mix_ops = parse_chain(ops[1].body)
    assert source == "ENHANCERLM_ENSEMBLE.out.model" and [op.signature for op in mix_ops] == ["join("]
    source, join_ops = parse_chain(mix_ops[0].body)
    assert source == "ch_ensemble" and [op.signature for op in join_ops] == ["map{"], normalized(mix_ops[0].body)
    items = [[task["meta"], model_dir(task["meta"]), task["dataset"]] for task in train]
    for task in ensemble:
        meta, dataset = closure_call(join_ops[0], [task["meta"], task["members"], task["dataset"]], params)
        assert meta == task["meta"]
        items.append([meta, model_dir(meta), dataset])
    evaluate = [
        dict(zip(("meta", "model", "dataset", "training_dataset"), closure_call(no_training_table, item, params)))
        for item in items
    ]

    # per dataset, every evaluation's files (EVALUATE's metrics, predictions and, when present, cv outputs)
    ops = channel_chain(
        "ch_benchmark", ["ENHANCERLM_EVALUATE.out.metrics", "join(", "join(", "map{", "groupTuple(", "map{"]
    )
    assert [normalized(op.body) for op in ops[:2]] == [
        "ENHANCERLM_EVALUATE.out.predictions",
        "ch_cross_validation, remainder: true",
    ]
    # the cv output is a tuple of two files, made one list before the join (a model without cv gets one null)
    (cv_op,) = channel_chain("ch_cross_validation", ["ENHANCERLM_EVALUATE.out.cv", "map{"])
    assert closure_call(cv_op, [{"id": "m"}, "m.cv.json", "m.cv_predictions.tsv"], params) == [
        {"id": "m"},
        ["m.cv.json", "m.cv_predictions.tsv"],
    ]
    assert not normalized(ops[3].body), "groupTuple with options"
    cross_validation = params["cv"] or params["ensemble"] == "stacking"
    items = []
    for task in evaluate:
        prefix = task["meta"]["id"]
        cv = [f"{prefix}.cv.json", f"{prefix}.cv_predictions.tsv"] if cross_validation else None
        items.append(
            closure_call(ops[2], [task["meta"], f"{prefix}.metrics.json", f"{prefix}.predictions.tsv", cv], params)
        )
    # `files.flatten()`: the grouped lists of files, flattened and sorted by name (the same inputs under -resume)
    assert normalized(ops[4].body) == (
        "dataset_id, files -> [ [ id: dataset_id ], files.flatten().sort { file -> file.name } ]"
    )
    benchmark = [
        {"meta": {"id": key}, "evaluations": sorted(f for files in groups for f in files)}
        for key, groups in group_tuple(items)
    ]
    plan = Plan(train, ensemble, evaluate, benchmark)
    plan.final = final_models(params, plan, model_dir)
    plan.external = external_plan(params, plan.final, ch_training, ch_external)
    plan.predict, plan.merge = genome_predict_plan(params, plan.final)
    plan.motifs, plan.variants = motifs_variants_plan(params, plan.final, ch_dataset)
    return plan


def workflow_scope(params: dict) -> dict:
    """The workflow's own variables that its closures and `if`s read: kmers, ensembled, scan, score."""
    scope = {"settings": params}
    scope["kmers"] = workflow_def("kmers", scope)
    for name in ("ensembled", "scan", "score"):
        scope[name] = nfparse.truthy(workflow_def(name, scope))
    return scope


def final_models(params: dict, plan: Plan, model_dir) -> list[list]:
    """ch_final_models of workflows/enhancerlm.nf: the first seed's ensembles, else its k-mer models."""
    workflow = "workflows/enhancerlm.nf"
    ops = channel_chain("ch_final_models", ["TRAIN_EVALUATE.out.ensemble", "mix(", "filter{"], path=workflow)
    source, mix_ops = parse_chain(ops[0].body)
    assert source == "TRAIN_EVALUATE.out.model" and [op.signature for op in mix_ops] == ["filter{"]
    scope = workflow_scope(params)
    ensembles = [[task["meta"], model_dir(task["meta"])] for task in plan.ensemble]
    models = [[task["meta"], model_dir(task["meta"])] for task in plan.train]
    items = ensembles + [item for item in models if nfparse.truthy(closure_call(mix_ops[0], item, params, scope))]
    return [item for item in items if nfparse.truthy(closure_call(ops[1], item, params, scope))]


def genome_predict_plan(params: dict, items: list[list]) -> tuple[list[dict], list[dict]]:
    """The ENHANCERLM_PREDICT tasks (meta, model, chunk) and ENHANCERLM_MERGEPREDICTIONS tasks (meta, scans) of
    workflows/enhancerlm.nf and GENOME_PREDICT."""
    workflow = "workflows/enhancerlm.nf"
    text = normalized(workflow_text(workflow))
    assert "if (scan) { GENOME_PREDICT ( ch_final_models, ch_genome," in text, f"{workflow}: GENOME_PREDICT call"
    if not workflow_scope(params)["scan"]:
        return [], []
    # ENHANCERLM_CHUNKS's BED, one chunk per line (its 4th column), as `enhancerlm chunks` writes it
    chunks = genome_chunks(genome_sizes(params["genome"]), params["predict_chunk_size"])
    assert (
        "ch_chunks = ENHANCERLM_CHUNKS.out.bed .flatMap { _meta, bed -> bed.readLines() } .map { line -> "
        "line.tokenize('\\t')[3] }" in normalized(workflow_text(GENOME_PREDICT))
    ), f"{GENOME_PREDICT}: ch_chunks"
    ops = channel_chain("ch_scans", ["ch_models", "combine("], path=GENOME_PREDICT)
    assert normalized(ops[0].body) == "ch_chunks"
    predict = [{"meta": meta, "model": model, "chunk": chunk} for meta, model in items for chunk in chunks["name"]]
    ops = channel_chain(
        "ch_merge", ["ENHANCERLM_PREDICT.out.scan", "combine(", "map{", "groupTuple(", "map{"], path=GENOME_PREDICT
    )
    # each model's scans grouped under a groupKey of the chunk count (GroupTupleOp emits a group once it holds that
    # many items), then the key unwrapped to the model's meta
    assert "ch_chunk_count = ch_chunks.count()" in normalized(workflow_text(GENOME_PREDICT))
    assert [normalized(op.body) for op in ops] == [
        "ch_chunk_count",
        "meta, scan, count -> [ groupKey(meta, count), scan ]",
        "",
        "key, scans -> [ key.getGroupTarget(), scans.sort { scan -> scan.name } ]",
    ]
    assert "ENHANCERLM_MERGEPREDICTIONS ( ch_merge, ch_fai )" in normalized(workflow_text(GENOME_PREDICT))
    assert "CHUNK_SUMMARY ( ch_merge )" in normalized(workflow_text(GENOME_PREDICT))
    # the scans sorted by file name, <model>.<chunk, each character but [A-Za-z0-9._] as '_'>, so -resume sees the
    # same inputs
    by_scan_name = sorted(chunks["name"], key=chunk_file_name)
    return predict, [{"meta": meta, "chunks": by_scan_name} for meta, _ in items]


def chunk_file_name(chunk: str) -> str:
    """A chunk's name in its scan folder's name, as ENHANCERLM_PREDICT's prefix writes it (22:0-100 -> 22_0_100)."""
    return re.sub(r"[^A-Za-z0-9._]", "_", chunk)


def motifs_variants_plan(params: dict, items: list[list], ch_dataset: list[list]) -> tuple[list[dict], list[dict]]:
    """The ENHANCERLM_MOTIFS tasks (meta, model, dataset) and ENHANCERLM_VARIANTS tasks (meta, model) of
    workflows/enhancerlm.nf."""
    workflow = "workflows/enhancerlm.nf"
    text = normalized(workflow_text(workflow))
    assert "if (!settings.skip_motifs) {" in text and "if (score) { def vcf =" in text, f"{workflow}: motifs, variants"
    ops = channel_chain("ch_motifs", ["ch_final_models", "map{", "combine(", "map{"], path=workflow)
    # ENHANCERLM_PREPARE.out.dataset keyed by dataset id, combined on the model's dataset
    assert normalized(ops[1].body) == "ch_training_datasets.map { meta, dataset -> [ meta.id, dataset ] }, by: 0", (
        normalized(ops[1].body)
    )
    keyed = [closure_call(ops[0], item, params) for item in items] if not params["skip_motifs"] else []
    combined = [[key, *rest, dataset] for key, *rest in keyed for meta, dataset in ch_dataset if meta["id"] == key]
    motifs = [
        dict(zip(("meta", "model", "dataset"), closure_call(ops[2], item, params), strict=True)) for item in combined
    ]
    assert "ENHANCERLM_VARIANTS ( ch_final_models, ch_genome," in text, f"{workflow}: ENHANCERLM_VARIANTS call"
    variants = [{"meta": meta, "model": model} for meta, model in items] if workflow_scope(params)["score"] else []
    return motifs, variants


def group_tuple(items: list[list]) -> list[list]:
    """Nextflow's groupTuple on the first element (lists as keys compare by value), in first-seen order."""
    groups: dict = {}
    keys: dict = {}
    for key, *rest in items:
        hashable = json.dumps(key, sort_keys=True)
        keys.setdefault(hashable, key)
        for column, value in zip(groups.setdefault(hashable, [[] for _ in rest]), rest, strict=True):
            column.append(value)
    return [[keys[hashable], *columns] for hashable, columns in groups.items()]


def train_meta(dataset_id: str, kmer: int | None) -> dict:
    """The meta map TRAIN_EVALUATE gives the (dataset, k) task, or with `kmer` None the baseline task."""
    plan = nextflow_plan(
        {**variant_params("test"), "kmers": str(kmer or 3), "baseline": kmer is None},
        {dataset_id: f"{dataset_id}.dataset.tsv"},
    )
    (meta,) = [task["meta"] for task in plan.train if task["meta"]["kmer"] == kmer]
    return meta


def publish_path(name: str, params: dict, config: Path = REPO / "conf" / "modules.config") -> Path:
    """Where conf/modules.config publishes a process's outputs."""
    scope = nfparse.read_config(config)["process"]
    # the alias's selector replaces the declared name's publishDir (a repeatable directive: putWithRepeat)
    names = [name, process_aliases().get(name, name)]
    chosen = [scope.get(f"withName:{n}", {}).get("publishDir") for n in names]
    entries = nfparse.map_entries(next((c for c in chosen if c), None) or scope["publishDir"])
    return Path(nfparse.config_value(entries["path"], {"params": params, "task": {"process": name}}))


def params_refs(*, uses_only: bool, files=None) -> dict[str, list[str]]:
    """Where each parameter is read: `params.NAME` anywhere, `settings.NAME` (the typed map) in the workflows."""
    refs: dict[str, list[str]] = {}
    for path in files or [*NF_FILES, *CONFIG_FILES]:
        receivers = ["params", "settings"] if path.suffix == ".nf" else ["params"]
        for receiver in receivers:
            for name, line in nfparse.find_params_refs(path, uses_only=uses_only, receiver=receiver):
                refs.setdefault(name, []).append(f"{rel(path)}:{line}")
    return refs


# Parameters nf-core's institutional configs read (nf-core/configs), not the pipeline
INSTITUTIONAL = {"config_profile_contact", "config_profile_url", "custom_config_version"}


# ----------------------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NF_FILES, ids=rel)
def test_nf_file_parses_with_reftrace(path):
    module = reftrace.Module.from_file(str(path))
    assert not isinstance(module, reftrace.ParseError), module.error


@pytest.mark.parametrize(
    "text",
    [
        'process FOO {\n    script:\n    """\n    echo hi\n    """\n',  # unclosed process
        "workflow {\n    FOO( ch_x\n}\n",  # unclosed call
        'process FOO {\n    label \'x\'\n    script:\n    """\n    echo\n    """\n}\n}\n',  # extra brace
    ],
)
def test_reftrace_rejects_broken_nf(tmp_path, text):
    good = tmp_path / "good.nf"
    good.write_text('process FOO {\n    label \'x\'\n    script:\n    """\n    echo\n    """\n}\n')
    assert not isinstance(reftrace.Module.from_file(str(good)), reftrace.ParseError)
    broken = tmp_path / "broken.nf"
    broken.write_text(text)
    assert isinstance(reftrace.Module.from_file(str(broken)), reftrace.ParseError)


@pytest.mark.parametrize("path", NF_FILES, ids=rel)
def test_nfparse_agrees_with_reftrace(path):
    module = reftrace.Module.from_file(str(path))
    assert not isinstance(module, reftrace.ParseError), module.error
    assert nfparse.process_names(path) == [p.name for p in module.processes]
    assert [w or "" for w in nfparse.workflow_names(path)] == [w.name for w in module.workflows]
    ours = {alias: original for alias, (original, _) in nfparse.includes(path).items()}
    theirs = {item.alias or item.name: item.name for include in module.includes for item in include.items}
    assert ours == theirs
    for process in module.processes:
        parsed = read_module(path)
        ours = [re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() for name in parsed.directive_names()]
        assert ours == [d.WhichOneof("directive") for d in process._proto.directives]
        assert [nfparse.evaluate(text) for text in parsed.directive("label")] == [lbl.value for lbl in process.labels]


# nf-core/tools 4.x pipelines lint (nextflow_config.py): the institutional-profiles include, exactly
NFCORE_CONFIGS_INCLUDE = re.compile(
    r"params\.custom_config_base && \(!System\.getenv\('NXF_OFFLINE'\) \|\| !params\.custom_config_base\."
    r"startsWith\('http'\)\) \? \"\$\{params\.custom_config_base\}/nfcore_custom\.config\" : \"/dev/null\""
)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=rel)
def test_config_file_parses(path):
    config = nfparse.read_config(path)
    for include in config.includes + [i for scope in config.get("profiles", {}).values() for i in scope.includes]:
        if NFCORE_CONFIGS_INCLUDE.fullmatch(str(include).strip()):
            continue  # nf-core/configs, fetched by Nextflow at run time (or /dev/null offline)
        target = REPO / nfparse.config_value(include)
        assert target.is_file(), f"{rel(path)}: includeConfig {target} does not exist"
    result = reftrace.ConfigFile.from_file(str(path))
    assert result.error is None, result.error


BROKEN_MODULES = {
    "unterminated command": ('process FOO {\n    script:\n    """\n    echo hi\n}\n', 3),
    "unknown section": ("process FOO {\n    inputs:\n    val x\n    script:\n    'echo'\n}\n", 2),
    "statement before command": ("process FOO {\n    script:\n    if (x) { y = 1 }\n    'echo'\n}\n", 3),
    "unknown output option": ("process FOO {\n    output:\n    path 'x', emitt: x\n    script:\n    'echo'\n}\n", 3),
    "text after command": ("process FOO {\n    script:\n    'echo' + x\n}\n", 3),
    "bad element": ("process FOO {\n    input:\n    tuple val(meta), foo(x)\n    script:\n    'echo'\n}\n", 3),
}


@pytest.mark.parametrize("name", BROKEN_MODULES)
def test_nfparse_fails_loudly_on_modules(tmp_path, name):
    text, line = BROKEN_MODULES[name]
    path = tmp_path / "main.nf"
    path.write_text(text)
    with pytest.raises(NextflowParseError) as error:
        nfparse.read_process(path)
    assert f"{path}:{line}:" in str(error.value)


@pytest.mark.parametrize(
    "command, message",
    [
        ('"""\n    echo $(date)\n    """', "illegal string body character after dollar sign"),
        ('"""\n    echo ${unknown}\n    """', "no such variable: unknown"),
        ('"""\n    echo ${meta.id.tokenize(1)}\n    """', "tokenize() needs"),
        ('"""\n    echo ${meta.id.replaceFirst("a", "b")}\n    """', "unsupported method replaceFirst()"),
        ('"""\n    echo \\d\n    """', "unsupported escape sequence"),
        ('"""\n    echo ${meta.missing.id}\n    """', "cannot get property 'id' on null object"),
        ('"""\n    echo ${meta.id < 3}\n    """', "cannot compare 'a' < 3"),
    ],
)
def test_nfparse_fails_loudly_on_rendering(tmp_path, command, message):
    path = tmp_path / "main.nf"
    path.write_text(f"process FOO {{\n    input:\n    val(meta)\n\n    script:\n    {command}\n}}\n")
    process = nfparse.read_process(path)
    with pytest.raises(NextflowParseError, match=re.escape(message)) as error:
        nfparse.render(process, inputs={}, meta={"id": "a"})
    assert f"{path}:7:" in str(error.value)  # the line of the offending text, not of the process


@pytest.mark.parametrize(
    "expression, scope, expected",
    [
        ("'a$b\\'c'", {}, "a$b'c"),
        ('"x${ a ? "y${b}" : \'z\' }w"', {"a": 1, "b": "B"}, "xyBw"),
        ('"$meta.id-$meta.kmer"', {"meta": {"id": "d", "kmer": 3}}, "d-3"),
        ("[ 'a', '', null ? 'b' : 'c', ].join(' ').trim()", {}, "a  c"),
        ("x ?: 'default'", {"x": ""}, "default"),
        ("x ?: 'default'", {"x": 0}, "default"),
        ("x ?: 'default'", {"x": []}, "default"),
        ("x ?: 'default'", {"x": "set"}, "set"),
        ("e in ['singularity', 'apptainer'] ? 'sif' : 'docker'", {"e": "apptainer"}, "sif"),
        ("!a && (b || c) && a != b", {"a": False, "b": None, "c": 1}, True),
        ("'A:B:C_D'.tokenize(':')[-1].tokenize('_')[-1].toLowerCase()", {}, "d"),
        ("'3,6'.tokenize(',')", {}, ["3", "6"]),
        ("[ id: 'x', kmer: 3 ]", {}, {"id": "x", "kmer": 3}),
        ("t.ext.args ?: ''", {"t": {"ext": {}}}, ""),
        ("x ? x : y.id", {"x": nfparse.PathList(), "y": {"id": "preset"}}, "preset"),
        ('"${x}"', {"x": nfparse.PathList(["a.fa", "b.fa"])}, "a.fa b.fa"),
        ('"${x} ${y} ${z}"', {"x": None, "y": True, "z": 0.1}, "null true 0.1"),
        ("a ? b.missing.deep : 'safe'", {"a": False, "b": {}}, "safe"),  # the branch not taken is not evaluated
        ("a || b == 'stacking' ? '--cv' : ''", {"a": False, "b": "mean"}, ""),  # ?: binds looser than || and ==
        ("a || b == 'stacking' ? '--cv' : ''", {"a": False, "b": "stacking"}, "--cv"),
        ("a && b || c", {"a": False, "b": 1, "c": 1}, True),
        ("meta + [ id: 'y', kmer: 3 ]", {"meta": {"id": "x", "dataset": "d"}}, {"id": "y", "dataset": "d", "kmer": 3}),
        ("xs.size() >= 2 && 1 < 2 && !(3 <= 2) && 3 > 2", {"xs": [1, 2]}, True),
    ],
)
def test_nfparse_evaluates_groovy(expression, scope, expected):
    assert nfparse.evaluate(expression, scope) == expected


def test_nfparse_renders_triple_quoted_commands_as_groovy(tmp_path):
    path = tmp_path / "main.nf"
    path.write_text(
        'process FOO {\n    tag "$meta.id"\n    input:\n    tuple val(meta), path(reads, stageAs: "in/*")\n'
        "    output:\n    path(\"${prefix}.txt\"), emit: txt\n    script:\n    def args = task.ext.args ?: ''\n"
        '    prefix = task.ext.prefix ?: "${meta.id}"\n    """\n    printf \'a\\\\tb\\\\n\' \\\\\n'
        '        \\$HOME ${args} ${reads} > ${prefix}.txt\n    """\n}\n'
    )
    process = nfparse.read_process(path)
    assert process.inputs == [[("val", "meta"), ("path", "reads", {"stageAs": "in/*"})]]
    reads = nfparse.stage_name(process.inputs[0][1], ["x.fq", "y.fq"])
    rendered = nfparse.render_section(process, inputs={"reads": reads}, meta={"id": "s1"}, ext_args="--fast")
    assert rendered.command == "printf 'a\\tb\\n' \\\n    $HOME --fast in/x.fq in/y.fq > s1.txt\n"
    assert [patterns for _, patterns in nfparse.output_patterns(process, rendered)] == [["s1.txt"]]
    with pytest.raises(NextflowParseError, match="no such variable: args"):  # `def` is not visible to outputs
        process.outputs[0].elements[0] = ("path", nfparse.Snippet('"${args}"', path, 6))
        nfparse.output_patterns(process, rendered)


# ----------------------------------------------------------------------------------------------------------
# Modules: files, directives, containers
# ----------------------------------------------------------------------------------------------------------


def test_every_module_has_a_test_case():
    names = {read_module(path).name for path in MODULE_FILES}
    assert names == {name.split("/")[0] for name in CASES}
    assert set(module_options()) <= names | set(process_aliases()), (
        "conf/modules.config configures a process that does not exist"
    )
    assert set(process_aliases().values()) <= names


@pytest.mark.parametrize("path", MODULE_FILES, ids=module_id)
def test_module_has_meta_environment_and_nf_test(path):
    folder = path.parent
    process = read_module(path)
    missing = [name for name in ("meta.yml", "environment.yml", "tests/main.nf.test") if not (folder / name).is_file()]
    assert not missing, f"{rel(folder)}: missing {missing}"
    meta = yaml.safe_load((folder / "meta.yml").read_text())
    assert isinstance(meta, dict) and meta.get("name", "").lower() == process.name.lower(), "meta.yml name"
    keys = set()

    def walk(node):
        if isinstance(node, dict):
            keys.update(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(meta)
    undocumented = [o.emit for o in process.outputs if o.emit not in keys and o.topic is None]
    undocumented += [name for name in process.input_names() if name not in keys]
    assert not undocumented, f"{rel(folder)}/meta.yml does not document {undocumented}"
    nf_test = folder / "tests" / "main.nf.test"
    text = nf_test.read_text()
    assert re.search(rf'process\s+"{process.name}"', text), f'{rel(nf_test)}: process "{process.name}"'
    assert re.search(r'script\s+"\.\./main\.nf"', text), f'{rel(nf_test)}: script "../main.nf"'
    tests = [body for _, body in nfparse.find_blocks(nf_test, r"\btest\s*\(\s*\"[^\"]*\"\s*\)")]
    stubs = [body for body in tests if re.search(r'options\s+"-stub"', body)]
    assert stubs and len(tests) > len(stubs), f'{rel(nf_test)}: needs a real test and one with options "-stub"'


@pytest.mark.parametrize("path", MODULE_FILES, ids=module_id)
def test_module_directives(path):
    process = read_module(path)
    module = reftrace.Module.from_file(str(path))
    (theirs,) = module.processes
    names = set(process.directive_names()) | {d.WhichOneof("directive") for d in theirs._proto.directives}
    assert names <= MODULE_DIRECTIVES, f"{process.name}: directives {names - MODULE_DIRECTIVES} belong in configs"
    labels = [nfparse.evaluate(text) for text in process.directive("label")]
    resource = [label for label in labels if label in RESOURCE_LABELS - {"process_gpu"}]
    assert len(resource) == 1, f"{process.name}: needs exactly one resource label (process_gpu beside it), has {labels}"
    base = nfparse.read_config(REPO / "conf" / "base.config")["process"]
    undefined = [label for label in labels if f"withLabel:{label}" not in base]
    assert not undefined, f"{process.name}: labels {undefined} are not defined in conf/base.config"
    conda = single_directive(process, "conda")
    assert nfparse.evaluate(conda, {"moduleDir": "MODULE", "task": {"accelerator": None}}) == "MODULE/environment.yml"
    if "meta" in process.input_names():
        tag = single_directive(process, "tag")
        assert nfparse.evaluate(tag, {"meta": {"id": "sample_1"}}) == "sample_1"
        assert [t.tag for t in theirs.tags] == ["${meta.id}"]
    else:
        assert not process.directive("tag") or "meta" not in process.directive("tag")[0]
    assert not nfparse.find_params_refs(path), f"{process.name}: modules take options from task.ext, not params"


def test_every_resource_label_is_defined_and_train_is_a_gpu_task():
    base = nfparse.read_config(REPO / "conf" / "base.config")["process"]
    assert {f"withLabel:{label}" for label in RESOURCE_LABELS} <= set(base)
    train = read_module(module_path("ENHANCERLM_TRAIN"))
    assert "process_gpu" in [nfparse.evaluate(t) for t in train.directive("label")]


def test_gpu_is_requested_only_on_demand_and_only_for_gpu_tasks():
    """As the nf-core template (conf/base.config, the `gpu` profile): process_gpu tasks get an accelerator only
    under the `gpu` profile, which also makes each engine expose the GPUs; nothing sets containerOptions, so an
    institution's own stay in force."""
    base = nfparse.read_config(REPO / "conf" / "base.config")["process"]
    gpu = base["withLabel:process_gpu"]
    for profile, wanted in (
        ("test,docker", None),
        ("docker,gpu", 1),
        ("test,singularity,gpu", 1),
        ("gpu_a100", 1),
        ("standard", None),
    ):
        scope = {"workflow": {"profile": profile}}
        assert nfparse.config_value(gpu["accelerator"], scope) == wanted, profile
        assert nfparse.config_value(gpu["ext"]["use_gpu"], scope) is bool(wanted), profile
    for key, scope in [("process", base), *base.items()]:
        if isinstance(scope, nfparse.ConfigScope):
            assert "containerOptions" not in scope, f"conf/base.config {key} sets containerOptions"
            assert key == "withLabel:process_gpu" or "accelerator" not in scope, f"conf/base.config {key}: accelerator"
    gpu_profile = nfparse.read_config(REPO / "nextflow.config")["profiles"]["gpu"]
    options = {
        engine: nfparse.config_value(gpu_profile[engine]["runOptions"])
        for engine in ("docker", "singularity", "apptainer")
    }
    assert options["docker"].split()[-2:] == ["--gpus", "all"] and "-u $(id -u):$(id -g)" in options["docker"]
    assert options["singularity"] == options["apptainer"] == "--nv"


def version_problems(nextflow_config: Path, module_files: list[Path]) -> list[str]:
    """The package version names manifest.version and every image; each engine gets the image Docker would (Nextflow
    pulls it as docker://... for Singularity and Apptainer, ContainerHandler.normalizeSingularityImageName), and the
    CUDA image only with an accelerator."""
    version = enhancerlm.__version__
    problems = []
    manifest = nfparse.config_value(nfparse.read_config(nextflow_config)["manifest"]["version"])
    if manifest != version:
        problems.append(f"manifest.version {manifest} != enhancerlm {version}")
    url = re.compile(r"ghcr\.io/enhancerlm/enhancerlm:(?P<version>\d[^-\s]*)(?P<cuda>-cuda[\d.]+)?")
    for path in module_files:
        process = nfparse.read_process(path)
        urls = container_urls(process)
        for (engine, accelerator), image in urls.items():
            match = url.fullmatch(image)
            if not match:
                problems.append(f"{process.name}: unexpected image {image}")
                continue
            if match["version"] != version:
                problems.append(f"{process.name}: image {image} is not tagged {version}")
            if image != urls[("docker", accelerator)]:
                problems.append(f"{process.name}: {engine} gets {image}, Docker {urls[('docker', accelerator)]}")
            if match["cuda"] and not accelerator:
                problems.append(f"{process.name}: CUDA image {image} without an accelerator")
    return problems


def test_versions_agree_package_manifest_containers():
    assert version_problems(REPO / "nextflow.config", MODULE_FILES) == []
    cuda_tags = {
        re.search(r"-cuda[\d.]+", image).group()
        for path in MODULE_FILES
        for image in container_urls(read_module(path)).values()
        if "-cuda" in image
    }
    assert len(cuda_tags) == 1, f"modules use different CUDA images: {cuda_tags}"


def test_gpu_modules_pick_their_conda_environment_with_the_accelerator():
    for path in MODULE_FILES:
        process = read_module(path)
        conda = single_directive(process, "conda")
        chosen = {
            accelerator: nfparse.evaluate(conda, {"moduleDir": "M", "task": {"accelerator": accelerator}})
            for accelerator in (None, 1)
        }
        gpu = "process_gpu" in [nfparse.evaluate(t) for t in process.directive("label")]
        assert chosen == {None: "M/environment.yml", 1: "M/environment.gpu.yml" if gpu else "M/environment.yml"}
        assert (path.parent / "environment.gpu.yml").is_file() is gpu, process.name


def device_problems(process: nfparse.Process, case: dict, params: dict) -> list[str]:
    """A module with a CUDA image picks it, and `--device cuda`, exactly when the task has an accelerator."""
    task = stage(process, case)
    urls = container_urls(process)
    has_cuda = any("-cuda" in image for image in urls.values())
    problems = []
    for accelerator in (None, 1):
        argv = command_argv(render_task(task, params, accelerator=accelerator).command)
        want = "cuda" if (has_cuda and accelerator) else "cpu"
        if has_cuda and device_flag(argv) != want:
            problems.append(f"{process.name}: accelerator={accelerator} gives --device {device_flag(argv)}, not {want}")
        if not has_cuda and device_flag(argv) not in (None, "cpu"):
            problems.append(f"{process.name}: no CUDA image but --device {device_flag(argv)}")
        image_cuda = {"-cuda" in urls[(engine, accelerator)] for engine in ("docker", "singularity")}
        if image_cuda != {bool(has_cuda and accelerator)}:
            problems.append(f"{process.name}: accelerator={accelerator} picks the wrong image")
    return problems


@pytest.mark.parametrize("path", MODULE_FILES, ids=module_id)
def test_gpu_modules_switch_image_and_device_together(path):
    process = read_module(path)
    assert device_problems(process, CASES[process.name], variant_params("test")) == []
    labels = [nfparse.evaluate(t) for t in process.directive("label")]
    if "process_gpu" in labels:
        assert any("-cuda" in image for image in container_urls(process).values()), f"{process.name}: no CUDA image"


def test_device_check_can_fail(tmp_path):
    source = module_path("ENHANCERLM_TRAIN")
    broken = tmp_path / "main.nf"
    broken.write_text(
        source.read_text().replace("def device = task.accelerator ? 'cuda' : 'cpu'", "def device = 'cpu'")
    )
    assert device_problems(nfparse.read_process(broken), CASES["ENHANCERLM_TRAIN"], variant_params("test"))


# ----------------------------------------------------------------------------------------------------------
# The command line each task runs
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_module_command_matches_the_cli(case, variant, tmp_path, monkeypatch):
    process = read_module(module_path(case.split("/")[0]))
    task = stage(process, CASES[case])
    materialize(task, tmp_path)
    monkeypatch.chdir(tmp_path)
    params = {**variant_params(variant), **CASES[case].get("params", {})}
    for accelerator in (None, 1):
        ctx = check_command(task, render_task(task, params, accelerator=accelerator).command)
        if process.name == "MULTIQC":
            assert ctx.params["title"] == params.get("multiqc_title")
            assert "multiqc_config.yml" in [Path(p).name for p in ctx.params["config_files"]]
    assert nfparse.render(
        task.process, "stub", inputs=task.inputs, meta=task.meta, ext_args="--x", ext_prefix=None
    ).strip()


def test_command_check_can_fail(tmp_path, monkeypatch):
    config = tmp_path / "modules.config"
    config.write_text((REPO / "conf" / "modules.config").read_text().replace('"--batch-size ', '"--batchsize '))
    process = read_module(module_path("ENHANCERLM_TRAIN"))
    task = stage(process, CASES["ENHANCERLM_TRAIN"])
    materialize(task, tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match="No such option"):
        check_command(task, render_task(task, variant_params("test"), modules_config=config).command)
    (tmp_path / "other.tsv").touch()
    command = render_task(task, variant_params("test")).command.replace("mini_layer1.dataset.tsv", "other.tsv")
    with pytest.raises(AssertionError, match="not on the command line"):
        check_command(task, command)


# ----------------------------------------------------------------------------------------------------------
# Running the tasks: outputs, stubs, versions
# ----------------------------------------------------------------------------------------------------------


def mini_samplesheet_task(workdir: Path, dataset: str = "mini_layer1") -> tuple[Task, dict[str, Path]]:
    """A prepare task of the test profile, staged as workflows/enhancerlm.nf builds it."""
    process = read_module(module_path("ENHANCERLM_PREPARE"))
    text = workflow_text("workflows/enhancerlm.nf")
    row = re.search(r'"[^"\n]*\$\{fasta\.name\}[^"\n]*"', text)
    header = re.search(r"\[\s*('[^'\n]*')\s*\]\s*\+\s*rows", text)
    sheet_name = re.search(r'"\$\{meta\.id\}[^"\n]*\.csv"', text)
    assert row and header and sheet_name, "workflows/enhancerlm.nf: cannot find how the prepare samplesheet is built"
    source = Path(variant_params("test")["input"])
    lines = source.read_text().splitlines()
    assert lines[0] == "dataset,fasta,label,split"
    rows, fastas, dataset_id = [], {}, None
    for line in lines[1:]:
        dataset_id, fasta, label, split = line.split(",")
        if dataset_id != dataset:
            continue
        path = (source.parent / fasta).resolve()
        fastas[path.name] = path
        scope = {"meta": {"id": dataset_id}, "fasta": nfparse.NfPath(str(path)), "label": label, "split": split}
        rows.append(nfparse.evaluate(text.sub(row.start(), row.end()), scope))
    meta = {"id": dataset}
    name = nfparse.evaluate(text.sub(sheet_name.start(), sheet_name.end()), {"meta": meta})
    sheet = workdir.parent / f"{workdir.name}_sheet" / name
    sheet.parent.mkdir()
    sheet.write_text("\n".join([nfparse.evaluate(text.sub(header.start(1), header.end(1))), *rows]) + "\n")
    case = {"meta": meta, "inputs": {"samplesheet": name, "fastas": sorted(fastas)}, "dirs": set()}
    return stage(process, case), {name: sheet, **fastas}


def test_prepare_regions_task_outputs(tmp_path):
    """ENHANCERLM_PREPAREREGIONS run as Nextflow stages it (the genome with its two indexes beside it): the 40
    regions of the held-out chr20_slice and their negatives as the test split, and
    the staged indexes read, not rebuilt."""
    params = variant_params("regions")
    demo = REPO / "assets" / "data" / "regions-demo"
    case = {**CASES["ENHANCERLM_PREPAREREGIONS/blacklist"]}
    case["inputs"] = {**case["inputs"], "test_chroms": "chr20_slice", "blacklist": "regions_blacklist.bed"}
    task = stage(read_module(module_path("ENHANCERLM_PREPAREREGIONS")), case)
    workdir = tmp_path / "work"
    workdir.mkdir()
    sources = {name: demo / name for name in ("cpg_dense.bed", "regions_demo.fa.gz")}
    sources |= {f"regions_demo.fa.gz.{ext}": demo / f"regions_demo.fa.gz.{ext}" for ext in ("fai", "gzi")}
    sources["regions_blacklist.bed"] = REPO / "tests" / "data" / "regions_blacklist.bed"
    materialize(task, workdir, sources)
    rendered = render_task(task, params)
    run_script(rendered.command, workdir)
    check_outputs(task, rendered, workdir)
    assert all((workdir / name).is_symlink() for name in sources)  # nothing re-indexed beside the genome
    report = json.loads((workdir / "cpg_dense.prepare.json").read_text())
    assert report["counts"]["test"] == {"enhancer": 40, "non-enhancer": 80}  # --negatives_per_positive 2
    table = pd.read_csv(workdir / "cpg_dense.dataset.tsv", sep="\t", keep_default_na=False)
    assert table.loc[table["split"] == "test", "id"].str.startswith("chr20_slice_").all()
    assert not table.loc[table["split"] == "train", "id"].str.startswith("chr20_slice_").any()


@pytest.mark.parametrize("dataset", ["mini_layer1", "ienhancer2l_independent"])  # training, external test set
def test_prepare_task_outputs(tmp_path, runner_records, dataset):
    workdir = tmp_path / "work"
    workdir.mkdir()
    task, sources = mini_samplesheet_task(workdir, dataset)
    materialize(task, workdir, sources)
    params = variant_params("test")
    rendered = render_task(task, params)
    run_script(rendered.command, workdir)
    check_outputs(task, rendered, workdir)
    # The staged task prepares exactly what the runner prepares from the original samplesheet.
    runner = {"dataset": runner_records("test").datasets[task.meta["id"]]}
    (dataset,) = [
        patterns for output, patterns in nfparse.output_patterns(task.process, rendered) if output.emit == "dataset"
    ]
    assert (workdir / dataset[0]).read_bytes() == Path(runner["dataset"]).read_bytes()


def test_train_task_outputs(tmp_path, mini_dataset):
    process = read_module(module_path("ENHANCERLM_TRAIN"))
    meta = train_meta("mini_layer1", 3)
    case = {
        **CASES["ENHANCERLM_TRAIN"],
        "inputs": {**CASES["ENHANCERLM_TRAIN"]["inputs"], "dataset": Path(mini_dataset).name},
    }
    task = stage(process, case, meta=meta)
    materialize(task, tmp_path, {Path(mini_dataset).name: Path(mini_dataset)})
    params = {**variant_params("test"), "epochs": 1}
    rendered = render_task(task, params)
    run_script(rendered.command, tmp_path)
    check_outputs(task, rendered, tmp_path)
    card = json.loads((tmp_path / meta["id"] / "enhancerlm.json").read_text())
    assert card["model_id"] == meta["id"]


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory, mini_dataset):
    """The baseline task of TRAIN_EVALUATE run: `--model kmer-baseline`, no --kmer."""
    workdir = tmp_path_factory.mktemp("baseline_task")
    process = read_module(module_path("ENHANCERLM_TRAIN"))
    case = {
        **CASES["ENHANCERLM_TRAIN/baseline"],
        "inputs": {**CASES["ENHANCERLM_TRAIN/baseline"]["inputs"], "dataset": Path(mini_dataset).name},
    }
    task = stage(process, case, meta=train_meta("mini_layer1", None))
    materialize(task, workdir, {Path(mini_dataset).name: Path(mini_dataset)})
    rendered = render_task(task, variant_params("test"))
    assert "--kmer" not in command_argv(rendered.command)
    run_script(rendered.command, workdir)
    return task, rendered, workdir


def test_baseline_train_task_outputs(baseline_run):
    task, rendered, workdir = baseline_run
    check_outputs(task, rendered, workdir)
    card = json.loads((workdir / task.meta["id"] / "enhancerlm.json").read_text())
    assert (card["model_id"], card["type"], card["kmer"]) == (task.meta["id"], "kmer-baseline", None)


def test_ensemble_task_outputs(tmp_path, mini_model, baseline_run, mini_dataset):
    """Two trained models (a k-mer model and the baseline task's) staged as members/<model>, combined, then
    scored by the EVALUATE task."""
    process = read_module(module_path("ENHANCERLM_ENSEMBLE"))
    baseline_task, _, baseline_dir = baseline_run
    members = [Path(mini_model), baseline_dir / baseline_task.meta["id"]]
    case = {
        **CASES["ENHANCERLM_ENSEMBLE"],
        "inputs": {"members": [m.name for m in members], "dataset": Path(mini_dataset).name},
    }
    task = stage(process, case)
    assert task.inputs["members"] == [f"members/{m.name}" for m in members]
    workdir = tmp_path / "ensemble"
    workdir.mkdir()
    materialize(task, workdir, {**{m.name: m for m in members}, Path(mini_dataset).name: Path(mini_dataset)})
    params = variant_params("test")
    rendered = render_task(task, params)
    run_script(rendered.command, workdir)
    check_outputs(task, rendered, workdir)
    model = workdir / task.meta["id"]
    card = json.loads((model / "enhancerlm.json").read_text())
    assert (card["model_id"], card["type"], card["method"]) == (task.meta["id"], "ensemble", params["ensemble"])
    assert [member["model_id"] for member in card["members"]] == [m.name for m in members]
    assert card["weights"] == pytest.approx([0.5, 0.5])
    assert card["threshold_rule"] == f"maximum MCC on validation fold {params['val_fold']}"
    assert card["training_data"]["dataset"] == Path(mini_dataset).name
    for member in card["members"]:
        assert (model / member["path"] / "enhancerlm.json").is_file(), member  # copied, not links into the task

    evaluate = read_module(module_path("ENHANCERLM_EVALUATE"))
    case = {
        "meta": task.meta,
        "dirs": {"model"},
        "inputs": {"model": task.meta["id"], "dataset": Path(mini_dataset).name, "training_dataset": []},
    }
    evaluate_task = stage(evaluate, case)
    evaluate_dir = tmp_path / "evaluate"
    evaluate_dir.mkdir()
    materialize(evaluate_task, evaluate_dir, {task.meta["id"]: model, Path(mini_dataset).name: Path(mini_dataset)})
    rendered = render_task(evaluate_task, params)
    run_script(rendered.command, evaluate_dir)
    check_outputs(evaluate_task, rendered, evaluate_dir)
    metrics = json.loads((evaluate_dir / f"{task.meta['id']}.metrics.json").read_text())
    assert metrics["model_id"] == task.meta["id"] and metrics["threshold"] == card["threshold"]
    assert metrics["subsets"]["all"]["n"] > 0


@pytest.fixture(scope="module")
def evaluate_run(tmp_path_factory, mini_model, mini_dataset):
    workdir = tmp_path_factory.mktemp("evaluate_task")
    process = read_module(module_path("ENHANCERLM_EVALUATE"))
    case = {
        **CASES["ENHANCERLM_EVALUATE"],
        "inputs": {"model": Path(mini_model).name, "dataset": Path(mini_dataset).name, "training_dataset": []},
    }
    task = stage(process, case, meta={"id": Path(mini_model).name})
    materialize(task, workdir, {Path(mini_model).name: Path(mini_model), Path(mini_dataset).name: Path(mini_dataset)})
    rendered = render_task(task, variant_params("test"))
    run_script(rendered.command, workdir)
    return task, rendered, workdir


def test_evaluate_task_outputs(evaluate_run):
    task, rendered, workdir = evaluate_run
    check_outputs(task, rendered, workdir)
    metrics = json.loads((workdir / f"{task.meta['id']}.metrics.json").read_text())
    assert metrics["subsets"]["all"]["n"] > 0 and not metrics["external"]


def test_external_evaluate_task_outputs(tmp_path, mini_model, mini_dataset):
    """ENHANCERLM_EVALUATE_EXTERNAL: the model on the test profile's external set, named as the workflow names the
    task, its leaks checked against the training table staged beside it."""
    prepared = prepare_samplesheet(variant_params("test")["input"], tmp_path / "prepared")
    external = prepared["ienhancer2l_independent"]["dataset"]
    model = Path(mini_model).name
    meta = {
        "id": f"{model}_on_ienhancer2l_independent",
        "dataset": "mini_layer1",
        "external": "ienhancer2l_independent",
    }
    case = {
        "meta": meta,
        "dirs": {"model"},
        "inputs": {"model": model, "dataset": external.name, "training_dataset": Path(mini_dataset).name},
    }
    process = read_module(module_path("ENHANCERLM_EVALUATE"))
    task = stage(process, case, alias="ENHANCERLM_EVALUATE_EXTERNAL")
    workdir = tmp_path / "work"
    workdir.mkdir()
    materialize(task, workdir, {model: mini_model, external.name: external, Path(mini_dataset).name: mini_dataset})
    rendered = render_task(task, variant_params("test"))
    assert f"--training-dataset {Path(mini_dataset).name}" in rendered.command and "--split test" in rendered.command
    run_script(rendered.command, workdir)
    check_outputs(task, rendered, workdir)
    metrics = json.loads((workdir / f"{meta['id']}.metrics.json").read_text())
    assert metrics["model_id"] == meta["id"] and metrics["external"] and metrics["subsets"]["all"]["n"] == 400
    predictions = pd.read_csv(workdir / f"{meta['id']}.predictions.tsv", sep="\t", keep_default_na=False)
    # the external set holds the 10 strong test enhancers the mini training split copies, and 1 near copy
    assert (predictions["leak"] == "identical").sum() == 10 and (predictions["leak"] == "near_duplicate").sum() == 1
    assert metrics["subsets"]["leak_free"]["n"] == 389 and not any(
        "could not be checked" in w for w in metrics["warnings"]
    )


def test_benchmark_task_outputs(evaluate_run, baseline_run, mini_dataset, tmp_path):
    """The BENCHMARK task over two evaluations of one dataset (a k-mer model and the baseline task's model)."""
    _, _, evaluated = evaluate_run
    baseline_task, _, baseline_dir = baseline_run
    evaluate = read_module(module_path("ENHANCERLM_EVALUATE"))
    model_id = baseline_task.meta["id"]
    task = stage(
        evaluate,
        {
            "meta": baseline_task.meta,
            "dirs": {"model"},
            "inputs": {"model": model_id, "dataset": Path(mini_dataset).name, "training_dataset": []},
        },
    )
    baseline_eval = tmp_path / "evaluate"
    baseline_eval.mkdir()
    materialize(task, baseline_eval, {model_id: baseline_dir / model_id, Path(mini_dataset).name: Path(mini_dataset)})
    rendered = render_task(task, variant_params("test"))
    run_script(rendered.command, baseline_eval)
    files = {
        p.name: p
        for folder in (evaluated, baseline_eval)
        for p in folder.glob("*")
        if p.name.endswith((".metrics.json", ".predictions.tsv", ".cv.json", ".cv_predictions.tsv"))
    }
    process = read_module(module_path("ENHANCERLM_BENCHMARK"))
    case = {"meta": {"id": "mini_layer1"}, "inputs": {"evaluations": sorted(files)}, "dirs": set()}
    task = stage(process, case)
    workdir = tmp_path / "work"
    workdir.mkdir()
    materialize(task, workdir, files)
    rendered = render_task(task, variant_params("test"))
    run_script(rendered.command, workdir)
    check_outputs(task, rendered, workdir)
    report = json.loads((workdir / "mini_layer1.benchmark.json").read_text())
    assert len(report["models"]) == 2 and model_id in report["models"]
    assert report["best"] is None and "no cross-validation" in report["best_rule"]


def test_genome_predict_task_outputs(baseline_run, tmp_path):
    """GENOMEINDEX, CHUNKS on its .fai, PREDICT on each chunk (10 kb of the bundled genome) with the index staged,
    then MERGEPREDICTIONS and CHUNK_SUMMARY of the two chunks, and of one chunk alone (a genome whose contigs fit
    one chunk), as tasks chained through their declared outputs."""
    model_task, _, model_workdir = baseline_run
    model_id = model_task.meta["id"]
    demo = REPO / "assets" / "data" / "hg19-chr22-demo"
    params = variant_params("test")
    sources = {
        "chr22_demo.fa.gz": demo / "chr22_demo.fa.gz",
        "test_regions.bed": demo / "test_regions.bed",
        model_id: model_workdir / model_id,
    }

    def run_task(name, case, workdir, extra=None):
        task = stage(read_module(module_path(name)), case)
        workdir.mkdir()
        materialize(task, workdir, {**sources, **(extra or {})})
        rendered = render_task(task, params)
        run_script(rendered.command, workdir)
        check_outputs(task, rendered, workdir)
        return task, {
            o.emit: [workdir / pattern for pattern in patterns]
            for o, patterns in nfparse.output_patterns(task.process, rendered)
        }

    _, index = run_task("ENHANCERLM_GENOMEINDEX", CASES["ENHANCERLM_GENOMEINDEX"], tmp_path / "index")
    fasta, fai, gzi = index["index"]
    assert fai.read_text() == (demo / "chr22_demo.fa.gz.fai").read_text()
    indexed = {path.name: path for path in index["index"]}
    _, chunks_out = run_task("ENHANCERLM_CHUNKS", CASES["ENHANCERLM_CHUNKS"], tmp_path / "chunks", indexed)
    chunks = [line.split("\t")[3] for line in chunks_out["bed"][0].read_text().splitlines()]
    assert chunks == ["22:0-10000000", "22:10000000-17700000"]
    scans = {}
    for number, chunk in enumerate(chunks):
        case = {
            **CASES["ENHANCERLM_PREDICT"],
            "meta": model_task.meta,
            "inputs": {**CASES["ENHANCERLM_PREDICT"]["inputs"], "model": model_id, "chunk": chunk},
        }
        _, outputs = run_task("ENHANCERLM_PREDICT", case, tmp_path / f"predict{number}", indexed)
        (scan,) = outputs["scan"]
        scans[scan.name] = scan
    # the staged index is used, not rebuilt: the work directory holds its inputs and its output alone
    assert sorted(p.name for p in (tmp_path / "predict1").iterdir() if not p.name.startswith(".")) == sorted(
        [*scans.keys()][1:]
        + ["chr22_demo.fa.gz", "chr22_demo.fa.gz.fai", "chr22_demo.fa.gz.gzi", model_id, "test_regions.bed"]
    )
    for label, group in (("two", list(scans)), ("one", list(scans)[1:])):
        merge_case = {
            "meta": model_task.meta,
            "dirs": {"scans"},
            "inputs": {"scans": group, "meta2": {"id": "chr22_demo"}, "fai": fai.name},
        }
        _, merged = run_task(
            "ENHANCERLM_MERGEPREDICTIONS", merge_case, tmp_path / f"merge_{label}", {**scans, **indexed}
        )
        report = json.loads(merged["json"][0].read_text())
        assert report["windows"]["scored"] == 200  # 10 kb, stride 50, all in the second chunk
        summary_case = {"meta": model_task.meta, "dirs": {"scans"}, "inputs": {"scans": group}}
        _, summary = run_task("CHUNK_SUMMARY", summary_case, tmp_path / f"summary_{label}", scans)
        rows = [line.split("\t") for line in summary["multiqc"][0].read_text().splitlines() if not line.startswith("#")]
        assert rows[0][:2] == ["Sample", "Windows scored"]
        assert [row[0] for row in rows[1:]] == [f"{model_id} {chunk}" for chunk in chunks[-len(group) :]]
        assert sum(int(row[1]) for row in rows[1:]) == 200


def test_motifs_and_variants_task_outputs(mini_model, mini_dataset, tmp_path):
    """MOTIFS on the mini training split and VARIANTS on the 234 test-profile sites, as tasks."""
    demo = REPO / "assets" / "data" / "hg19-chr22-demo"
    params = variant_params("test")
    for name in ("ENHANCERLM_MOTIFS", "ENHANCERLM_VARIANTS"):
        case = CASES[name]
        task = stage(read_module(module_path(name)), case)
        workdir = tmp_path / name
        workdir.mkdir()
        materialize(
            task,
            workdir,
            {
                case["inputs"]["model"]: mini_model,
                "mini_layer1.dataset.tsv": mini_dataset,
                **{name: demo / name for name in ("chr22_demo.fa.gz", "chr22_demo.fa.gz.fai", "chr22_demo.fa.gz.gzi")},
                "1kg_phase3_chr22_test.sites.vcf.gz": demo / "1kg_phase3_chr22_test.sites.vcf.gz",
            },
        )
        rendered = render_task(task, params)
        run_script(rendered.command, workdir)
        check_outputs(task, rendered, workdir)
    prefix = CASES["ENHANCERLM_MOTIFS"]["meta"]["id"]
    motifs = json.loads((tmp_path / "ENHANCERLM_MOTIFS" / f"{prefix}.motifs.json").read_text())
    assert motifs["parameters"]["method"] == params["motif_method"] and motifs["counts"]["positives"] == 80
    report = json.loads((tmp_path / "ENHANCERLM_VARIANTS" / f"{prefix}.variants.json").read_text())
    assert report["records"] == {"input": 234, "reported": 234}
    assert report["parameters"]["motifs"] == params["variant_motifs"]


def test_multiqc_task_outputs(evaluate_run, tmp_path):
    task_in, rendered_in, evaluated = evaluate_run
    process = read_module(module_path("MULTIQC"))
    files = {p.name: p for p in evaluated.glob("*_mqc.*")}
    versions = tmp_path / "enhancerlm_software_mqc_versions.yml"
    versions.write_text("ENHANCERLM_EVALUATE:\n    enhancerlm: 0.1.0\n")
    files[versions.name] = versions
    config = REPO / "assets" / "multiqc_config.yml"
    case = {
        "meta": {"id": "multiqc"},
        "inputs": {
            "multiqc_files": sorted(files),
            "multiqc_config": [config.name],
            "multiqc_logo": [],
            "replace_names": [],
            "sample_names": [],
        },
        "dirs": set(),
    }
    task = stage(process, case)
    workdir = tmp_path / "work"
    workdir.mkdir()
    materialize(task, workdir, {**files, config.name: config})
    rendered = render_task(task, variant_params("all_optional"))  # with a title, which must not rename the report
    run_script(rendered.command, workdir)
    check_outputs(task, rendered, workdir)
    stats = (workdir / "multiqc_data" / "multiqc_general_stats.txt").read_text()
    assert task_in.meta["id"] in stats


@pytest.mark.parametrize("path", MODULE_FILES, ids=module_id)
def test_stub_creates_every_declared_output(path, tmp_path):
    process = read_module(path)
    assert process.stub is not None, f"{process.name} has no stub: section"
    task = stage(process, CASES[process.name])
    materialize(task, tmp_path)
    rendered = render_task(task, variant_params("test"), section="stub")
    run_script(rendered.command, tmp_path)
    check_outputs(task, rendered, tmp_path)


def test_output_check_can_fail(tmp_path):
    process = read_module(module_path("ENHANCERLM_EVALUATE"))
    task = stage(process, CASES["ENHANCERLM_EVALUATE"])
    materialize(task, tmp_path)
    rendered = render_task(task, variant_params("test"), section="stub")
    run_script(rendered.command, tmp_path)
    (tmp_path / "stray.txt").touch()
    with pytest.raises(AssertionError, match="not declared"):
        check_outputs(task, rendered, tmp_path)
    (tmp_path / "stray.txt").unlink()
    (tmp_path / f"{task.meta['id']}.predictions.tsv").unlink()
    with pytest.raises(AssertionError, match="matched nothing"):
        check_outputs(task, rendered, tmp_path)


def test_version_outputs_and_commands(tmp_path):
    import torch
    import transformers

    expected = {
        "enhancerlm": enhancerlm.__version__,
        # the installed distribution's version, as `versions` reads it without importing torch (a CUDA wheel's
        # torch.__version__ adds a local tag, 2.13.0+cu130, that its metadata does not carry)
        "torch": importlib.metadata.version("torch"),
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda or "none",
        "multiqc": importlib.metadata.version("multiqc"),
        "python": platform.python_version(),
    }
    commands: dict[str, str] = {}
    for path in MODULE_FILES:
        process = read_module(path)
        tools = []
        for output in process.outputs:
            if output.topic is None:
                continue
            assert output.topic == "versions", f"{process.name}: unexpected topic {output.topic}"
            kinds = [element[0] for element in output.elements]
            assert kinds == ["val", "val", "eval"], f"{process.name}: versions must be (val, val, eval)"
            assert nfparse.evaluate(output.elements[0][1], {"task": {"process": process.name}}) == process.name
            tool = nfparse.evaluate(output.elements[1][1])
            assert tool in expected, f"{process.name}: unknown tool {tool}"
            assert output.emit == f"versions_{tool}"
            commands[nfparse.evaluate(output.elements[2][1])] = tool
            tools.append(tool)
        main_tool = {"ENHANCERLM_": "enhancerlm", "CHUNK_SUMMARY": "python", "MULTIQC": None}
        main_tool = next(tool for prefix, tool in main_tool.items() if process.name.startswith(prefix))
        if main_tool:
            assert main_tool in tools, f"{process.name} does not report {main_tool}"
        else:  # MULTIQC reads the topic, so it must not feed it (the run would never finish)
            assert tools == [], f"{process.name} emits to the versions topic it consumes"
        if "process_gpu" in [nfparse.evaluate(t) for t in process.directive("label")]:
            assert {"torch", "cuda"} <= set(tools), f"{process.name}: a GPU task reports the CUDA runtime"
    for command, tool in commands.items():
        out = run_version_command(command, tmp_path)
        assert len(out.strip().splitlines()) == 1 and out.strip(), f"{command} printed {out!r}"
        assert out.strip() == expected[tool], command


def test_runner_versions_name_the_steps_and_tools_of_the_modules(tmp_path):
    """`enhancerlm run` writes the software-versions YAML the workflow collects from the `versions` topic (every
    module runs under the test profile)."""
    expected = {}
    for path in MODULE_FILES:
        process = read_module(path)
        tools = [nfparse.evaluate(o.elements[1][1]) for o in process.outputs if o.topic == "versions"]
        if tools:
            expected[process.name] = sorted(tools)
    for alias, declared in process_aliases().items():  # an aliased task reports under its alias (task.process)
        expected[alias] = expected[declared]
    every_step = {step.name for step in STEPS}
    text = write_versions_yaml(tmp_path / "versions.yml", every_step, "enhancerlm/enhancerlm").read_text()
    written = yaml.safe_load(text)
    assert written.pop("Workflow") == {"enhancerlm/enhancerlm": f"v{enhancerlm.__version__}"}
    assert {step: sorted(tools) for step, tools in written.items()} == expected
    # the text the workflow's collectFile writes: blocks sorted by name, four-space indents, tools sorted
    assert text.startswith("CHUNK_SUMMARY:\n    python: ") and "\n    cuda: " in text
    assert "ENHANCERLM_PREPARE" not in write_versions_yaml(tmp_path / "ran.yml", {"TRAIN"}, "p").read_text()


def run_version_command(command: str, workdir: Path) -> str:
    """What an `eval(...)` output captures: the command's stdout.

    A plain `enhancerlm ...` call runs in-process through the package's `enhancerlm` console-script entry point
    (each subprocess would spend ~4 s importing torch; the task tests already run the real executable from
    PATH); anything else (pipes, other tools) runs in the task shell.
    """
    argv = command_argv(command) if not SHELL_OPERATORS & set(_tokens(command)) else None
    if argv and argv[0] == "enhancerlm":
        entry = importlib.metadata.entry_points(group="console_scripts")["enhancerlm"]
        result = CliRunner().invoke(entry.load(), argv[1:])
        assert result.exit_code == 0, f"{command}: {result.output[-2000:]}"
        return result.stdout
    env = {**os.environ, **task_env(), "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [*process_shell(), "-c", command], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    return done.stdout


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


# ----------------------------------------------------------------------------------------------------------
# Parameters: the schema is the single source of truth
# ----------------------------------------------------------------------------------------------------------


def test_every_referenced_param_is_in_the_schema():
    known = set(schema_properties())
    unknown = {name: where for name, where in params_refs(uses_only=False).items() if name not in known}
    assert not unknown, f"params not in nextflow_schema.json: {unknown}"
    for path in CONFIG_FILES:
        block = nfparse.read_config(path).get("params", {})
        assert set(block) <= known, f"{rel(path)} sets params not in the schema: {set(block) - known}"


@pytest.mark.parametrize("name", sorted(set(schema_properties()) - INSTITUTIONAL))
def test_schema_param_is_used(name):
    uses = params_refs(uses_only=True)
    assert name in uses, f"param {name} is in nextflow_schema.json but no .nf or config file reads it"


def test_dead_param_check_can_fail(tmp_path):
    config = tmp_path / "modules.config"
    config.write_text((REPO / "conf" / "modules.config").read_text().replace("params.grad_clip", "3"))
    files = [*NF_FILES, *[config if p.name == "modules.config" else p for p in CONFIG_FILES]]
    assert "grad_clip" not in params_refs(uses_only=True, files=files)


def test_nextflow_config_params_equal_schema_defaults():
    config = pipeline_params.config_params(REPO / "nextflow.config")
    # the runner's line reader and the config parser agree on the params block
    block = nfparse.read_config(REPO / "nextflow.config")["params"]
    evaluated: dict = {}
    for name, value in block.items():  # in order: a value may name a parameter set above it
        evaluated[name] = nfparse.config_value(value, {"projectDir": "${projectDir}", "params": dict(evaluated)})
    assert evaluated == config
    properties = schema_properties()
    assert set(config) == set(properties), (
        f"only in nextflow.config: {set(config) - set(properties)}; only in the schema: {set(properties) - set(config)}"
    )
    for name, spec in properties.items():
        if "default" not in spec:
            assert config[name] is None, f"{name}: no schema default, but nextflow.config sets {config[name]!r}"
            continue
        default, value = spec["default"], config[name]
        same_type = type(default) is type(value) or (
            spec.get("type") == "number" and {type(default), type(value)} <= {int, float}
        )
        assert value == default and same_type, f"{name}: nextflow.config {value!r} != schema default {default!r}"


def test_runner_defaults_equal_nextflow_config():
    config = pipeline_params.config_params(REPO / "nextflow.config")
    root = str(pipeline_params.project_dir())
    expected = {
        k: v.replace("${projectDir}", root) if isinstance(v, str) else v for k, v in config.items() if v is not None
    }
    # no data is a default: --input or --input_regions is required, as the workflow checks before any task
    assert pipeline_params.load_params() == expected
    with pytest.raises(InputError, match="--input or --input_regions is required"):
        pipeline_runner.run_pipeline(pipeline_params.load_params(), cli.run_task)
    assert "if (!input && !input_regions) {" in normalized(workflow_text(INITIALISATION))
    assert pipeline_params.load_params(overrides={"input": "sheet.csv"}) == {**expected, "input": "sheet.csv"}
    for profile in pipeline_params.PROFILES:
        block = nfparse.read_config(REPO / "conf" / f"{profile}.config")["params"]
        assert {
            k: nfparse.config_value(v, {"projectDir": "${projectDir}"}) for k, v in block.items()
        } == pipeline_params.profile_params(profile)


def test_project_dir_paths_exist():
    for path in [*NF_FILES, *CONFIG_FILES, REPO / "nextflow_schema.json"]:
        for match in re.finditer(r"\$\{projectDir\}/([^\"'\s}]+)", path.read_text()):
            assert (REPO / match.group(1)).exists(), f"{rel(path)}: {match.group()} does not exist"


# ----------------------------------------------------------------------------------------------------------
# Nextflow and the embedded runner do the same thing
# ----------------------------------------------------------------------------------------------------------


def test_workflow_process_order_matches_runner_steps(runner_records):
    calls = nfparse.workflow_calls(REPO / "main.nf")
    steps = [re.sub(r"^ENHANCERLM_", "", name) for name in calls]
    ran = runner_records("regions").steps  # the parameter set under which every step runs
    assert steps == ran, f"Nextflow runs {steps}, the runner {ran}"
    assert list(PIPELINE_STEPS) == steps


def test_workflow_calls_fail_loudly(tmp_path):
    (tmp_path / "main.nf").write_text("include { FOO } from './foo'\nworkflow {\n    FOO ( x )\n    BAR ( y )\n}\n")
    (tmp_path / "foo.nf").write_text("process FOO {\n    script:\n    'echo'\n}\n")
    with pytest.raises(NextflowParseError, match="call to BAR"):
        nfparse.workflow_calls(tmp_path / "main.nf")
    (tmp_path / "main.nf").write_text("include { FOO } from './missing'\nworkflow {\n    FOO ( x )\n}\n")
    with pytest.raises(NextflowParseError, match="include target not found"):
        nfparse.workflow_calls(tmp_path / "main.nf")


def parsed_command(argv: list[str], published: Path | None) -> dict:
    """A command line as the CLI parses it, with paths reduced to their names and `--threads` dropped: a Nextflow
    task stages inputs by name and writes into its own directory (`--outdir .`), which is published to `published`."""
    if argv[0] == "multiqc":
        values = dict(multiqc_context(argv).params)
    else:
        values = dict(enhancerlm_context(argv).params)
    values.pop("threads", None)

    def name(value):
        if isinstance(value, (list, tuple)):
            return [name(v) for v in value]
        if value == "." and published is not None:
            return published.name
        return Path(value).name if isinstance(value, str) and ("/" in value or Path(value).exists()) else value

    return {key: name(value) for key, value in values.items()}


def assert_same_command(nextflow_argv: list[str], runner_task, published: Path | None) -> None:
    """The runner's command line is the rendered module's; its outputs go where Nextflow publishes them."""
    program = "enhancerlm" if runner_task.runs == "enhancerlm" else runner_task.runs
    runner_argv = [program, *runner_task.argv]
    assert nextflow_argv[0] == program, f"{runner_task.name}: Nextflow runs {nextflow_argv[0]}, the runner {program}"
    if program == "chunk_scans_mqc.py":
        ours, theirs = option_values(nextflow_argv[1:]), option_values(list(runner_task.argv))
        assert {k: [Path(v).name for v in vs] for k, vs in ours.items()} == {
            k: [Path(v).name for v in vs] for k, vs in theirs.items()
        }, runner_task.name
    else:
        nextflow, runner = parsed_command(nextflow_argv, published), parsed_command(runner_argv, published)
        differences = {
            k: (nextflow.get(k), runner.get(k)) for k in {*nextflow, *runner} if nextflow.get(k) != runner.get(k)
        }
        assert not differences, f"{runner_task.name}: (Nextflow, runner) differ: {differences}"
    if published is not None:
        if program == "enhancerlm":
            values = enhancerlm_context(runner_argv).params
            written = Path(values.get("outdir") or values["output"])
        else:
            written = Path(option_values(list(runner_task.argv))["--output"][0])
        assert published in (written, written.parent), (
            f"{runner_task.name}: writes {written}, Nextflow publishes to {published}"
        )


@pytest.mark.parametrize("variant", list(OVERRIDES))
def test_runner_tasks_are_the_rendered_module_commands(variant, runner_records, tmp_path, monkeypatch):
    """Every task the runner runs is a task the workflow plans, with the command line its module renders."""
    record = runner_records(variant)
    params = record.params

    def check(process_name: str, case: dict, label: str, workdir: str, meta: dict | None = None):
        process = read_module(module_path(process_aliases().get(process_name, process_name)))
        task, rendered, argv = staged_command(
            process, case, tmp_path / workdir, params, monkeypatch, meta=meta, alias=process_name
        )
        step = process_name.removeprefix("ENHANCERLM_")
        unpublished = ("PREDICT", "GENOMEINDEX", "CHUNKS")  # publishDir enabled: false, kept in the work directory
        published = None if step in unpublished else publish_path(process_name, params)
        runner_task = record.task(step, label)
        if (
            step == "PREPARE"
        ):  # the dataset's own samplesheet: the workflow writes one; the runner's input is one already
            sheet = Path(runner_task.argv[runner_task.argv.index("--input") + 1])
            assert sheet.name in (f"{label}.samplesheet.csv", Path(params["input"]).name), sheet
            argv[argv.index("--input") + 1] = str(sheet)
        if step == "BENCHMARK":  # Nextflow stages the dataset's evaluations as evaluations/; the runner reads them
            evaluations = Path(runner_task.argv[runner_task.argv.index("--evaluations") + 1])  # where EVALUATE wrote
            assert evaluations == publish_path("ENHANCERLM_EVALUATE", params), evaluations
            argv[argv.index("--evaluations") + 1] = str(evaluations)
        assert_same_command(argv, runner_task, published)
        return task, rendered

    dataset_files, regions = {}, frozenset(record.labels("PREPAREREGIONS"))
    for dataset_id in record.labels("PREPAREREGIONS"):
        (row,) = [row for row in load_regions_sheet(params["input_regions"]).itertuples() if row.dataset == dataset_id]
        inputs = {
            "bed": Path(row.bed).name,
            "test_chroms": row.test_chroms,
            "meta2": {"id": "regions_demo"},
            "fasta": "regions_demo.fa.gz",
            "fai": "regions_demo.fa.gz.fai",
            "gzi": "regions_demo.fa.gz.gzi",
            "blacklist": Path(params["blacklist"]).name if params.get("blacklist") else [],
        }
        meta = prepared_regions_meta(params, {"id": dataset_id})
        task, rendered = check(
            "ENHANCERLM_PREPAREREGIONS",
            {"meta": meta, "dirs": set(), "inputs": inputs},
            dataset_id,
            f"regions_{dataset_id}",
        )
        dataset_files[dataset_id] = dict((o.emit, p) for o, p in nfparse.output_patterns(task.process, rendered))[
            "dataset"
        ][0]
    for dataset_id in record.labels("PREPARE"):
        task, rendered = check(
            "ENHANCERLM_PREPARE",
            CASES["ENHANCERLM_PREPARE"],
            dataset_id,
            f"prepare_{dataset_id}",
            meta={"id": dataset_id},
        )
        dataset_files[dataset_id] = dict((o.emit, p) for o, p in nfparse.output_patterns(task.process, rendered))[
            "dataset"
        ][0]
        assert record.datasets[dataset_id].name == dataset_files[dataset_id]
    assert sorted(record.datasets) == sorted(dataset_files)
    sheet = load_samplesheet(params["input"])
    test_only = frozenset(str(d) for d, rows in sheet.groupby("dataset") if "train" not in set(rows["split"]))
    n_training = len(dataset_files) - len(test_only)

    plan = nextflow_plan(params, dataset_files, test_only=test_only, regions=regions)
    assert sorted(record.labels("TRAIN")) == sorted(t["meta"]["id"] for t in plan.train), "different models trained"
    n_kmers = len(str(params["kmers"]).split(","))
    assert len(plan.train) == n_training * (n_kmers + bool(params["baseline"])) * params["replicates"]
    models = {}
    for planned in plan.train:
        meta = planned["meta"]
        case = {
            "meta": meta,
            "dirs": {"base_model"},
            "inputs": {k: planned[k] for k in ("dataset", "meta2", "base_model")},
        }
        task, rendered = check("ENHANCERLM_TRAIN", case, meta["id"], meta["id"])
        models[meta["id"]] = (
            task,
            dict((o.emit, p) for o, p in nfparse.output_patterns(task.process, rendered))["model"][0],
        )

    trained = nextflow_plan(
        params,
        dataset_files,
        model_dir=lambda meta: models.get(meta["id"], (None, meta["id"]))[1],
        test_only=test_only,
        regions=regions,
    )
    assert sorted(record.labels("ENSEMBLE")) == sorted(t["meta"]["id"] for t in trained.ensemble), "different ensembles"
    expect_ensembles = params["ensemble"] != "none" and n_kmers >= 2
    assert len(trained.ensemble) == (n_training * params["replicates"] if expect_ensembles else 0)
    for planned in trained.ensemble:
        meta = planned["meta"]
        kmers = [models[member][0].meta["kmer"] for member in planned["members"]]
        assert None not in kmers and kmers == sorted(kmers), f"{meta['id']}: members {planned['members']}"
        case = {
            "meta": meta,
            "dirs": {"members"},
            "inputs": {"members": planned["members"], "dataset": planned["dataset"]},
        }
        task, rendered = check("ENHANCERLM_ENSEMBLE", case, meta["id"], meta["id"])
        models[meta["id"]] = (
            task,
            dict((o.emit, p) for o, p in nfparse.output_patterns(task.process, rendered))["model"][0],
        )

    full = nextflow_plan(
        params, dataset_files, model_dir=lambda meta: models[meta["id"]][1], test_only=test_only, regions=regions
    )
    assert sorted(record.labels("EVALUATE")) == sorted(t["meta"]["id"] for t in full.evaluate) == sorted(models)
    for planned in full.evaluate:
        case = {
            "meta": planned["meta"],
            "dirs": {"model"},
            "inputs": {k: planned[k] for k in ("model", "dataset", "training_dataset")},
        }
        assert planned["training_dataset"] == []
        check("ENHANCERLM_EVALUATE", case, planned["meta"]["id"], f"evaluate_{planned['model']}")
    assert sorted(record.labels("BENCHMARK")) == sorted(t["meta"]["id"] for t in full.benchmark)
    assert sorted(t["meta"]["id"] for t in full.benchmark) == sorted(set(dataset_files) - test_only)
    for planned in full.benchmark:
        check(
            "ENHANCERLM_BENCHMARK",
            {"meta": planned["meta"], "dirs": set(), "inputs": {"evaluations": planned["evaluations"]}},
            planned["meta"]["id"],
            f"benchmark_{planned['meta']['id']}",
        )

    # every final model on every external test set, with the table it was trained on
    assert sorted(record.labels("EVALUATE_EXTERNAL")) == sorted(t["meta"]["id"] for t in full.external)
    assert len(full.external) == len(full.final) * len(test_only)
    for planned in full.external:
        meta = planned["meta"]
        assert planned["dataset"] == dataset_files[meta["external"]]
        assert planned["training_dataset"] == dataset_files[meta["dataset"]]
        case = {
            "meta": meta,
            "dirs": {"model"},
            "inputs": {k: planned[k] for k in ("model", "dataset", "training_dataset")},
        }
        check("ENHANCERLM_EVALUATE_EXTERNAL", case, meta["id"], f"external_{meta['id']}")

    genome_id = Path(params["genome"]).name.split(".")[0]  # as ENHANCERLM_GENOMEINDEX names its outputs
    genome = {
        "meta2": {"id": genome_id},
        "fasta": f"{genome_id}.fa.gz",
        "fai": f"{genome_id}.fa.gz.fai",
        "gzi": f"{genome_id}.fa.gz.gzi",
    }
    uses_genome = bool(full.predict or full.variants)
    assert len(record.labels("GENOMEINDEX")) == int(uses_genome), "the genome is indexed once, when a step needs it"
    if uses_genome:
        source = Path(params["genome"])
        check(
            "ENHANCERLM_GENOMEINDEX",
            {"meta": {"id": source.name.split(".")[0]}, "dirs": set(), "inputs": {"fasta": source.name}},
            genome_id,  # tagged by the genome's simple name, as the workflow tags it
            "index",
        )
    assert sorted(record.labels("PREDICT")) == sorted(f"{t['model']} {t['chunk']}" for t in full.predict), (
        "Nextflow and the runner scan different models or chunks"
    )
    assert len(record.labels("CHUNKS")) == int(bool(full.predict))
    if full.predict:
        check(
            "ENHANCERLM_CHUNKS",
            {"meta": {"id": genome_id}, "dirs": set(), "inputs": {"fai": genome["fai"]}},
            genome_id,
            "chunks",
        )
    for planned in full.predict:
        inputs = {
            "model": planned["model"],
            "chunk": planned["chunk"],
            **genome,
            "regions": Path(params["genome_regions"]).name if params.get("genome_regions") else [],
            "blacklist": Path(params["blacklist"]).name if params.get("blacklist") else [],
        }
        check(
            "ENHANCERLM_PREDICT",
            {"meta": planned["meta"], "dirs": {"model"}, "inputs": inputs},
            f"{planned['model']} {planned['chunk']}",
            f"predict_{planned['model']}_{planned['chunk']}",
        )
    assert (
        sorted(record.labels("MERGEPREDICTIONS"))
        == sorted(record.labels("CHUNK_SUMMARY"))
        == sorted(t["meta"]["id"] for t in full.merge)
    )
    for planned in full.merge:
        meta = planned["meta"]
        scans = [f"{meta['id']}.{chunk_file_name(chunk)}" for chunk in planned["chunks"]]
        check(
            "ENHANCERLM_MERGEPREDICTIONS",
            {
                "meta": meta,
                "dirs": {"scans"},
                "inputs": {"scans": scans, "meta2": genome["meta2"], "fai": genome["fai"]},
            },
            meta["id"],
            f"merge_{meta['id']}",
        )
        check(
            "CHUNK_SUMMARY",
            {"meta": meta, "dirs": {"scans"}, "inputs": {"scans": scans}},
            meta["id"],
            f"summary_{meta['id']}",
        )

    assert sorted(record.labels("MOTIFS")) == sorted(t["meta"]["id"] for t in full.motifs)
    assert len(full.motifs) == (0 if params["skip_motifs"] else len(full.final))
    for planned in full.motifs:
        meta = planned["meta"]
        assert planned["dataset"] == dataset_files[meta["dataset"]]
        check(
            "ENHANCERLM_MOTIFS",
            {"meta": meta, "dirs": {"model"}, "inputs": {"model": planned["model"], "dataset": planned["dataset"]}},
            meta["id"],
            f"motifs_{meta['id']}",
        )
    assert sorted(record.labels("VARIANTS")) == sorted(t["meta"]["id"] for t in full.variants)
    assert len(full.variants) == (0 if params["skip_variants"] else len(full.final))
    motif_file = params.get("variant_motifs") not in (None, "", "jaspar")
    for planned in full.variants:
        meta, vcf = planned["meta"], Path(params["vcf"])
        check(
            "ENHANCERLM_VARIANTS",
            {
                "meta": meta,
                "dirs": {"model"},
                "inputs": {
                    "model": planned["model"],
                    **genome,
                    "meta3": {"id": vcf.name.split(".")[0]},
                    "vcf": vcf.name,
                    "motifs": Path(params["variant_motifs"]).name if motif_file else [],
                },
            },
            meta["id"],
            f"variants_{meta['id']}",
        )

    # MULTIQC: the pipeline's config, then --multiqc_config, the logo and the title (its inputs are every report)
    text = normalized(workflow_text("workflows/enhancerlm.nf"))
    assert (
        'def multiqc_configs = [ file("${projectDir}/assets/multiqc_config.yml", checkIfExists: true) ] + '
        "(settings.multiqc_config ? [ file(settings.multiqc_config, checkIfExists: true) ] : [])" in text
    )
    _, _, argv = staged_command(
        read_module(module_path("MULTIQC")), CASES["MULTIQC"], tmp_path / "multiqc", params, monkeypatch
    )
    nextflow = parsed_command(argv, None)
    runner = parsed_command(["multiqc", *record.task("MULTIQC", "multiqc").argv], None)
    configs = ["multiqc_config.yml", *([Path(params["multiqc_config"]).name] if params.get("multiqc_config") else [])]
    assert runner["config_files"] == configs and nextflow["title"] == runner["title"]
    for option in ("force", "cl_config"):
        assert nextflow[option] == runner[option], option
    runner_argv = record.task("MULTIQC", "multiqc").argv
    assert Path(runner_argv[runner_argv.index("--outdir") + 1]) == publish_path("MULTIQC", params)


def test_runner_command_check_can_fail(runner_records):
    task = runner_records("test").task("EVALUATE", "mini_layer1_k3")
    published = Path(task.argv[task.argv.index("--outdir") + 1])
    assert_same_command(["enhancerlm", *task.argv], task, published)
    with pytest.raises(AssertionError, match="'split': \\('train', 'test'\\)"):
        assert_same_command(["enhancerlm", *(a if a != "test" else "train" for a in task.argv)], task, published)
    with pytest.raises(AssertionError, match="Nextflow publishes to"):
        assert_same_command(["enhancerlm", *task.argv], task, published.parent / "elsewhere")


# ----------------------------------------------------------------------------------------------------------
# bin/
# ----------------------------------------------------------------------------------------------------------


def bin_problems(folder: Path) -> list[str]:
    problems = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.name.startswith("."):
            continue
        if path.name in ("enhancerlm", "multiqc"):
            problems.append(f"{path.name} would shadow the image's tool")
        if not path.is_file() or not os.access(path, os.X_OK):
            problems.append(f"{path.name} is not an executable file")
        elif not path.read_bytes().startswith(b"#!"):
            problems.append(f"{path.name} has no shebang")
    return problems


def test_bin_scripts_are_executable_and_shadow_nothing(tmp_path):
    assert bin_problems(REPO / "bin") == []
    (tmp_path / "multiqc").write_text("#!/bin/sh\n")
    (tmp_path / "helper.py").write_text("print(1)\n")
    assert len(bin_problems(tmp_path)) == 3
