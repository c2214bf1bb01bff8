"""The embedded local runner: the pipeline's steps in-process, without Nextflow.

Parameters come from the same places as in Nextflow, in the same order: defaults from
`nextflow_schema.json`, then a profile's `params { }` block in `conf/<profile>.config`, then a
params file, then the command line; the result is validated against the schema. Outputs are
laid out as the Nextflow pipeline publishes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import logging
import platform
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from . import __version__
from .baseline import MODEL_TYPE as BASELINE
from .benchmark import run_benchmark
from .data import load_samplesheet, prepare_samplesheet
from .ensemble import build_ensemble
from .errors import EnhancerLMError, InputError
from .evaluate import evaluate_model
from .genome import index_genome
from .io import resource, sha256_file, sweep_temporaries, write_json, write_text
from .model import CARD_FILE
from .motifs import MotifOptions, discover_motifs
from .predict import ScanOptions, merge_predictions, predict, write_chunks
from .variants import VariantOptions, score_variants
from .versions import software_versions
from .train import CHECKPOINT_DIR, TrainOptions, train

log = logging.getLogger(__name__)

PROFILES = ("test", "demo", "test_full")
# The steps in the order the Nextflow workflow runs them (processes without the ENHANCERLM_ prefix).
STEP_RECORDS = Path("pipeline_info") / "steps"
# Arguments that do not change a step's result: training continued from its checkpoint ends with the same weights.
NOT_IN_KEY = {"resume"}
PIPELINE_STEPS = ("PREPARE", "TRAIN", "ENSEMBLE", "EVALUATE", "BENCHMARK", "GENOMEINDEX", "CHUNKS", "PREDICT",
                  "MERGEPREDICTIONS", "CHUNK_SUMMARY", "MOTIFS", "VARIANTS", "MULTIQC")
# The software each step reports on the `versions` topic (MULTIQC reads them and reports none).
STEP_TOOLS = {"PREPARE": ["enhancerlm"], "TRAIN": ["enhancerlm", "torch", "transformers", "cuda"],
              "ENSEMBLE": ["enhancerlm"], "EVALUATE": ["enhancerlm", "torch"], "BENCHMARK": ["enhancerlm"],
              "GENOMEINDEX": ["enhancerlm"], "CHUNKS": ["enhancerlm"], "PREDICT": ["enhancerlm", "torch", "cuda"],
              "MERGEPREDICTIONS": ["enhancerlm"], "CHUNK_SUMMARY": ["python"], "MOTIFS": ["enhancerlm", "torch", "cuda"],
              "VARIANTS": ["enhancerlm", "torch", "cuda"]}
_ASSIGNMENT = re.compile(r"""^\s*(\w+)\s*=\s*("[^"]*"|'[^']*'|[^'"/\s][^/]*?)\s*(//.*)?$""")
_PARAM_REFERENCE = re.compile(r"\$\{params\.(\w+)\}")


def schema() -> dict:
    return json.loads(resource("nextflow_schema.json").read_text())


def project_dir() -> Path:
    """Where `${projectDir}` points: the repository root, or the bundled copy in a wheel."""
    return resource("nextflow_schema.json").parent


def schema_defaults(params_schema: dict) -> dict[str, Any]:
    """Every parameter's default, from all groups of the schema."""
    defaults = {}
    for group in params_schema.get("$defs", {}).values():
        for name, spec in group.get("properties", {}).items():
            if "default" in spec:
                defaults[name] = spec["default"]
    return defaults


def profile_params(profile: str) -> dict[str, Any]:
    """The parameters a profile sets, from `conf/<profile>.config`."""
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return config_params(resource(f"conf/{profile}.config"))


def config_params(path: Path) -> dict[str, Any]:
    """The `params { }` block of a Nextflow config file, read as plain `name = value` lines."""
    params, inside = {}, False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if re.match(r"^params\s*\{", stripped):
            inside = True
        elif inside and stripped == "}":
            inside = False
        elif inside and stripped and not stripped.startswith("//"):
            match = _ASSIGNMENT.match(stripped)
            if not match:
                raise InputError(f"{path}: line {number}: expected `name = value` in the params block")
            value = _config_value(match.group(2), path, number)
            if isinstance(value, str):  # "${params.name}" of a parameter set above in the block
                value = _PARAM_REFERENCE.sub(lambda ref: str(params.get(ref.group(1), ref.group())), value)
            params[match.group(1)] = value
    return params


def _config_value(text: str, path: Path, number: int) -> Any:
    if text[0] in "'\"" and text[-1] == text[0]:
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise InputError(f"{path}: line {number}: cannot read the value {text!r}") from None


def load_params(profile: str | None = None, params_file: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge defaults, profile, params file and overrides; substitute `${projectDir}`; validate."""
    params_schema = schema()
    params = schema_defaults(params_schema)
    if profile:
        params.update(profile_params(profile))
    if params_file:
        loaded = yaml.safe_load(Path(params_file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise InputError(f"{params_file}: expected a mapping of parameter names to values")
        params.update(loaded)
    params.update(overrides or {})
    root = str(project_dir())
    params = {k: v.replace("${projectDir}", root) if isinstance(v, str) else v for k, v in params.items()}
    validate_params(params, params_schema, source=str(params_file or profile or "defaults"))
    return params


def validate_params(params: dict[str, Any], params_schema: dict, source: str) -> None:
    """Fail on unknown parameters and schema violations, naming the parameter."""
    known = {name for group in params_schema["$defs"].values() for name in group.get("properties", {})}
    unknown = sorted(set(params) - known)
    if unknown:
        raise InputError(f"{source}: unknown parameter(s) {', '.join(unknown)}")
    errors = sorted(Draft202012Validator(params_schema).iter_errors(params), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        name = ".".join(str(p) for p in error.path) or "params"
        raise InputError(f"{source}: parameter {name}: {error.message}")


def kmer_sizes(params: dict[str, Any]) -> list[int]:
    return [int(k) for k in str(params["kmers"]).split(",")]


def replicate_seeds(params: dict[str, Any]) -> list[int]:
    """The training seeds: params.seed, params.seed + 1, ... (params.replicates of them)."""
    return [params["seed"] + replicate for replicate in range(params["replicates"])]


def replicate_suffix(params: dict[str, Any], seed: int) -> str:
    """`_seed<N>` on model ids when models are trained more than once, nothing otherwise."""
    return f"_seed{seed}" if params["replicates"] > 1 else ""


def train_options(params: dict[str, Any]) -> TrainOptions:
    return TrainOptions(
        epochs=params["epochs"], batch_size=params["batch_size"], lr=params.get("lr"),
        weight_decay=params["weight_decay"], warmup=params["warmup"], grad_clip=params["grad_clip"],
        seed=params["seed"], val_fold=params["val_fold"], patience=params["patience"],
        rc_augment=params["rc_augment"], class_weight=params["class_weight"], pooling=params["pooling"],
        max_length=params["max_length"],
    )


def run_pipeline(params: dict[str, Any], device: str = "auto", resume: bool = False) -> Path:
    """prepare -> train (one model per dataset, k and seed, and the k-mer baseline) -> ensemble of the
    k-mer models -> evaluate every model on the test split -> benchmark table per dataset -> with the final
    models (the first seed's ensembles, else its k-mer models): genome scan in chunks, gathered per model,
    motif discovery on the model's dataset and variant scoring -> MultiQC.

    Results land in OUTDIR/prepare, OUTDIR/train/<model id>, OUTDIR/ensemble, OUTDIR/evaluate,
    OUTDIR/benchmark, OUTDIR/predict, OUTDIR/motifs, OUTDIR/variants, OUTDIR/multiqc and
    OUTDIR/pipeline_info, the layout the Nextflow pipeline publishes (chunk scans stay in OUTDIR/pipeline_info/work, as in Nextflow's work directory).
    With `resume`, a step is skipped when a completed record of it (OUTDIR/pipeline_info/steps) has the
    same key: its parameters, the content of its inputs and the package version (as Nextflow's -resume).
    """
    if params.get("vcf") and not params.get("genome"):  # before any step, as the workflow fails before any task
        raise InputError(f"--vcf {params['vcf']}: variant scoring needs --genome, the reference the VCF refers to")
    outdir = Path(params["outdir"])
    started = datetime.now(timezone.utc)
    steps: list[dict[str, Any]] = []
    swept = sweep_temporaries(outdir)  # a killed earlier run's half-written files: never an output, never reused
    if swept:
        log.info("removed %d temporary files of an interrupted run under %s", len(swept), outdir)

    def step(name: str, function, *args, inputs: Sequence[str | Path] = (), outputs: Sequence[str | Path] = (),
             **kwargs):
        clock = time.perf_counter()
        record = outdir / STEP_RECORDS / f"{_file_name(name)}.json"
        key = step_key(name, function, args, kwargs, inputs)
        if resume and (done := completed_step(record, key)) is not None:
            log.info("step %s: cached (same inputs, parameters and version)", name)
            steps.append({"step": name, "seconds": 0.0, "cached": True})
            return done
        log.info("step %s", name)
        value = function(*args, **kwargs)
        write_json(record, {"step": name, "key": key, "outputs": [str(p) for p in outputs], "value": value})
        steps.append({"step": name, "seconds": round(time.perf_counter() - clock, 1)})
        return value

    prepared = step("PREPARE", prepare_samplesheet, params["input"], outdir / "prepare", folds=params["folds"],
                    seed=params["seed"], max_n_fraction=params["max_n_fraction"], positive=params.get("positive"),
                    inputs=[params["input"], *load_samplesheet(params["input"])["fasta"]],
                    outputs=[outdir / "prepare"])
    cross_validation = params["cv"] or params["ensemble"] == "stacking"
    evaluations: dict[str, list[Path]] = {}
    final_models: list[tuple[Path, str]] = []  # (model, dataset): the first seed's ensembles, else its k-mer models
    for dataset, paths in prepared.items():
        evaluated = []
        for seed in replicate_seeds(params):
            options = dataclasses.replace(train_options(params), seed=seed)
            suffix = replicate_suffix(params, seed)
            models = [(f"{dataset}_k{k}{suffix}", params["model"], k) for k in sorted(kmer_sizes(params))]
            if params["baseline"]:
                models.append((f"{dataset}_{BASELINE}{suffix}", BASELINE, None))
            for model_id, spec, k in models:
                model_dir = outdir / "train" / model_id
                step(f"TRAIN ({model_id})", train, paths["dataset"], spec, model_dir, kmer=k, options=options,
                     model_id=model_id, device=device, cross_validation=cross_validation,
                     trust_remote_code=params["trust_remote_code"],
                     resume=resume and (model_dir / CHECKPOINT_DIR / "trainer.pt").exists(),
                     inputs=[paths["dataset"], *([spec] if Path(spec).exists() else [])],
                     outputs=[model_dir / CARD_FILE])
                evaluated.append(model_dir)
            kmer_models = [outdir / "train" / model_id for model_id, _, k in models if k is not None]
            first_seed = seed == params["seed"]
            if params["ensemble"] != "none" and len(kmer_models) >= 2:
                ensemble_dir = outdir / "ensemble" / f"{dataset}_ensemble{suffix}"
                step(f"ENSEMBLE ({ensemble_dir.name})", build_ensemble, [str(m) for m in kmer_models],
                     paths["dataset"], ensemble_dir, method=params["ensemble"], model_id=ensemble_dir.name,
                     device="cpu", inputs=[paths["dataset"], *kmer_models], outputs=[ensemble_dir / CARD_FILE])
                evaluated.append(ensemble_dir)
                final_models += [(ensemble_dir, paths["dataset"])] if first_seed else []
            else:
                final_models += [(model, paths["dataset"]) for model in kmer_models] if first_seed else []
        for model_dir in evaluated:
            written = step(f"EVALUATE ({model_dir.name})", evaluate_model, str(model_dir), paths["dataset"],
                           outdir=outdir / "evaluate", prefix=model_dir.name, device="cpu",
                           inputs=[model_dir, paths["dataset"]],
                           outputs=[outdir / "evaluate" / f"{model_dir.name}.metrics.json"])
            evaluations.setdefault(dataset, []).extend(Path(p) for p in written.values())
    for dataset in prepared:
        step(f"BENCHMARK ({dataset})", run_benchmark, outdir / "evaluate", outdir / "benchmark", dataset=dataset,
             prefix=dataset, inputs=evaluations.get(dataset, []),
             outputs=[outdir / "benchmark" / f"{dataset}.benchmark.json"])
    scanned = bool(params.get("genome")) and not params["skip_predict"] and bool(final_models)
    variants = bool(params.get("genome") and params.get("vcf")) and not params["skip_variants"] and bool(final_models)
    work = outdir / "pipeline_info" / "work"  # what Nextflow keeps in its work directory: the index, chunk scans
    if scanned or variants:
        source = Path(params["genome"])
        indexed = work / f"{_simple_name(source)}.fa.gz"
        step(f"GENOMEINDEX ({source.name})", index_genome, source, indexed, inputs=[source],
             outputs=[indexed, Path(f"{indexed}.fai"), Path(f"{indexed}.gzi")])
        fai, gzi = Path(f"{indexed}.fai"), Path(f"{indexed}.gzi")
    if scanned:
        chunks = step(f"CHUNKS ({indexed.name})", write_chunks, None, work / f"{_simple_name(source)}.chunks.bed",
                      size=params["predict_chunk_size"], fai=str(fai), inputs=[fai],
                      outputs=[work / f"{_simple_name(source)}.chunks.bed"])
        chunk_names = [line.split("\t")[3] for line in Path(chunks).read_text().splitlines()]
        options = ScanOptions(stride=params["predict_stride"], merge_gap=params["predict_merge_gap"],
                              regions=params.get("genome_regions"), blacklist=params.get("blacklist"), device=device)
        for model_dir, _ in final_models:
            parts = []
            for chunk in chunk_names:
                part = work / f"{model_dir.name}.{'_'.join(re.split('[:-]', chunk))}"
                step(f"PREDICT ({model_dir.name} {chunk})", predict, str(model_dir), str(indexed), part,
                     prefix=model_dir.name, options=dataclasses.replace(options, chunk=chunk), fai=str(fai),
                     gzi=str(gzi), inputs=[model_dir, indexed, *[p for p in (options.regions, options.blacklist) if p]],
                     outputs=[part / f"{model_dir.name}.predict.json"])
                parts.append(part)
            step(f"MERGEPREDICTIONS ({model_dir.name})", merge_predictions, parts, outdir / "predict",
                 prefix=model_dir.name, fai=str(fai), inputs=parts,
                 outputs=[outdir / "predict" / f"{model_dir.name}.predict.json"])
            summary_file = outdir / "predict" / f"{model_dir.name}.chunks_mqc.tsv"
            step(f"CHUNK_SUMMARY ({model_dir.name})", run_bin_script, "chunk_scans_mqc.py",
                 [*(f"--input={part}" for part in parts), f"--model-id={model_dir.name}", f"--output={summary_file}"],
                 inputs=parts, outputs=[summary_file])
    motifs = not params["skip_motifs"] and bool(final_models)
    for model_dir, dataset in final_models if motifs else []:
        step(f"MOTIFS ({model_dir.name})", discover_motifs, str(model_dir), dataset, outdir / "motifs",
             prefix=model_dir.name, options=MotifOptions(method=params["motif_method"], device=device),
             inputs=[model_dir, dataset], outputs=[outdir / "motifs" / f"{model_dir.name}.motifs.json"])
    for model_dir, _ in final_models if variants else []:
        step(f"VARIANTS ({model_dir.name})", score_variants, str(model_dir), str(indexed), params["vcf"],
             outdir / "variants", prefix=model_dir.name, fai=str(fai), gzi=str(gzi),
             options=VariantOptions(motifs=params.get("variant_motifs") or None, device=device),
             inputs=[model_dir, indexed, params["vcf"]],
             outputs=[outdir / "variants" / f"{model_dir.name}.variants.json"])
    info = outdir / "pipeline_info"
    versions = write_versions_yaml(info / "enhancerlm_software_mqc_versions.yml")
    summary_yaml = write_text(work / "workflow_summary_mqc.yaml", workflow_summary_yaml(params, schema()))
    ran = {"predict": scanned, "motifs": motifs, "variants": variants}
    reports = [outdir / "prepare", outdir / "evaluate", outdir / "benchmark",
               *(outdir / name for name, done in ran.items() if done)]
    configs = [resource("assets/multiqc_config.yml"), *([params["multiqc_config"]] if params.get("multiqc_config") else [])]
    step("MULTIQC", multiqc_report, [*reports, versions, summary_yaml], outdir / "multiqc", configs=configs,
         title=params.get("multiqc_title"), logo=params.get("multiqc_logo"), inputs=reports,
         outputs=[outdir / "multiqc" / "multiqc_report.html"])
    summary = {"enhancerlm_version": __version__, "started": started.isoformat(timespec="seconds"),
               "seconds": round((datetime.now(timezone.utc) - started).total_seconds(), 1), "steps": steps}
    stamp = started.strftime("%Y-%m-%d_%H-%M-%S")
    write_json(outdir / "pipeline_info" / f"params_{stamp}.json", params)
    return write_json(outdir / "pipeline_info" / "run_summary.json", summary)


def step_key(name: str, function, args: tuple, kwargs: dict, inputs: Sequence[str | Path]) -> str:
    """What identifies a step's result: its function, arguments, the content of its inputs and the version."""
    payload = {"step": name, "function": f"{function.__module__}.{function.__qualname__}", "version": __version__,
               "arguments": json.loads(json.dumps([args, {k: v for k, v in kwargs.items() if k not in NOT_IN_KEY}],
                                                  default=_plain)),
               "inputs": {str(path): content_digest(Path(path)) for path in inputs}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _file_name(step: str) -> str:
    """`TRAIN (layer1_k3)` -> `TRAIN_layer1_k3`."""
    return re.sub(r"[^\w.-]+", "_", step).strip("_")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return str(value)


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


def completed_step(record: Path, key: str) -> Any | None:
    """The recorded result of a completed step with this key whose outputs all exist, else None."""
    if not record.is_file():
        return None
    done = json.loads(record.read_text())
    if done.get("key") != key or not all(Path(p).exists() for p in done.get("outputs", [])):
        return None
    return done["value"]


def write_versions_yaml(path: Path) -> Path:
    """MultiQC's software-versions file, one entry per step, as the Nextflow workflow collects it from the
    `versions` topic."""
    found = {**software_versions(), "python": platform.python_version()}
    versions = {("" if step == "CHUNK_SUMMARY" else "ENHANCERLM_") + step: {tool: found[tool] for tool in tools}
                for step, tools in STEP_TOOLS.items()}
    return write_text(path, yaml.safe_dump(versions, sort_keys=True))


def workflow_summary_yaml(params: dict[str, Any], params_schema: dict) -> str:
    """The report's workflow summary: the parameters that differ from the schema's defaults, by group (the
    section the Nextflow workflow builds from nf-schema's paramsSummaryMap)."""
    defaults = schema_defaults(params_schema)
    groups = []
    for group in params_schema["$defs"].values():
        changed = {name: params[name] for name in group["properties"]
                   if name in params and params[name] != defaults.get(name) and params[name] is not None}
        if changed:
            rows = "\n".join(f"        <dt>{name}</dt><dd><samp>{html.escape(str(value))}</samp></dd>"
                             for name, value in sorted(changed.items()))
            groups.append(f'    <p><b>{group["title"]}</b></p>\n    <dl class="dl-horizontal">\n{rows}\n    </dl>')
    body = "\n".join(f"    {line}" for line in "\n".join(groups).splitlines())
    return ("id: 'enhancerlm-enhancerlm-summary'\n"
            "description: ' - the parameters of this run that differ from the defaults'\n"
            "section_name: 'enhancerlm/enhancerlm workflow summary'\n"
            "section_href: 'https://github.com/enhancerlm/enhancerlm'\n"
            "plot_type: 'html'\n"
            f"data: |\n{body}\n")


def run_bin_script(name: str, arguments: list[str]) -> list[str]:
    """Run one of the pipeline's own scripts (bin/, on PATH in Nextflow tasks) with this Python."""
    command = [sys.executable, str(resource(f"bin/{name}")), *arguments]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise EnhancerLMError(f"{name} failed (exit {finished.returncode}): {finished.stderr.strip()[-500:]}")
    return arguments


def _simple_name(path: Path) -> str:
    """The file name up to its first dot, as Nextflow's Path.simpleName."""
    return path.name.split(".", 1)[0]


def multiqc_report(inputs: list[Path], outdir: Path, *, configs: list[str | Path], title: str | None = None,
                   logo: str | None = None) -> Path:
    """Run MultiQC in its own process, with the command line the MULTIQC module uses."""
    command = [sys.executable, "-m", "multiqc", "--force", *(f"--config={config}" for config in configs),
               *([f"--cl-config=custom_logo: \"{logo}\""] if logo else []), "--outdir", str(outdir), "--quiet",
               *(["--title", title] if title else []), *map(str, inputs)]
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise EnhancerLMError(f"MultiQC failed (exit {finished.returncode}): {finished.stderr.strip()[-500:]}")
    return outdir / "multiqc_report.html"
