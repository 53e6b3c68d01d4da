"""Read YAML files into plain data while remembering where every key and value came from.

PyYAML's composer (the libyaml one when available) gives a node graph with source marks; we turn
that graph into dicts/lists ourselves so that we can reject what a safe config loader must reject
(duplicate keys, unknown tags, alias bombs, runaway nesting) and keep a position for each JSON path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobctl.errors import Diagnostic

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000  # after alias expansion: a billion-laughs document stops here
MAX_DEPTH = 64

JsonPath = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based (line, column)

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_SCALAR_TAGS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",  # kept as its text: no field of ours is a date
}


def format_path(path: JsonPath) -> str:
    """`spec.runtime.args[0]`; the document itself is `<document>`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif any(c in part for c in '.[]"\'') or part != "".join(part.split()):
            import json

            out += f"[{json.dumps(part)}]"
        else:
            out += f".{part}" if out else part
    return out or "<document>"


@dataclass
class Document:
    """One YAML document: its data, and positions for the values and keys within it."""

    file: str  # as the user named it
    path: Path
    index: int
    data: dict[str, Any]
    start: Position
    values: dict[JsonPath, Position] = field(default_factory=dict)
    keys: dict[JsonPath, Position] = field(default_factory=dict)

    def position(self, path: JsonPath, *, prefer_key: bool = False) -> Position:
        """Where `path` is written; falls back to the nearest enclosing field."""
        while True:
            table = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for positions in table:
                if path in positions:
                    return positions[path]
            if not path:
                return self.start
            path = path[:-1]
            prefer_key = True

    def diagnostic(self, path: JsonPath, message: str, *, at_key: bool = False) -> Diagnostic:
        line, column = self.position(path, prefer_key=at_key)
        return Diagnostic(self.file, line, column, format_path(path), message)


class _Invalid(Exception):
    """Aborts conversion of one document with a located message."""

    def __init__(self, mark: Any, path: JsonPath, message: str) -> None:
        super().__init__(message)
        self.position: Position = (mark.line + 1, mark.column + 1)
        self.path = path
        self.message = message


class _TooLarge(Exception):
    """The document expands past MAX_NODES: reported at the document, not at an arbitrary alias."""


ScalarHook = Callable[[str, bool, JsonPath, Position], Any]
"""Called for every string scalar: (text, is_plain, path, position) -> value. Used for ${VAR}."""


