"""A small parser and renderer for the subset of Nextflow/Groovy this repository uses.

No Nextflow runs here, so the tests read the pipeline's `.nf` and `.config` files themselves:

- `read_process(path)`: a module's process: directives, input and output declarations, and the
  `script:` / `stub:` sections (their `def`/assignment lines and the triple-quoted command).
- a mini Groovy expression evaluator (`evaluate`): strings and GStrings, numbers, booleans, null,
  lists and maps, property access, a few methods, `?:`, `? :`, `==`, `!=`, `!`, `&&`, `||`, `in`, `+`, `-`.
- `render(process, "script"|"stub", ...)`: the command a task would run; `output_patterns` renders the
  declared output paths in the same scope, as Nextflow does.
- `read_config(path)`: a config file as nested scopes of unevaluated values; `read_module_options` and
  `eval_ext` for `conf/modules.config`.
- `workflow_calls(path)`: the processes a workflow runs, in source order, through included subworkflows.

It fails loudly: whatever it cannot parse or evaluate raises `NextflowParseError` naming the file and
line, so a construct it does not know can never be skipped silently.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "NextflowParseError",
    "Snippet",
    "Closure",
    "NfPath",
    "PathList",
    "Process",
    "Output",
    "ConfigScope",
    "read_process",
    "evaluate",
    "render",
    "render_section",
    "output_patterns",
    "stage_name",
    "read_config",
    "read_module_options",
    "eval_ext",
    "config_value",
    "includes",
    "workflow_calls",
    "process_names",
    "workflow_names",
    "groovy_str",
    "truthy",
    "element_name",
    "element_options",
    "find_params_refs",
    "strip_comments",
    "mask",
    "find_blocks",
    "eval_commands",
    "statements",
    "map_entries",
]

SECTION_LABELS = ("input", "output", "when", "script", "shell", "exec", "stub")
QUALIFIERS = ("val", "path", "file", "env", "stdin", "stdout", "eval", "each", "tuple")
ELEMENT_OPTIONS = {"stageAs", "arity", "name", "hidden", "includeInputs", "followLinks", "glob", "maxDepth", "type"}
DECLARATION_OPTIONS = {"emit", "topic", "optional"}


class NextflowParseError(Exception):
    """Something in a Nextflow file that this parser does not understand (or that is wrong)."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path, self.line, self.message = (str(path) if path else None), line, message
        where = f"{self.path}:{line}: " if self.path and line else (f"{self.path}: " if self.path else "")
        super().__init__(where + message)


# ----------------------------------------------------------------------------------------------------------
# Source text: masking strings and comments, bracket matching, statements
# ----------------------------------------------------------------------------------------------------------


class Snippet(str):
    """A piece of source text that remembers where it came from (for error messages)."""

    path: str | None
    line: int

    def __new__(cls, text: str, path: str | Path | None = None, line: int = 1):
        obj = super().__new__(cls, text)
        obj.path = str(path) if path else None
        obj.line = line
        return obj

    def error(self, message: str, offset: int = 0) -> NextflowParseError:
        return NextflowParseError(message, self.path, self.line + self[:offset].count("\n"))

    def sub(self, start: int, end: int | None = None) -> Snippet:
        end = len(self) if end is None else end
        return Snippet(str.__getitem__(self, slice(start, end)), self.path, self.line + self[:start].count("\n"))

    def stripped(self) -> Snippet:
        start = len(self) - len(self.lstrip())
        return self.sub(start, len(self.rstrip()))


@dataclass(frozen=True)
class Closure:
    """A `{ expression }` value from a config file; evaluated with `config_value`."""

    body: Snippet


def _string_end(text: str, i: int, where: Snippet) -> int:
    """Index just past the string literal that starts at text[i] (a quote)."""
    quote = text[i]
    triple = text.startswith(quote * 3, i)
    delimiter = quote * 3 if triple else quote
    j = i + len(delimiter)
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if text.startswith(delimiter, j):
            return j + len(delimiter)
        if c == "\n" and not triple:
            break
        if quote == '"' and c == "$" and j + 1 < len(text) and text[j + 1] == "{":
            j = _matching(text, j + 1, where) + 1
            continue
        j += 1
    raise where.error("unterminated string literal", i)


def _comment_end(text: str, i: int, where: Snippet) -> int:
    if text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end < 0 else end
    end = text.find("*/", i + 2)
    if end < 0:
        raise where.error("unterminated /* comment", i)
    return end + 2


