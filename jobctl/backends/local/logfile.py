"""The local run log: one line per output line, `<UTC timestamp> <O|E> <text>`.

Plain text so `cat` works on it; cursors are byte offsets, so following and tailing never read
more than they return.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from jobctl.model.state import LogLine

STREAM_CODES = {"stdout": b"O", "stderr": b"E"}
_STREAM_NAMES = {b"O": "stdout", b"E": "stderr"}
READ_CHUNK = 1024 * 1024
MAX_LINE = 64 * 1024  # a longer line is split, so one runaway line never holds memory


def stamp(when: float) -> bytes:
    moment = datetime.fromtimestamp(when, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()


def encode(when: float, stream: str, text: bytes) -> bytes:
    return stamp(when) + b" " + STREAM_CODES[stream] + b" " + text + b"\n"


def parse_time(raw: bytes) -> datetime:
    text = raw.decode("ascii", "replace")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def decode(raw: bytes) -> LogLine | None:
    """One stored line (without its newline) back into a LogLine; None if it is not ours."""
    stamp_raw, sep, rest = raw.partition(b" ")
    if not sep or len(rest) < 2:
        return None
    code, text = rest[:1], rest[2:]
    try:
        when = parse_time(stamp_raw)
    except ValueError:
        return None
    return LogLine(when, _STREAM_NAMES.get(code, "stdout"), text.decode("utf-8", "replace"))


def read_from(
    path: Path, offset: int, max_bytes: int = READ_CHUNK, max_lines: int | None = None,
) -> tuple[list[LogLine], int]:
    """Complete lines starting at byte `offset`; returns them and the offset after the last one."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read(max_bytes)
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    raws = data[:end].split(b"\n")
    if max_lines is not None and len(raws) > max_lines:
        raws = raws[:max_lines]
        end = sum(len(raw) + 1 for raw in raws) - 1
    lines = [line for raw in raws if (line := decode(raw)) is not None]
    return lines, offset + end + 1


def tail_offset(path: Path, count: int) -> int:
    """Byte offset where the last `count` complete lines start (reads backwards, block by block)."""
    try:
        fh: BinaryIO = path.open("rb")
    except FileNotFoundError:
        return 0
    with fh:
        size = fh.seek(0, os.SEEK_END)
        # the file ends with '\n' unless a line is being written; ignore a partial last line
        position = size
        found = -1  # the last complete line's newline is not a separator
        block = 64 * 1024
        while position > 0:
            start = max(0, position - block)
            fh.seek(start)
            chunk = fh.read(position - start)
            index = len(chunk)
            while True:
                index = chunk.rfind(b"\n", 0, index)
                if index < 0:
                    break
                found += 1
                if found == count:
                    return start + index + 1
            position = start
        return 0


PREFIX_BYTES = len(stamp(0.0)) + 3  # "<timestamp> <O|E> ": every stored line starts with exactly this


def copy_text(path: Path, out: BinaryIO, offset: int = 0) -> int:
    """Write the text of every complete line from `offset` to `out`, fast (whole chunks, bytes only).

    For plain `jobctl logs > file`: no parsing into objects, so it streams at disk speed. Returns
    the offset after the last complete line.
    """
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return offset
    with fh:
        fh.seek(offset)
        pending = b""
        while chunk := fh.read(READ_CHUNK):
            data = pending + chunk
            cut = data.rfind(b"\n") + 1
            pending = data[cut:]
            if cut:
                text = b"\n".join([line[PREFIX_BYTES:] for line in data[: cut - 1].split(b"\n")]) + b"\n"
                # bytes that are not UTF-8 as U+FFFD, as every other way of printing the log shows them
                out.write(text if text.isascii() else text.decode("utf-8", "replace").encode())
                offset += cut
    return offset


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
