"""What the Nextflow checks share: the pipeline's files, each module read and rendered for a task as the
runner plans it, its command line parsed by the real CLI, and the runner's recorded tasks."""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import importlib.util
import re
import shlex
import shutil
from collections import Counter
from pathlib import Path, PurePosixPath
from unittest import mock

import click

from enhancerlm import cli
from enhancerlm.pipeline import params as pipeline_params
from enhancerlm.pipeline import runner as pipeline_runner
from helpers import nfparse

REPO = Path(__file__).resolve().parents[2]


NF_FILES = sorted(
    [
        REPO / "main.nf",
        *REPO.glob("workflows/**/*.nf"),
        *REPO.glob("subworkflows/**/*.nf"),
        *REPO.glob("modules/**/*.nf"),
    ]
)


MODULE_FILES = sorted(REPO.glob("modules/local/**/main.nf"))


SHELL_OPERATORS = {";", "&&", "||", "|", "&", ">", ">>", "<", "(", ")"}


def module_id(path: Path) -> str:
    return str(path.parent.relative_to(REPO / "modules" / "local"))


# Every optional parameter set, and the defaults moved off values that are falsy in Groovy (0, 0.0), so a
# `params.x ? ... : ''` in conf/modules.config that drops a legitimate value shows up.
ALL_OPTIONAL = {
    "lr": 0.001,
    "positive": "enhancer",
    "rc_augment": True,
    "trust_remote_code": True,
    "multiqc_title": "x",
    "multiqc_config": str(REPO / "assets" / "multiqc_config.yml"),
    "kmers": "3,5",
    "folds": 4,
    "seed": 0,
    "max_n_fraction": 0.25,
    "predict_threshold": 0.0,  # a raw cut-off of 0 is falsy in Groovy and must still reach the command
    "predict_fdr": 0.1,
    "epochs": 3,
    "batch_size": 8,
    "weight_decay": 0.0,
    "warmup": 0.0,
    "grad_clip": 1.5,
    "patience": 0,
    "val_fold": 1,
    "pooling": "cls",
    "class_weight": "balanced",
    "max_length": 128,
    "max_tokens_per_step": 1024,
    "near_duplicates": False,
    "near_identity": 0.8,
    "near_coverage": 0.6,
    "cv": True,
    "ensemble": "weighted",
    "replicates": 2,
    "motif_method": "ig",
    "variant_edge": "shift",
}


# Parameter sets on top of the test profile (k = 3,4, the baseline and a mean ensemble of the k-mer models).
OVERRIDES = {
    "test": {},
    "all_optional": ALL_OPTIONAL,
    "stacking": {"ensemble": "stacking", "baseline": False},  # stacking turns on --cv by itself
    "no_ensemble": {"ensemble": "none"},
    "single_k": {"kmers": "5", "baseline": False},  # one k-mer model: nothing to ensemble
    "descending_k": {"kmers": "4,3"},  # the schema allows any order; the ensemble members go in k order
    "replicates": {"replicates": 3, "seed": 7},  # every model and ensemble three times, ids with _seed<N>
    "skip_predict": {"skip_predict": True},
    "skip_motifs": {"skip_motifs": True, "variant_motifs": ""},  # and variants without TF sites
    "skip_variants": {"skip_variants": True},
    "blacklist": {
        "genome_regions": str(REPO / "assets" / "data" / "hg19-chr22-demo" / "demo_regions.bed"),
        "blacklist": str(REPO / "assets" / "data" / "hg19-chr22-demo" / "test_regions.bed"),
        "predict_chunk_size": 7000000,
    },
    "two_datasets": {"input": str(REPO / "tests" / "data" / "two_datasets.csv")},  # one prepare task per dataset
    "regions": {  # and a dataset of regions on a two-contig genome, chr20_slice held out: every step runs
        "input_regions": str(REPO / "tests" / "data" / "regions.csv"),
        "genome": str(REPO / "assets" / "data" / "regions-demo" / "regions_demo.fa.gz"),
        "genome_regions": None,
        "negatives_per_positive": 2,
        "gc_tolerance": 0.05,
        "blacklist": str(REPO / "tests" / "data" / "regions_blacklist.bed"),
    },
}


