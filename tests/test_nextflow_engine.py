"""What a real Nextflow run found that reading the source had not, each kept as a check that fails on the code that
had the fault: the engine (25.10.7, both syntax parsers) ran the test, stub, resume and demo routes to the end
(benchmarks/nextflow/README.md). Each rule names the engine source that decides it; each check is shown failing on
the construct it guards against. The committed traces are also checked: a resumed run caches every task, and
`enhancerlm run` runs the tasks the engine ran.
"""

from __future__ import annotations

import collections
import csv
import json
import re
from pathlib import Path

import pytest
from helpers import nfparse
from helpers.nextflow import MODULE_FILES, OVERRIDES, REPO, parse_chain, pipeline_copy, read_module, record_runner

from enhancerlm.pipeline.params import load_params
from enhancerlm.pipeline.steps import STEPS

TRACES = REPO / "benchmarks" / "nextflow"
WORKFLOW_FILES = sorted([*REPO.glob("workflows/*.nf"), *REPO.glob("subworkflows/**/main.nf")])


def put_back(root: Path, relative: str, new: str, old: str) -> None:
    """Replace the fixed text with the text that failed under the engine."""
    path = root / relative
    text = path.read_text()
    assert new in text, f"{relative}: {new!r} is gone; update this test"
    path.write_text(text.replace(new, old))


# ----------------------------------------------------------------------------------------------------------
# An optional output with a fixed arity: every EVALUATE task failed
# ----------------------------------------------------------------------------------------------------------


def arity_allows_none(arity: str) -> bool:
    """Whether an arity ('2', '1..*', '0..*') accepts no file at all."""
    return str(arity).split("..")[0].strip() in ("0", "")


def optional_outputs_with_fixed_arity(modules: list[Path]) -> list[str]:
    """Outputs declared `optional: true` with a path whose arity needs a file. The engine checks the arity even when
    nothing was found (TaskProcessor.collectOutFiles, v25.10.7 lines 1728-1729, after TaskFileCollector returns []
    for an optional output), and IllegalArityException is unrecoverable: the task fails, and with it the run."""
    found = []
    for path in modules:
        process = read_module(path)
        for output in process.outputs:
            for element in output.elements:
                arity = nfparse.element_options(element).get("arity")
                if output.optional and element[0] == "path" and arity is not None and not arity_allows_none(arity):
                    found.append(f"{process.name}: {output.emit}: arity {arity!r} with optional: true")
    return found


def test_no_optional_output_needs_a_file():
    assert optional_outputs_with_fixed_arity(MODULE_FILES) == []


def test_fixed_arity_check_finds_the_evaluate_cv_output(tmp_path):
    root = pipeline_copy(tmp_path)
    put_back(
        root,
        "modules/local/enhancerlm/evaluate/main.nf",
        'path("${prefix}.cv.json"), path("${prefix}.cv_predictions.tsv"), emit: cv',
        "path(\"${prefix}.cv*\", arity: '2'), emit: cv",
    )
    modules = sorted(root.glob("modules/local/**/main.nf"))
    assert optional_outputs_with_fixed_arity(modules) == ["ENHANCERLM_EVALUATE: cv: arity '2' with optional: true"]
    assert arity_allows_none("0..*") and not arity_allows_none("1..*") and not arity_allows_none("2")


# ----------------------------------------------------------------------------------------------------------
# Named workflows: an emit taken by a local `def`, and `workflow` in a completion handler
# ----------------------------------------------------------------------------------------------------------


def named_workflows(path: Path) -> dict[str, nfparse.Snippet]:
    """The body of every `workflow NAME { ... }` in a file (the entry workflow has no name)."""
    text = nfparse.Snippet(path.read_text(), path)
    masked = nfparse.mask(text)
    bodies = {}
    for match in re.finditer(r"^workflow\s+(\w+)\s*\{", masked, re.M):
        bodies[match.group(1)] = text.sub(match.end(), nfparse._matching(masked, match.end() - 1, text))
    return bodies


