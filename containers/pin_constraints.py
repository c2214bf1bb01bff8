"""Print containers/constraints.txt: every runtime dependency of the installed enhancerlm at its installed version.

Walks the requirements of enhancerlm (no extras, environment markers evaluated here) and pins each distribution
found; torch's local label (+cpu) is dropped, so the CUDA image installs the same release. Run by `make constraints`
in a fresh environment holding enhancerlm alone.
"""

import importlib.metadata as metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HEADER = """\
# The exact versions of every runtime dependency of enhancerlm, for the CPU and CUDA images, the conda
# environments of the modules and the development install (make install): one source of truth for the software
# a tag ships. Regenerate after changing pyproject.toml: make constraints (a fresh venv's resolution, torch's local
# +cpu label dropped, so the CUDA image installs the same version from PyPI)."""


def runtime_closure(name: str) -> dict[str, metadata.Distribution]:
    """The installed distributions `name` needs at run time, by canonical name (`name` itself excluded)."""
    found: dict[str, metadata.Distribution] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        key = canonicalize_name(current)
        if key in found:
            continue
        try:
            found[key] = metadata.distribution(current)
        except metadata.PackageNotFoundError:
            continue
        for line in found[key].requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    found.pop(canonicalize_name(name))
    return found


if __name__ == "__main__":
    print(HEADER)
    for _, distribution in sorted(runtime_closure("enhancerlm").items()):
        print(f"{distribution.metadata['Name']}=={distribution.version.split('+')[0]}")
