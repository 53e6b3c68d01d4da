"""Spec documents: data plus the source position of every key and value, read through a parse cache.

Parsing (PyYAML) lives in yamlparse.py. A file whose content (length, CRC-32 and Adler-32) is unchanged since
it last parsed cleanly is read back from the cache instead (`marshal`: no PyYAML import). The cache
holds the raw data, positions and `${VAR}` sites; the sites are interpolated again from the current
environment on every read, so the cache never holds interpolated values. JOBCTL_NO_CACHE=1 turns
it off; JOBCTL_CACHE_DIR moves it (default: $XDG_CACHE_HOME/jobctl/specs).
"""

from __future__ import annotations

import marshal
import os
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jobctl import __version__
from jobctl.errors import Diagnostic
from jobctl.model.record import Record
from jobctl.paths import ensure_private_dir

MAX_FILE_BYTES = 1024 * 1024
CACHE_FORMAT = 3

JsonPath = tuple[str | int, ...]
Position = tuple[int, int]  # 1-based (line, column)
Site = tuple[JsonPath, str, bool, Position]  # a string scalar containing '$': path, text, plain, position

ScalarHook = Callable[[str, bool, JsonPath, Position], Any]
"""Called for every string scalar: (text, is_plain, path, position) -> value. Used for ${VAR}."""


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


class Document(Record):
    """One YAML document: its data, and positions for the values and keys within it. A Record, not a dataclass:
    every validate, plan and apply imports this module (issue 18)."""

    __slots__ = ("data", "file", "index", "keys", "path", "sites", "start", "values", "written")
    file: str  # as the user named it
    path: Path
    index: int
    data: dict[str, Any]
    start: Position
    values: dict[JsonPath, Position]
    keys: dict[JsonPath, Position]
    sites: list[Site]  # ${VAR} sites, for the parse cache
    written: dict[JsonPath, str]  # non-string scalars as the file spells them

    def __init__(self, file: str, path: Path, index: int, data: dict[str, Any], start: Position, *,
                 values: dict[JsonPath, Position] | None = None, keys: dict[JsonPath, Position] | None = None,
                 sites: list[Site] | None = None, written: dict[JsonPath, str] | None = None) -> None:
        values, keys = ({} if given is None else given for given in (values, keys))
        written = {} if written is None else written
        sites = [] if sites is None else sites
        self._assign(locals())

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
        # utf-8-sig's rule (one leading BOM is dropped) without loading its codec: ~0.2 ms of every plan (issue 18)
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
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


def _cache_file(path: Path, text: str) -> tuple[Path, tuple[Any, ...]] | None:
    """Where `path`'s cache entry lives, and the key that says whether it is still valid: the file's
    content (a hash of it), never its size or times, which an in-place edit can keep (cp -p, tar)."""
    if os.environ.get("JOBCTL_NO_CACHE"):
        return None
    base = os.environ.get("JOBCTL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "jobctl", "specs",
    )
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        return None
    data = text.encode("utf-8", "surrogatepass")  # (a spec's text is valid UTF-8; its path may not be)
    # two fast checksums of the content (zlib is loaded anyway; hashlib would cost 2 ms of start-up)
    key = (CACHE_FORMAT, __version__, str(real), len(data), zlib.crc32(data), zlib.adler32(data))
    return Path(base) / f"{zlib.crc32(os.fsencode(real)):08x}-{real.name}.marshal", key


def _set(data: Any, path: JsonPath, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


_made_dirs: set[Path] = set()


def _from_cache(located: tuple[Path, tuple[Any, ...]], shown: str, path: Path,
                hook: ScalarHook | None) -> list[Document] | None:
    file, key = located
    try:
        entry = marshal.loads(file.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    documents = []
    for doc in entry["docs"]:
        data = doc["data"]
        for site_path, text, plain, position in doc["sites"]:
            _set(data, site_path, hook(text, plain, site_path, position) if hook else text)
        documents.append(Document(shown, path, doc["index"], data, doc["start"], values=doc["values"],
                                  keys=doc["keys"], sites=doc["sites"], written=doc["written"]))
    return documents


def _to_cache(located: tuple[Path, tuple[Any, ...]], documents: list[Document]) -> None:
    file, key = located
    interpolated = []
    for document in documents:  # put the raw text back while serialising: interpolated values may be secrets
        for site_path, text, _, _ in document.sites:
            interpolated.append((document.data, site_path, lookup(document.data, site_path)))
            _set(document.data, site_path, text)
    try:
        blob = marshal.dumps({"key": key, "docs": [
            {"index": d.index, "data": d.data, "start": d.start, "values": d.values, "keys": d.keys, "sites": d.sites,
             "written": d.written}
            for d in documents
        ]})
    finally:
        for data, site_path, value in interpolated:
            _set(data, site_path, value)
    try:
        if file.parent not in _made_dirs:
            ensure_private_dir(file.parent)
            _made_dirs.add(file.parent)
        # One write, no rename: a reader racing it sees a short entry, which fails to load: a miss.
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, blob)
        finally:
            os.close(fd)
    except (OSError, ValueError):
        pass  # a cache that cannot be written only makes the next run slower



def read_documents(
    path: Path, shown: str, hook: ScalarHook | None = None
) -> tuple[list[Document], list[Diagnostic]]:
    """Every document of one file; problems come back as diagnostics, never exceptions."""
    text = _read_text(path, shown)
    if isinstance(text, Diagnostic):
        return [], [text]
    located = _cache_file(path, text)
    if located is not None:
        cached = _from_cache(located, shown, path, hook)
        if cached is not None:
            return cached, []
    from jobctl.spec import yamlparse

    documents, problems = yamlparse.parse(text, path, shown, hook)
    if located is not None and documents and not problems:
        _to_cache(located, documents)
    return documents, problems


def lookup(data: Mapping[str, Any], path: JsonPath) -> Any:
    """The value at `path` in plain data."""
    value: Any = data
    for part in path:
        value = value[part]
    return value
