"""The command line (cli/): commands, options, errors as one line, start-up without torch, --threads, and the
embedded runner's parameters."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import invoke

from enhancerlm.errors import InputError
from enhancerlm.formats.files import resource, sweep_temporaries
from enhancerlm.pipeline.params import load_params, profile_params, schema, schema_defaults


def test_commands_are_listed():
    result = invoke("--help")
    for command in ("prepare", "train", "evaluate", "convert", "run"):
        assert command in result.output


def test_prepare_train_evaluate_round_trip(tmp_path):
    sheet = resource("assets/samplesheets/mini_layer2.csv")
    result = invoke("prepare", "--input", str(sheet), "--outdir", str(tmp_path / "prep"), "--folds", "3")
    assert result.exit_code == 0, result.output
    dataset = tmp_path / "prep" / "mini_layer2.dataset.tsv"
    report = json.loads((tmp_path / "prep" / "mini_layer2.prepare.json").read_text())
    assert report["labels"]["1"] == "strong"
    result = invoke(
        "train",
        "--dataset",
        str(dataset),
        "--model",
        "scratch-tiny",
        "--kmer",
        "6",
        "--epochs",
        "1",
        "--outdir",
        str(tmp_path / "model"),
        "--model-id",
        "layer2_k6",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("layer2_k6\tbest_epoch=1")
    result = invoke(
        "evaluate",
        "--model",
        str(tmp_path / "model"),
        "--dataset",
        str(dataset),
        "--outdir",
        str(tmp_path / "eval"),
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval" / "layer2_k6.metrics.json").read_text())
    assert metrics["model_id"] == "layer2_k6" and metrics["subsets"]["all"]["n"] == 20


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["train", "--dataset", "{sheet}", "--model", "scratch-tiny", "--outdir", "{out}"],
            "missing column(s) id, sequence",
        ),
        (
            ["evaluate", "--model", "{out}/nothing", "--dataset", "{sheet}", "--outdir", "{out}"],
            "no such model directory",
        ),
        (["train", "--dataset", "{dataset}", "--model", "scratch-tiny", "--outdir", "{out}/m"], "--kmer is required"),
    ],
)
def test_errors_are_one_line_with_exit_1(tmp_path, mini_dataset, args, message):
    sheet = resource("assets/samplesheets/mini_layer1.csv")
    filled = [a.format(sheet=sheet, out=tmp_path, dataset=mini_dataset) for a in args]
    result = invoke(*filled)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output


def test_params_precedence_defaults_profile_file(tmp_path):
    defaults = schema_defaults(schema())
    assert defaults["model"] == "scratch-tiny" and defaults["outdir"] == "results"
    test = profile_params("test")
    assert test["kmers"] == "3,4" and test["epochs"] == 2
    params_file = tmp_path / "params.yaml"
    params_file.write_text("epochs: 4\nrc_augment: true\n")
    params = load_params(profile="test", params_file=params_file, overrides={"outdir": "elsewhere"})
    assert params["epochs"] == 4 and params["rc_augment"] is True and params["kmers"] == "3,4"
    assert params["outdir"] == "elsewhere" and params["folds"] == 3
    assert (
        params["input"].endswith("assets/samplesheets/mini_layer1_external.csv")
        and "${projectDir}" not in params["input"]
    )


def test_every_profile_param_is_in_the_schema():
    known = {name for group in schema()["$defs"].values() for name in group["properties"]}
    assert {"lr", "positive", "genome_regions"} <= known - schema_defaults(schema()).keys()  # no default: unset
    for profile in ("test", "demo", "test_full"):
        assert set(profile_params(profile)) <= known


@pytest.mark.parametrize(
    "content, message",
    [
        ("kmers: '3,7'\n", "parameter kmers"),
        ("epochs: 0\n", "parameter epochs"),
        ("learning_rate: 0.1\n", "unknown parameter(s) learning_rate"),
    ],
)
def test_bad_params_are_named(tmp_path, content, message):
    params_file = tmp_path / "params.yaml"
    params_file.write_text("input: sheet.csv\n" + content)
    with pytest.raises(InputError, match=re.escape(message)):
        load_params(params_file=params_file)


def test_run_test_profile_lays_out_results(test_profile_results):
    results = test_profile_results
    assert (results / "prepare" / "mini_layer1.dataset.tsv").exists()
    assert (results / "train" / "mini_layer1_k3" / "model.safetensors").exists()
    assert (results / "train" / "mini_layer1_kmer-baseline" / "model.safetensors").exists()
    ensemble = json.loads((results / "ensemble" / "mini_layer1_ensemble" / "enhancerlm.json").read_text())
    assert ensemble["method"] == "mean" and [m["model_id"] for m in ensemble["members"]] == [
        "mini_layer1_k3",
        "mini_layer1_k4",
    ]
    metrics = json.loads((results / "evaluate" / "mini_layer1_k3.metrics.json").read_text())
    assert metrics["subsets"]["all"]["n"] == 40 and metrics["subsets"]["leak_free"]["n"] == 30
    summary = json.loads((results / "pipeline_info" / "run_summary.json").read_text())
    models = ["mini_layer1_k3", "mini_layer1_k4", "mini_layer1_kmer-baseline"]
    external = "mini_layer1_ensemble_on_ienhancer2l_independent"
    assert [s["step"] for s in summary["steps"]] == [
        "PREPARE (mini_layer1)",
        "PREPARE (ienhancer2l_independent)",
        "GENOMEINDEX (chr22_demo)",
        *(f"TRAIN ({m})" for m in models),
        "ENSEMBLE (mini_layer1_ensemble)",
        *(f"EVALUATE ({m})" for m in [*models, "mini_layer1_ensemble"]),
        "BENCHMARK (mini_layer1)",
        f"EVALUATE_EXTERNAL ({external})",
        "CHUNKS (chr22_demo)",
        "PREDICT (mini_layer1_ensemble 22:0-10000000)",
        "PREDICT (mini_layer1_ensemble 22:10000000-17700000)",
        "MERGEPREDICTIONS (mini_layer1_ensemble)",
        "CHUNK_SUMMARY (mini_layer1_ensemble)",
        "MOTIFS (mini_layer1_ensemble)",
        "VARIANTS (mini_layer1_ensemble)",
        "MULTIQC (multiqc)",
    ]
    scan = json.loads((results / "predict" / "mini_layer1_ensemble.predict.json").read_text())
    assert scan["windows"]["scored"] == 10_000 // 50  # test_regions.bed: 10 kb of real sequence, stride 50
    bedgraph = (results / "predict" / "mini_layer1_ensemble.windows.bedgraph").read_text().splitlines()
    assert len(bedgraph) == 200 and bedgraph[0].split("\t")[0] == "22"
    assert (results / "predict" / "mini_layer1_ensemble.windows.bw").exists()
    rows = (results / "multiqc" / "multiqc_data" / "multiqc_general_stats.txt").read_text().splitlines()[1:]
    general_stats = {row.split("\t")[0]: row.split("\t") for row in rows}
    assert sorted(general_stats) == sorted([*models, "mini_layer1_ensemble", external])
    mcc = float(general_stats["mini_layer1_k3"][4])
    assert mcc == pytest.approx(metrics["subsets"]["all"]["mcc"], abs=1e-3)
    # the external test set: all 400 records of the iEnhancer-2L independent set, the 10 that copy a record the
    # model was trained on and the 1 that nearly copies one marked, reported as its own row and left out of the
    # training dataset's benchmark
    on_external = json.loads((results / "evaluate" / "external" / f"{external}.metrics.json").read_text())
    assert on_external["external"] and on_external["trained_on"] == "mini_layer1"
    assert (on_external["subsets"]["all"]["n"], on_external["subsets"]["leak_free"]["n"]) == (400, 389)
    assert float(general_stats[external][4]) == pytest.approx(on_external["subsets"]["all"]["mcc"], abs=1e-3)
    assert not (results / "benchmark" / "ienhancer2l_independent.benchmark.json").exists()
    benchmark = json.loads((results / "benchmark" / "mini_layer1.benchmark.json").read_text())
    assert sorted(benchmark["models"]) == sorted([*models, "mini_layer1_ensemble"])
    k3_all = next(row for row in benchmark["table"] if row["model"] == "k3" and row["subset"] == "all")
    assert k3_all["MCC"] == pytest.approx(metrics["subsets"]["all"]["mcc"])
    sections = (results / "multiqc" / "multiqc_report.html").read_text()
    assert "Benchmark: mini_layer1" in sections and "enhancerlm_benchmark_mini_layer1" in sections
    assert "enhancerlm: genome scan" in sections and "enhancerlm_predict_scores" in sections
    versions = (results / "pipeline_info" / "enhancerlm_software_mqc_versions.yml").read_text()
    assert "ENHANCERLM_TRAIN:" in versions and "transformers:" in versions
    params = json.loads(next((results / "pipeline_info").glob("params_*.json")).read_text())
    assert params["kmers"] == "3,4" and params["outdir"] == str(results)


def test_run_trains_on_regions_against_genomic_negatives(tmp_path):
    """`enhancerlm run` with a regions samplesheet only (no FASTA datasets): the regions and GC-matched negatives of
    the two-contig demo genome, chr20_slice held out; models trained, evaluated on the held-out chromosome, and
    the genome they were trained on scanned. The prepared table equals `prepare --bed` run by hand."""
    outdir = tmp_path / "results"
    params = tmp_path / "params.yaml"
    demo = resource("assets/data/regions-demo")
    params.write_text(
        "input: null\n"
        f"input_regions: {Path(__file__).parent / 'data' / 'regions.csv'}\n"
        f"genome: {demo / 'regions_demo.fa.gz'}\n"
        "genome_regions: null\nvcf: null\npredict_stride: 1000\nkmers: '3'\nbaseline: false\n"
    )
    result = invoke("run", "--profile", "test", "--params", params, "--outdir", outdir, "--device", "cpu")
    assert result.exit_code == 0, result.output
    steps = [s["step"] for s in json.loads((outdir / "pipeline_info" / "run_summary.json").read_text())["steps"]]
    assert steps[:3] == ["GENOMEINDEX (regions_demo)", "PREPAREREGIONS (cpg_dense)", "TRAIN (cpg_dense_k3)"]
    assert not any(step.startswith(("PREPARE (", "VARIANTS")) for step in steps)
    by_hand = invoke(
        "prepare",
        "--bed",
        demo / "cpg_dense.bed",
        "--genome",
        demo / "regions_demo.fa.gz",
        "--test-chroms",
        "chr20_slice",
        "--name",
        "cpg_dense",
        "--folds",
        "3",
        "--outdir",
        tmp_path / "by_hand",
    )
    assert by_hand.exit_code == 0, by_hand.output
    table = (outdir / "prepare" / "cpg_dense.dataset.tsv").read_bytes()
    assert table == (tmp_path / "by_hand" / "cpg_dense.dataset.tsv").read_bytes()
    metrics = json.loads((outdir / "evaluate" / "cpg_dense_k3.metrics.json").read_text())
    assert metrics["subsets"]["all"]["n"] == 80 and metrics["subsets"]["leak_free"]["n"] == 80  # chr20_slice
    scan = json.loads((outdir / "predict" / "cpg_dense_k3.predict.json").read_text())
    assert scan["windows"]["scored"] > 0 and "calibration" in scan
    general_stats = (outdir / "multiqc" / "multiqc_data" / "multiqc_general_stats.txt").read_text()
    assert "cpg_dense_k3" in general_stats


def test_regions_samplesheet_errors_name_file_row_and_reason(tmp_path):
    from enhancerlm.cli import run_task
    from enhancerlm.commands.prepare import load_regions_sheet, load_samplesheet
    from enhancerlm.pipeline.runner import run_pipeline

    bed = resource("assets/data/regions-demo/cpg_dense.bed")
    sheet = tmp_path / "regions.csv"
    cases = [
        (
            f"mini_layer1,{bed},chr20_slice\n",
            "row 1 (dataset mini_layer1): dataset mini_layer1 is named twice in the run",
        ),
        (f"a,{bed},chr20,chr22\n", "has more fields than the header dataset,bed,test_chroms"),
        (f"a,{bed},\n", "test_chroms"),
        (f"a,{tmp_path / 'gone.bed'},chr20_slice\n", "column bed: file not found"),
        (f"a,{bed},chr20_slice\na,{bed},chr22_slice\n", "row 2 (dataset a): dataset a is named twice in the run"),
    ]
    fasta_sheet = load_samplesheet(resource("assets/samplesheets/mini_layer1.csv"))
    for rows, message in cases:
        sheet.write_text("dataset,bed,test_chroms\n" + rows)
        with pytest.raises(InputError, match=re.escape(message)):
            load_regions_sheet(sheet, fasta_sheet)
    sheet.write_text(f"dataset,bed,test_chroms\na,{bed},chr20_slice;chr22_slice\n")
    assert load_regions_sheet(sheet)["test_chroms"].tolist() == ["chr20_slice,chr22_slice"]
    params = load_params(profile="test", overrides={"input_regions": str(sheet), "outdir": str(tmp_path / "out")})
    del params["genome"]
    params.pop("vcf")
    with pytest.raises(InputError, match="region datasets need --genome"):
        run_pipeline(params, run_task, device="cpu")
    assert not (tmp_path / "out").exists()


def test_outputs_get_ordinary_permissions(tmp_path):
    """Atomic writes go through private temporary files; the results must still be readable by others."""
    import os

    from enhancerlm.formats.files import write_text

    path = write_text(tmp_path / "out.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_run_resume_skips_only_unchanged_steps(tmp_path):
    """--resume reuses a step only when its parameters, input contents and the version match."""
    outdir = tmp_path / "results"
    params = tmp_path / "params.yaml"

    def run(epochs: int, *flags: str) -> dict[str, bool]:
        params.write_text(f"kmers: '3'\nensemble: none\nepochs: {epochs}\n")
        result = invoke(
            "run", "--profile", "test", "--params", str(params), "--outdir", str(outdir), "--device", "cpu", *flags
        )
        assert result.exit_code == 0, result.output
        summary = json.loads((outdir / "pipeline_info" / "run_summary.json").read_text())
        return {s["step"]: s.get("cached", False) for s in summary["steps"]}

    first = run(1)
    assert not any(first.values()) and "TRAIN (mini_layer1_k3)" in first
    card = (outdir / "train" / "mini_layer1_k3" / "enhancerlm.json").read_bytes()
    assert all(run(1, "--resume").values())  # nothing changed: every step is reused
    assert (outdir / "train" / "mini_layer1_k3" / "enhancerlm.json").read_bytes() == card
    changed = run(2, "--resume")  # a training parameter changed: training and what depends on it re-run
    assert changed["PREPARE (mini_layer1)"] and not changed["TRAIN (mini_layer1_k3)"]
    assert not changed["EVALUATE (mini_layer1_k3)"] and not changed["MULTIQC (multiqc)"]
    card = json.loads((outdir / "train" / "mini_layer1_k3" / "enhancerlm.json").read_text())
    assert card["hyperparameters"]["epochs"] == 2
    assert not any(run(2).values())  # without --resume everything runs


def test_killed_run_leaves_no_temporaries_once_rerun(tmp_path):
    """`kill -9` while VARIANTS writes leaves its half-written outputs as hidden temporaries (never under the final
    names); the next run into the same --outdir (here --resume) removes them, and redoes only what was unfinished."""
    outdir = tmp_path / "results"
    command = [
        str(Path(sys.executable).parent / "enhancerlm"),
        "--quiet",
        "run",
        "--profile",
        "test",
        "--outdir",
        str(outdir),
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    writer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list((outdir / "variants").glob(".*.tmp")) and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    writer.kill()
    writer.wait()
    left = sorted(p.name for p in (outdir / "variants").glob(".*.tmp"))
    assert left and not list((outdir / "variants").glob("*.variants.json")), "killed before VARIANTS wrote"
    assert sweep_temporaries(tmp_path / "absent") == []

    rerun = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert [p for p in outdir.rglob("*.tmp")] == []
    report = json.loads((outdir / "variants" / "mini_layer1_ensemble.variants.json").read_text())
    assert report["records"]["reported"] == 234
    steps = {s["step"]: s for s in json.loads((outdir / "pipeline_info" / "run_summary.json").read_text())["steps"]}
    assert steps["PREPARE (mini_layer1)"].get("cached") and steps["MOTIFS (mini_layer1_ensemble)"].get("cached")
    assert not steps["VARIANTS (mini_layer1_ensemble)"].get("cached")


def test_sweep_removes_only_what_killed_writers_leave(tmp_path):
    """tempfile's `.<name>.<8 characters>.tmp` files and directories go; other hidden or .tmp files stay."""
    (tmp_path / "variants").mkdir()
    stale_file = tmp_path / "variants" / ".x.scored.vcf.gz.k2j_9ab1.tmp"
    stale_dir = tmp_path / ".ensemble.q0w9e8r7.tmp"
    stale_file.write_text("half")
    (stale_dir / "members").mkdir(parents=True)
    (stale_dir / "members" / ".card.json.abcdefgh.tmp").write_text("{")
    kept = [tmp_path / ".hidden", tmp_path / "notes.tmp", tmp_path / "variants" / ".x.tbi.short.tmp"]
    for path in kept:
        path.write_text("keep")
    assert sorted(sweep_temporaries(tmp_path)) == sorted([stale_file, stale_dir])
    assert all(path.exists() for path in kept) and not stale_dir.exists()


