"""The container recipes: lint-clean, versioned from the package, CUDA pinned and stated."""

import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

from enhancerlm import __version__

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = [ROOT / "containers" / "Dockerfile", ROOT / "containers" / "Dockerfile.cuda"]
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile):
    result = subprocess.run([HADOLINT, str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_catches_problems(tmp_path):
    """The lint check can fail: an unpinned pip install and a missing USER are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim-bookworm\nRUN pip install enhancerlm\n")
    result = subprocess.run([HADOLINT, str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3013" in result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_image_version_comes_from_the_build_argument(dockerfile):
    text = dockerfile.read_text()
    assert re.search(r"^ARG VERSION$", text, re.M), "VERSION must be a build argument without a default"
    assert 'org.opencontainers.image.version="${VERSION}"' in text
    assert "enhancerlm.__version__" in text  # the build checks the argument against the package
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M), "the image must not run as root"


def test_cuda_image_pins_and_states_its_cuda_version():
    text = DOCKERFILES[1].read_text()
    cuda = re.search(r"^ARG CUDA_VERSION=(\S+)$", text, re.M).group(1)
    assert 'cuda.version="${CUDA_VERSION}"' in text
    assert '"${cuda}" != "${CUDA_VERSION}"' in text  # the build checks torch.version.cuda
    modules = "".join(p.read_text() for p in (ROOT / "modules").rglob("main.nf"))
    assert f"enhancerlm:{__version__}-cuda{cuda}" in modules


def pins() -> dict[str, str]:
    """containers/constraints.txt: {canonical name: version}."""
    found = {}
    for line in (ROOT / "containers" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            found[canonicalize_name(name)] = version
    return found


def test_constraints_pin_every_runtime_dependency_as_installed():
    """The pins are the resolution of the package's requirements (what `make constraints` writes)."""
    spec = importlib.util.spec_from_file_location("pin_constraints", ROOT / "containers" / "pin_constraints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    closure = module.runtime_closure("enhancerlm")
    # PyPI's torch wheel is the CUDA build: its CUDA runtime packages are not pinned for the CPU image
    cuda_runtime = [name for name in closure if name.startswith(("nvidia-", "cuda-")) or name == "triton"]
    assert not cuda_runtime or "nvidia-cublas" in closure, cuda_runtime
    assert {name: d.version.split("+")[0] for name, d in closure.items() if name not in cuda_runtime} == pins()
    assert {"torch", "transformers", "multiqc", "pyfaidx", "cyvcf2", "click", "pandas"} <= set(pins())


def environment_pip(path: Path) -> tuple[list[str], dict[str, str]]:
    """An environment.yml's conda dependencies and its pip pins {name: version}."""
    env = yaml.safe_load(path.read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    pinned = {}
    for spec in pip:
        if spec.startswith("--"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(==(\S+)| @ (\S+))", spec)
        assert match, f"{path}: {spec!r} is neither pinned (==) nor a direct reference (@)"
        pinned[canonicalize_name(match.group(1))] = match.group(3) or match.group(4)
    return conda, pinned


ENVIRONMENTS = sorted((ROOT / "modules").rglob("environment*.yml"))


@pytest.mark.parametrize("path", ENVIRONMENTS, ids=lambda p: str(p.relative_to(ROOT / "modules")))
def test_environment_installs_the_pinned_software_from_where_it_is_published(path):
    conda, pinned = environment_pip(path)
    assert all(re.fullmatch(r"conda-forge::[a-z0-9_.\-]+=[\d.]+", d) for d in conda), conda
    # enhancerlm is not on PyPI or bioconda: its repository at the release tag (manifest.homePage, v<version>)
    assert pinned.pop("enhancerlm") == f"git+https://github.com/enhancerlm/enhancerlm@v{__version__}"
    gpu = path.name == "environment.gpu.yml"
    expected = {name: pins()[name] + ("" if gpu or name != "torch" else "+cpu") for name in pinned}
    assert pinned == expected, f"{path}: pins differ from containers/constraints.txt"
    assert {"torch", "transformers", "multiqc"} <= set(pinned)
    if not gpu:
        assert (
            "--extra-index-url https://download.pytorch.org/whl/cpu"
            in yaml.safe_load(path.read_text())["dependencies"][-1]["pip"]
        )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_install_every_dependency_at_its_pin(dockerfile):
    text = dockerfile.read_text()
    assert "COPY containers/constraints.txt ./" in text
    installs = re.findall(r"pip install [^\n]*", text)
    assert installs and all("-c constraints.txt" in line for line in installs), installs
    assert re.search(r"^ARG TORCH_VERSION=(\S+)$", text, re.M).group(1) == pins()["torch"]


def test_development_install_uses_the_same_pins():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^TORCH\s+\?= torch==(\S+)$", makefile, re.M).group(1) == pins()["torch"]
    assert "PINS    := containers/constraints.txt" in makefile
    assert makefile.count("pip install --quiet -c $(PINS)") == 2


def unrendered_template_strings(root: Path) -> list[str]:
    """Lines with an unrendered Jinja placeholder (double braces not preceded by `$`, what nf-core's
    template_strings lint fails on), in tracked text files."""
    listed = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    found = []
    for name in listed.splitlines():
        path = root / name
        if path.suffix in {".png", ".gz", ".tbi", ".gzi", ".bw", ".parquet"} or not path.is_file():
            continue
        try:
            lines = path.read_text().splitlines()
        except UnicodeDecodeError:
            continue
        found += [f"{name}:{n}" for n, line in enumerate(lines, 1) if re.findall(r"[^$]{{[^:}]*}}", line)]
    return found


def test_no_unrendered_template_strings(tmp_path):
    assert unrendered_template_strings(ROOT) == []
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "x.def").write_text(
        "From: image:" + "{" * 2 + " TAG " + "}" * 2 + "\nrun: $" + "{" * 2 + " secrets.X }}\n"
    )
    subprocess.run(["git", "add", "x.def"], cwd=tmp_path, check=True)
    assert unrendered_template_strings(tmp_path) == ["x.def:1"]


def python_snippets(text: str) -> list[str]:
    """The `python -c "..."` programs a Dockerfile runs while it builds (line continuations joined)."""
    joined = text.replace("\\\n", "\n")
    return re.findall(r'python -c "((?:[^"\\]|\\.)*)"', joined) + re.findall(r"python -c '([^']*)'", joined)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_build_checks_import_what_the_package_has(dockerfile):
    """The image's build-time checks name the package's real modules, so a moved function fails here, not in a
    build on another machine."""
    snippets = python_snippets(dockerfile.read_text())
    assert any("enhancerlm" in snippet for snippet in snippets), snippets
    for snippet in snippets:
        for module, names in re.findall(r"from (enhancerlm[\w.]*) import ([\w, ]+)", snippet):
            imported = importlib.import_module(module)
            missing = [name.strip() for name in names.split(",") if not hasattr(imported, name.strip())]
            assert not missing, f"{dockerfile.name}: {module} has no {missing}"


def test_build_check_can_fail():
    snippet = python_snippets('RUN python -c "from enhancerlm.motifs import load_motifs; load_motifs()"')[0]
    module = re.findall(r"from (enhancerlm[\w.]*) import", snippet)[0]
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(module)
