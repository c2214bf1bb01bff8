"""The dataflow of the pipeline, read from its `.nf` files: which channels feed which process, and whether every
channel a process reads can close.

Nextflow starts a task when its input channels deliver, and a process ends when its inputs close. A channel made
by a factory (`channel.of`, `channel.value`, ...) closes by itself; a process output closes when the process ends;
a topic (`channel.topic('T')`) is a mix of the outputs declared `topic: T` and closes only when every process
emitting to it has ended (nextflow-io/nextflow, extension/CH.groovy `connectTopics`, extension/MixOp.groovy). So a
cycle between processes and topics (a process reading a topic it also emits to) never closes and the run hangs:
`flow(main.nf).cycles()` finds such cycles, `flow(main.nf).unknown` names channels read but never defined.

Each workflow body is read statement by statement (nfparse's splitter): `name = expression` binds a channel,
`NAME ( args )` calls a process or a subworkflow (whose `take:` inputs are bound to the arguments and whose
`emit:` outputs come back as `NAME.out.x`), and `if (...) { ... }` blocks are read as if taken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from helpers import nfparse
from helpers.nfparse import NextflowParseError, Snippet

FACTORY = re.compile(r"\b[Cc]hannel\s*\.\s*(?:of|value|fromList|fromPath|fromFilePairs|empty|fromSRA)\b")
TOPIC = re.compile(r"\b[Cc]hannel\s*\.\s*topic\s*\(\s*(['\"])")
OUTPUT = re.compile(r"\b([A-Z][A-Z0-9_]*)\.out\.([A-Za-z_]\w*)")
NAME = re.compile(r"(?<![\w.$])([a-z_]\w*)\b")
CALL = re.compile(r"([A-Z][A-Z0-9_]*)\s*\(")
ASSIGNMENT = re.compile(r"(?:def\s+)?([A-Za-z_]\w*)\s*=(?!=)")
LABELS = ("take", "main", "emit")


@dataclass
class Flow:
    """Process and topic nodes with the nodes each reads from (`process:NAME`, `topic:NAME`, `factory`)."""

    reads: dict[str, set[str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    def add(self, node: str, sources: set[str]) -> None:
        self.reads.setdefault(node, set()).update(sources)

    def cycles(self) -> list[list[str]]:
        """Each cycle of nodes that wait on one another, as a path that starts and ends at the same node."""
        found, state = [], {}

        def visit(node: str, path: list[str]) -> None:
            state[node] = "open"
            for source in sorted(self.reads.get(node, ())):
                if state.get(source) == "open":
                    found.append(path[path.index(source) :] + [source] if source in path else [source, node])
                elif source not in state:
                    visit(source, path + [source])
            state[node] = "done"

        for node in sorted(self.reads):
            if node not in state:
                visit(node, [node])
        return [list(reversed(cycle)) for cycle in found]


def flow(main: str | Path) -> Flow:
    """The dataflow of the pipeline whose entry workflow is in `main`."""
    result = Flow()
    _run_workflow(Path(main).resolve(), None, {}, result)
    return result


def _sections(body: Snippet) -> dict[str, list[Snippet]]:
    """The statements of a workflow body under its take:/main:/emit: labels (all main: without labels)."""
    sections: dict[str, list[Snippet]] = {label: [] for label in LABELS}
    current = "main"
    for statement in nfparse.statements(body):
        label = re.fullmatch(r"(\w+)\s*:", str(statement))
        if label and label.group(1) in LABELS:
            current = label.group(1)
            continue
        sections[current].append(statement)
    return sections


def _run_workflow(path: Path, name: str | None, bindings: dict[str, set[str]], result: Flow) -> dict[str, set[str]]:
    """Read one workflow's body with its take: inputs bound; return its emit: outputs' sources."""
    source = nfparse._read(path)
    blocks = nfparse._blocks(source, nfparse.mask(source), "workflow")
    chosen = [b for b in blocks if b[0] == name] if name else [b for b in blocks if b[0] is None]
    if len(chosen) != 1:
        raise NextflowParseError(f"cannot find workflow {name or '(entry)'}", path)
    _, _, start, end = chosen[0]
    sections = _sections(source.sub(start, end))
    env: dict[str, set[str]] = {}
    for statement in sections["take"]:
        take = re.match(r"[A-Za-z_]\w*", str(statement)).group()
        env[take] = set(bindings.get(take, {"factory"}))
    outputs: dict[str, dict[str, set[str]]] = {}
    scope = _Scope(path, env, outputs, result)
    for statement in sections["main"]:
        scope.statement(statement)
    emitted = {}
    for statement in sections["emit"]:
        assignment = ASSIGNMENT.match(str(statement))
        if assignment:
            emitted[assignment.group(1)] = scope.sources(statement.sub(assignment.end()))
        else:
            emitted[str(statement).strip()] = scope.sources(statement)
    return emitted


@dataclass
class _Scope:
    path: Path
    env: dict[str, set[str]]
    outputs: dict[str, dict[str, set[str]]]
    result: Flow

    def statement(self, statement: Snippet) -> None:
        text, masked = str(statement), nfparse.mask(statement)
        if re.match(r"(if|else)\b", masked):
            for inner in re.finditer(r"\{", masked):
                if masked[: inner.start()].count("{") == masked[: inner.start()].count("}"):
                    close = nfparse._matching(text, inner.start(), statement)
                    for nested in nfparse.statements(statement.sub(inner.start() + 1, close)):
                        self.statement(nested)
            return
        assignment = ASSIGNMENT.match(masked)
        call = CALL.match(masked)
        if assignment and not call:
            self.env[assignment.group(1)] = self.sources(statement.sub(assignment.end()))
        elif (
            call
            and masked.rstrip().endswith(")")
            and nfparse._matching(text, call.end() - 1, statement) == len(text.rstrip()) - 1
        ):
            arguments = nfparse._split_top(statement.sub(call.end(), len(text.rstrip()) - 1))
            self.call(call.group(1), [self.sources(a) for a in arguments if str(a).strip()], statement)

    def call(self, name: str, arguments: list[set[str]], where: Snippet) -> None:
        known = nfparse.includes(self.path)
        original, file = known.get(name, (name, self.path))
        if file is None:
            return  # a plugin function
        if original in nfparse.process_names(file):
            node = f"process:{name}"
            self.result.add(node, set().union(*arguments) if arguments else set())
            for output in nfparse.read_process(file, original).outputs:
                if output.topic:
                    self.result.add(f"topic:{output.topic}", {node})
            self.outputs[name] = {}
        elif original in nfparse.workflow_names(file):
            takes = [re.match(r"[A-Za-z_]\w*", str(s)).group() for s in self._takes(file, original)]
            bindings = dict(zip(takes, arguments))
            self.outputs[name] = _run_workflow(file, original, bindings, self.result)
        elif not re.search(rf"^def\s+{original}\s*\(", nfparse.mask(nfparse._read(file)), re.M):
            raise where.error(f"call to {name}, which is neither a process, a workflow nor a function")

    @staticmethod
    def _takes(file: Path, workflow: str) -> list[Snippet]:
        source = nfparse._read(file)
        ((_, _, start, end),) = [
            b for b in nfparse._blocks(source, nfparse.mask(source), "workflow") if b[0] == workflow
        ]
        return _sections(source.sub(start, end))["take"]

    def sources(self, expression: Snippet) -> set[str]:
        """The nodes an expression's channels come from."""
        text, masked = str(expression), nfparse.mask(expression)
        found: set[str] = set()
        if FACTORY.search(masked):
            found.add("factory")
        for match in TOPIC.finditer(masked):
            end = nfparse._string_end(text, match.end() - 1, expression)
            found.add(f"topic:{text[match.end() : end - 1]}")
        for match in OUTPUT.finditer(masked):
            name, emit = match.groups()
            if name not in self.outputs:
                self.result.unknown.append(f"{expression.path}:{expression.line}: {name}.out.{emit} before {name} runs")
            elif self.outputs[name] == {}:
                found.add(f"process:{name}")
            elif emit in self.outputs[name]:
                found |= self.outputs[name][emit]
            else:
                self.result.unknown.append(f"{expression.path}:{expression.line}: {name} emits no {emit}")
        for match in NAME.finditer(masked):
            if match.group(1) in self.env:
                found |= self.env[match.group(1)]
            elif match.group(1).startswith("ch_"):
                self.result.unknown.append(f"{expression.path}:{expression.line}: {match.group(1)} is not defined")
        return found