@functools.lru_cache(maxsize=None)
def variant_params(variant: str) -> dict:
    return pipeline_params.load_params(profile="test", overrides=OVERRIDES[variant])


# Representative inputs per process, as the upstream channel delivers them (Nextflow stages them following
# `stageAs`); `dirs` are the path inputs that are directories.
CASES = {
    "ENHANCERLM_PREPARE": {
        "meta": {"id": "mini_layer1"},
        "inputs": {
            "samplesheet": "mini_layer1.samplesheet.csv",
            "fastas": ["train_strong.fa", "train_non.fa", "test_strong.fa", "test_non.fa"],
        },
        "dirs": set(),
    },
    "ENHANCERLM_PREPAREREGIONS": {
        "meta": {"id": "cpg_dense", "test_only": False},
        "inputs": {
            "bed": "cpg_dense.bed",
            "test_chroms": "chr20_slice",
            "meta2": {"id": "regions_demo"},
            "fasta": "regions_demo.fa.gz",
            "fai": "regions_demo.fa.gz.fai",
            "gzi": "regions_demo.fa.gz.gzi",
            "blacklist": [],
        },
        "dirs": set(),
    },
    "ENHANCERLM_TRAIN": {
        "meta": {"id": "mini_layer1_k3", "dataset": "mini_layer1", "kmer": 3, "seed": 42},
        "inputs": {"dataset": "mini_layer1.dataset.tsv", "meta2": {"id": "scratch-tiny"}, "base_model": []},
        "dirs": {"base_model"},
    },
    "ENHANCERLM_TRAIN/local_model": {
        "meta": {"id": "mini_layer1_k6", "dataset": "mini_layer1", "kmer": 6, "seed": 42},
        "inputs": {"dataset": "mini_layer1.dataset.tsv", "meta2": {"id": "dnabert6"}, "base_model": "dnabert6"},
        "dirs": {"base_model"},
    },
    "ENHANCERLM_TRAIN/baseline": {
        "meta": {"id": "mini_layer1_kmer-baseline", "dataset": "mini_layer1", "kmer": None, "seed": 42},
        "inputs": {"dataset": "mini_layer1.dataset.tsv", "meta2": {"id": "kmer-baseline"}, "base_model": []},
        "dirs": {"base_model"},
    },
    "ENHANCERLM_ENSEMBLE": {
        "meta": {"id": "mini_layer1_ensemble", "dataset": "mini_layer1", "seed": 42},
        "inputs": {"members": ["mini_layer1_k3", "mini_layer1_k6"], "dataset": "mini_layer1.dataset.tsv"},
        "dirs": {"members"},
    },
    "ENHANCERLM_EVALUATE": {
        "meta": {"id": "mini_layer1_k3", "dataset": "mini_layer1", "kmer": 3, "seed": 42},
        "inputs": {"model": "mini_layer1_k3", "dataset": "mini_layer1.dataset.tsv", "training_dataset": []},
        "dirs": {"model"},
    },
    "ENHANCERLM_EVALUATE/external": {  # a final model on an external test set, with the table it was trained on
        "meta": {"id": "mini_layer1_ensemble_on_vista", "dataset": "mini_layer1", "seed": 42, "external": "vista"},
        "inputs": {
            "model": "mini_layer1_ensemble",
            "dataset": "vista.dataset.tsv",
            "training_dataset": "mini_layer1.dataset.tsv",
        },
        "dirs": {"model"},
    },
    "ENHANCERLM_BENCHMARK": {
        "meta": {"id": "mini_layer1"},
        "inputs": {
            "evaluations": [
                "mini_layer1_k3.metrics.json",
                "mini_layer1_k3.predictions.tsv",
                "mini_layer1_k3.cv.json",
                "mini_layer1_k3.cv_predictions.tsv",
            ]
        },
        "dirs": set(),
    },
    "ENHANCERLM_GENOMEINDEX": {"meta": {"id": "chr22_demo"}, "inputs": {"fasta": "chr22_demo.fa.gz"}, "dirs": set()},
    "ENHANCERLM_CHUNKS": {"meta": {"id": "chr22_demo"}, "inputs": {"fai": "chr22_demo.fa.gz.fai"}, "dirs": set()},
    "ENHANCERLM_PREDICT": {
        "meta": {"id": "mini_layer1_ensemble", "dataset": "mini_layer1", "seed": 42},
        "inputs": {
            "model": "mini_layer1_ensemble",
            "chunk": "22:10000000-17700000",
            "meta2": {"id": "chr22_demo"},
            "fasta": "chr22_demo.fa.gz",
            "fai": "chr22_demo.fa.gz.fai",
            "gzi": "chr22_demo.fa.gz.gzi",
            "regions": "test_regions.bed",
            "blacklist": [],
        },
        "dirs": {"model"},
    },
    "ENHANCERLM_PREDICT/blacklist": {
        "meta": {"id": "mini_layer1_k3", "dataset": "mini_layer1", "kmer": 3, "seed": 42},
        "inputs": {
            "model": "mini_layer1_k3",
            "chunk": "22:0-10000000",
            "meta2": {"id": "chr22_demo"},
            "fasta": "chr22_demo.fa.gz",
            "fai": "chr22_demo.fa.gz.fai",
            "gzi": "chr22_demo.fa.gz.gzi",
            "regions": [],
            "blacklist": "blacklist.bed",
        },
        "dirs": {"model"},
    },
    "ENHANCERLM_MERGEPREDICTIONS": {
        "meta": {"id": "mini_layer1_ensemble", "dataset": "mini_layer1", "seed": 42},
        "inputs": {
            "scans": ["mini_layer1_ensemble.22_0_10000000", "mini_layer1_ensemble.22_10000000_17700000"],
            "meta2": {"id": "chr22_demo"},
            "fai": "chr22_demo.fa.gz.fai",
        },
        "dirs": {"scans"},
    },
    "CHUNK_SUMMARY": {
        "meta": {"id": "mini_layer1_ensemble", "dataset": "mini_layer1", "seed": 42},
        "inputs": {"scans": ["mini_layer1_ensemble.22_0_10000000", "mini_layer1_ensemble.22_10000000_17700000"]},
        "dirs": {"scans"},
    },
    "ENHANCERLM_MOTIFS": {
        "meta": {"id": "mini_layer1_ensemble", "dataset": "mini_layer1", "seed": 42},
        "inputs": {"model": "mini_layer1_ensemble", "dataset": "mini_layer1.dataset.tsv"},
        "dirs": {"model"},
    },
    "ENHANCERLM_VARIANTS": {
        "meta": {"id": "mini_layer1_ensemble", "dataset": "mini_layer1", "seed": 42},
        "inputs": {
            "model": "mini_layer1_ensemble",
            "meta2": {"id": "chr22_demo"},
            "fasta": "chr22_demo.fa.gz",
            "fai": "chr22_demo.fa.gz.fai",
            "gzi": "chr22_demo.fa.gz.gzi",
            "meta3": {"id": "1kg_phase3_chr22_test"},
            "vcf": "1kg_phase3_chr22_test.sites.vcf.gz",
            "motifs": [],
        },
        "dirs": {"model"},
    },
    "ENHANCERLM_VARIANTS/meme": {
        "meta": {"id": "mini_layer1_ensemble", "dataset": "mini_layer1", "seed": 42},
        "inputs": {
            "model": "mini_layer1_ensemble",
            "meta2": {"id": "chr22_demo"},
            "fasta": "chr22_demo.fa.gz",
            "fai": "chr22_demo.fa.gz.fai",
            "gzi": "chr22_demo.fa.gz.gzi",
            "meta3": {"id": "1kg_phase3_chr22_test"},
            "vcf": "1kg_phase3_chr22_test.sites.vcf.gz",
            "motifs": "known.meme",
        },
        "dirs": {"model"},
        "params": {"variant_motifs": "known.meme"},  # a MEME file is staged; only 'jaspar' travels in ext.args
    },
    "MULTIQC": {
        "meta": {"id": "multiqc"},
        "inputs": {
            "multiqc_files": [
                "mini_layer1_k3.general_stats_mqc.tsv",
                "mini_layer1_k3.roc_mqc.json",
                "enhancerlm_software_mqc_versions.yml",
            ],
            "multiqc_config": ["multiqc_config.yml"],
            "multiqc_logo": [],
            "replace_names": [],
            "sample_names": [],
        },
        "dirs": set(),
    },
}