def section(body: nfparse.Snippet, name: str) -> str:
    """A workflow section's text (`main:`, `emit:`, ...), comments and strings masked."""
    masked = nfparse.mask(body)
    match = re.search(rf"^\s*{name}:\s*$", masked, re.M)
    if not match:
        return ""
    end = re.search(r"^\s*(take|main|emit|publish):\s*$", masked[match.end() :], re.M)
    return masked[match.end() : match.end() + end.start()] if end else masked[match.end() :]


def emits_taken_by_locals(paths: list[Path]) -> list[str]:
    """Emits named like a `def` of the same workflow. Under the v1 parser `emit: name = value` assigns `name` and
    the workflow then reads it from its binding (WorkflowDef.collectOutputs: 'Missing workflow output parameter');
    a local `def name` takes the assignment, and the run stops before any task."""
    found = []
    for path in paths:
        for name, body in named_workflows(path).items():
            emits = set(re.findall(r"^\s*(\w+)\s*=", section(body, "emit"), re.M))
            locals_ = set(re.findall(r"\bdef\s+(\w+)\s*=", section(body, "main")))
            found += [f"{path.parent.name}/{path.name}: {name}: emit {e}" for e in sorted(emits & locals_)]
    return found


def workflow_in_named_handlers(paths: list[Path]) -> list[str]:
    """`workflow.` read inside a named workflow's onComplete/onError closure: when the engine calls the handler
    (WorkflowMetadata.invokeOnComplete) `workflow` there is null ('Cannot get property success on null
    object'); a script function called from the handler sees the run's metadata."""
    found = []
    for path in paths:
        for name, body in named_workflows(path).items():
            masked = nfparse.mask(body)
            for match in re.finditer(r"workflow\.(onComplete|onError)\s*\{", masked):
                close = nfparse._matching(masked, match.end() - 1, body)
                if re.search(r"\bworkflow\.", masked[match.end() : close]):
                    found.append(f"{path.parent.name}/{path.name}: {name}: workflow.{match.group(1)}")
    return found


def test_no_emit_is_taken_by_a_local():
    assert emits_taken_by_locals(WORKFLOW_FILES) == []


def test_emit_check_finds_the_initialisation_regions(tmp_path):
    root = pipeline_copy(tmp_path)
    relative = "subworkflows/local/utils_enhancerlm_pipeline/main.nf"
    put_back(root, relative, "def region_rows = ", "def regions = ")
    found = emits_taken_by_locals(sorted(root.glob("subworkflows/**/main.nf")))
    assert found == ["utils_enhancerlm_pipeline/main.nf: PIPELINE_INITIALISATION: emit regions"]


def test_completion_handlers_read_the_run_through_functions():
    assert workflow_in_named_handlers(WORKFLOW_FILES) == []


def test_handler_check_finds_workflow_success_in_the_closure(tmp_path):
    root = pipeline_copy(tmp_path)
    put_back(
        root,
        "subworkflows/local/utils_enhancerlm_pipeline/main.nf",
        "        reportSummary(outdir, multiqc_reports)\n",
        '        if (workflow.success) { log.info "Report: ${outdir}" }\n',
    )
    found = workflow_in_named_handlers(sorted(root.glob("subworkflows/**/main.nf")))
    assert found == ["utils_enhancerlm_pipeline/main.nf: PIPELINE_COMPLETION: workflow.onComplete"]


# ----------------------------------------------------------------------------------------------------------
# -resume: a task's inputs in arrival order, or a run name in its input, re-run it
# ----------------------------------------------------------------------------------------------------------


def unordered_gathers(paths: list[Path]) -> list[str]:
    """Files gathered from tasks in the order they finished: a `collect` without `sort:`, or a `groupTuple` of task
    outputs whose first `map` after it does not sort. The staged order is part of a task's hash (TaskProcessor,
    the input files' names in order), so the next -resume re-runs the task that reads them."""
    found = []
    for path in paths:
        text = nfparse.Snippet(path.read_text(), path)
        for match in re.finditer(r"^[ \t]*(\w+)\s*=\s*(?=\S)", nfparse.mask(text), re.M):
            try:
                source, ops = parse_chain(text.sub(match.end()))
            except AssertionError:
                continue
            for i, op in enumerate(ops):
                if op.name == "collect" and "sort:" not in str(op.body):
                    found.append(f"{path.parent.name}/{path.name}: {match.group(1)}: collect")
                following = next((later for later in ops[i + 1 :] if later.name == "map"), None)
                sorted_after = following is not None and ".sort" in str(following.body)
                if op.name == "groupTuple" and ".out." in source and not sorted_after and "sort:" not in str(op.body):
                    found.append(f"{path.parent.name}/{path.name}: {match.group(1)}: groupTuple")
    return found


