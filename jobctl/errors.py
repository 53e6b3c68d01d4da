"""Every expected failure is a JobctlError carrying its exit code; the CLI turns it into a message."""

from __future__ import annotations

import enum
import errno
from collections.abc import Sequence
from typing import NamedTuple, TypeGuard

WRITE_FAILURES = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)  # a write to a full or failing disk


class ClosedStdout(OSError):
    """A write to the stdout a command was started without (`>&-`): its own error, so that an EBADF from a bug
    elsewhere is still an internal error."""


def write_failed(error: BaseException) -> TypeGuard[OSError]:
    """Whether `error` is a write that a full or failing disk, or a closed stdout, refused (`jobctl logs RUN >
    /dev/full`): an expected failure, said as such, not an internal error."""
    return isinstance(error, ClosedStdout) or (isinstance(error, OSError) and error.errno in WRITE_FAILURES)


def not_utf8(text: str) -> str | None:
    """What makes `text` no UTF-8 text (a byte argv or the environment held as a surrogate escape), for a message
    that does not repeat the text (it may be a secret); None when it is UTF-8, which every OCI API and jobctl's
    records (JSON, YAML) take, and nothing else."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        byte = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        return f"{byte} at character {error.start + 1} is not UTF-8 (jobctl and OCI take UTF-8 text only)"
    return None


class ExitCode(enum.IntEnum):
    """Process exit codes: stable, documented, something a CI script can branch on."""

    OK = 0
    ERROR = 1  # an error, or a run that FAILED
    USAGE = 2
    INVALID_SPEC = 3
    NOT_FOUND = 4
    CONFLICT = 5  # etag mismatch / concurrent change
    AUTH_CONFIG = 6
    TIMEOUT = 7
    CANCELED = 8
    INTERRUPTED = 130
    READER_GONE = 141  # 128 + SIGPIPE: the output's reader left while the command followed runs still going


EXIT_CODE_HELP = (
    "Exit codes: 0 ok · 1 error or run FAILED · 2 usage · 3 invalid spec · 4 not found · "
    "5 conflict · 6 auth or config · 7 timed out · 8 run CANCELED · 130 interrupted · "
    "141 output's reader gone while following runs."
)


class Diagnostic(NamedTuple):
    """One problem in one input file, located precisely enough to jump to; sorted by file, then position.

    A NamedTuple rather than a dataclass: every command imports this module, and an ordered dataclass's
    generated methods cost ~1 ms to create at import (issue 18)."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class JobctlError(Exception):
    """Base of every expected failure: a message, an exit code and an optional hint."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(JobctlError):
    exit_code = ExitCode.USAGE


MISSING_FILE = "no such file or directory"  # a spec path that is not there: exit 4, as any missing file


class SpecError(JobctlError):
    """One or more spec files are invalid; carries every diagnostic found."""

    exit_code = ExitCode.INVALID_SPEC

    def __init__(self, diagnostics: Sequence[Diagnostic], *, hint: str | None = None) -> None:
        self.diagnostics = tuple(sorted(diagnostics))
        files = {d.file for d in self.diagnostics}
        count = len(self.diagnostics)
        summary = (
            f"{count} error{'s' if count != 1 else ''} in "
            f"{len(files)} file{'s' if len(files) != 1 else ''}"
        )
        super().__init__(summary, hint=hint)
        if self.diagnostics and all(d.message.startswith(MISSING_FILE) for d in self.diagnostics):
            self.exit_code = ExitCode.NOT_FOUND  # nothing to check: the files are not there (README, exit codes)


class InexpressibleError(JobctlError):
    """The specs cannot express what an existing job holds: applying them would lose it."""

    exit_code = ExitCode.INVALID_SPEC


class UnresolvedError(SpecError):
    """What specs name by other than an id (a mount target by its IP address) is not found (exit 4), or is
    more than one thing (exit 3)."""

    def __init__(self, diagnostics: Sequence[Diagnostic], *, not_found: bool, hint: str | None = None) -> None:
        super().__init__(diagnostics, hint=hint)
        self.exit_code = ExitCode.NOT_FOUND if not_found else ExitCode.INVALID_SPEC


class NotFoundError(JobctlError):
    exit_code = ExitCode.NOT_FOUND


class ConflictError(JobctlError):
    exit_code = ExitCode.CONFLICT


class ConfigError(JobctlError):
    exit_code = ExitCode.AUTH_CONFIG


class NeedsAttentionError(JobctlError):
    """Every run still going has needed attention (NEEDS_ATTENTION) for longer than wait waits on that."""

    exit_code = ExitCode.ERROR


class WaitTimeoutError(JobctlError):
    exit_code = ExitCode.TIMEOUT


class ReaderGoneError(JobctlError):
    """Whoever read stdout went away (`jobctl run JOB --follow | head`) while runs it followed were still going:
    the command cannot mirror an outcome it did not see, so it claims none (141, as a process that SIGPIPE
    ended). A command that only reads (`jobctl logs RUN | head`) stops quietly with 0 instead."""

    exit_code = ExitCode.READER_GONE


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) stopped the command, which has said what became of its runs: the error boundary
    ends it with exit 130 and adds nothing."""