def test_vcf_without_genome_fails_before_any_step(tmp_path):
    from enhancerlm.cli import run_task
    from enhancerlm.pipeline.runner import run_pipeline

    params = load_params(profile="test", overrides={"outdir": str(tmp_path / "results")})
    del params["genome"]
    with pytest.raises(InputError, match="variant scoring needs --genome"):
        run_pipeline(params, run_task, device="cpu")
    assert not (tmp_path / "results").exists()  # nothing ran, nothing written


@pytest.mark.parametrize(
    ("message", "parameters", "shown"),
    [
        (
            "val_fold 7 is not one of the dataset's folds [0, 1]",
            ("val_fold",),
            "--val-fold 7 is not one of the dataset's folds [0, 1]",
        ),
        (
            "device cuda was asked for, but torch sees no CUDA device",
            ("device",),
            "--device cuda was asked for, but torch sees no CUDA device",
        ),  # the first mention only
        (
            "chunk chr1:0-9: contig chr1 is excluded by include_contigs or exclude_contigs",
            ("chunk", "include_contigs", "exclude_contigs"),
            "--chunk chr1:0-9: contig chr1 is excluded by --include-contigs or --exclude-contigs",
        ),
        ("sequences.fa: line 3: empty header", (), "sequences.fa: line 3: empty header"),
    ],
)
def test_library_messages_name_values_and_the_cli_shows_flags(message, parameters, shown):
    from enhancerlm.cli import flag_names

    assert flag_names(InputError(message, parameters=parameters)) == shown