# Path inputs that a command legitimately does not name.
NOT_ON_COMMAND_LINE = {
    ("ENHANCERLM_PREPARE", "fastas"): "the staged samplesheet's rows name them",
    ("MULTIQC", "multiqc_files"): "MultiQC finds them by scanning the work directory",
    ("ENHANCERLM_BENCHMARK", "evaluations"): "staged under evaluations/, the directory the command names",
    ("ENHANCERLM_PREPAREREGIONS", "fai"): "found beside the staged genome (<fasta>.fai), as samtools does",
    ("ENHANCERLM_PREPAREREGIONS", "gzi"): "found beside the staged genome (<fasta>.gzi), as samtools does",
}


@functools.lru_cache(maxsize=None)
def read_module(path: Path) -> nfparse.Process:
    return nfparse.read_process(path)


@dataclasses.dataclass
class Task:
    process: nfparse.Process
    meta: dict | None
    inputs: dict  # what the script sees: val inputs, and path inputs as staged names
    files: dict  # staged path -> (source name, is a directory)
    alias: str | None = None  # the name a workflow includes the process under, when not its own

    @property
    def name(self) -> str:
        return self.alias or self.process.name


def stage(process: nfparse.Process, case: dict, meta: dict | None = None, alias: str | None = None) -> Task:
    declared = process.input_names()
    unknown = set(case["inputs"]) - set(declared)
    assert not unknown, f"{process.name}: the test case names inputs the process does not declare: {unknown}"
    inputs, files = {}, {}
    for name, element in declared.items():
        if name == "meta":
            continue
        assert name in case["inputs"], f"{process.name}: add input {name!r} to the test case"
        value = case["inputs"][name]
        if element[0] in ("path", "file"):
            staged = nfparse.stage_name(element, value) if value != [] else []
            inputs[name] = staged
            pairs = zip(staged, value) if isinstance(value, list) else [(staged, value)]
            for staged_name, source in pairs:
                files[staged_name] = (source, name in case["dirs"])
        else:
            inputs[name] = value
    return Task(process, case["meta"] if meta is None else meta, inputs, files, alias)


