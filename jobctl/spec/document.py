"""Spec documents: data plus the source position of every key and value, read through a parse cache.

Parsing (PyYAML) lives in yamlparse.py. A file whose content (length, CRC-32 and Adler-32) is unchanged since
it last parsed cleanly is read back from the cache instead (`marshal`: no PyYAML import; one pack per
directory, see ParseCache). The cache holds the raw data, positions and `${VAR}` sites; the sites are
interpolated again from the current environment on every read, so the cache never holds interpolated
values. JOBCTL_NO_CACHE=1 turns it off; JOBCTL_CACHE_DIR moves it (default: $XDG_CACHE_HOME/jobctl/specs).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from stat import S_ISDIR
from typing import Any

from jobctl import __version__
from jobctl.digest import sha256
from jobctl.errors import Diagnostic
from jobctl.model.record import Record

MAX_FILE_BYTES = 1024 * 1024
CACHE_FORMAT = 6  # 4: one pack per directory; 5: documents known to pass the schema; 6: sha256

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


def spec_dir(path: Path) -> Path:
    """The directory a spec's relative paths (source, ...) start from: its file's, as its author wrote them; for a
    symbolic link, that of the file it points to (`./train.py` beside jobs/train/job.yaml, not beside the link)."""
    return Path(os.path.realpath(path)).parent if os.path.islink(path) else path.parent


class Document(Record):
    """One YAML document: its data, and positions for the values and keys within it. A Record, not a dataclass:
    every validate, plan and apply imports this module (issue 18)."""

    __slots__ = ("checked", "data", "file", "index", "keys", "path", "sites", "start", "values", "written")
    file: str  # as the user named it
    path: Path
    index: int
    data: dict[str, Any]
    start: Position
    values: dict[JsonPath, Position]
    keys: dict[JsonPath, Position]
    sites: list[Site]  # ${VAR} sites, for the parse cache
    written: dict[JsonPath, str]  # non-string scalars as the file spells them
    checked: bool  # the parse cache knows it passes the schema (it has no ${VAR}: what it holds is as written)
    _uncompared = frozenset({"checked"})  # what the cache knows of a document is not part of it

    def __init__(self, file: str, path: Path, index: int, data: dict[str, Any], start: Position, *,
                 values: dict[JsonPath, Position] | None = None, keys: dict[JsonPath, Position] | None = None,
                 sites: list[Site] | None = None, written: dict[JsonPath, str] | None = None,
                 checked: bool = False) -> None:
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
        with path.open("rb") as stream:  # at most the limit and a byte: a device or a pipe has no size to check
            size = os.fstat(stream.fileno()).st_size
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return Diagnostic(shown, 1, 1, "<file>", f"cannot read file: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        said = f"{size} bytes" if size > MAX_FILE_BYTES else "over 1 MiB"
        return Diagnostic(shown, 1, 1, "<file>", f"file is {said}; specs are limited to 1 MiB")
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return Diagnostic(shown, 1, 1, "<file>", "file is UTF-32; save it as UTF-8")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Diagnostic(shown, 1, 1, "<file>", "file is UTF-16; save it as UTF-8")
    # utf-8-sig's rule (one leading BOM is dropped) without loading its codec: ~0.2 ms of every plan (issue 18)
    body = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:  # where, in the text after the BOM (as an editor counts)
        line = body.count(b"\n", 0, exc.start) + 1
        column = exc.start - (body.rfind(b"\n", 0, exc.start) + 1) + 1
        return Diagnostic(shown, line, column, "<file>", f"file is not valid UTF-8 (byte 0x{body[exc.start]:02x})")
    if "\x00" in text:
        index = text.index("\x00")
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1) + 1
        return Diagnostic(shown, line, column, "<file>", "file contains a NUL byte (binary file?)")
    return text


class ParseCache:
    """The parse cache: one file (a pack) per spec directory, holding an entry per spec file in it.

    An entry is valid while the file's content is unchanged (its length, CRC-32 and Adler-32), never judged
    by size or times, which an in-place edit can keep (cp -p, tar). A pack, not a file per spec: creating a
    file costs ~0.4 ms on some file systems (ext4 in a VM, NFS homes), a third of a cold `validate DIR`
    of 1,000 files. A pack is an index (its length in 8 bytes, then a marshalled {name: (offset, length)})
    followed by the entries, so one spec in a large directory costs a read of its own entry only. It is
    written once, when the cache is closed, by an atomic rename: a reader holds the pack it opened, never
    half of one. Two commands writing one pack at once: the last wins, the other's new entries are misses."""

    def __init__(self, base: Path | None) -> None:
        self.base = base  # None: no cache (JOBCTL_NO_CACHE)
        self._usable: bool | None = None  # whether `base` is private (see _private)
        self._dirs: dict[Path, Path] = {}  # pack file -> the directory it describes
        self._located: dict[Path, tuple[Path, str, tuple[Any, ...]]] = {}  # spec file -> where its entry goes
        self._opened: dict[Path, tuple[int, dict[str, tuple[int, int]]] | None] = {}  # pack -> (fd, index)
        self._new: dict[Path, dict[str, bytes]] = {}  # entries to write
        self._passed: dict[tuple[Path, str, tuple[Any, ...]], dict[int, bytes]] = {}  # see `checked`

    @classmethod
    def from_environment(cls) -> ParseCache:
        """The cache JOBCTL_CACHE_DIR names (default: $XDG_CACHE_HOME/jobctl/specs); none with JOBCTL_NO_CACHE."""
        if os.environ.get("JOBCTL_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no", "off"):
            return cls(None)
        base = os.environ.get("JOBCTL_CACHE_DIR") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "jobctl", "specs",
        )
        return cls(Path(base))

    def __enter__(self) -> ParseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def locate(self, path: Path, text: str) -> tuple[Path, str, tuple[Any, ...]] | None:
        """`path`'s pack, its name in it, and the key that says whether its entry is still valid."""
        if self.base is None or not self._private():
            return None
        try:
            real = path.resolve()
        except (OSError, RuntimeError):
            return None
        data = text.encode("utf-8", "surrogatepass")  # (a spec's text is valid UTF-8; its path may not be)
        # a cryptographic digest: a checksum (CRC-32 and Adler-32 were) can be matched by a crafted edit, which
        # a reviewer's `plan` would then show as "No changes" (jobctl.digest: CPython's own sha256, no OpenSSL)
        key = (CACHE_FORMAT, __version__, _SCHEMA, str(real), len(data), sha256(data).digest())
        folder = real.parent
        # named by a checksum of the directory's path; its name only helps a reader (and is cut to fit NAME_MAX)
        pack = self.base / f"{zlib.crc32(os.fsencode(folder)):08x}-{(folder.name or 'root')[:100]}.marshal"
        self._dirs[pack] = folder
        self._located[path] = pack, real.name, key
        return pack, real.name, key

    def get(self, located: tuple[Path, str, tuple[Any, ...]]) -> dict[str, Any] | None:
        pack, name, key = located
        blob = self._new.get(pack, {}).get(name) or self._stored(pack, name)
        try:
            entry = marshal.loads(blob) if blob else None
        except (ValueError, EOFError, TypeError):
            return None
        return entry if isinstance(entry, dict) and entry.get("key") == key else None

    def put(self, located: tuple[Path, str, tuple[Any, ...]], documents: list[Document]) -> None:
        pack, name, key = located
        with contextlib.suppress(ValueError):  # a value marshal cannot hold: not cached
            self._new.setdefault(pack, {})[name] = _marshalled(documents, key)

    def _private(self) -> bool:
        """Whether the cache may live where it is: nowhere yet (it is made 0700 when written), or a directory of
        this user's that no one else may write to. Anything others could write there, this would trust; and a
        directory that is not private is never made so (JOBCTL_CACHE_DIR=/tmp would lock everyone else out)."""
        if self._usable is None:
            assert self.base is not None
            try:
                stat = os.stat(self.base)
            except FileNotFoundError:
                self._usable = True
            except OSError:
                self._usable = False
            else:
                self._usable = (S_ISDIR(stat.st_mode) and stat.st_uid == os.geteuid()
                                and not stat.st_mode & 0o022)
        return self._usable

    def checked(self, document: Document) -> None:
        """`document`, free of ${VAR} and not known to pass the schema, passed it, which filled in its defaults:
        its cache entry will hold it so, and say so, and the next command need not check it again (nor load the
        validator). Noted here, written into the entry once per file when the cache is closed: a file of 1,000
        documents rewritten once per document made a cold `validate` quadratic."""
        located = self._located.get(document.path)
        if located is not None and not document.sites:
            with contextlib.suppress(ValueError):  # (a value marshal cannot hold: the entry stays as it was)
                self._passed.setdefault(located, {})[document.index] = marshal.dumps(document.data)

    def close(self) -> None:
        """Write the packs that gained entries, keeping the others' entries of files still in their directory."""
        for located, passed in self._passed.items():
            entry = self.get(located)  # this command's, or one an earlier command wrote without the marks
            if entry is None:
                continue
            for doc in entry["docs"]:  # (not an ADS document: it is checked as translated, not as written)
                if doc["index"] in passed and doc["data"].get("apiVersion") == "jobctl/v1":
                    doc["data"], doc["checked"] = marshal.loads(passed[doc["index"]]), True
            self._new.setdefault(located[0], {})[located[1]] = marshal.dumps(entry)
        self._passed.clear()
        for pack, new in sorted(self._new.items()):
            entries = {name: blob for name in self._index(pack) if (blob := self._stored(pack, name))}
            entries.update(new)
            with contextlib.suppress(OSError):
                present = set(os.listdir(self._dirs[pack]))
                entries = {name: blob for name, blob in entries.items() if name in present}
            # a cache that cannot be written only makes the next command slower
            with contextlib.suppress(OSError, ValueError):
                _write_pack(pack, self._dirs[pack], entries)
        self._new.clear()
        for opened in self._opened.values():
            if opened is not None:
                os.close(opened[0])
        self._opened.clear()

    def _index(self, pack: Path) -> dict[str, tuple[int, int]]:
        if pack not in self._opened:
            self._opened[pack] = _open_pack(pack, self._dirs[pack])
        opened = self._opened[pack]
        return opened[1] if opened is not None else {}

    def _stored(self, pack: Path, name: str) -> bytes:
        where = self._index(pack).get(name)
        opened = self._opened[pack]
        if where is None or opened is None:
            return b""
        try:
            return os.pread(opened[0], where[1], where[0])
        except OSError:
            return b""


