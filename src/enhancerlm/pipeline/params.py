"""The run's parameters, from the same places as in Nextflow and in the same order: `nextflow_schema.json`'s
defaults, a profile's `params { }` block in `conf/<profile>.config`, a params file, the command line; then
validated against the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from enhancerlm.errors import InputError
from enhancerlm.formats.files import resource

PROFILES = ("test", "demo", "test_full")


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


def load_params(
    profile: str | None = None, params_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
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
    params = {  # null unsets a parameter, as in a Nextflow params file
        k: v.replace("${projectDir}", root) if isinstance(v, str) else v for k, v in params.items() if v is not None
    }
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
