"""The package's layers, read from its imports: each module imports only from the layers below its own.

primitives (`enhancerlm`, `defaults`, `errors`, `versions`) -> core -> formats -> models -> training | analysis ->
commands -> pipeline -> cli. training and analysis never import each other; nothing imports in a cycle; no module
of the package is imported inside a function (a lazy import is how a cycle hides) except in the cli, the top
layer, where no cycle can hide and lazy imports keep start-up fast; only the models layer tells model kinds apart
(everything else scores through `Scorer`). Functions stay short and files small, or say at their top why not.
docs/architecture.md describes the same rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS = {
    "primitives": 0,
    "core": 1,
    "formats": 2,
    "models": 3,
    "training": 4,
    "analysis": 4,
    "commands": 5,
    "pipeline": 6,
    "cli": 7,
}
HEAVY = {"core": {"torch", "transformers"}, "formats": {"torch", "transformers"}}  # array and file layers
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 500
SIZE_REASON = "Size:"  # a module docstring line that says why the file is longer


def module_name(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def package_imports(tree: ast.Module, name: str) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of the package."""
    found = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    nested = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        lazy = id(node) in nested
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{name}:{node.lineno}: relative import; the package imports itself by full name")
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "enhancerlm":
            if node.module == "enhancerlm":  # `from enhancerlm import __version__` or a subpackage
                found += [
                    (
                        f"enhancerlm.{a.name}"
                        if a.name in LAYERS or f"enhancerlm.{a.name}" in PRIMITIVES
                        else "enhancerlm",
                        node.lineno,
                        lazy,
                    )
                    for a in node.names
                ]
            else:
                found.append((node.module, node.lineno, lazy))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno, lazy) for a in node.names if a.name.split(".")[0] == "enhancerlm"]
    return found


PRIMITIVES = {"enhancerlm", "enhancerlm.defaults", "enhancerlm.errors", "enhancerlm.versions"}


def layer(module: str) -> str:
    return "primitives" if module in PRIMITIVES else module.split(".")[1]


def import_graph(root: Path) -> dict[str, list[tuple[str, int, bool]]]:
    return {
        module_name(path, root): package_imports(ast.parse(path.read_text()), str(path))
        for path in sorted((root / "enhancerlm").rglob("*.py"))
    }


def layer_problems(graph: dict[str, list[tuple[str, int, bool]]]) -> list[str]:
    problems = []
    for module, imports in graph.items():
        for imported, line, lazy in imports:
            mine, theirs = layer(module), layer(imported)
            if lazy and mine != "cli":
                problems.append(f"{module}:{line}: imports {imported} inside a function")
            if theirs not in LAYERS or mine not in LAYERS:
                problems.append(f"{module}:{line}: {imported} is in no layer")
            elif LAYERS[theirs] > LAYERS[mine] or (LAYERS[theirs] == LAYERS[mine] and theirs != mine):
                problems.append(f"{module}:{line}: imports {imported} ({theirs}), which is not below {mine}")
    return problems