class _Converter:
    def __init__(self, hook: ScalarHook | None) -> None:
        self.hook = hook
        self.nodes = 0
        self.values: dict[JsonPath, Position] = {}
        self.keys: dict[JsonPath, Position] = {}
        self._scalar_ctor = yaml.constructor.SafeConstructor()

    def convert(self, node: yaml.Node, path: JsonPath) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge
        if len(path) > MAX_DEPTH:
            raise _Invalid(node.start_mark, path, f"nesting deeper than {MAX_DEPTH} levels")
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _COLLECTION_TAGS:
            raise _Invalid(node.start_mark, path, f"unsupported YAML tag {node.tag!r}")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: JsonPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise _Invalid(node.start_mark, path, f"unsupported YAML tag {node.tag!r}")
        if node.tag in (_STR, "tag:yaml.org,2002:timestamp"):
            text = str(node.value)
            if self.hook is None:
                return text
            return self.hook(text, not getattr(node, "style", None), path, self.values[path])
        constructor = self._scalar_ctor.yaml_constructors[node.tag]
        value = constructor(self._scalar_ctor, node)
        if isinstance(value, float) and not math.isfinite(value):
            raise _Invalid(node.start_mark, path, f"{node.value!r} is not a finite number")
        return value

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, int] = {}
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self._merge_sources(value_node, path))
                continue
            key = self._key(key_node, path)
            if key in seen:
                raise _Invalid(
                    key_node.start_mark, (*path, key),
                    f"duplicate key {key!r} (first defined on line {seen[key]})",
                )
            seen[key] = key_node.start_mark.line + 1
            result[key] = self._entry(key_node, value_node, path, key)
        # `<<: *base` merge keys: explicit keys win, earlier merge sources win over later ones.
        for key_node, value_node in merged:
            key = self._key(key_node, path)
            if key not in result:
                result[key] = self._entry(key_node, value_node, path, key)
        return result

    def _entry(self, key_node: yaml.Node, value_node: yaml.Node, path: JsonPath, key: str) -> Any:
        entry_path: JsonPath = (*path, key)
        self.keys[entry_path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return self.convert(value_node, entry_path)

    def _merge_sources(self, node: yaml.Node, path: JsonPath) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise _Invalid(source.start_mark, path, "a '<<' merge key needs a mapping or a list of mappings")
            self.nodes += len(source.value)
            yield from source.value

    def _key(self, node: yaml.Node, path: JsonPath) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            raise _Invalid(node.start_mark, path, "mapping keys must be plain strings")
        return str(node.value)


def _read_text(path: Path, shown: str) -> str | Diagnostic:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return Diagnostic(shown, 1, 1, "<file>", f"file is {size} bytes; specs are limited to 1 MiB")
        raw = path.read_bytes()
    except OSError as exc:
        return Diagnostic(shown, 1, 1, "<file>", f"cannot read file: {exc.strerror or exc}")
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return Diagnostic(shown, 1, 1, "<file>", "file is UTF-32; save it as UTF-8")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Diagnostic(shown, 1, 1, "<file>", "file is UTF-16; save it as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return Diagnostic(shown, line, column, "<file>", f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})")
    if "\x00" in text:
        index = text.index("\x00")
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1) + 1
        return Diagnostic(shown, line, column, "<file>", "file contains a NUL byte (binary file?)")
    return text


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, shown: str) -> Diagnostic:
    """PyYAML's error, with where the broken construct began; tabs get a message of their own."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if mark is not None and ((0 <= mark.index < len(text) and text[mark.index] == "\t") or "tab" in str(exc.problem)):
        return Diagnostic(shown, line, column, "<file>", "tab used for indentation; YAML needs spaces")
    problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
    context, where = exc.context, exc.context_mark
    if context and where is not None and exc.problem and (where.line, where.column) != (line - 1, column - 1):
        problem += f" ({' '.join(str(context).split())} at line {where.line + 1}, column {where.column + 1})"
    return Diagnostic(shown, line, column, "<file>", f"invalid YAML: {problem}")


def read_documents(
    path: Path, shown: str, hook: ScalarHook | None = None
) -> tuple[list[Document], list[Diagnostic]]:
    """Parse every document of one file; problems come back as diagnostics, never exceptions."""
    text = _read_text(path, shown)
    if isinstance(text, Diagnostic):
        return [], [text]
    documents: list[Document] = []
    problems: list[Diagnostic] = []
    try:
        for index, root in enumerate(yaml.compose_all(text, Loader=_Loader)):
            if root is None or (isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null")):
                continue  # an empty document, e.g. after a trailing '---'
            start = (root.start_mark.line + 1, root.start_mark.column + 1)
            if not isinstance(root, yaml.MappingNode):
                kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
                problems.append(Diagnostic(
                    shown, *start, "<document>",
                    f"a spec document must be a mapping (apiVersion, kind, metadata, spec), not {kind}",
                ))
                continue
            converter = _Converter(hook)
            try:
                data = converter.convert(root, ())
            except _Invalid as exc:
                problems.append(Diagnostic(shown, *exc.position, format_path(exc.path), exc.message))
                continue
            except _TooLarge:
                message = f"document expands to more than {MAX_NODES} values (an alias bomb?)"
                problems.append(Diagnostic(shown, *start, "<document>", message))
                continue
            except RecursionError:
                problems.append(Diagnostic(shown, *start, "<document>", "document nests too deeply"))
                continue
            documents.append(Document(shown, path, index, data, start, converter.values, converter.keys))
    except yaml.MarkedYAMLError as exc:
        problems.append(_syntax_error(exc, text, shown))
    except yaml.YAMLError as exc:
        problems.append(Diagnostic(shown, 1, 1, "<file>", f"invalid YAML: {exc}"))
    except RecursionError:  # the pure-Python composer recurses per nesting level
        problems.append(Diagnostic(shown, 1, 1, "<file>", "document nests too deeply"))
    if not documents and not problems:
        problems.append(Diagnostic(shown, 1, 1, "<file>", "file holds no spec documents"))
    return documents, problems


def lookup(data: Mapping[str, Any], path: JsonPath) -> Any:
    """The value at `path` in plain data."""
    value: Any = data
    for part in path:
        value = value[part]
    return value
