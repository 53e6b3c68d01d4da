"""`jobctl logs` of a local run printed straight from the log file's bytes, a block at a time.

A loop that makes a LogLine (a datetime, two strings) of every line and formats it runs at ~20 MB/s
and, for `--tail N`, holds N of them. Here each step is one C-level call per 1 MB block of whole lines
(a regex split or sub, bytes.replace, translate), so every flag combination prints a 1 GB log at
hundreds of MB/s, and `--tail N` reads the file backwards to find where its last N lines start, so
memory stays one block whatever N is.

The byte-level steps rely on the exact format jobctl writes (logfile.stamp: `2024-05-01T12:00:00.123456Z
O text`): its timestamps sort as text, and `--timestamps` shows their first 23 characters. A block
with a line not in that format, or not UTF-8, or (for JSON) with text JSON would escape beyond quotes,
backslashes and tabs, goes line by line through LogView.render instead, so the output never depends
on which path printed it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from itertools import compress, repeat
from pathlib import Path
from typing import BinaryIO

from jobctl.backends.local import logfile
from jobctl.model.job import LogLine, LogView

BLOCK = logfile.READ_CHUNK
# Blocks are handled "newline-led": b"\n" + the lines joined by b"\n", so every pattern below starts with a
# literal newline that the regex engine can jump to, and the first line is no exception. A block is split
# at each line's prefix: "", then per line the groups (stamp, stream code) and the text. Every `width`-th
# item is a column; columns are picked (itertools.compress, for --stream) and replaced by constants
# (list slice assignment), then joined.
# The stamp is matched as a run of its characters, not position by position: that is what a block's speed
# rests on; a line whose stamp is not a moment at all (month 13) is not one jobctl writes.
_CODES = {"stdout": b"O", "stderr": b"E"}
_TEXT = re.compile(rb"\n[-.:T0-9]{26}Z ([OE]) ")  # code, text
_MILLIS = re.compile(rb"(\n[-.:T0-9]{23})[0-9]{3}Z ([OE])")  # "\n<stamp to the millisecond>", code, " text"
_JSON = re.compile(rb"\n()([-.:T0-9]{26})Z ([OE]) ")  # a slot for the line's head, stamp, code, text
_JSON_STREAM = {b"O": b'Z", "stream": "stdout", "text": "', b"E": b'Z", "stream": "stderr", "text": "'}
# what clean() strips (render/human.py): C0 controls but tab and newline, DEL, and C1 (U+0080-U+009F in UTF-8)
_C0 = bytes(range(0x00, 0x09)) + bytes(range(0x0B, 0x20)) + b"\x7f"
_C1 = re.compile(b"\xc2[\x80-\x9f]")


def _stamp(moment: datetime) -> bytes:
    """A moment as jobctl writes it in the log, to compare with the log's stamps as text."""
    moment = moment.astimezone(timezone.utc)
    return b"%04d-%02d-%02dT%02d:%02d:%02d.%06d" % (moment.year, moment.month, moment.day, moment.hour,
                                                     moment.minute, moment.second, moment.microsecond)


def _older_than(moment: datetime) -> re.Pattern[bytes]:
    """Every line whose stamp is before `moment`, as a trie on the stamp's characters: at each position a
    smaller digit (then any valid rest) or the same one (then the rest must be smaller)."""
    cutoff = _stamp(moment)
    classes = [b"[0-9]" if c in b"0123456789" else re.escape(bytes([c])) for c in cutoff]
    pattern = b"(?!)"  # an equal stamp is not older
    for position in reversed(range(len(cutoff))):
        char = cutoff[position:position + 1]
        same = re.escape(char) + pattern
        if char.isdigit() and char != b"0":
            smaller = b"[0-" + chr(char[0] - 1).encode() + b"]" + b"".join(classes[position + 1:])
            pattern = b"(?:" + smaller + b"|" + same + b")"
        else:
            pattern = same
    return re.compile(b"\n" + pattern + b"Z [OE] [^\n]*")