def cycles(graph: dict[str, list[tuple[str, int, bool]]]) -> list[list[str]]:
    """Every import cycle, as the modules along it (depth-first search over the package's own imports)."""
    edges = {
        module: sorted({imported for imported, _, _ in imports if imported in graph and imported != module})
        for module, imports in graph.items()
    }
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in edges.get(module, []):
            if state.get(imported) == "open":
                found.append(path[path.index(imported) :] + [imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in edges:
        if module not in state:
            visit(module, [module])
    return found


def heavy_imports(root: Path) -> list[str]:
    problems = []
    for path in sorted((root / "enhancerlm").rglob("*.py")):
        module = module_name(path, root)
        banned = HEAVY.get(layer(module), set())
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            problems += [f"{module}:{node.lineno}: imports {n}" for n in names if n.split(".")[0] in banned]
    return problems


MODEL_KINDS = {"LoadedModel", "KmerBaseline", "Ensemble", "KmerTokenizer", "HuggingFaceTokenizer"}


def kind_dispatch(root: Path) -> list[str]:
    """`isinstance` tests on model or tokenizer kinds outside the models layer (which `Scorer` makes needless)."""
    problems = []
    for path in sorted((root / "enhancerlm").rglob("*.py")):
        module = module_name(path, root)
        if layer(module) == "models":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance" and len(node.args) == 2:
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                problems += [f"{module}:{node.lineno}: isinstance on {name}" for name in sorted(names & MODEL_KINDS)]
    return problems


def code_lines(function: ast.AST, source: list[str]) -> int:
    """Lines of a function that hold code: not its docstring, blank lines or comments."""
    body = function.body
    skip = set()
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        skip = set(range(body[0].lineno, body[0].end_lineno + 1))
    lines = range(function.lineno, function.end_lineno + 1)
    return sum(
        1 for n in lines if n not in skip and source[n - 1].strip() and not source[n - 1].strip().startswith("#")
    )


def long_functions(root: Path) -> list[str]:
    problems = []
    for path in sorted((root / "enhancerlm").rglob("*.py")):
        text = path.read_text()
        source = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (count := code_lines(node, source)) > MAX_FUNCTION_LINES:
                    problems.append(f"{module_name(path, root)}.{node.name}: {count} code lines")
    return problems


def long_files(root: Path) -> list[str]:
    problems = []
    for path in sorted((root / "enhancerlm").rglob("*.py")):
        text = path.read_text()
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if len(text.splitlines()) > MAX_FILE_LINES and SIZE_REASON not in docstring:
            problems.append(f"{module_name(path, root)}: {len(text.splitlines())} lines and no `{SIZE_REASON}` line")
    return problems


def private_imports(roots: list[Path]) -> list[str]:
    """Imports of another module's `_private` names: a name used elsewhere is public, so it is named so."""
    problems = []
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("enhancerlm"):
                names = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                problems += [f"{path.name}:{node.lineno}: imports {node.module}.{name}" for name in names]
    return problems


def test_no_private_name_is_imported_across_modules():
    tests = Path(__file__).resolve().parent
    assert not private_imports([SRC, tests, tests.parent / "benchmarks"]), private_imports([SRC, tests])


def test_private_import_check_can_fail(tmp_path):
    (tmp_path / "a.py").write_text("from enhancerlm.core.dna import _mask, reverse_complement\n")
    assert private_imports([tmp_path]) == ["a.py:1: imports enhancerlm.core.dna._mask"]


def test_every_module_is_in_a_layer_and_imports_only_below_it():
    graph = import_graph(SRC)
    assert len(graph) > 20 and all(layer(module) in LAYERS for module in graph), sorted(graph)
    assert not layer_problems(graph), "\n".join(layer_problems(graph))


def test_no_import_cycle():
    assert not cycles(import_graph(SRC)), cycles(import_graph(SRC))


def test_core_and_formats_need_no_torch():
    assert not heavy_imports(SRC), heavy_imports(SRC)


def test_every_module_says_what_it_holds():
    undocumented = [
        module_name(path, SRC)
        for path in sorted((SRC / "enhancerlm").rglob("*.py"))
        if len(ast.get_docstring(ast.parse(path.read_text())) or "") < 20
    ]
    assert not undocumented, undocumented


def test_only_the_models_layer_tells_model_kinds_apart():
    assert not kind_dispatch(SRC), kind_dispatch(SRC)


def test_functions_are_short_and_files_small():
    assert not long_functions(SRC), long_functions(SRC)
    assert not long_files(SRC), long_files(SRC)


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "enhancerlm" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"core/dna.py": "from enhancerlm.models.scorer import Scorer\n", "models/scorer.py": ""},
            "imports enhancerlm.models.scorer (models), which is not below core",
        ),
        (
            {"training/fit.py": "from enhancerlm.analysis.scan import x\n", "analysis/scan.py": ""},
            "imports enhancerlm.analysis.scan (analysis), which is not below training",
        ),
        (
            {"models/a.py": "def f():\n    from enhancerlm.models.b import g\n", "models/b.py": ""},
            "imports enhancerlm.models.b inside a function",
        ),
    ],
)
def test_layer_check_can_fail(tmp_path, files, message):
    problems = layer_problems(import_graph(write_package(tmp_path, files)))
    assert any(message in problem for problem in problems), problems


def test_cycle_and_size_checks_can_fail(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES + 1))
    root = write_package(
        tmp_path,
        {
            "models/a.py": "from enhancerlm.models.b import g\n",
            "models/b.py": "from enhancerlm.models.a import f\n",
            "core/long.py": f'"""A module."""\n\n\ndef f():\n    """Doc."""\n    # a comment\n{body}\n',
            "core/big.py": "x = 1\n" * (MAX_FILE_LINES + 1),
            "formats/tensor.py": "import torch\n",
            "analysis/scan.py": "def f(model):\n    return isinstance(model, (Ensemble, int))\n",
        },
    )
    assert cycles(import_graph(root)) == [["enhancerlm.models.a", "enhancerlm.models.b", "enhancerlm.models.a"]]
    assert long_functions(root) == [f"enhancerlm.core.long.f: {MAX_FUNCTION_LINES + 2} code lines"]
    assert long_files(root) == [f"enhancerlm.core.big: {MAX_FILE_LINES + 1} lines and no `{SIZE_REASON}` line"]
    assert heavy_imports(root) == ["enhancerlm.formats.tensor:1: imports torch"]
    assert kind_dispatch(root) == ["enhancerlm.analysis.scan:2: isinstance on Ensemble"]


def test_tests_share_code_through_helpers_only():
    """Shared test code lives in tests/helpers: no test imports conftest or another test module."""
    tests = Path(__file__).resolve().parent
    found = [
        f"{path.name}:{node.lineno}: imports {name}"
        for path in sorted(tests.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for name in ([node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
        if name.split(".")[0] == "conftest" or name.split(".")[0].startswith("test_")
    ]
    assert not found, found