def materialize(task: Task, workdir: Path, sources: dict[str, Path] | None = None) -> None:
    """Stage a task's inputs: symlinks to real files where given, else empty files and directories."""
    for staged, (source, is_dir) in task.files.items():
        target = workdir / staged
        target.parent.mkdir(parents=True, exist_ok=True)
        if sources and source in sources:
            target.symlink_to(Path(sources[source]).resolve())
        elif is_dir:
            target.mkdir()
        else:
            target.touch()


@functools.lru_cache(maxsize=None)
def module_options(path: Path = REPO / "conf" / "modules.config") -> dict:
    return nfparse.read_module_options(path)


@functools.lru_cache(maxsize=None)
def process_aliases() -> dict[str, str]:
    """{alias: declared name} of the processes the workflows include under another name."""
    found = {}
    for path in NF_FILES:
        for alias, (original, file) in nfparse.includes(path).items():
            if file is not None and alias != original and original in nfparse.process_names(file):
                found[alias] = original
    return found


def selected_options(name: str, modules_config: Path = REPO / "conf" / "modules.config") -> dict:
    """The ext options of a process as the workflow calls it: Nextflow applies the `withName:` selectors of the
    declared name, then of the alias, updating ext key by key (ProcessConfigBuilder.applyConfig and
    applyConfigSettings, nextflow/script/dsl/ProcessConfigBuilder.groovy)."""
    options = module_options(modules_config)
    declared = options.get(process_aliases().get(name, name), {})
    return {**declared, **{key: value for key, value in options.get(name, {}).items() if value is not None}}