def _matching(text: str, i: int, where: Snippet) -> int:
    """Index of the bracket closing the one at text[i], skipping strings and comments."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[text[i]]]
    j = i + 1
    while j < len(text):
        c = text[j]
        if c in "'\"":
            j = _string_end(text, j, where)
            continue
        if text.startswith("//", j) or text.startswith("/*", j):
            j = _comment_end(text, j, where)
            continue
        if text.startswith("$/", j):
            raise where.error("dollar-slashy strings are not supported", j)
        if c in pairs:
            stack.append(pairs[c])
        elif c in ")]}":
            if c != stack[-1]:
                raise where.error(f"unbalanced brackets: found {c!r}, expected {stack[-1]!r}", j)
            stack.pop()
            if not stack:
                return j
        j += 1
    raise where.error(f"unclosed {text[i]!r}", i)


def mask(source: Snippet) -> str:
    """The text with string contents replaced by 'x' (delimiters kept) and comments by spaces.

    Same length as the source, so positions (and line numbers, counted in the source) carry over;
    newlines inside strings are masked too, so a multi-line string never ends a statement.
    """
    text = str(source)
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c in "'\"":
            j = _string_end(text, i, source)
            width = 3 if text.startswith(c * 3, i) else 1
            out.append(text[i : i + width] + "x" * (j - i - 2 * width) + text[j - width : j])
            i = j
        elif text.startswith("//", i) or text.startswith("/*", i):
            j = _comment_end(text, i, source)
            out.append("".join("\n" if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif text.startswith("$/", i):
            raise source.error("dollar-slashy strings are not supported", i)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_comments(source: Snippet) -> Snippet:
    """The source with comments replaced by spaces (strings untouched)."""
    text, masked = str(source), mask(source)
    out = []
    for i, (c, m) in enumerate(zip(text, masked)):
        out.append(c if (m != " " or c in " \t\n") else " ")
    return Snippet("".join(out), source.path, source.line)


_CONTINUE_AFTER = ("?", ",", ".", "+", "-", "*", "&&", "||", "=", "(", "[", "{")
_CONTINUE_BEFORE = ("?", ":", ".", "&&", "||")
_LABEL = re.compile(r"^\s*(\w+)\s*:\s*$")


def statements(source: Snippet, masked: str | None = None) -> list[Snippet]:
    """Split source text into statements at newlines and `;` outside brackets and strings.

    A statement goes on over a newline inside brackets, after a line ending in an operator, or before a
    line starting with `?`, `:`, `.`, `&&` or `||`. A line that is just `label:` is a statement of its own.
    """
    masked = mask(source) if masked is None else masked
    if len(masked) != len(source):
        raise source.error("internal error: mask length")
    result: list[Snippet] = []
    depth = 0
    start = 0
    i = 0
    n = len(masked)

    def flush(end: int) -> None:
        piece = source.sub(start, end).stripped()
        if piece:
            result.append(piece)

    while i < n:
        c = masked[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                raise source.error(f"unbalanced {c!r}", i)
        elif c == ";" and depth == 0:
            flush(i)
            start = i + 1
        elif c == "\n" and depth == 0:
            line = masked[start:i]
            current = line.strip()
            following = masked[i + 1 :].lstrip()
            next_line = following.split("\n", 1)[0]
            cont = False
            if current and not _LABEL.match(line):
                if current.endswith(_CONTINUE_AFTER):
                    cont = True
                if following.startswith(_CONTINUE_BEFORE) and not _LABEL.match(next_line):
                    cont = True
            if not cont:
                flush(i)
                start = i + 1
        i += 1
    if depth != 0:
        raise source.error("unbalanced brackets at end of text", n - 1)
    flush(n)
    return result


def _split_top(source: Snippet, separator: str = ",") -> list[Snippet]:
    """Split at a separator character outside brackets and strings."""
    masked = mask(source)
    parts, depth, start = [], 0, 0
    for i, c in enumerate(masked):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == separator and depth == 0:
            parts.append(source.sub(start, i).stripped())
            start = i + 1
    parts.append(source.sub(start).stripped())
    return parts


def _read(path: str | Path) -> Snippet:
    path = Path(path)
    try:
        return Snippet(path.read_text(), path, 1)
    except OSError as error:
        raise NextflowParseError(f"cannot read: {error}", path) from None


# ----------------------------------------------------------------------------------------------------------
# Values and the expression evaluator
# ----------------------------------------------------------------------------------------------------------


class NfPath(str):
    """A staged input path, as a task sees it: a relative name with `.name`, `.baseName`, `.simpleName`."""

    @property
    def name(self) -> str:
        return PurePosixPath(self).name

    @property
    def baseName(self) -> str:  # noqa: N802 - Groovy's name
        name = self.name
        return name.rsplit(".", 1)[0] if "." in name else name

    @property
    def simpleName(self) -> str:  # noqa: N802 - Groovy's name
        return self.name.split(".", 1)[0]

    @property
    def extension(self) -> str:
        return self.name.rsplit(".", 1)[1] if "." in self.name else ""


class PathList(list):
    """Several staged paths: Nextflow renders them blank-separated in a command."""


def iterate(value: Any, error, at: int) -> list[Any]:
    """The items Groovy iterates over: a list's elements, or a single path's name components
    (java.nio.file.Path is an Iterable<Path>, so `join` and `collect` on one staged file walk its parts)."""
    if isinstance(value, NfPath):
        return [NfPath(part) for part in PurePosixPath(value).parts]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise error(f"cannot iterate over {groovy_str(value)!r}", at)


def truthy(value: Any) -> bool:
    """Groovy truth: null, false, 0, '' and empty collections are false."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return True


