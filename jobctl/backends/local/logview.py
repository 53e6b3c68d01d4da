"""`jobctl logs` of a local run printed straight from the log file's bytes, a block at a time.

A loop that makes a LogLine (a datetime, two strings) of every line and formats it runs at ~20 MB/s
and, for `--tail N`, holds N of them. Here each step is one C-level call per block of whole lines
(logfile.PRINT_BLOCK): the filters (--since, --stream) split the block at its newlines and flag each line
from its head (a map of a slice, one translate that checks every head, a text comparison or a translate of
the stream codes), and itertools.compress keeps the flagged lines; a regex split of what is kept cuts out
the texts (and stamps). So every flag combination prints a 1 GB log at hundreds of MB/s, and `--tail N`
reads the file backwards to find where its last N lines start, counting with the same flags, so memory
stays one block whatever N is.

The byte-level steps rely on the exact format jobctl writes (logfile.stamp: `2024-05-01T12:00:00.123456Z
O text`): every line starts with a 30-byte head of that shape, its timestamps sort as text, and
`--timestamps` shows their first 23 characters. A stamp is checked as a run of its characters, not position
by position (a stamp that is no moment, month 13, is not one jobctl writes). A block with a line not in that
format, or not UTF-8, or (for JSON) with text JSON would escape beyond quotes, backslashes and tabs, goes line
by line through LogView.render instead, so the output never depends on which path printed it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from itertools import compress, repeat
from operator import and_, getitem
from pathlib import Path
from typing import BinaryIO, cast

from jobctl.backends.local import logfile
from jobctl.model.state import LogLine, LogView

BLOCK = logfile.PRINT_BLOCK
HEAD = logfile.PREFIX_BYTES  # "<stamp> <code> ", the same length on every line jobctl writes
_CODE = HEAD - 2  # where the stream code is in a head
_HEADS, _TEXTS = slice(0, HEAD), slice(HEAD, None)
# Newline-led blocks of lines (b"\n" + the lines joined by b"\n") split at each line's head: "", then per line the
# groups and the text. The regex engine jumps to each literal newline.
_TEXT = re.compile(rb"\n[-.:T0-9]{26}Z ([OE]) ")  # code, text
_MILLIS = re.compile(rb"(\n[-.:T0-9]{23})[0-9]{3}Z ([OE])")  # "\n<stamp to the millisecond>", code, " text"
_JSON = re.compile(rb"\n()([-.:T0-9]{26})Z ([OE]) ")  # a slot for the line's head, stamp, code, text
# operator.getitem, typed for bytes: mapped over a block's lines, the fastest way to cut each of them
_cut = cast("Callable[[bytes, slice], bytes]", getitem)
# A head's bytes each translated to its kind (a stamp's character to 0, a stream code to C, any byte no head holds
# to 0xff): a line is one jobctl writes when its head translates to _SHAPE, the patterns above in one translate.
_SHAPE = b"0" * (HEAD - 4) + b"Z C "
_KINDS = bytes(ord("0") if byte in b"-.:T0123456789" else ord("C") if byte in b"OE" else byte if byte in b"Z "
               else 0xFF for byte in range(256))
# per stream: its code translated to 1, any other to 0 (a line's flag for itertools.compress)
_KEEP = {name: bytes(1 if byte == code[0] else 0 for byte in range(256))
         for name, code in logfile.STREAM_CODES.items()}
_JSON_STREAM = {b"O": b'Z", "stream": "stdout", "text": "', b"E": b'Z", "stream": "stderr", "text": "'}
# what clean() strips (render/human.py): C0 controls but tab and newline, DEL; and, in UTF-8, C1 (U+0080-U+009F) and
# the bidirectional controls (U+202A-U+202E, U+2066-U+2069)
_C0 = bytes(range(0x00, 0x09)) + bytes(range(0x0B, 0x20)) + b"\x7f"
_C1 = re.compile(b"\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def _stamp(moment: datetime) -> bytes:
    """A moment as jobctl writes it in the log, to compare with the log's stamps as text."""
    moment = moment.astimezone(timezone.utc)
    return b"%04d-%02d-%02dT%02d:%02d:%02d.%06d" % (moment.year, moment.month, moment.day, moment.hour,
                                                     moment.minute, moment.second, moment.microsecond)