def test_task_outputs_are_gathered_in_a_fixed_order():
    assert unordered_gathers(WORKFLOW_FILES) == []


def test_order_check_finds_the_gathers_that_re_ran_under_resume(tmp_path):
    root = pipeline_copy(tmp_path)
    put_back(root, "workflows/enhancerlm.nf", ".collect( sort: { a, b -> a.name <=> b.name } )", ".collect()")
    put_back(root, "subworkflows/local/genome_predict/main.nf", "scans.sort { scan -> scan.name } ]", "scans ]")
    paths = sorted([*root.glob("workflows/*.nf"), *root.glob("subworkflows/**/main.nf")])
    assert unordered_gathers(paths) == [
        "genome_predict/main.nf: ch_merge: groupTuple",
        "workflows/enhancerlm.nf: ch_multiqc: collect",
    ]


def test_the_report_summary_leaves_out_the_run_name():
    """The MultiQC workflow summary is one of MULTIQC's inputs: with the run name in it, every -resume re-ran the
    report (nf-schema's paramsSummaryMap lists runName under 'Core Nextflow options')."""
    text = (REPO / "subworkflows/local/utils_nfcore_pipeline/main.nf").read_text()
    body = text[text.index("def paramsSummaryMultiqc") :]
    assert "name != 'runName'" in body[: body.index("\n}\n")]


# ----------------------------------------------------------------------------------------------------------
# The committed traces of the engine's runs
# ----------------------------------------------------------------------------------------------------------