def render_task(
    task: Task,
    params: dict,
    section: str = "script",
    accelerator=None,
    modules_config: Path = REPO / "conf" / "modules.config",
) -> nfparse.Rendered:
    options = selected_options(task.name, modules_config)
    task_values = {"process": task.name, "accelerator": accelerator}
    args = nfparse.eval_ext(options.get("args"), params, task.meta, task_values)
    prefix = nfparse.eval_ext(options.get("prefix"), params, task.meta, task_values)
    return nfparse.render_section(
        task.process,
        section,
        inputs=task.inputs,
        meta=task.meta,
        task={"accelerator": accelerator},
        ext_args=args,
        ext_prefix=prefix,
    )


def command_argv(command: str) -> list[str]:
    """The argv of a rendered script that must be a single simple command (line continuations joined)."""
    joined = command.replace("\\\n", " ")
    lines = [line for line in joined.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one command, got:\n{command}"
    lexer = shlex.shlex(joined, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    argv = list(lexer)
    operators = SHELL_OPERATORS & set(argv)
    assert not operators, f"shell operators {operators} in the command: {command}"
    return argv


def repeated_options(argv: list[str]) -> list[str]:
    counts = Counter(token.split("=", 1)[0] for token in argv if token.startswith("-"))
    return [option for option, count in counts.items() if count > 1]


def enhancerlm_context(argv: list[str]) -> click.Context:
    """Parse an `enhancerlm SUBCOMMAND ...` argv with the CLI's own click parser: the subcommand's context."""
    assert argv[0] == "enhancerlm", argv
    try:
        ctx = cli.main.make_context("enhancerlm", argv[1:])
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, command, rest = cli.main.resolve_command(ctx, rest)
        return command.make_context(name, rest, parent=ctx)
    except click.ClickException as error:
        raise AssertionError(f"`{shlex.join(argv)}` is rejected by the CLI: {error.format_message()}") from None


def multiqc_context(argv: list[str]) -> click.Context:
    from multiqc import multiqc as multiqc_main

    assert argv[0] == "multiqc", argv
    try:
        return multiqc_main.run_cli.make_context("multiqc", argv[1:])
    except click.ClickException as error:
        raise AssertionError(f"`{shlex.join(argv)}` is rejected by MultiQC: {error.format_message()}") from None


def bin_script(name: str):
    """The click command of one of the pipeline's own scripts (bin/NAME)."""
    spec = importlib.util.spec_from_file_location(f"bin_{PurePosixPath(name).stem}", REPO / "bin" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def bin_script_context(argv: list[str]) -> click.Context:
    try:
        return bin_script(argv[0]).make_context(argv[0], argv[1:])
    except click.ClickException as error:
        raise AssertionError(f"`{shlex.join(argv)}` is rejected by {argv[0]}: {error.format_message()}") from None


def check_command(task: Task, command: str) -> click.Context:
    """The rendered command is one call of an existing (sub)command with known options, required ones
    present, none repeated, no `null`, and every staged input path named."""
    argv = command_argv(command)
    assert "null" not in argv, f"{task.process.name}: a null value reached the command line: {command}"
    if argv[0] == "enhancerlm":
        ctx = enhancerlm_context(argv)
    elif argv[0] == "multiqc":
        ctx = multiqc_context(argv)
    elif (REPO / "bin" / argv[0]).is_file():
        ctx = bin_script_context(argv)
    else:
        raise AssertionError(f"{task.process.name}: unexpected tool {argv[0]!r}")
    repeatable = {opt for param in ctx.command.params if getattr(param, "multiple", False) for opt in param.opts}
    repeated = [option for option in repeated_options(argv) if option not in repeatable]
    assert not repeated, f"{task.process.name}: options given twice {repeated}"
    for name, element in task.process.input_names().items():
        if element[0] not in ("path", "file") or (task.process.name, name) in NOT_ON_COMMAND_LINE:
            continue
        staged = task.inputs[name]
        for path in staged if isinstance(staged, list) else [staged]:
            named = any(token == path or token.endswith("=" + path) for token in argv)
            assert named, f"{task.process.name}: input {name} ({path}) is not on the command line: {command}"
    return ctx


@dataclasses.dataclass
class RunnerRecord:
    params: dict
    tasks: list  # pipeline.tasks.Task, in the order the runner ran them
    datasets: dict[str, Path]  # dataset id -> prepared table

    @property
    def steps(self) -> list[str]:
        return list(dict.fromkeys(task.step for task in self.tasks))

    def task(self, step: str, label: str):
        (found,) = [task for task in self.tasks if (task.step, task.label) == (step, label)]
        return found

    def labels(self, step: str) -> list[str]:
        return [task.label for task in self.tasks if task.step == step]


# The tasks whose outputs plan later ones (the dataset tables, the genome index, its chunks) really run
RUN_FOR_THE_PLAN = {"PREPARE", "GENOMEINDEX", "CHUNKS"}


def record_runner(params: dict) -> RunnerRecord:
    """Run `run_pipeline`, recording every task; only those that plan later tasks run."""
    recorded = []
    real_run = pipeline_runner.Runner.run

    def run(self, task):
        recorded.append(task)
        if task.step in RUN_FOR_THE_PLAN:
            real_run(self, task)
        for output in task.outputs:  # empty stand-ins, so that the CLI accepts the paths of the tasks after it
            output.parent.mkdir(parents=True, exist_ok=True)
            output.touch()

    with mock.patch.object(pipeline_runner.Runner, "run", run):
        pipeline_runner.run_pipeline(params, cli.run_task, device="cpu", threads=2)
    datasets = {task.label: task.outputs[0] for task in recorded if task.step in ("PREPARE", "PREPAREREGIONS")}
    return RunnerRecord(params, recorded, datasets)


@dataclasses.dataclass
class ChannelOp:
    """One operator of a channel chain: `.name ( body )` or `.name { body }`."""

    name: str
    bracket: str
    body: nfparse.Snippet

    @property
    def signature(self) -> str:
        return self.name + self.bracket


def _close(masked: str, start: int) -> int:
    """The position of the bracket closing the one at `start` (strings and comments are masked)."""
    depth = 0
    for i in range(start, len(masked)):
        if masked[i] in "([{":
            depth += 1
        elif masked[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i
    raise AssertionError(f"unclosed {masked[start]!r}")


def parse_chain(text: nfparse.Snippet) -> tuple[str, list[ChannelOp]]:
    """`source.op(...).op { ... } ...` (continued over lines): the source channel and the operators."""
    masked = nfparse.mask(text)
    head = re.compile(r"\s*([A-Za-z_]\w*(?:\.out\.\w+)?)").match(masked)
    assert head, f"{text.path}:{text.line}: expected a channel, found {str(text)[:40]!r}"
    ops, position = [], head.end()
    operator = re.compile(r"\s*\.(\w+)\s*([({])")
    while match := operator.match(masked, position):
        close = _close(masked, match.end() - 1)
        ops.append(ChannelOp(match.group(1), match.group(2), text.sub(match.end(), close)))
        position = close + 1
    return head.group(1), ops


def schema_properties() -> dict:
    return {
        name: spec
        for group in pipeline_params.schema()["$defs"].values()
        for name, spec in group.get("properties", {}).items()
    }


def pipeline_copy(tmp_path: Path) -> Path:
    """The pipeline's .nf files, copied so that a test can break one."""
    for path in [
        REPO / "main.nf",
        *REPO.glob("workflows/**/*.nf"),
        *REPO.glob("subworkflows/**/*.nf"),
        *REPO.glob("modules/**/*.nf"),
    ]:
        target = tmp_path / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return tmp_path