def groovy_str(value: Any) -> str:
    """How Groovy prints a value into a GString."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, PathList):
        return " ".join(groovy_str(v) for v in value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(groovy_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[" + ", ".join(f"{k}:{groovy_str(v)}" for k, v in value.items()) + "]" if value else "[:]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "$": "$", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?(?![A-Za-z_])")
_KEYWORDS = {"true": True, "false": False, "null": None}


class _Missing:
    pass


class _Evaluator:
    """Recursive descent over raw text with a cursor; evaluates while it parses.

    `live` is false while parsing a branch that is not taken, so `a ? b : c` never evaluates both.
    """

    def __init__(self, source: Snippet, scope: dict[str, Any]):
        self.src = source
        self.text = str(source)
        self.pos = 0
        self.scope = scope
        self.live = True

    # -- lexing helpers
    def error(self, message: str, at: int | None = None) -> NextflowParseError:
        return self.src.error(message, self.pos if at is None else at)

    def ws(self) -> None:
        while self.pos < len(self.text):
            if self.text[self.pos] in " \t\r\n":
                self.pos += 1
            elif self.text.startswith("//", self.pos) or self.text.startswith("/*", self.pos):
                self.pos = _comment_end(self.text, self.pos, self.src)
            else:
                break

    def peek(self, token: str) -> bool:
        self.ws()
        return self.text.startswith(token, self.pos)

    def accept(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.accept(token):
            found = self.text[self.pos : self.pos + 12] or "end of text"
            raise self.error(f"expected {token!r}, found {found!r}")

    def word(self, name: str) -> bool:
        self.ws()
        match = _IDENT.match(self.text, self.pos)
        if match and match.group() == name:
            self.pos = match.end()
            return True
        return False

    # -- grammar, lowest precedence first
    def parse(self) -> Any:
        value = self.expression()
        self.ws()
        if self.pos != len(self.text):
            raise self.error(f"unexpected text {self.text[self.pos : self.pos + 20]!r}")
        return value

    def expression(self) -> Any:
        condition = self.logical_or()
        if self.accept("?:"):
            return self.branch(not truthy(condition), default=condition)
        if self.peek("?") and not self.peek("?."):
            self.pos += 1
            chosen = truthy(condition)
            first = self.branch(chosen)
            self.expect(":")
            second = self.branch(not chosen)
            return first if chosen else second
        return condition

    def branch(self, taken: bool, default: Any = None, operand=None) -> Any:
        """Parse `operand` (a whole expression by default), evaluating it only if `taken`."""
        live = self.live
        self.live = live and taken
        try:
            value = (operand or self.expression)()
        finally:
            self.live = live
        return value if taken else default

    def logical_or(self) -> Any:
        left = self.logical_and()
        while self.accept("||"):
            right = self.branch(not truthy(left), operand=self.logical_and)
            left = truthy(left) or truthy(right)
        return left

    def logical_and(self) -> Any:
        left = self.equality()
        while self.accept("&&"):
            right = self.branch(truthy(left), operand=self.equality)
            left = truthy(left) and truthy(right)
        return left

    def equality(self) -> Any:
        left = self.relational()
        while True:
            if self.peek("==") and not self.peek("==="):
                self.pos += 2
                right = self.relational()
                left = left == right
            elif self.peek("!=") and not self.peek("!=="):
                self.pos += 2
                right = self.relational()
                left = left != right
            else:
                return left

    def relational(self) -> Any:
        left = self.additive()
        while True:
            if self.word("in"):
                right = self.additive()
                if self.live:
                    if not isinstance(right, (list, tuple, dict, str)):
                        raise self.error(f"`in` needs a collection, got {groovy_str(right)!r}")
                    left = left in right
                else:
                    left = None
            elif self.peek("instanceof") or self.peek("<=>") or self.peek("<<") or self.peek(">>"):
                raise self.error("instanceof, <=>, << and >> are not supported")
            elif self.peek("<") or self.peek(">"):
                op = (
                    self.text[self.pos : self.pos + 2]
                    if self.text[self.pos + 1 : self.pos + 2] == "="
                    else self.text[self.pos]
                )
                at = self.pos
                self.pos += len(op)
                right = self.additive()
                if self.live:
                    if not (_is_number(left) and _is_number(right)):
                        raise self.error(f"cannot compare {left!r} {op} {right!r} (numbers only)", at)
                    left = {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
                else:
                    left = None
            else:
                return left

    def additive(self) -> Any:
        left = self.unary()
        while True:
            self.ws()
            two = self.text[self.pos : self.pos + 2]
            if not two or two[0] not in "+-" or two in ("++", "--", "+=", "-=", "->"):
                return left
            op, at = two[0], self.pos
            self.pos += 1
            right = self.unary()
            left = self.arithmetic(op, left, right, at) if self.live else None

    def arithmetic(self, op: str, left: Any, right: Any, at: int) -> Any:
        if op == "+":
            if isinstance(left, dict) and isinstance(right, dict):
                return {**left, **right}  # Groovy map + map: a new map, the right-hand entries win
            if isinstance(left, str):
                return left + groovy_str(right)
            if isinstance(left, list):
                return left + (list(right) if isinstance(right, list) else [right])
            if _is_number(left) and _is_number(right):
                return left + right
        else:
            if isinstance(left, str) and isinstance(right, str):
                return left.replace(right, "", 1)
            if isinstance(left, list):
                drop = right if isinstance(right, list) else [right]
                return [v for v in left if v not in drop]
            if _is_number(left) and _is_number(right):
                return left - right
        raise self.error(f"cannot apply {op!r} to {groovy_str(left)!r} and {groovy_str(right)!r}", at)

    def unary(self) -> Any:
        if self.peek("!") and not self.peek("!="):
            self.pos += 1
            value = self.unary()
            return (not truthy(value)) if self.live else None
        if self.peek("-") and not self.peek("--"):
            at = self.pos
            self.pos += 1
            value = self.unary()
            if not self.live:
                return None
            if not _is_number(value):
                raise self.error(f"cannot negate {groovy_str(value)!r}", at)
            return -value
        return self.postfix(self.primary())

    def postfix(self, value: Any) -> Any:
        while True:
            self.ws()
            at = self.pos
            if self.text.startswith("?.", self.pos) or (
                self.text.startswith(".", self.pos) and not self.text.startswith("..", self.pos)
            ):
                safe = self.text.startswith("?.", self.pos)
                self.pos += 2 if safe else 1
                if self.text.startswith("&", self.pos) or self.text.startswith("@", self.pos):
                    raise self.error("method pointers and field access (.&, .@) are not supported")
                match = _IDENT.match(self.text, self.pos)
                if not match:
                    raise self.error("expected a property or method name after '.'")
                name = match.group()
                self.pos = match.end()
                after = self.pos
                self.ws()
                if self.text.startswith("{", self.pos):
                    value = self.closure_call(value, name, safe, at)
                elif self.text.startswith("(", after):
                    self.pos = after + 1
                    args = self.arguments(")")
                    value = self.call(value, name, args, safe, at) if self.live else None
                else:
                    self.pos = after
                    value = self.property(value, name, safe, at) if self.live else None
            elif self.text.startswith("[", self.pos):
                self.pos += 1
                index = self.expression()
                self.expect("]")
                value = self.index(value, index, at) if self.live else None
            elif self.text.startswith("(", self.pos) or self.text.startswith("{", self.pos):
                raise self.error("calling a value or passing a closure is not supported")
            elif self.text.startswith("*.", self.pos):
                raise self.error("the spread operator *. is not supported")
            else:
                return value

    def closure_call(self, value: Any, name: str, safe: bool, at: int) -> Any:
        """`value.collect { item -> expression }`: the closure's body evaluated once per item, as Groovy
        iterates the value (a single path iterates its name components, like java.nio.file.Path)."""
        start = self.pos
        end = _matching(self.text, start, self.src)
        self.pos = end + 1
        if not self.live:
            return None
        if value is None and safe:
            return None
        body = self.src.sub(start + 1, end)
        arrow = re.match(r"\s*([A-Za-z_]\w*)\s*->", str(body))
        if name != "collect" or not arrow:
            raise self.error(
                f"only a `.collect` closure of the form `item -> expression` is supported, not .{name}", at
            )
        expression = body.sub(arrow.end()).stripped()
        return [evaluate(expression, {**self.scope, arrow.group(1): item}) for item in iterate(value, self.error, at)]

    def arguments(self, closer: str) -> list[Any]:
        args = []
        if self.accept(closer):
            return args
        while True:
            args.append(self.expression())
            if self.accept(closer):
                return args
            self.expect(",")

    def property(self, value: Any, name: str, safe: bool, at: int) -> Any:
        if value is None:
            if safe:
                return None
            raise self.error(f"cannot get property {name!r} on null object", at)
        if isinstance(value, dict):
            return value.get(name)
        if isinstance(value, NfPath) and name in ("name", "baseName", "simpleName", "extension"):
            return getattr(value, name)
        if isinstance(value, (str, list, int, float, bool)):
            raise self.error(f"no property {name!r} on {type(value).__name__} {groovy_str(value)!r}", at)
        if hasattr(value, name):
            return getattr(value, name)
        return None

    def call(self, value: Any, name: str, args: list[Any], safe: bool, at: int) -> Any:
        if value is None:
            if safe:
                return None
            raise self.error(f"cannot invoke method {name}() on null object", at)
        nargs = len(args)
        if isinstance(value, str):
            if name == "trim" and nargs == 0:
                return value.strip(" \t\n\r\x0b\x0c\x00")
            if name == "toLowerCase" and nargs == 0:
                return value.lower()
            if name == "toUpperCase" and nargs == 0:
                return value.upper()
            if name == "toString" and nargs == 0:
                return str(value)
            if name == "toInteger" and nargs == 0:
                try:
                    return int(value.strip())
                except ValueError:
                    raise self.error(f"cannot convert {value!r} to an integer", at) from None
            if name == "tokenize" and nargs <= 1:
                separators = args[0] if args else " \t\n\r\f"
                if not isinstance(separators, str) or not separators:
                    raise self.error("tokenize() needs a string of separator characters", at)
                return [t for t in re.split("[" + re.escape(separators) + "]", value) if t]
            if name in ("contains", "startsWith", "endsWith") and nargs == 1 and isinstance(args[0], str):
                return {
                    "contains": args[0] in value,
                    "startsWith": value.startswith(args[0]),
                    "endsWith": value.endswith(args[0]),
                }[name]
            if name == "size" and nargs == 0:
                return len(value)
            if name == "replaceAll" and nargs == 2 and all(isinstance(a, str) for a in args):
                if "$" in args[1] or "\\" in args[1]:
                    raise self.error("replaceAll() with group references is not supported", at)
                return re.sub(args[0], args[1], value)  # a Java regex; the ones used are Python's too
        if isinstance(value, NfPath) and name == "join" and nargs <= 1:
            separator = args[0] if args else ""
            return groovy_str(separator).join(str(part) for part in iterate(value, self.error, at))
        if isinstance(value, (list, tuple)):
            if name == "join" and nargs <= 1:
                separator = args[0] if args else ""
                return groovy_str(separator).join(groovy_str(v) for v in value)
            if name == "size" and nargs == 0:
                return len(value)
            if name in ("first", "last") and nargs == 0:
                if not value:
                    raise self.error(f"cannot access {name}() element from an empty list", at)
                return value[0] if name == "first" else value[-1]
            if name == "contains" and nargs == 1:
                return args[0] in value
            if name == "toString" and nargs == 0:
                return groovy_str(value)
        if _is_number(value) and name == "toString" and nargs == 0:
            return groovy_str(value)
        raise self.error(f"unsupported method {name}() on {type(value).__name__}", at)

    def index(self, value: Any, index: Any, at: int) -> Any:
        if value is None:
            raise self.error("cannot index a null object", at)
        if isinstance(value, dict):
            return value.get(index)
        if isinstance(value, (list, tuple, str)) and isinstance(index, int) and not isinstance(index, bool):
            if index >= len(value):
                if isinstance(value, str):
                    raise self.error(f"string index {index} out of range", at)
                return None
            if index < -len(value):
                raise self.error(f"index {index} out of range", at)
            return value[index]
        raise self.error(f"cannot index {groovy_str(value)!r} with {groovy_str(index)!r}", at)

    def primary(self) -> Any:
        self.ws()
        if self.pos >= len(self.text):
            raise self.error("expected an expression, found the end of the text")
        c = self.text[self.pos]
        if c in "'\"":
            return self.string()
        if c == "(":
            self.pos += 1
            value = self.expression()
            self.expect(")")
            return value
        if c == "[":
            return self.collection()
        if c == "{":
            raise self.error("closures are not supported in expressions")
        if c == "/":
            raise self.error("slashy strings and division are not supported")
        number = _NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            if self.text.startswith("..", self.pos):
                raise self.error("ranges are not supported")
            text = number.group()
            return float(text) if any(ch in text for ch in ".eE") else int(text)
        match = _IDENT.match(self.text, self.pos)
        if match:
            name = match.group()
            at = self.pos
            self.pos = match.end()
            if name in _KEYWORDS:
                return _KEYWORDS[name]
            if name in ("def", "new", "return", "if", "else", "for", "while"):
                raise self.error(f"statements ({name}) are not supported in an expression", at)
            self.ws()
            if self.text.startswith("(", self.pos) or (self.text.startswith("{", self.pos)):
                raise self.error(f"function calls are not supported: {name}(...)", at)
            return self.lookup(name, at)
        raise self.error(f"unexpected character {c!r}")

    def lookup(self, name: str, at: int) -> Any:
        if not self.live:
            return None
        value = self.scope.get(name, _Missing)
        if value is _Missing:
            raise self.error(f"no such variable: {name}", at)
        return value

    def collection(self) -> Any:
        self.expect("[")
        if self.accept(":"):
            self.expect("]")
            return {}
        if self.accept("]"):
            return []
        key = re.compile(r"\s*([A-Za-z_]\w*|'[^'\\\n]*'|\"[^\"\\$\n]*\")\s*:(?!:)")
        if key.match(self.text, self.pos) and not self.text.startswith("?", self.pos):
            result = {}
            while True:
                match = key.match(self.text, self.pos)
                if not match:
                    raise self.error("expected `key:` in a map literal")
                name = match.group(1)
                self.pos = match.end()
                result[name[1:-1] if name[0] in "'\"" else name] = self.expression()
                if self.accept("]"):
                    return result
                self.expect(",")
                if self.accept("]"):
                    return result
        items = []
        while True:
            items.append(self.expression())
            if self.accept("]"):
                return items
            self.expect(",")
            if self.accept("]"):  # trailing comma
                return items

    # -- strings
    def string(self) -> str:
        start = self.pos
        quote = self.text[self.pos]
        delimiter = quote * 3 if self.text.startswith(quote * 3, self.pos) else quote
        self.pos += len(delimiter)
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated string literal", start)
            if self.text.startswith(delimiter, self.pos):
                self.pos += len(delimiter)
                return "".join(out)
            c = self.text[self.pos]
            if c == "\n" and len(delimiter) == 1:
                raise self.error("newline in a single-line string literal")
            if c == "\\":
                out.append(self.escape())
            elif c == "$" and quote == '"':
                out.append(self.interpolation())
            else:
                out.append(c)
                self.pos += 1

    def escape(self) -> str:
        nxt = self.text[self.pos + 1 : self.pos + 2]
        if nxt == "\n":
            self.pos += 2
            return ""
        if nxt == "u" and re.match(r"[0-9a-fA-F]{4}", self.text[self.pos + 2 : self.pos + 6]):
            self.pos += 6
            return chr(int(self.text[self.pos - 4 : self.pos], 16))
        if nxt in _ESCAPES:
            self.pos += 2
            return _ESCAPES[nxt]
        raise self.error(f"unsupported escape sequence \\{nxt}")

    def interpolation(self) -> str:
        at = self.pos
        self.pos += 1
        if self.text.startswith("{", self.pos):
            self.pos += 1
            if self.peek("}"):
                raise self.error("empty ${} in a GString", at)
            value = self.expression()
            self.expect("}")
            return groovy_str(value) if self.live else ""
        match = _IDENT.match(self.text, self.pos)
        if not match:
            raise self.error("illegal string body character after dollar sign (escape it as \\$)", at)
        self.pos = match.end()
        value = self.lookup(match.group(), at)
        # `$name.prop.prop`: dotted identifiers only, stopping before a '.' not followed by a name
        while self.text.startswith(".", self.pos):
            prop = _IDENT.match(self.text, self.pos + 1)
            if not prop:
                break
            self.pos = prop.end()
            if self.live:
                value = self.property(value, prop.group(), False, at)
        return groovy_str(value) if self.live else ""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def evaluate(expression: str, scope: dict[str, Any] | None = None) -> Any:
    """Evaluate one Groovy expression (a `Snippet` keeps its file and line for errors)."""
    source = expression if isinstance(expression, Snippet) else Snippet(expression, None, 1)
    return _Evaluator(source, dict(scope or {})).parse()


# ----------------------------------------------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Output:
    elements: list[tuple]
    emit: str | None = None
    topic: str | None = None
    optional: bool = False
    line: int = 0


@dataclass
class Section:
    """A script or stub section: the statements before the command, and the command literal."""

    statements: list[Snippet]
    command: Snippet


@dataclass
class Process:
    name: str
    path: str
    line: int
    directives: list[Snippet] = field(default_factory=list)
    inputs: list[list[tuple]] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    when: Snippet | None = None
    script: Section | None = None
    stub: Section | None = None

    def directive(self, name: str) -> list[Snippet]:
        """The raw argument text of every `name ...` directive."""
        found = []
        for statement in self.directives:
            match = _IDENT.match(statement)
            if match and match.group() == name:
                found.append(statement.sub(match.end()).stripped())
        return found

    def directive_names(self) -> list[str]:
        names = []
        for statement in self.directives:
            match = _IDENT.match(statement)
            if not match:
                raise statement.error(f"cannot read directive {statement!r}")
            names.append(match.group())
        return names

    def input_names(self) -> dict[str, tuple]:
        """Every declared input variable and its element, in order."""
        names = {}
        for declaration in self.inputs:
            for element in declaration:
                if element[0] in ("val", "path", "file", "each", "env"):
                    names[element_name(element)] = element
        return names

    def section(self, name: str) -> Section:
        section = getattr(self, name, None) if name in ("script", "stub") else None
        if section is None:
            raise NextflowParseError(f"process {self.name} has no {name}: section", self.path, self.line)
        return section


def element_name(element: tuple) -> str:
    return str(element[1])


def element_options(element: tuple) -> dict[str, Any]:
    return element[2] if len(element) > 2 else {}


def _option_value(key: str, text: Snippet) -> Any:
    if key in ("emit", "topic") and _IDENT.fullmatch(text):
        return str(text)
    return evaluate(text, {})


def _element(part: Snippet, allow_bare: bool) -> tuple:
    match = re.match(r"(\w+)\s*\(", part)
    if match and match.group(1) in QUALIFIERS:
        close = _matching(str(part), match.end() - 1, part)
        if part[close + 1 :].strip():
            raise part.error(f"unexpected text after {match.group(1)}(...): {part[close + 1 :].strip()!r}")
        args = _split_top(part.sub(match.end(), close))
        if not args or not args[0]:
            raise part.error(f"empty {match.group(1)}()")
        options = {}
        for arg in args[1:]:
            key, value = _keyword(arg)
            if key not in ELEMENT_OPTIONS:
                raise arg.error(f"unknown option {key!r} for {match.group(1)}()")
            options[key] = _option_value(key, value)
        return (match.group(1), args[0], options) if options else (match.group(1), args[0])
    match = re.match(r"(\w+)\s+(\S.*)$", part, re.S)
    if allow_bare and match and match.group(1) in QUALIFIERS and match.group(1) != "tuple":
        return (match.group(1), part.sub(match.start(2)).stripped())
    raise part.error(f"cannot read declaration element {str(part)!r}")


def _keyword(part: Snippet) -> tuple[str, Snippet]:
    match = re.match(r"(\w+)\s*:\s*", part)
    if not match or part.startswith("::"):
        raise part.error(f"expected `name: value`, found {str(part)!r}")
    return match.group(1), part.sub(match.end()).stripped()


def _declaration(statement: Snippet, kind: str) -> tuple[list[tuple], dict[str, Any]]:
    parts = _split_top(statement)
    elements: list[tuple] = []
    options: dict[str, Any] = {}
    first = parts[0]
    is_tuple = bool(re.match(r"tuple\s+", first))
    if is_tuple:
        first = first.sub(re.match(r"tuple\s+", first).end())
    elements.append(_element(first, allow_bare=not is_tuple))
    for part in parts[1:]:
        if re.match(r"\w+\s*:(?!:)", part) and not re.match(r"\w+\s*\(", part):
            key, value = _keyword(part)
            if kind == "output" and key in DECLARATION_OPTIONS:
                options[key] = _option_value(key, value)
            elif not is_tuple and key in ELEMENT_OPTIONS:
                qualifier, name, *rest = elements[-1]
                merged = {**(rest[0] if rest else {}), key: _option_value(key, value)}
                elements[-1] = (qualifier, name, merged)
            else:
                raise part.error(f"unknown {kind} option {key!r}")
        elif is_tuple:
            elements.append(_element(part, allow_bare=False))
        else:
            raise part.error(f"several elements need `tuple`: {str(statement)!r}")
    return elements, options


def _section(statements_: list[Snippet], process: str, label: str) -> Section:
    if not statements_:
        raise NextflowParseError(f"process {process}: empty {label}: section")
    *assignments, command = statements_
    if not (command.startswith('"""') or command.startswith("'''") or command[0] in "'\""):
        raise command.error(f"{label}: must end with the command string literal, found {str(command)[:40]!r}")
    end = _string_end(str(command), 0, command)
    if end != len(command):
        raise command.error(f"unexpected text after the {label} command string")
    for statement in assignments:
        if not re.match(r"(def\s+)?[A-Za-z_]\w*\s*=(?!=)", statement):
            raise statement.error(
                f"{label}: only `def x = ...` and `x = ...` lines may precede the command, "
                f"found {str(statement)[:60]!r}"
            )
    return Section(list(assignments), command)


