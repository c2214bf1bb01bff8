"""One formatter and linter configuration (pyproject.toml's [tool.ruff]: line length 120, import order) holds
for the package, its tests, bin/ and benchmarks/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"  # installed with the test extra, at the version pyproject.toml pins
CHECKED = ["src", "tests", "bin", "benchmarks", "containers"]


def ruff(*arguments: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), *arguments], cwd=cwd, capture_output=True, text=True)


def test_code_is_formatted_and_linted():
    linted = ruff("check", *CHECKED)
    assert linted.returncode == 0, linted.stdout[-3000:]
    formatted = ruff("format", "--check", *CHECKED)
    assert formatted.returncode == 0, formatted.stdout[-3000:]


def test_style_check_can_fail(tmp_path):
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("import sys\nimport os\nx=[1,\n  2]\n")
    assert ruff("check", "bad.py", cwd=tmp_path).returncode != 0  # import order
    assert ruff("format", "--check", "bad.py", cwd=tmp_path).returncode != 0