def read_trace(name: str) -> list[dict[str, str]]:
    with open(TRACES / name, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def trace_task(name: str) -> tuple[str, str]:
    """'ENHANCERLM:TRAIN_EVALUATE:ENHANCERLM_TRAIN (mini_layer1_k3)' -> ('TRAIN', 'mini_layer1_k3')."""
    match = re.fullmatch(r"(\S+) \((.+)\)", name)
    assert match, name
    process = match.group(1).split(":")[-1]
    return process.removeprefix("ENHANCERLM_"), match.group(2)


@pytest.mark.parametrize(
    "trace, statuses",
    [
        ("test.trace.txt", {"COMPLETED"}),
        ("test.resume.trace.txt", {"CACHED"}),
        ("stub.trace.txt", {"COMPLETED"}),
        ("demo.trace.txt", {"COMPLETED"}),
    ],
)
def test_each_committed_run_finished_every_task(trace, statuses):
    rows = read_trace(trace)
    assert rows and {row["status"] for row in rows} == statuses
    assert {trace_task(row["name"])[0] for row in rows} <= {step.name for step in STEPS}


def test_resume_caches_the_tasks_of_the_first_run():
    first = sorted(row["name"] for row in read_trace("test.trace.txt"))
    assert sorted(row["name"] for row in read_trace("test.resume.trace.txt")) == first
    assert sorted(row["hash"] for row in read_trace("test.resume.trace.txt")) == sorted(
        row["hash"] for row in read_trace("test.trace.txt")
    )


def runner_tasks(record) -> collections.Counter:
    """(step, tag) of each task the runner ran, tagged as the workflow tags it (a scan by its model only)."""
    return collections.Counter((task.step, task.label.split(" ")[0]) for task in record.tasks)


def test_the_runner_runs_the_tasks_the_engine_ran(runner_records):
    """`enhancerlm run --profile test` plans the same tasks, by step and tag, as Nextflow ran in the committed
    test.trace.txt (21 tasks)."""
    engine = collections.Counter(trace_task(row["name"]) for row in read_trace("test.trace.txt"))
    assert sum(engine.values()) == 21
    assert runner_tasks(runner_records("test")) == engine


def test_the_runner_plans_the_demo_the_engine_ran(tmp_path):
    """`enhancerlm run --profile demo` (the full iEnhancer-2L layer 1, the chr22 demo genome and its VCF) plans the
    same tasks, by step and tag, as Nextflow ran in the committed demo.trace.txt (19 tasks): the behaviour that the
    emulation's source-text checks stand for, taken from the engine itself."""
    engine = collections.Counter(trace_task(row["name"]) for row in read_trace("demo.trace.txt"))
    assert sum(engine.values()) == 19
    params = {**load_params(profile="demo"), "outdir": str(tmp_path / "results")}
    assert runner_tasks(record_runner(params)) == engine


@pytest.mark.parametrize("variant", sorted(OVERRIDES))
def test_the_runner_plans_each_parameter_variant_as_the_engine_ran_it(variant, runner_records):
    """Every parameter variant the emulation covers, run by the engine with -stub (`variants/<name>.stub.trace.txt`,
    its parameters beside it): the runner plans the same tasks, by step and tag. A stub CHUNKS writes one chunk, so
    the scans (PREDICT) are compared by model, every other step task for task."""
    recorded = json.loads((TRACES / "variants" / f"{variant}.params.json").read_text())  # paths from the checkout
    assert recorded == json.loads(json.dumps(OVERRIDES[variant]).replace(f'"{REPO}/', '"'))
    rows = read_trace(f"variants/{variant}.stub.trace.txt")
    assert rows and {row["status"] for row in rows} == {"COMPLETED"}
    engine = collections.Counter(trace_task(row["name"]) for row in rows)
    runner = runner_tasks(runner_records(variant))
    assert set(runner) == set(engine)
    assert {k: n for k, n in runner.items() if k[0] != "PREDICT"} == {
        k: n for k, n in engine.items() if k[0] != "PREDICT"
    }


def test_a_stub_run_is_not_warned_about_the_engines_positional_true():
    """Nextflow 25.10's launcher turns `-stub --x y` into `-stub true --x y` (Launcher.normalizeArgs), and -stub
    takes no value, so every stub run had a positional 'true' and a warning about a mistyped option."""
    text = (REPO / "subworkflows/local/utils_nfcore_pipeline/main.nf").read_text()
    body = text[text.index("def checkProfileProvided") :]
    body = body[: body.index("\n}\n")]
    assert "workflow.stubRun" in body and "nextflow_cli_args[0] == 'true'" in body
    assert "if (nextflow_cli_args[0])" not in body


def plugin_properties_without_their_plugin(root: Path) -> list[str]:
    """nf-test files that read a path through a plugin's property (`path(x).vcf`, nft-vcf's) that nf-test.config
    does not load: the test fails with `No such property: vcf for class: sun.nio.fs.UnixPath`."""
    loaded = (root / "nf-test.config").read_text()
    found = []
    for test in sorted([*root.glob("modules/**/*.nf.test"), *root.glob("tests/*.nf.test")]):
        text = test.read_text()  # (nf-test files hold slashy regexes, which the reader here does not parse)
        for plugin, pattern in (("nft-vcf", r"\)\.vcf\b"), ("nft-bam", r"\)\.bam\b"), ("nft-csv", r"\)\.csv\b")):
            if re.search(pattern, text) and plugin not in loaded:
                found.append(f"{test.relative_to(root)}: {plugin}")
    return found


def test_nf_tests_use_only_the_plugins_they_load():
    assert plugin_properties_without_their_plugin(REPO) == []


def test_plugin_check_finds_the_variants_vcf_count(tmp_path):
    relative = "modules/local/enhancerlm/variants/tests/main.nf.test"
    (tmp_path / relative).parent.mkdir(parents=True)
    (tmp_path / "nf-test.config").write_text((REPO / "nf-test.config").read_text())
    text = (REPO / relative).read_text()
    new = "path(process.out.vcf[0][1]).linesGzip.count { line -> !line.startsWith('#') } == 2185"
    assert new in text
    (tmp_path / relative).write_text(text.replace(new, "path(process.out.vcf[0][1]).vcf.variantCount == 2185"))
    assert plugin_properties_without_their_plugin(tmp_path) == [f"{relative}: nft-vcf"]