def _blocks(source: Snippet, masked: str, keyword: str) -> list[tuple[str | None, int, int, int]]:
    """(name, keyword position, body start, body end) of each `keyword NAME {` block in code."""
    found = []
    for match in re.finditer(rf"(?<![\w.$]){keyword}\b(\s+([A-Za-z_]\w*))?\s*\{{", masked):
        open_ = match.end() - 1
        close = _matching(str(source), open_, source)
        found.append((match.group(2), match.start(), open_ + 1, close))
    return found


def read_process(path: str | Path, name: str | None = None) -> Process:
    """The process defined in a module file (exactly one, or the one called `name`)."""
    source = _read(path)
    masked = mask(source)
    blocks = [b for b in _blocks(source, masked, "process") if name in (None, b[0])]
    if len(blocks) != 1:
        raise NextflowParseError(f"expected exactly one process{' ' + name if name else ''}, found {len(blocks)}", path)
    proc_name, at, start, end = blocks[0]
    if not proc_name:
        raise source.error("process without a name", at)
    body = strip_comments(source.sub(start, end))
    process = Process(name=proc_name, path=str(path), line=source.line + source[:at].count("\n"))
    current = "directives"
    seen: dict[str, list[Snippet]] = {"directives": []}
    for statement in statements(body):
        label = _LABEL.match(statement)
        if label:
            word = label.group(1)
            if word not in SECTION_LABELS:
                raise statement.error(f"unknown process section label {word}:")
            if word in seen:
                raise statement.error(f"duplicate section {word}:")
            if word in ("shell", "exec"):
                raise statement.error(f"{word}: sections are not supported")
            current = word
            seen[word] = []
            continue
        if re.match(r"(input|output|when|script|shell|exec|stub)\s*:", statement):
            raise statement.error("a section label must stand on its own line")
        seen[current].append(statement)
    process.directives = seen["directives"]
    for statement in seen.get("input", []):
        elements, options = _declaration(statement, "input")
        if options:
            raise statement.error(f"unexpected input options {sorted(options)}")
        process.inputs.append(elements)
    for statement in seen.get("output", []):
        elements, options = _declaration(statement, "output")
        process.outputs.append(
            Output(
                elements,
                emit=options.get("emit"),
                topic=options.get("topic"),
                optional=bool(options.get("optional", False)),
                line=statement.line,
            )
        )
    if "when" in seen:
        if len(seen["when"]) != 1:
            raise NextflowParseError(f"process {proc_name}: when: must be one expression", path)
        process.when = seen["when"][0]
    if "script" not in seen:
        raise NextflowParseError(f"process {proc_name} has no script: section", path, process.line)
    process.script = _section(seen["script"], proc_name, "script")
    if "stub" in seen:
        process.stub = _section(seen["stub"], proc_name, "stub")
    return process