class _Printer:
    """One view's steps, compiled once: `block` turns whole lines (ending in b"\\n") into what is printed."""

    def __init__(self, view: LogView) -> None:
        self.view = view
        self.older = _older_than(view.since) if view.since is not None else None
        self.filters = view.since is not None or view.stream is not None
        if view.jsonl_run_id is not None:
            self.json_head = b'{"type": "log", "runId": ' + json.dumps(view.jsonl_run_id).encode() + b', "time": "'
            self.json_between = b'"}\n' + self.json_head

    def lines(self, data: bytes) -> Iterator[LogLine]:
        """The lines of `data` that pass the view's filters, one by one: exact, and slow."""
        view = self.view
        for raw in data.split(b"\n")[:-1]:
            line = logfile.decode(raw)
            if line is not None and (view.since is None or line.time >= view.since) and (
                    view.stream is None or line.stream == view.stream):
                yield line

    def split(self, pattern: re.Pattern[bytes], data: bytes) -> list[bytes] | None:
        """The block split by `pattern` (its last group the stream code), only the lines that pass the
        filters; None when a line is not in the format jobctl writes."""
        parts = self._split_newer(pattern, data)
        if parts is None or self.view.stream is None:
            return parts
        width = pattern.groups + 1
        keep = list(map(_CODES[self.view.stream].__eq__, parts[width - 1::width]))
        picked = [b""] * (width * sum(keep) + 1)
        for first in range(1, width + 1):
            picked[first::width] = compress(parts[first::width], keep)
        return picked

    def _split_newer(self, pattern: re.Pattern[bytes], data: bytes) -> list[bytes] | None:
        """The block split by `pattern`, without the lines before --since; None as for split."""
        led, count = b"\n" + data[:-1], data.count(b"\n")
        if self.older is not None:
            led, older = self.older.subn(b"", led)
            count -= older
        parts = pattern.split(led)
        if len(parts) != (pattern.groups + 1) * count + 1 or parts[0]:
            return None
        return parts

    def count(self, data: bytes) -> int:
        """How many lines of `data` pass the filters."""
        parts = self._split_newer(_TEXT, data)  # "", code, text, code, text, ...
        if parts is None:
            return sum(1 for _ in self.lines(data))
        return len(parts) // 2 if self.view.stream is None else parts[1::2].count(_CODES[self.view.stream])

    def block(self, data: bytes) -> bytes:
        if data.isascii() or _utf8(data):
            printed = self._json(data) if self.view.jsonl_run_id is not None else self._text(data)
            if printed is not None:
                return printed
        return "".join(self.view.render(line) + "\n" for line in self.lines(data)).encode()

    def _text(self, data: bytes) -> bytes | None:
        parts = self.split(_MILLIS if self.view.timestamps else _TEXT, data)
        if parts is None:
            return None
        if len(parts) == 1:
            return b""
        if self.view.timestamps:  # "", "\n<stamp to the millisecond>", "Z" for the code, " text", ...
            parts[2::3] = [b"Z"] * (len(parts) // 3)
            printed = b"".join(parts)[1:] + b"\n"
        else:
            printed = b"\n".join(parts[2::2]) + b"\n"
        if not self.view.sanitize:
            return printed
        return (printed if printed.isascii() else _C1.sub(b"", printed)).translate(None, _C0)

    def _json(self, data: bytes) -> bytes | None:
        """{"type": "log", "runId": ..., "time": ..., "stream": ..., "text": ...} as json.dumps writes it."""
        if not data.isascii() or len(data.translate(None, _C0)) != len(data):
            return None  # \uXXXX escapes: the slow path's json.dumps writes them
        data = data.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\t", b"\\t")
        parts = self.split(_JSON, data)
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
        parts.append(b'"}\n')
        return b"".join(parts)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def print_view(path: Path, out: BinaryIO, view: LogView) -> None:
    """Write the lines `view` asks for to `out`, as LogView.render would print them."""
    printer = _Printer(view)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        end = _complete_end(fh)
        start = 0
        if view.tail is not None:
            start = _tail_start(fh, end, view.tail, printer)
        for data in _blocks(fh, start, end):
            printed = printer.block(data)
            if printed:
                out.write(printed)


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
        found = printer.count(data) if printer.filters else data.count(b"\n")
        if found < count:
            count -= found
            continue
        position = offset + len(data)
        for raw in reversed(data.split(b"\n")[:-1]):
            position -= len(raw) + 1
            if not printer.filters or any(printer.lines(raw + b"\n")):
                count -= 1
                if not count:
                    return position
    return 0
