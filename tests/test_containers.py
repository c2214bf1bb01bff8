"""The container recipes: lint-clean, versioned from the package, CUDA pinned and stated."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert re.search(rf"^FROM \S+cuda{re.escape(cuda)}\S*$", text, re.M)
    assert 'cuda.version="${CUDA_VERSION}"' in text
    modules = "".join(p.read_text() for p in (ROOT / "modules").rglob("main.nf"))
    assert f"enhancerlm:{__version__}-cuda{cuda}" in modules


def test_apptainer_definition_converts_the_docker_image():
    text = (ROOT / "containers" / "enhancerlm.def").read_text()
    assert re.search(r"^Bootstrap: docker$", text, re.M)
    assert re.search(r"^From: ghcr.io/enhancerlm/enhancerlm:\{\{ TAG \}\}$", text, re.M)