# ----------------------------------------------------------------------------------------------------------
# Rendering a task
# ----------------------------------------------------------------------------------------------------------


def stage_name(element: tuple, names: str | list[str]) -> str | list[str]:
    """The name(s) under which Nextflow stages input file(s), following `stageAs`."""
    pattern = element_options(element).get("stageAs")
    single = isinstance(names, str)
    items = [names] if single else list(names)
    if pattern is None:
        staged = [PurePosixPath(n).name for n in items]
    else:
        staged = []
        for number, item in enumerate(items, start=1):
            name = pattern.replace("*", PurePosixPath(item).name) if "*" in pattern else pattern
            if "?" in name:
                name = re.sub(r"\?+", lambda m: str(number).zfill(len(m.group())), name)
            staged.append(name)
    return staged[0] if single else staged


def arity_range(element: tuple) -> tuple[int, float] | None:
    """A path input's `arity` as (min, max), max infinite for '*'; None when it has none."""
    arity = element_options(element).get("arity")
    if arity is None:
        return None
    match = re.fullmatch(r"(\d+)(?:\.\.(\d+|\*))?", str(arity))
    if not match:
        raise NextflowParseError(f"arity {arity!r}: expected a number or a range such as '1..*'")
    low = int(match.group(1))
    high = low if match.group(2) is None else (float("inf") if match.group(2) == "*" else int(match.group(2)))
    return low, high


