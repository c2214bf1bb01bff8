"""What Nextflow does with the pipeline, beyond its syntax: the dataflow closes, staged inputs have the shape the
scripts assume at every cardinality, command-line parameters arrive as strings, and the nf-core conventions and lint
rules hold. Each rule comes from the engine's or nf-core's source (named at the check), and each check is shown
failing on the construct it guards against.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import nfdataflow, nfparse
from helpers.nextflow import (
    CASES,
    MODULE_FILES,
    NOT_ON_COMMAND_LINE,
    REPO,
    bin_script,
    check_command,
    materialize,
    module_id,
    module_options,
    pipeline_copy,
    read_module,
    render_task,
    schema_properties,
    stage,
    variant_params,
)
from jsonschema import Draft202012Validator, validators

from enhancerlm.pipeline.params import schema as params_schema

# ----------------------------------------------------------------------------------------------------------
# Dataflow: every channel a process reads closes
# ----------------------------------------------------------------------------------------------------------


def test_every_channel_a_process_reads_can_close():
    flow = nfdataflow.flow(REPO / "main.nf")
    assert flow.unknown == []
    assert flow.cycles() == []
    # every task of the pipeline is in the graph, MultiQC last: it reads the versions of all the others
    assert {node for node in flow.reads if node.startswith("process:")} == {
        f"process:{name}" for name in nfparse.workflow_calls(REPO / "main.nf")
    }
    assert "topic:versions" in flow.reads["process:MULTIQC"]
    assert "process:MULTIQC" not in flow.reads["topic:versions"]


def test_dataflow_check_finds_the_multiqc_versions_deadlock(tmp_path):
    """The shape nf-core removed from its MULTIQC (nf-core/modules dfa7f1a, #9530): MULTIQC's own version on the
    topic it reads makes the topic wait for MULTIQC, and MULTIQC for the topic."""
    root = pipeline_copy(tmp_path)
    module = root / "modules" / "local" / "multiqc" / "main.nf"
    text = module.read_text()
    old = "eval('multiqc --version | sed \"s/.* //g\"'), emit: versions"
    assert old in text
    module.write_text(text.replace(old, "eval('multiqc --version'), topic: versions, emit: versions_multiqc"))
    cycles = nfdataflow.flow(root / "main.nf").cycles()
    assert [set(cycle) for cycle in cycles] == [{"topic:versions", "process:MULTIQC"}], cycles


def test_dataflow_check_names_a_channel_that_does_not_exist(tmp_path):
    root = pipeline_copy(tmp_path)
    workflow = root / "workflows" / "enhancerlm.nf"
    workflow.write_text(
        workflow.read_text().replace("ENHANCERLM_MOTIFS ( ch_motifs )", "ENHANCERLM_MOTIFS ( ch_motif )")
    )
    assert any("ch_motif is not defined" in line for line in nfdataflow.flow(root / "main.nf").unknown)


# ----------------------------------------------------------------------------------------------------------
# Cardinality: one staged file is a path, not a list, unless the input's arity says so
# ----------------------------------------------------------------------------------------------------------


def multi_file_inputs() -> list[tuple[str, str]]:
    """(case, input) for every path input that a test case gives as a list of files."""
    found = []
    for case, spec in sorted(CASES.items()):
        process = read_module(MODULE_FILES[[read_module(p).name for p in MODULE_FILES].index(case.split("/")[0])])
        for name, element in process.input_names().items():
            if element[0] == "path" and isinstance(spec["inputs"].get(name), list) and spec["inputs"][name]:
                found.append((case, name))
    return found


def cardinalities(element: tuple) -> list[int]:
    """The smallest number of files an input takes and one more (Nextflow: ArityParam, TaskInputResolver)."""
    arity = nfparse.arity_range(element)
    low = max(arity[0], 1) if arity else 1
    return [low, low + 1]


@pytest.mark.parametrize("case, name", multi_file_inputs())
def test_module_command_names_every_staged_file_at_each_cardinality(case, name, tmp_path, monkeypatch):
    process = read_module(MODULE_FILES[[read_module(p).name for p in MODULE_FILES].index(case.split("/")[0])])
    element = process.input_names()[name]
    template = CASES[case]["inputs"][name][0]
    for count in cardinalities(element):
        files = [f"{count}_{number}_{template}" for number in range(count)]
        spec = {**CASES[case], "inputs": {**CASES[case]["inputs"], name: files}}
        workdir = tmp_path / str(count)
        workdir.mkdir()
        task = stage(process, spec)
        materialize(task, workdir)
        monkeypatch.chdir(workdir)
        command = render_task(task, variant_params("test")).command
        if (process.name, name) in NOT_ON_COMMAND_LINE:
            assert "null" not in command
            continue
        check_command(task, command)


def test_cardinality_check_finds_a_join_over_one_staged_file(tmp_path, monkeypatch):
    """Groovy's join on one staged file walks its name's parts (TaskPath.iterator: getFileName().iterator()), so
    `scans.join(' --input ')` without `arity: '1..*'` renders `--input chunks --input <name>` for a single chunk."""
    module = tmp_path / "main.nf"
    text = (REPO / "modules/local/enhancerlm/mergepredictions/main.nf").read_text()
    text = text.replace("path(scans, arity: '1..*', stageAs: 'chunks/*')", "path(scans, stageAs: 'chunks/*')")
    text = text.replace(
        """def inputs = scans.collect { scan -> "--input ${scan}" }.join(' ')""",
        """def inputs = "--input " + scans.join(' --input ')""",
    )
    module.write_text(text)
    process = nfparse.read_process(module)
    spec = {
        **CASES["ENHANCERLM_MERGEPREDICTIONS"],
        "inputs": {**CASES["ENHANCERLM_MERGEPREDICTIONS"]["inputs"], "scans": ["m.22_0_1000"]},
    }
    task = stage(process, spec)
    materialize(task, tmp_path)
    monkeypatch.chdir(tmp_path)
    command = render_task(task, variant_params("test")).command
    assert "--input chunks --input m.22_0_1000" in command
    with pytest.raises(AssertionError, match="not on the command line"):
        check_command(task, command)


def test_one_file_is_a_path_and_arity_makes_it_a_list():
    with_arity = ("path", nfparse.Snippet("x"), {"arity": "1..*"})
    without = ("path", nfparse.Snippet("x"), {})
    process = read_module(MODULE_FILES[0])
    assert isinstance(nfparse.staged_value(process, without, ["a/b.txt"]), nfparse.NfPath)
    assert nfparse.staged_value(process, with_arity, ["a/b.txt"]) == ["a/b.txt"]
    assert nfparse.evaluate("x.join(' ')", {"x": nfparse.NfPath("a/b.txt")}) == "a b.txt"
    assert nfparse.evaluate("x.collect { p -> 'i ' + p }.join(' ')", {"x": nfparse.PathList(["a", "b"])}) == "i a i b"
    with pytest.raises(nfparse.NextflowParseError, match="takes 2..\\* files, got 1"):
        nfparse.staged_value(process, ("path", nfparse.Snippet("x"), {"arity": "2..*"}), ["a"])


# ----------------------------------------------------------------------------------------------------------
# Command-line parameters: strings under the strict syntax parser
# ----------------------------------------------------------------------------------------------------------


def nf_schema_cast(text: str):
    """nf-schema's cast of a command-line value (Types.parseParamValue, 2.7.2+): true/false, integers, decimals by
    their spelling, anything else the string itself."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return int(text) if "." not in text else float(text)
    return text


def cli_text(value) -> str:
    """How a value is typed on the command line: `--cv true`, `--epochs 3`."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def plugin_version() -> tuple[int, ...]:
    plugins = (REPO / "nextflow.config").read_text()
    version = re.search(r"id 'nf-schema@(\d+)\.(\d+)\.(\d+)'", plugins)
    assert version, "nextflow.config: pin the nf-schema plugin"
    return tuple(int(part) for part in version.groups())


def lenient_validator(schema: dict):
    """nf-schema's validation in lenient mode: a number or boolean passes a string type
    (validators/evaluators/LenientTypeEvaluator.groovy)."""
    strict_type = Draft202012Validator.VALIDATORS["type"]

    def lenient_type(validator, types, instance, schema_):
        allowed = [types] if isinstance(types, str) else types
        if "string" in allowed and isinstance(instance, (int, float, bool)):
            return
        yield from strict_type(validator, types, instance, schema_)

    return validators.extend(Draft202012Validator, validators={"type": lenient_type})(schema)


def cli_params_problems(values: dict, casts: bool, lenient: bool) -> list[str]:
    """Validation errors of parameters given on the command line (strings), as nf-schema reports them."""
    schema = params_schema()
    typed = {name: (nf_schema_cast(cli_text(v)) if casts else cli_text(v)) for name, v in values.items()}
    validator = lenient_validator(schema) if lenient else Draft202012Validator(schema)
    return sorted(f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(typed))


def command_line_values() -> dict:
    """A value of every parameter, as a user would type them: the test profile with every option set."""
    values = {k: v for k, v in variant_params("all_optional").items() if v is not None}
    return {**values, "kmers": "5", "multiqc_title": "2026", "skip_motifs": True, "cv": False, "help": False}


def test_command_line_values_validate_as_nf_schema_casts_them():
    """`--epochs 10`, `--cv false`, `--kmers 5` pass validation with the pinned plugin, which casts command-line
    values (cast_cli_params, the default under the strict parser) and lets `--kmers 5` pass as text (lenientMode)."""
    assert plugin_version() >= (2, 7, 2), "nf-schema casts command-line values from 2.7.2 (its CHANGELOG)"
    config = nfparse.read_config(REPO / "nextflow.config")
    lenient = nfparse.config_value(config["validation"]["lenientMode"]) is True
    call = (REPO / "subworkflows/local/utils_enhancerlm_pipeline/main.nf").read_text()
    assert re.search(r"UTILS_NFSCHEMA_PLUGIN \(.*, true \)", call), "validate with cli_typecast true"
    assert cli_params_problems(command_line_values(), casts=True, lenient=lenient) == []


def test_typed_parameter_check_fails_without_casting():
    """nf-schema 2.5.1 (no casting): `--epochs 10` arrives as the string "10" and fails an integer type."""
    problems = cli_params_problems(command_line_values(), casts=False, lenient=True)
    assert "epochs: '3' is not of type 'integer'" in problems and "cv: 'false' is not of type 'boolean'" in problems
    assert any(p.startswith("kmers:") for p in cli_params_problems({"kmers": "5"}, casts=True, lenient=False))


def test_workflows_read_parameters_typed():
    """Only the entry workflow and its initialisation read `params` (strings from the command line); the workflows
    take `settings`, the parameters typed by the schema (typedParams), as the nf-core template passes params in."""
    for path in [
        *REPO.glob("workflows/*.nf"),
        REPO / "subworkflows/local/train_evaluate/main.nf",
        REPO / "subworkflows/local/genome_predict/main.nf",
    ]:
        assert nfparse.find_params_refs(path) == [], f"{path.relative_to(REPO)} reads params"
    main = (REPO / "main.nf").read_text()
    assert 'typedParams(params, "${projectDir}/nextflow_schema.json")' in main
    typed = (REPO / "subworkflows/local/utils_enhancerlm_pipeline/main.nf").read_text()
    for branch in ("type == 'boolean'", "type == 'integer'", "type == 'number'"):
        assert branch in typed


@pytest.mark.parametrize("variant", ["test", "all_optional", "skip_motifs"])
def test_module_options_are_the_same_for_typed_and_command_line_parameters(variant):
    """conf/modules.config reads params directly (strings under the strict parser): every module's ext.args is the
    same whether `--cv false` arrives as false or as "false" (Groovy counts the string as true)."""
    typed = variant_params(variant)
    strings = {name: cli_text(value) if value is not None else None for name, value in typed.items()}
    for case, spec in CASES.items():
        options = module_options().get(case.split("/")[0], {})
        meta = spec["meta"]
        task = {"process": case.split("/")[0], "accelerator": None}
        assert nfparse.eval_ext(options.get("args"), strings, meta, task) == nfparse.eval_ext(
            options.get("args"), typed, meta, task
        ), case


def test_option_check_finds_a_boolean_read_as_groovy_truth(tmp_path):
    config = tmp_path / "modules.config"
    config.write_text((REPO / "conf/modules.config").read_text().replace("\"${params.cv}\" == 'true'", "params.cv"))
    args = nfparse.read_module_options(config)["ENHANCERLM_TRAIN"]["args"]
    meta = CASES["ENHANCERLM_TRAIN"]["meta"]
    typed = {**variant_params("test"), "cv": False}
    strings = {**typed, "cv": "false"}
    assert "--cv" not in nfparse.eval_ext(args, typed, meta, {}) and "--cv" in nfparse.eval_ext(args, strings, meta, {})


# ----------------------------------------------------------------------------------------------------------
# nf-core module conventions (nf-core/tools modules lint: main_nf.py, module_tests.py)
# ----------------------------------------------------------------------------------------------------------


def module_problems(path: Path) -> list[str]:
    """What nf-core's module lint would fail on: when:, prefix, snapshots, stub gzip, GPU tests."""
    process = nfparse.read_process(path)
    text = path.read_text()
    problems = []
    when = re.search(r"\n    when:\n(.*?)\n\n", text, re.S)
    if not when or when.group(1).strip() != "task.ext.when == null || task.ext.when":
        problems.append("when: must be `task.ext.when == null || task.ext.when`")
    script = text[text.index("script:") : text.index("stub:")]
    if "meta" in process.input_names() and not re.search(r"\s*prefix\s*=\s*task.ext.prefix", script):
        problems.append("no `prefix = task.ext.prefix ...` in the script")
    stub = re.search(r'stub:.*?"""\s*(.*?)\s*"""', text, re.S).group(1)
    for line in stub.splitlines():
        if (
            re.search(r"\.gz(\s|$)", line)
            and not line.strip().startswith("#")
            and not re.search(r'echo\s+""\s*\|\s*gzip\s*>\s*.*\.gz$', line.strip())
        ):
            problems.append(f'stub gzip must be `echo "" | gzip > file.gz`: {line.strip()}')
    tests = path.parent / "tests" / "main.nf.test"
    source = tests.read_text()
    blocks = [
        (source[m.start(1) : m.end(1)], body)
        for m, body in nfparse.find_blocks(tests, r"\btest\s*\(\s*\"([^\"]*)\"\s*\)")
    ]
    for name, body in blocks:
        if "snapshot(" not in body:
            problems.append(f"test {name!r} takes no snapshot")
        if 'options "-stub"' in body and "stub" not in name:
            problems.append(f"stub test {name!r} must say stub in its name (the empty-md5 rule)")
    if "process_gpu" in [nfparse.evaluate(label) for label in process.directive("label")]:
        gpu_test = path.parent / "tests" / "main.gpu.nf.test"
        gpu_config = path.parent / "tests" / "nextflow.gpu.config"
        if (
            not gpu_test.is_file()
            or 'tag "gpu"' not in gpu_test.read_text()
            or 'config "./nextflow.gpu.config"' not in gpu_test.read_text()
        ):
            problems.append("a GPU module needs tests/main.gpu.nf.test, tagged gpu, with config ./nextflow.gpu.config")
        elif not re.search(r"accelerator\s*=\s*1", gpu_config.read_text()):
            problems.append("tests/nextflow.gpu.config must give the task an accelerator")
    return problems


@pytest.mark.parametrize("path", MODULE_FILES, ids=module_id)
def test_module_follows_nf_core_conventions(path):
    assert module_problems(path) == []


def test_module_convention_check_can_fail(tmp_path):
    source = REPO / "modules/local/enhancerlm/variants"
    shutil.copytree(source, tmp_path / "variants")
    module = tmp_path / "variants" / "main.nf"
    text = module.read_text().replace("    when:\n    task.ext.when == null || task.ext.when\n\n", "")
    text = text.replace('echo "" | gzip > ${prefix}.scored.vcf.gz', "echo -n | gzip > ${prefix}.scored.vcf.gz")
    module.write_text(text)
    (tmp_path / "variants" / "tests" / "main.gpu.nf.test").unlink()
    problems = module_problems(module)
    assert any(p.startswith("when:") for p in problems)
    assert any("stub gzip" in p for p in problems)
    assert any("GPU module" in p for p in problems)


# ----------------------------------------------------------------------------------------------------------
# nf-core pipeline lint (nf-core/tools pipelines lint: multiqc_config.py, nf_test_content.py, files_exist.py)
# ----------------------------------------------------------------------------------------------------------


def section_order_problems(config: dict, summary: str = "enhancerlm-enhancerlm-summary") -> list[str]:
    """multiqc_config.py: software_versions and the workflow summary have negative orders, the summary the lowest
    and software_versions the next."""
    orders = {name: spec["order"] for name, spec in config.get("report_section_order", {}).items() if "order" in spec}
    problems = [f"{name} missing or not < 0" for name in ("software_versions", summary) if orders.get(name, 0) >= 0]
    if not problems:
        if orders[summary] != min(orders.values()):
            problems.append(f"{summary} should have the lowest order")
        rest = {name: order for name, order in orders.items() if name != summary}
        if orders["software_versions"] != min(rest.values()):
            problems.append("software_versions should have the second lowest order")
    return problems + [f"missing {key}" for key in ("export_plots", "report_comment") if key not in config]


def test_multiqc_config_orders_the_report_as_nf_core_lint_requires():
    config = yaml.safe_load((REPO / "assets/multiqc_config.yml").read_text())
    assert section_order_problems(config) == []
    broken = {
        **config,
        "report_section_order": {
            k: v for k, v in config["report_section_order"].items() if k != "enhancerlm-enhancerlm-summary"
        },
    }
    assert section_order_problems(broken) == ["enhancerlm-enhancerlm-summary missing or not < 0"]


def test_nf_test_setup_follows_nf_core_lint():
    config = (REPO / "nf-test.config").read_text()
    for line in (
        'testsDir "."',
        'workDir System.getenv("NFT_WORKDIR") ?: ".nf-test"',
        'configFile "tests/nextflow.config"',
    ):
        assert line in config
    tests_config = (REPO / "tests/nextflow.config").read_text()
    assert "modules_testdata_base_path" in tests_config and "pipelines_testdata_base_path" in tests_config
    for test in REPO.glob("tests/*.nf.test"):
        text = test.read_text()
        assert re.search(r"outdir *= *[\"']\$\{?outputDir\}?[\"']", text) and re.search(r"versions\.yml", text), test


FILES_EXIST = [  # nf-core/tools 4.2.1 pipelines/lint/files_exist.py (files_fail and files_warn), for enhancerlm
    ".gitattributes",
    ".gitignore",
    ".nf-core.yml",
    ".prettierignore",
    ".prettierrc.yml",
    "CHANGELOG.md",
    "CITATIONS.md",
    "CODE_OF_CONDUCT.md",
    "LICENSE",
    "nextflow_schema.json",
    "nextflow.config",
    "README.md",
    ".github/.dockstore.yml",
    ".github/ISSUE_TEMPLATE/bug_report.yml",
    ".github/ISSUE_TEMPLATE/config.yml",
    ".github/ISSUE_TEMPLATE/feature_request.yml",
    ".github/PULL_REQUEST_TEMPLATE.md",
    ".github/workflows/branch.yml",
    ".github/workflows/nf-test.yml",
    ".github/actions/get-shards/action.yml",
    ".github/actions/nf-test/action.yml",
    ".github/workflows/pr-comment.yml",
    ".github/workflows/linting.yml",
    "assets/email_template.html",
    "assets/email_template.txt",
    "assets/sendmail_template.txt",
    "assets/nf-core-enhancerlm_logo_light.png",
    "conf/modules.config",
    "conf/test.config",
    "conf/test_full.config",
    "docs/CONTRIBUTING.md",
    "docs/images/nf-core-enhancerlm_logo_light.png",
    "docs/images/nf-core-enhancerlm_logo_dark.png",
    "docs/output.md",
    "docs/README.md",
    "docs/usage.md",
    "nf-test.config",
    "tests/default.nf.test",
    "main.nf",
    "assets/multiqc_config.yml",
    "conf/base.config",
    "conf/igenomes.config",
    "conf/igenomes_ignored.config",
    ".github/workflows/awstest.yml",
    ".github/workflows/awsfulltest.yml",
    "modules.json",
    "ro-crate-metadata.json",
]


def files_exist_problems(root: Path) -> list[str]:
    """Files the lint asks for that are neither there nor ignored, and ignores that name no such file or a file
    that is there (a misspelt ignore hides nothing)."""
    ignored = yaml.safe_load((root / ".nf-core.yml").read_text())["lint"]["files_exist"]
    problems = [f"missing: {name}" for name in FILES_EXIST if name not in ignored and not (root / name).exists()]
    problems += [f"ignored, but not a file the lint checks: {name}" for name in ignored if name not in FILES_EXIST]
    problems += [f"ignored, but present: {name}" for name in ignored if (root / name).exists()]
    return problems


def test_files_exist_lint_passes_with_its_ignores(tmp_path):
    assert files_exist_problems(REPO) == []
    shutil.copy(REPO / ".nf-core.yml", tmp_path / ".nf-core.yml")
    text = (tmp_path / ".nf-core.yml").read_text().replace(".github/.dockstore.yml", ".github/.dockerstore")
    (tmp_path / ".nf-core.yml").write_text(text)
    assert "ignored, but not a file the lint checks: .github/.dockerstore" in files_exist_problems(tmp_path)


def test_bin_script_is_used_by_a_pipeline_module_only():
    """bin/ holds the pipeline's own scripts (on PATH in its tasks): each is called by a local module that says it
    is not portable, and none is a copy of the package's CLI."""
    scripts = [path for path in (REPO / "bin").iterdir() if not path.name.startswith(".")]
    assert scripts
    modules = {path: path.read_text() for path in MODULE_FILES}
    for script in scripts:
        users = [path for path, text in modules.items() if re.search(rf"^\s*{re.escape(script.name)}\b", text, re.M)]
        assert users, f"bin/{script.name} is called by no module"
        for path in users:
            assert "enhancerlm" not in path.parent.parts, f"{path}: a portable enhancerlm module calls bin/"
        assert not re.search(r"enhancerlm\.cli\b|import enhancerlm\b", script.read_text()), (
            f"bin/{script.name} wraps the package's CLI"
        )
        assert bin_script(script.name).name  # a click command


def test_schema_title_and_description_match_the_manifest():
    schema = params_schema()
    manifest = nfparse.read_config(REPO / "nextflow.config")["manifest"]
    assert schema["title"] == f"{nfparse.config_value(manifest['name'])} pipeline parameters"
    assert schema["description"] == nfparse.config_value(manifest["description"])
    assert set(schema_properties()) >= {
        "input",
        "outdir",
        "version",
        "validate_params",
        "help",
        "help_full",
        "show_hidden",
        "custom_config_base",
        "custom_config_version",
    }
    # --input or --input_regions (or both): PIPELINE_INITIALISATION fails before any task when neither is given
    assert schema["$defs"]["input_output_options"]["required"] == ["outdir"]
    assert schema_properties()["input_regions"]["schema"] == "assets/schema_regions.json"
    assert (REPO / "assets" / "schema_regions.json").is_file()
    assert "default" not in schema_properties()["input"]
    assert json.dumps(schema).count("use_gpu") == 0