_LENGTH = 8  # bytes of the index's length at the start of a pack


def _schema_stamp() -> tuple[int, int]:
    """The compiled schema validator's size and time: an entry's `checked` is as good as the schema that
    checked it, and a development checkout changes the schema without changing jobctl's version."""
    try:
        stat = os.stat(os.path.join(os.path.dirname(__file__), "_fastschema.py"))
    except OSError:
        return (0, 0)
    return (stat.st_size, stat.st_mtime_ns)


_SCHEMA = _schema_stamp()


def _open_pack(pack: Path, folder: Path) -> tuple[int, dict[str, tuple[int, int]]] | None:
    """An open pack and its index, when it is one of this format for `folder`; None otherwise."""
    try:
        fd = os.open(pack, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        stat = os.fstat(fd)
        size = stat.st_size
        if stat.st_uid != os.geteuid() or stat.st_mode & 0o022:  # another's, or writable by others: not trusted
            raise ValueError(pack)
        head = os.pread(fd, 65536, 0)
        length = int.from_bytes(head[:_LENGTH], "little")
        start = _LENGTH + length  # the entries' offsets count from the end of the index
        if start <= size:
            head += os.pread(fd, start - len(head), len(head)) if len(head) < start else b""
            index = marshal.loads(head[_LENGTH:start])
            if (isinstance(index, dict) and index.get("format") == CACHE_FORMAT and index.get("dir") == str(folder)
                    and isinstance(index.get("entries"), dict)):
                # an entry past the end (a pack cut short: only damage does that) is a miss
                return fd, {name: (start + offset, count) for name, (offset, count) in index["entries"].items()
                            if offset >= 0 and count >= 0 and start + offset + count <= size}
    except (OSError, ValueError, EOFError, TypeError):
        pass
    os.close(fd)
    return None


def _write_pack(pack: Path, folder: Path, entries: dict[str, bytes]) -> None:
    """Write a pack by a rename over the old one: a reader has the old or the new, whole."""
    offsets: dict[str, tuple[int, int]] = {}
    position = 0
    for name, blob in entries.items():
        offsets[name] = (position, len(blob))
        position += len(blob)
    index = marshal.dumps({"format": CACHE_FORMAT, "dir": str(folder), "entries": offsets})
    previous = os.umask(0o077)
    try:
        pack.parent.mkdir(parents=True, exist_ok=True)  # (one that was there is not changed: see _private)
    finally:
        os.umask(previous)
    partial = pack.with_name(f".{pack.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        with open(fd, "wb") as out:
            out.write(len(index).to_bytes(_LENGTH, "little"))
            out.write(index)
            for blob in entries.values():
                out.write(blob)
        os.replace(partial, pack)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)  # a full disk leaves no partial pack behind
        raise


def _set(data: Any, path: JsonPath, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _from_cache(entry: dict[str, Any], shown: str, path: Path, hook: ScalarHook | None) -> list[Document] | None:
    documents = []
    try:
        for doc in entry["docs"]:
            data = doc["data"]
            for site_path, text, plain, position in doc["sites"]:
                _set(data, site_path, hook(text, plain, site_path, position) if hook else text)
            documents.append(Document(shown, path, doc["index"], data, doc["start"], values=doc["values"],
                                      keys=doc["keys"], sites=doc["sites"], written=doc["written"],
                                      checked=bool(doc.get("checked")) and not doc["sites"]))
    except (KeyError, TypeError, ValueError, IndexError):  # an entry of another shape: a miss
        return None
    return documents


def _marshalled(documents: list[Document], key: tuple[Any, ...]) -> bytes:
    """The cache entry of a file's documents, with the raw text at each `${VAR}` site: interpolated
    values may be secrets, and the environment applies again on every read."""
    interpolated = []
    for document in documents:
        for site_path, text, _, _ in document.sites:
            interpolated.append((document.data, site_path, lookup(document.data, site_path)))
            _set(document.data, site_path, text)
    try:
        return marshal.dumps({"key": key, "docs": [
            {"index": d.index, "data": d.data, "start": d.start, "values": d.values, "keys": d.keys, "sites": d.sites,
             "written": d.written}
            for d in documents
        ]})
    finally:
        for data, site_path, value in interpolated:
            _set(data, site_path, value)


def read_documents(
    path: Path, shown: str, hook: ScalarHook | None = None, cache: ParseCache | None = None,
) -> tuple[list[Document], list[Diagnostic]]:
    """Every document of one file; problems come back as diagnostics, never exceptions. `cache`: the
    command's parse cache, which its owner closes (writes); without one, the cache is read and written here."""
    text = _read_text(path, shown)
    if isinstance(text, Diagnostic):
        return [], [text]
    if cache is None:
        with ParseCache.from_environment() as own:
            return _read(path, shown, text, hook, own)
    return _read(path, shown, text, hook, cache)


def _read(path: Path, shown: str, text: str, hook: ScalarHook | None,
          cache: ParseCache) -> tuple[list[Document], list[Diagnostic]]:
    located = cache.locate(path, text)
    entry = cache.get(located) if located is not None else None
    cached = _from_cache(entry, shown, path, hook) if entry is not None else None
    if cached is not None:
        return cached, []
    from jobctl.spec import yamlparse

    documents, problems = yamlparse.parse(text, path, shown, hook)
    if located is not None and documents and not problems:
        cache.put(located, documents)
    return documents, problems


def lookup(data: Mapping[str, Any], path: JsonPath) -> Any:
    """The value at `path` in plain data."""
    value: Any = data
    for part in path:
        value = value[part]
    return value