def staged_value(process: Process, element: tuple, value: Any) -> NfPath | PathList:
    """What a task's script sees for a path input, as Nextflow's TaskInputResolver.singleItemOrList builds it:
    one file is a single path unless the input's arity allows more than one (ArityParam.isSingle:
    `!arity || arity.max == 1`); otherwise a list. A count outside the arity fails the task."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    arity = arity_range(element)
    if arity is not None and items and not arity[0] <= len(items) <= arity[1]:
        raise NextflowParseError(
            f"process {process.name}: input {element_name(element)} takes "
            f"{element_options(element)['arity']} files, got {len(items)}",
            process.path,
        )
    single = arity is None or arity[1] == 1
    if len(items) == 1 and single:
        return NfPath(items[0])
    return PathList(NfPath(item) for item in items)


@dataclass
class Rendered:
    command: str
    variables: dict[str, Any]  # what the output declarations see: inputs, task, and non-`def` assignments
    scope: dict[str, Any]


def _task_scope(
    process: Process,
    *,
    inputs: dict[str, Any],
    meta: dict | None,
    task: dict | None,
    ext_args: str | None,
    ext_prefix: str | None,
    workflow: dict | None,
) -> dict[str, Any]:
    declared = process.input_names()
    given = dict(inputs)
    if "meta" in declared:
        if meta is None:
            raise NextflowParseError(f"process {process.name} takes meta: pass meta=", process.path)
        given["meta"] = meta
    elif meta is not None:
        raise NextflowParseError(f"process {process.name} takes no meta", process.path)
    missing, extra = sorted(set(declared) - set(given)), sorted(set(given) - set(declared))
    if missing or extra:
        raise NextflowParseError(f"process {process.name}: inputs missing {missing}, unknown {extra}", process.path)
    scope: dict[str, Any] = {}
    for name, element in declared.items():
        value = given[name]
        if element[0] in ("path", "file"):
            value = staged_value(process, element, value)
        scope[name] = value
    task_values = {"process": process.name, "accelerator": None, "cpus": 1, "attempt": 1, "index": 1, **(task or {})}
    task_values["ext"] = {"args": ext_args, "prefix": ext_prefix, **(task or {}).get("ext", {})}
    scope["task"] = task_values
    scope["workflow"] = {"containerEngine": "docker", **(workflow or {})}
    scope["moduleDir"] = str(Path(process.path).parent)
    return scope


def render_section(
    process: Process,
    section: str = "script",
    *,
    inputs: dict[str, Any],
    meta: dict | None = None,
    task: dict | None = None,
    ext_args: str | None = None,
    ext_prefix: str | None = None,
    workflow: dict | None = None,
) -> Rendered:
    """Evaluate a section's assignments in order, then the command, as a task would."""
    body = process.section(section)
    scope = _task_scope(
        process, inputs=inputs, meta=meta, task=task, ext_args=ext_args, ext_prefix=ext_prefix, workflow=workflow
    )
    variables = dict(scope)
    local: dict[str, Any] = {}
    for statement in body.statements:
        match = re.match(r"(def\s+)?([A-Za-z_]\w*)\s*=(?!=)", statement)
        value = evaluate(statement.sub(match.end()).stripped(), {**variables, **local})
        if match.group(1):
            local[match.group(2)] = value
        else:
            variables[match.group(2)] = value
    command = evaluate(body.command, {**variables, **local})
    return Rendered(textwrap.dedent(command).strip("\n") + "\n", variables, {**variables, **local})


def render(
    process: Process,
    section: str = "script",
    *,
    inputs: dict[str, Any],
    meta: dict | None = None,
    task: dict | None = None,
    ext_args: str | None = None,
    ext_prefix: str | None = None,
    workflow: dict | None = None,
) -> str:
    """The command text of a section, interpolated as Groovy does and indentation stripped as Nextflow does."""
    return render_section(
        process,
        section,
        inputs=inputs,
        meta=meta,
        task=task,
        ext_args=ext_args,
        ext_prefix=ext_prefix,
        workflow=workflow,
    ).command