class _Printer:
    """One view's steps: `block` turns whole lines (ending in b"\\n") into what is printed."""

    def __init__(self, view: LogView) -> None:
        self.view = view
        # a head is at or after the cutoff when the cutoff sorts before it (an equal stamp is a prefix of it)
        self.cutoff = _stamp(view.since) if view.since is not None else None
        self.keep = _KEEP[view.stream] if view.stream is not None else None
        self.filters = view.since is not None or view.stream is not None
        self.shapes = b""
        if view.jsonl_run_id is not None:
            self.json_head = b'{"type": "log", "runId": ' + json.dumps(view.jsonl_run_id).encode() + b', "time": "'
            self.json_between = b'"}\n' + self.json_head

    def lines(self, data: bytes) -> Iterator[LogLine]:
        """The lines of `data` that pass the view's filters, one by one: exact, and slow."""
        return (line for raw in data.split(b"\n")[:-1] if (line := self._passing(raw)) is not None)

    def _passing(self, raw: bytes) -> LogLine | None:
        line = logfile.decode(raw)
        view = self.view
        if line is None or (view.since is not None and line.time < view.since) or (
                view.stream is not None and line.stream != view.stream):
            return None
        return line

    def split(self, data: bytes) -> tuple[list[bytes], bytes | None] | None:
        """The block's lines and per line 1 if it passes the filters else 0 (None: all pass), from the lines'
        heads; None when a line is not in the format jobctl writes."""
        lines = data.split(b"\n")
        lines.pop()  # after the last newline
        heads = list(map(_cut, lines, repeat(_HEADS)))
        joined = b"".join(heads)
        if len(self.shapes) < len(joined):
            self.shapes = _SHAPE * (len(joined) // HEAD)
        if len(joined) != HEAD * len(lines) or joined.translate(_KINDS) != self.shapes[:len(joined)]:
            return None
        flags = None
        if self.cutoff is not None and heads and min(heads) < self.cutoff:
            flags = bytes(map(self.cutoff.__le__, heads))
        if self.keep is not None:
            codes = joined[_CODE::HEAD].translate(self.keep)
            flags = codes if flags is None else bytes(map(and_, flags, codes))
        return lines, flags

    def flags(self, data: bytes) -> tuple[list[bytes], bytes]:
        """The block's lines and per line 1 if it passes the filters, else 0 (as count counts them)."""
        split = self.split(data) if self.filters else None
        if split is None:
            lines = data.split(b"\n")[:-1]
            if not self.filters:
                return lines, b"\x01" * len(lines)
            return lines, bytes(self._passing(raw) is not None for raw in lines)
        lines, flags = split
        return lines, b"\x01" * len(lines) if flags is None else flags

    def count(self, data: bytes) -> int:
        """How many lines of `data` pass the filters."""
        if not self.filters:
            return data.count(b"\n")
        split = self.split(data)
        if split is None:
            return sum(1 for _ in self.lines(data))
        lines, flags = split
        return len(lines) if flags is None else flags.count(1)

    def block(self, data: bytes) -> bytes:
        if data.isascii() or _utf8(data):
            printed = self._json(data) if self.view.jsonl_run_id is not None else self._text(data)
            if printed is not None:
                return printed
        return "".join(self.view.render(line) + "\n" for line in self.lines(data)).encode()

    def _kept(self, data: bytes) -> bytes | None:
        """The lines of `data` that pass the filters; None as for split."""
        if not self.filters:
            return data
        split = self.split(data)
        if split is None:
            return None
        lines, flags = split
        return data if flags is None else b"\n".join([*compress(lines, flags), b""])

    def _columns(self, pattern: re.Pattern[bytes], data: bytes) -> list[bytes] | None:
        """The lines of `data` that pass the filters, newline-led and split by `pattern` (which checks that they
        are in jobctl's format: None when one is not); the last text keeps its newline."""
        kept = self._kept(data)
        if not kept:
            return None if kept is None else [b""]
        parts = pattern.split(b"\n" + kept)
        if len(parts) != (pattern.groups + 1) * kept.count(b"\n") + 1 or parts[0]:
            return None
        return parts

    def _text(self, data: bytes) -> bytes | None:
        if self.filters and not self.view.timestamps:  # the filters split the block into lines already
            split = self.split(data)
            if split is None:
                return None
            lines, flags = split
            texts = list(map(_cut, lines if flags is None else compress(lines, flags), repeat(_TEXTS)))
            printed = b"\n".join([*texts, b""]) if texts else b""
        else:
            parts = self._columns(_MILLIS if self.view.timestamps else _TEXT, data)
            if parts is None:
                return None
            if len(parts) == 1:
                return b""
            if self.view.timestamps:  # "", "\n<stamp to the millisecond>", "Z" for the code, " text", ...
                parts[1] = parts[1][1:]
                parts[2::3] = [b"Z"] * (len(parts) // 3)
                printed = b"".join(parts)
            else:  # "", code, text, ...
                printed = b"\n".join(parts[2::2])
        if not self.view.sanitize:
            return printed
        return (printed if printed.isascii() else _C1.sub(b"", printed)).translate(None, _C0)

    def _json(self, data: bytes) -> bytes | None:
        """{"type": "log", "runId": ..., "time": ..., "stream": ..., "text": ...} as json.dumps writes it."""
        if not data.isascii() or len(data.translate(None, _C0)) != len(data):
            return None  # \uXXXX escapes: the slow path's json.dumps writes them
        parts = self._columns(_JSON, data.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\t", b"\\t"))
        if parts is None:
            return None
        if len(parts) == 1:
            return b""
        # per line: the head (after the line before's end), the stamp (isoformat() leaves out a zero fraction),
        # the stream and the text's key, the text
        parts[1::4] = [self.json_between] * (len(parts) // 4)
        parts[1] = self.json_head
        parts[2::4] = map(bytes.removesuffix, parts[2::4], repeat(b".000000"))
        parts[3::4] = map(_JSON_STREAM.__getitem__, parts[3::4])
        parts[-1] = parts[-1][:-1]
        parts.append(b'"}\n')
        return b"".join(parts)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def print_view(path: Path, out: BinaryIO, view: LogView) -> int:
    """Write the lines `view` asks for to `out`, as LogView.render would print them; the offset after the
    last complete line, where following the log goes on."""
    printer = _Printer(view)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return 0
    with fh:
        end = _complete_end(fh)
        start = 0
        if view.tail is not None:
            start = _tail_start(fh, end, view.tail, printer)
        for data in _blocks(fh, start, end):
            printed = printer.block(data)
            if printed:
                out.write(printed)
    return end


def _complete_end(fh: BinaryIO) -> int:
    """The offset after the file's last complete line (a line being written is not one yet)."""
    position = fh.seek(0, 2)
    while position > 0:
        start = max(0, position - 64 * 1024)
        fh.seek(start)
        newline = fh.read(position - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


def _blocks(fh: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """The lines between two line boundaries, a block of whole lines at a time."""
    fh.seek(start)
    pending = b""
    while start < end:
        chunk = fh.read(min(BLOCK, end - start))
        if not chunk:
            break
        start += len(chunk)
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        pending = data[cut:]
        if cut:
            yield data[:cut]


def _blocks_backward(fh: BinaryIO, end: int) -> Iterator[tuple[int, bytes]]:
    """The lines before `end` (a line boundary), a block of whole lines at a time, last block first:
    (offset of the block, its lines)."""
    position, carry = end, b""  # carry: the start of a line that began in an earlier block
    while position > 0:
        start = max(0, position - BLOCK)
        fh.seek(start)
        data = fh.read(position - start) + carry
        position = start
        cut = data.find(b"\n") + 1 if start else 0
        if start and not cut:
            carry = data
            continue
        carry = data[:cut]
        if cut < len(data):
            yield start + cut, data[cut:]


def _tail_start(fh: BinaryIO, end: int, count: int, printer: _Printer) -> int:
    """Where the last `count` lines that pass the filters start (`end` if count is 0)."""
    if not count:
        return end
    for offset, data in _blocks_backward(fh, end):
        found = printer.count(data)
        if found < count:
            count -= found
            continue
        lines, flags = printer.flags(data)
        index = len(flags)
        for _ in range(count):
            index = flags.rindex(1, 0, index)
        return offset + sum(map(len, lines[:index])) + index  # the lines before it and their newlines
    return 0
