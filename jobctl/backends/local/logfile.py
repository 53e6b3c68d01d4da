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
# `jobctl logs` prints a log this many bytes at a time (copy_text, logview). Small on purpose: the ~650 lines of a
# block become ~2,000 small objects, which fit in the memory CPython keeps for reuse. A 1 MiB block's objects
# took several arenas, given back to the kernel after each block and faulted in again for the next: a plain
# `logs > file` of 300 MB took 150,000 page faults (2,800 now) and 40% longer (issue 18).
PRINT_BLOCK = 64 * 1024
# a longer line is split (never inside a secret value: split_point), so one runaway line never holds memory
MAX_LINE = 64 * 1024


def split_point(data: bytes | bytearray, limit: int, secrets: tuple[bytes, ...] = ()) -> int:
    """Where to split a line longer than `limit`: at `limit`, unless that cuts an occurrence of a secret
    value (`secrets`, longest first). Output is masked line by line, so a secret cut in two would be shown
    in two unmasked pieces: the cut moves before the occurrence, or, when the secrets there reach back to
    the line's start (a secret longer than `limit`), after it — so a piece is at most `limit` plus the
    longest secret. Only secret values that overlap one another all the way leave no cut outside them.
    `data` must hold `limit` + twice the longest secret bytes, to see every occurrence around the cut."""
    if not secrets:
        return limit
    cut = limit
    while cut > 0 and (hit := _straddling(data, cut, secrets)) is not None:
        cut = hit[0]
    if cut > 0:
        return cut
    cut, furthest = limit, limit + len(secrets[0])
    while (hit := _straddling(data, cut, secrets)) is not None:
        if hit[1] > furthest:
            return limit
        cut = hit[1]
    return cut


def _straddling(data: bytes | bytearray, cut: int, secrets: tuple[bytes, ...]) -> tuple[int, int] | None:
    """The start and end of an occurrence of a secret that starts before `cut` and ends after it."""
    for secret in secrets:
        # the window holds exactly the occurrences that contain the bytes on both sides of `cut`
        start = data.find(secret, max(0, cut - len(secret) + 1), cut + len(secret) - 1)
        if start >= 0:
            return start, start + len(secret)
    return None


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
) -> tuple[list[LogLine], int, bool]:
    """Complete lines starting at byte `offset`; returns them, the offset after the last one, and whether that
    is the end of the log as it was when opened (its size, read once: a follow calls this at every wake-up)."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size <= offset:  # (a follow asks many times for what is not there yet)
                return [], offset, True
            fh.seek(offset)
            data = fh.read(min(max_bytes, size - offset))  # no 1 MB buffer made for a few new lines
    except FileNotFoundError:
        return [], offset, True
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset, False
    raws = data[:end].split(b"\n")
    if max_lines is not None and len(raws) > max_lines:
        raws = raws[:max_lines]
        end = sum(len(raw) + 1 for raw in raws) - 1
    lines = [line for raw in raws if (line := decode(raw)) is not None]
    return lines, offset + end + 1, offset + end + 1 >= size


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
        while chunk := fh.read(PRINT_BLOCK):
            data = pending + chunk
            cut = data.rfind(b"\n") + 1
            pending = data[cut:]
            if cut:
                text = b"\n".join([line[PREFIX_BYTES:] for line in data[: cut - 1].split(b"\n")]) + b"\n"
                # bytes that are not UTF-8 as U+FFFD, as every other way of printing the log shows them
                out.write(text if text.isascii() else text.decode("utf-8", "replace").encode())
                offset += cut
    return offset