def output_patterns(process: Process, rendered: Rendered) -> list[tuple[Output, list[str]]]:
    """Each output declaration with its path patterns rendered in the task's scope.

    Only inputs, `task` and assignments without `def` are visible, as in Nextflow.
    """
    result = []
    for output in process.outputs:
        patterns = []
        for element in output.elements:
            if element[0] in ("path", "file"):
                value = evaluate(element[1], rendered.variables)
                if not isinstance(value, str):
                    raise element[1].error(f"output path must be a string, got {groovy_str(value)!r}")
                patterns.append(value)
            elif element[0] == "val":
                evaluate(element[1], rendered.variables)  # must resolve
        result.append((output, patterns))
    return result


def eval_commands(process: Process) -> list[str]:
    """The commands of the `eval(...)` output elements."""
    commands = []
    for output in process.outputs:
        for element in output.elements:
            if element[0] == "eval":
                commands.append(evaluate(element[1], {}))
    return commands


# ----------------------------------------------------------------------------------------------------------
# Config files
# ----------------------------------------------------------------------------------------------------------


class ConfigScope(dict):
    """A `name { ... }` scope of a config file: keys to values (Snippet, Closure) or nested scopes.

    Selectors are keys like `withName:ENHANCERLM_TRAIN` and `withLabel:process_gpu`; `includeConfig`
    statements are kept in `.includes`, and plugin ids of a `plugins` scope in `.ids`.
    """

    def __init__(self, path: str | None = None, line: int = 0):
        super().__init__()
        self.path, self.line = path, line
        self.includes: list[Snippet] = []
        self.ids: list[Snippet] = []


def _config_value_of(text: Snippet) -> Snippet | Closure:
    if text.startswith("{"):
        close = _matching(str(text), 0, text)
        if close != len(text) - 1:
            raise text.error("unexpected text after a closure")
        body = text.sub(1, close).stripped()
        if re.match(r"[\w\s,]*->", mask(body)):
            raise text.error("closures with parameters are not supported")
        return Closure(body)
    return text


def _set(scope: ConfigScope, keys: list[str], value: Any, statement: Snippet) -> None:
    for key in keys[:-1]:
        child = scope.get(key)
        if child is None:
            child = scope[key] = ConfigScope(statement.path, statement.line)
        elif not isinstance(child, ConfigScope):
            raise statement.error(f"{key} is both a value and a scope")
        scope = child
    if isinstance(value, ConfigScope) and isinstance(scope.get(keys[-1]), ConfigScope):
        existing = scope[keys[-1]]
        for k, v in value.items():
            existing[k] = v
        existing.includes += value.includes
        existing.ids += value.ids
        return
    if keys[-1] in scope and not isinstance(value, ConfigScope):
        raise statement.error(f"{'.'.join(keys)} is set twice in the same scope")
    scope[keys[-1]] = value


def _parse_scope(source: Snippet, scope: ConfigScope) -> ConfigScope:
    for statement in statements(source):
        masked = mask(statement)
        selector = re.match(r"(withName|withLabel)\s*:\s*", statement)
        if selector:
            rest = statement.sub(selector.end())
            if rest[:1] in "'\"":
                end = _string_end(str(rest), 0, rest)
                name = evaluate(rest.sub(0, end), {})
            else:
                word = re.match(r"[\w:*|!.]+", rest)
                if not word:
                    raise statement.error("cannot read the selector")
                end, name = word.end(), word.group()
            body = rest.sub(end).stripped()
            if not body.startswith("{") or _matching(str(body), 0, body) != len(body) - 1:
                raise statement.error(f"expected `{selector.group(1)}: NAME` and a block")
            key = f"{selector.group(1)}:{name}"
            if key in scope:
                raise statement.error(f"duplicate selector {key}")
            scope[key] = _parse_scope(body.sub(1, len(body) - 1), ConfigScope(statement.path, statement.line))
            continue
        include = re.match(r"includeConfig\s+", statement)
        if include:
            scope.includes.append(statement.sub(include.end()).stripped())
            continue
        plugin = re.match(r"id\s+(?=['\"])", statement)
        if plugin:
            scope.ids.append(statement.sub(plugin.end()).stripped())
            continue
        block = re.match(r"([A-Za-z_][\w.]*)\s*\{", masked)
        if block:
            open_ = block.end() - 1
            close = _matching(str(statement), open_, statement)
            if close != len(statement) - 1:
                raise statement.error("unexpected text after a scope block")
            child = _parse_scope(statement.sub(open_ + 1, close), ConfigScope(statement.path, statement.line))
            _set(scope, block.group(1).split("."), child, statement)
            continue
        assign = re.match(r"([A-Za-z_][\w.]*)\s*=(?!=)\s*", masked)
        if assign:
            value = statement.sub(assign.end()).stripped()
            if not value:
                raise statement.error("assignment without a value")
            _set(scope, assign.group(1).split("."), _config_value_of(value), statement)
            continue
        raise statement.error(f"cannot read config statement {str(statement)[:60]!r}")
    return scope


def read_config(path: str | Path) -> ConfigScope:
    """A config file as nested scopes of unevaluated values (includes are not followed)."""
    source = strip_comments(_read(path))
    return _parse_scope(source, ConfigScope(str(path), 1))


def config_value(value: Snippet | Closure | None, scope: dict[str, Any] | None = None) -> Any:
    """Evaluate a config value (a closure is called with the given scope)."""
    if value is None:
        return None
    if isinstance(value, ConfigScope):
        raise NextflowParseError("expected a value, found a scope", value.path, value.line)
    if isinstance(value, Closure):
        return evaluate(value.body, scope)
    return evaluate(value, scope)


def read_module_options(path: str | Path = "conf/modules.config") -> dict[str, dict[str, Snippet | None]]:
    """{process name: {"args": expression text or None, "prefix": ...}} from `withName:` selectors.

    A closure `{ EXPR }` gives its expression, a plain value its own text; evaluate with `eval_ext`.
    """
    config = read_config(path)
    process = config.get("process")
    if not isinstance(process, ConfigScope):
        raise NextflowParseError("no process scope", path)
    options = {}
    for key, value in process.items():
        if not key.startswith("withName:"):
            continue
        ext = value.get("ext", ConfigScope())
        if not isinstance(ext, ConfigScope):
            raise NextflowParseError(f"{key}: ext must be set as ext.args/ext.prefix", path, value.line)
        unknown = set(ext) - {"args", "prefix"}
        if unknown:
            raise NextflowParseError(f"{key}: unsupported ext keys {sorted(unknown)}", path, value.line)
        options[key.split(":", 1)[1]] = {
            k: (ext[k].body if isinstance(ext.get(k), Closure) else ext.get(k)) for k in ("args", "prefix")
        }
    return options


