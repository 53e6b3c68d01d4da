"""YAML text into Documents: PyYAML's composer (libyaml when available), then our own conversion.

Converting the node graph ourselves lets us reject what a safe config loader must reject (duplicate
keys, unknown tags, alias bombs, runaway nesting) and keep a position for every JSON path. Only
imported when a file is not in the parse cache, so a cached `validate` never pays for PyYAML.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from jobctl.errors import Diagnostic
from jobctl.spec.document import Document, JsonPath, Position, ScalarHook, Site, format_path

MAX_NODES = 100_000  # after alias expansion: a billion-laughs document stops here
MAX_DEPTH = 64

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


def _recording(hook: ScalarHook | None, sites: list[Site]) -> ScalarHook:
    """Remember each string scalar that may hold ${VAR}, then pass it to `hook`."""

    def record(text: str, plain: bool, path: JsonPath, position: Position) -> Any:
        if "$" in text:
            sites.append((path, text, plain, position))
        return hook(text, plain, path, position) if hook else text

    return record


class _Invalid(Exception):
    """Aborts conversion of one document with a located message."""

    def __init__(self, mark: Any, path: JsonPath, message: str) -> None:
        super().__init__(message)
        self.position: Position = (mark.line + 1, mark.column + 1)
        self.path = path
        self.message = message


class _TooLarge(Exception):
    """The document expands past MAX_NODES: reported at the document, not at an arbitrary alias."""


class _Converter:
    def __init__(self, hook: ScalarHook | None) -> None:
        self.hook = hook
        self.nodes = 0
        self.values: dict[JsonPath, Position] = {}
        self.keys: dict[JsonPath, Position] = {}
        self.written: dict[JsonPath, str] = {}
        self.duplicates: list[_Invalid] = []  # keys given twice in a mapping
        self.open: set[int] = set()  # the collections being converted, around the node at hand (by id)
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
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return self._scalar(node, path)
        if id(node) in self.open:  # `&a {self: *a}`: said as such, not as nesting 64 levels deep
            line = node.start_mark.line + 1
            raise _Invalid(node.start_mark, path, f"a recursive alias: refers to the node (line {line}) that holds it")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _scalar(self, node: yaml.Node, path: JsonPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise _Invalid(node.start_mark, path, f"unsupported YAML tag {node.tag!r}")
        if node.tag in (_STR, "tag:yaml.org,2002:timestamp"):
            text = str(node.value)
            if "\x00" in text:  # written as "\0" or "\x00": no environment or argv can carry it
                raise _Invalid(node.start_mark, path, "contains a NUL character")
            if self.hook is None:
                return text
            return self.hook(text, not getattr(node, "style", None), path, self.values[path])
        constructor = self._scalar_ctor.yaml_constructors[node.tag]
        value = constructor(self._scalar_ctor, node)
        if isinstance(value, float) and not math.isfinite(value):
            raise _Invalid(node.start_mark, path, f"{node.value!r} is not a finite number")
        self.written[path] = str(node.value)
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
            if key in seen:  # said, and the document read on with the first: its other problems are said too
                self.duplicates.append(_Invalid(key_node.start_mark, (*path, key),
                                                f"duplicate key {key!r} (first defined on line {seen[key]})"))
                continue
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


def parse(
    text: str, path: Path, shown: str, hook: ScalarHook | None = None
) -> tuple[list[Document], list[Diagnostic]]:
    """Parse every document of one file's text; problems come back as diagnostics, never exceptions.

    A syntax error ends its document, not the file: reading goes on at the next `---` line after it (YAML lets
    no scalar or collection run past one), so the documents after a broken one are checked too. Each Document
    records its `${VAR}` sites (string scalars containing '$') for the parse cache.
    """
    reader = _Reader(path, shown, hook)
    stream, start = text, 0  # the text being composed: the file, or its rest padded to keep line numbers
    while (error := reader.compose(stream)) is not None and (resume := _next_document(text, error, start)):
        start = resume
        stream = "\n" * len(_BREAK.findall(text, 0, start)) + text[start:]
    if not reader.documents and not reader.problems:
        reader.problems.append(Diagnostic(shown, 1, 1, "<file>", "file holds no spec documents"))
    return reader.documents, reader.problems


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # what YAML counts as a line break
_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.M)


def _next_document(text: str, line: int, after: int) -> int | None:
    """Where the first document marker (`---`) at or below `line` (0-based) begins in `text`, past `after`."""
    at = 0
    for _ in range(line):
        found = _BREAK.search(text, at)
        if found is None:
            return None
        at = found.end()
    marker = _DOCUMENT_START.search(text, max(at, after + 1))
    return marker.start() if marker else None


class _Reader:
    """The documents of one file and their problems, read from one or more streams of its text."""

    def __init__(self, path: Path, shown: str, hook: ScalarHook | None) -> None:
        self.path, self.shown, self.hook = path, shown, hook
        self.documents: list[Document] = []
        self.problems: list[Diagnostic] = []
        self.indexes = itertools.count()  # each document's place in the file

    def compose(self, stream: str) -> int | None:
        """Add the documents of `stream` and their problems; the line (0-based) of a syntax error that ended it."""
        try:
            for root in yaml.compose_all(stream, Loader=_Loader):
                index = next(self.indexes)
                if root is None or (isinstance(root, yaml.ScalarNode) and root.tag.endswith(":null")):
                    continue  # an empty document, e.g. after a trailing '---'
                document = self._document(root, index)
                if document is not None:
                    self.documents.append(document)
        except yaml.MarkedYAMLError as exc:
            self.problems.append(_syntax_error(exc, stream, self.shown))
            mark = exc.problem_mark or exc.context_mark
            return mark.line if mark is not None else None
        except yaml.YAMLError as exc:
            self.problems.append(Diagnostic(self.shown, 1, 1, "<file>", f"invalid YAML: {exc}"))
        except RecursionError:  # the pure-Python composer recurses per nesting level
            self.problems.append(Diagnostic(self.shown, 1, 1, "<file>", "document nests too deeply"))
        return None

    def _document(self, root: yaml.Node, index: int) -> Document | None:
        """One composed document as a Document (None when it cannot be one); its problems are added."""
        shown = self.shown
        start = (root.start_mark.line + 1, root.start_mark.column + 1)
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
            self.problems.append(Diagnostic(
                shown, *start, "<document>",
                f"a spec document must be a mapping (apiVersion, kind, metadata, spec), not {kind}",
            ))
            return None
        sites: list[Site] = []
        converter = _Converter(_recording(self.hook, sites))
        try:
            data = converter.convert(root, ())
        except _Invalid as exc:
            self.problems.append(Diagnostic(shown, *exc.position, format_path(exc.path), exc.message))
            return None
        except _TooLarge:
            message = f"document expands to more than {MAX_NODES} values (an alias bomb?)"
            self.problems.append(Diagnostic(shown, *start, "<document>", message))
            return None
        except RecursionError:
            self.problems.append(Diagnostic(shown, *start, "<document>", "document nests too deeply"))
            return None
        self.problems += [Diagnostic(shown, *d.position, format_path(d.path), d.message) for d in converter.duplicates]
        return Document(shown, self.path, index, data, start, values=converter.values, keys=converter.keys,
                        sites=sites, written=converter.written)