HEAVY_MODULES = ("torch", "transformers", "pandas", "scipy", "sklearn", "pyfaidx", "Bio")


def run_in_fresh_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["versions", "--tool", "enhancerlm"],
        ["versions", "--tool", "cuda"],
        ["predict", "-h"],
    ],
)
def test_help_versions_and_a_commands_help_import_no_heavy_library(argv):
    """Every Nextflow task runs `enhancerlm versions --tool ...`: it must not pay for torch and pandas."""
    result = run_in_fresh_python(
        "import sys\nfrom enhancerlm.cli import main\n"
        f"try:\n    main({argv!r}, standalone_mode=False)\n"
        f"finally:\n    print('LOADED', [m for m in {HEAVY_MODULES!r} if m in sys.modules])\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("LOADED []"), result.stdout


def test_versions_reads_the_cuda_runtime_as_torch_reports_it():
    import torch

    assert invoke("versions", "--tool", "cuda").output.strip() == (torch.version.cuda or "none")


def test_threads_caps_torch_and_the_blas_and_openmp_pools(tmp_path):
    fai = tmp_path / "g.fa.fai"
    fai.write_text("chr1\t1000\t6\t60\t61\n")
    result = run_in_fresh_python(
        "import numpy, scipy.linalg\nfrom threadpoolctl import threadpool_info\nfrom enhancerlm.cli import main\n"
        f"main(['chunks', '--threads', '1', '--fai', {str(fai)!r}, '--output', {str(tmp_path / 'c.bed')!r}], "
        "standalone_mode=False)\nimport torch\n"
        "print('POOLS', sorted({p['num_threads'] for p in threadpool_info()}), torch.get_num_threads())"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "POOLS [1] 1"


def test_every_command_loads_by_its_name_and_shows_its_help():
    """The lazy group finds each command in the module COMMANDS names, under the command's own name."""
    from enhancerlm.cli import COMMANDS, main

    for name in COMMANDS:
        result = invoke(name, "--help")
        assert result.exit_code == 0 and f"Usage: main {name} [OPTIONS]" in result.output, (name, result.output)
        assert main.get_command(None, name).name == name
    assert invoke("no-such-command").exit_code == 2