def eval_ext(expression: str | None, params: dict[str, Any], meta: dict | None = None, task: dict | None = None) -> Any:
    """Evaluate an `ext.args`/`ext.prefix` expression from `read_module_options`."""
    if expression is None:
        return None
    return evaluate(expression, {"params": dict(params), "meta": meta, "task": task or {}})


# ----------------------------------------------------------------------------------------------------------
# Workflows
# ----------------------------------------------------------------------------------------------------------


def _resolve_include(base: Path, target: str, where: Snippet, at: int) -> Path | None:
    if target.startswith("plugin/"):
        return None
    candidate = (base.parent / target).resolve()
    for option in (candidate.with_name(candidate.name + ".nf"), candidate, candidate / "main.nf"):
        if option.is_file():
            return option
    raise where.error(f"include target not found: {target}", at)


def includes(path: str | Path) -> dict[str, tuple[str, Path | None]]:
    """{name or alias: (original name, file or None for plugins)} of a file's include statements."""
    path = Path(path)
    source = _read(path)
    masked = mask(source)
    found: dict[str, tuple[str, Path | None]] = {}
    for match in re.finditer(r"(?<![\w.])include\s*\{", masked):
        close = _matching(str(source), match.end() - 1, source)
        rest = re.match(r"\s*from\s*", masked[close + 1 :])
        if not rest:
            raise source.error("expected `from '...'` after include { }", match.start())
        at = close + 1 + rest.end()
        if source[at : at + 1] not in "'\"":
            raise source.error("include source must be a string literal", at)
        end = _string_end(str(source), at, source)
        target = evaluate(source.sub(at, end), {})
        file = _resolve_include(path, target, source, at)
        for item in str(source[match.end() : close]).split(";"):
            item = item.strip()
            if not item:
                continue
            parts = re.fullmatch(r"([A-Za-z_]\w*)(?:\s+as\s+([A-Za-z_]\w*))?", item)
            if not parts:
                raise source.error(f"cannot read include item {item!r}", match.start())
            alias = parts.group(2) or parts.group(1)
            if alias in found:
                raise source.error(f"{alias} is included twice", match.start())
            found[alias] = (parts.group(1), file)
    return found


def process_names(path: str | Path) -> list[str]:
    source = _read(path)
    return [name for name, *_ in _blocks(source, mask(source), "process")]


def workflow_names(path: str | Path) -> list[str | None]:
    source = _read(path)
    return [name for name, *_ in _blocks(source, mask(source), "workflow")]


def workflow_calls(
    path: str | Path, workflow: str | None = None, *, flatten: bool = True, _seen: tuple = ()
) -> list[str]:
    """Processes and subworkflows a workflow invokes (`NAME ( ... )`), in source order.

    With `flatten`, included subworkflows are followed recursively, giving the processes run in order.
    `workflow` picks a named workflow; by default the entry (unnamed) workflow, or the only one.
    """
    path = Path(path).resolve()
    source = _read(path)
    masked = mask(source)
    blocks = _blocks(source, masked, "workflow")
    if workflow is None:
        chosen = [b for b in blocks if b[0] is None] or (blocks if len(blocks) == 1 else [])
    else:
        chosen = [b for b in blocks if b[0] == workflow]
    if len(chosen) != 1:
        raise NextflowParseError(f"cannot find workflow {workflow or '(entry)'}: {len(chosen)} candidates", path)
    name, at, start, end = chosen[0]
    key = (str(path), name)
    if key in _seen:
        raise source.error(f"recursive include of workflow {name}", at)
    known = includes(path)
    local_processes = set(process_names(path))
    local_workflows = {w for w in workflow_names(path) if w}
    body = masked[start:end]
    if re.search(r"\|\s*[A-Z][A-Z0-9_]*\b", body):
        raise source.error("pipe (|) calls are not supported", start)
    calls = []
    for match in re.finditer(r"(?<![\w.$])([A-Za-z_]\w*)\s*\(", body):
        called = match.group(1)
        position = start + match.start()
        if called in known:
            original, file = known[called]
            if file is None:
                continue  # a plugin function
            if original in workflow_names(file):
                calls += workflow_calls(file, original, flatten=True, _seen=_seen + (key,)) if flatten else [called]
            elif original in process_names(file):
                calls.append(called)
            elif re.search(rf"^def\s+{original}\s*\(", mask(_read(file)), re.M):
                continue  # a function, not a task
            else:
                raise source.error(f"{original} is neither a process nor a workflow in {file}", position)
        elif called in local_processes:
            calls.append(called)
        elif called in local_workflows:
            calls += workflow_calls(path, called, flatten=True, _seen=_seen + (key,)) if flatten else [called]
        elif re.fullmatch(r"[A-Z][A-Z0-9_]*", called):
            raise source.error(f"call to {called}, which is neither included nor defined here", position)
    return calls


def find_params_refs(path: str | Path, *, uses_only: bool = False, receiver: str = "params") -> list[tuple[str, int]]:
    """(name, line) of every `params.NAME` in code and GStrings, outside `params { }` blocks.

    With `uses_only`, assignments (`params.x = ...`) are left out. `receiver` names the map read (`settings`:
    the typed parameters the workflows take).
    """
    source = strip_comments(_read(path))
    masked = mask(source)
    excluded = []
    for match in re.finditer(r"(?<![\w.])params\s*\{", masked):
        excluded.append((match.start(), _matching(str(source), match.end() - 1, source)))
    refs = []
    for match in re.finditer(rf"(?<![\w.$]){receiver}\.([A-Za-z_]\w*)", str(source)):
        if any(a <= match.start() <= b for a, b in excluded):
            continue
        if uses_only and re.match(r"\s*=(?!=)", str(source)[match.end() :]):
            continue
        refs.append((match.group(1), source.line + source[: match.start()].count("\n")))
    return refs


def find_blocks(path: str | Path, opener: str) -> list[tuple[re.Match, Snippet]]:
    """Every `opener {` block of a Groovy file (opener a regex ending before the brace), with its body."""
    source = _read(path)
    masked = mask(source)
    found = []
    for match in re.finditer(opener + r"\s*\{", masked):
        close = _matching(str(source), match.end() - 1, source)
        found.append((match, source.sub(match.end(), close)))
    return found


def map_entries(value: Snippet) -> dict[str, Snippet | Closure]:
    """The entries of a map literal `[ key: value, ... ]`, unevaluated (closure values kept as `Closure`)."""
    value = value.stripped() if isinstance(value, Snippet) else Snippet(value)
    if not value.startswith("[") or _matching(str(value), 0, value) != len(value) - 1:
        raise value.error("expected a map literal [ key: value, ... ]")
    entries = {}
    for part in _split_top(value.sub(1, len(value) - 1)):
        if not part:
            continue  # trailing comma
        key, text = _keyword(part)
        if key in entries:
            raise part.error(f"duplicate map key {key}")
        entries[key] = _config_value_of(text)
    return entries
