"""Which values are secret, and how every output keeps them hidden.

A value is secret when it is held by a secret-looking name (SECRET_NAME) in a job's or run's env, or
anywhere in a spec. Secrets are masked by name where they are shown (`mask_env`, `mask_field`) and, as
a net under that, by value: every secret value jobctl has seen in this process is replaced by MASK in
everything it writes to stdout and stderr (`Redactor`), wherever the value was copied to — another env
var, args, a description, an error message. `--show-secrets` turns both off for one command.
"""

from __future__ import annotations

import _thread
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

# A name is secret if it contains one of these anywhere (DB_PASSWORD, aws_secret_access_key, GHTOKEN) ...
# (patterns as text, compiled by `re` on first use and cached there: a command that checks no name pays nothing)
SECRET_NAME = r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|APIKEY|ACCESSKEY"  # any case
# ... or one of these as a whole word (DB_PASS, MYSQL_PWD, api_key, AUTH_HEADER; not MONKEY, AUTHOR, KEYBOARD)
SECRET_WORDS = frozenset({"PASS", "PWD", "PW", "KEY", "AUTH"})
_WORDS = r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+"
MASK = "(sensitive)"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words and numbers everywhere
_LITERALS = frozenset({"true", "false", "null", "none", "yes", "no", "on", "off"})


# names that look secret but are not: Data Flow's auth mode (resource_principal) names no credential
NOT_SECRET = frozenset({"dataflow.auth"})


@functools.lru_cache(maxsize=4096)  # names repeat: validating 2,000 specs asks of ~20 keys 21,000 times
def is_secret(name: str) -> bool:
    if name in NOT_SECRET:
        return False
    if re.search(SECRET_NAME, name, re.IGNORECASE):
        return True
    return any(word.upper() in SECRET_WORDS for word in re.findall(_WORDS, name))


def mask_env(env: Mapping[str, str], show: bool = False) -> dict[str, str]:
    return {k: (v if show or not is_secret(k) else MASK) for k, v in env.items()}


# the maps whose values are secret by their key, as a plan names their entries: the field tables'
# secret_by_key maps (a job's env, an application's Spark configuration and parameters; a test holds the two
# together)
SECRET_MAPS = ("runtime.env.", "configuration.", "parameters.")


def mask_field(field: str, value: Any, show: bool = False) -> Any:
    """A plan field's value as shown: MASK for an entry of a secret-by-key map whose key looks secret
    (`runtime.env.DB_PASSWORD`, `configuration.spark.driverEnv.API_KEY`); None stays None."""
    prefix = next((p for p in SECRET_MAPS if field.startswith(p)), None)
    if value is None or show or prefix is None or not is_secret(field.removeprefix(prefix)):
        return value
    return MASK


def masked_forms(value: str) -> set[str]:
    """The forms of a secret value that are masked by value; none for a value that is masked by name only."""
    # "${...}" left in a value is a template whose interpolation failed, not a secret: its error quotes it.
    # A literal of JSON/YAML (`true`) is masked by its name only: replaced everywhere, it would be
    # replaced in every JSON document jobctl prints, and a one-word boolean hides nothing.
    if len(value) < MIN_SECRET_LENGTH or value == MASK or "${" in value or value.lower() in _LITERALS:
        return set()
    import json  # only once there is a secret: most commands never pay for it

    # as a JSON string holds it, and as Python's repr shows it inside a list (plan args): on one line
    forms = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1]}
    lines = value.splitlines()
    if len(lines) > 1:  # (a key in PEM) printed, each of its lines is a line of output, masked line by line
        forms = forms.union(*map(masked_forms, lines))
    else:
        forms.add(value)
    read = utf8(value).decode("utf-8", "replace")
    if read != value:  # bytes that are not UTF-8 (a run's, recorded before --env refused them): a log reads U+FFFD
        forms |= masked_forms(read)
    return forms


def utf8(text: str) -> bytes:
    """`text` as bytes: UTF-8, a byte that was not UTF-8 given back as it came (argv and env hold it as a
    surrogate escape), any other lone surrogate written as it is (surrogatepass) rather than failing."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def secret_bytes(env: Mapping[str, str]) -> tuple[bytes, ...]:
    """The UTF-8 bytes of every masked form of every secret value in `env`, longest first: what a writer of
    output that is masked line by line must not split across two lines (the local run log)."""
    forms: set[str] = set()
    for name, value in env.items():
        if is_secret(name) and isinstance(value, str):
            forms |= masked_forms(value)
    return tuple(sorted(map(utf8, forms), key=len, reverse=True))


class Redactor:
    """The secret values seen so far, and the one place that replaces them in text.

    Values are collected cheaply (listing 10,000 runs adds 10,000 env maps); the pattern that finds
    them is compiled once, when output first needs it after a new value arrived.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._bytes_pattern: re.Pattern[bytes] | None = None
        self._stale = False
        self._lock = _thread.allocate_lock()  # start-up: the threading module costs a millisecond
        self.enabled = True

    def add(self, value: str) -> None:
        forms = masked_forms(value)
        if not forms:
            return
        with self._lock:
            if not forms <= self._values:
                self._values |= forms
                self._stale = True

    def _compiled(self) -> tuple[re.Pattern[str] | None, re.Pattern[bytes] | None]:
        with self._lock:
            if self._stale:
                longest_first = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in longest_first))
                self._bytes_pattern = re.compile(b"|".join(re.escape(utf8(v)) for v in longest_first))
                self._stale = False
            return self._pattern, self._bytes_pattern

    def forget(self) -> None:
        """Forget every value: what one command learnt is not another's (in-process runs, as in tests)."""
        with self._lock:
            self._values = set()
            self._pattern = self._bytes_pattern = None
            self._stale = False

    def remember_env(self, env: Mapping[str, str]) -> None:
        for name, value in env.items():
            if is_secret(name) and isinstance(value, str):
                self.add(value)

    def remember_job(self, env: Mapping[str, str], node_groups: Iterable[Mapping[str, Any]]) -> None:
        """A job's secrets: its env's and each node group's. Reading a job definition calls it; so does reading a
        run's log straight from the stored definition, without building one (issue 18)."""
        self.remember_env(env)
        for group in node_groups:
            self.remember_env(group.get("env") or {})

    def remember_document(self, node: Any) -> None:
        """Every secret in a parsed spec: string values under secret-looking keys, and ADS-style
        `{name: DB_PASSWORD, value: ...}` env entries."""
        if isinstance(node, Mapping):
            name = node.get("name")
            if isinstance(name, str) and is_secret(name) and isinstance(node.get("value"), str):
                self.add(node["value"])
            for key, value in node.items():
                if isinstance(value, str) and isinstance(key, str) and is_secret(key):
                    self.add(value)
                else:
                    self.remember_document(value)
        elif isinstance(node, list):
            for item in node:
                self.remember_document(item)

    def redact(self, text: str, *, always: bool = False) -> str:
        """`text` with every secret value masked; `always` ignores --show-secrets (for what is stored)."""
        if not (self._values and (self.enabled or always)):
            return text
        pattern, _ = self._compiled()
        return pattern.sub(MASK, text) if pattern is not None else text

    def redact_bytes(self, data: bytes) -> bytes:
        """The same for raw output (the log fast path): the value's UTF-8 bytes are replaced."""
        if not (self._values and self.enabled):
            return data
        _, pattern = self._compiled()
        return pattern.sub(MASK.encode(), data) if pattern is not None else data

    def contains_secret(self, text: str) -> bool:
        if not self._values:
            return False
        pattern, _ = self._compiled()
        return pattern is not None and pattern.search(text) is not None


REDACTOR = Redactor()


class RedactingStream:
    """A text stream that writes through REDACTOR; everything else (buffer, isatty, fileno) passes on.
    `lost`: called once when a write or flush fails (stderr's reader gone, a full disk), which is then not
    raised: what was lost is progress, and the command goes on as it would have."""

    def __init__(self, stream: TextIO, lost: Callable[[], None] | None = None) -> None:
        self._stream = stream
        self._lost = lost

    def write(self, text: str) -> int:
        try:
            self._stream.write(REDACTOR.redact(text))
        except (OSError, ValueError):
            if self._lost is None:
                raise
            self._lose()
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            if self._lost is None:
                raise
            self._lose()

    def _lose(self) -> None:
        lost, self._lost = self._lost, (lambda: None)  # once
        if lost is not None:
            lost()

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    @property
    def buffer(self) -> RedactingBuffer:
        return RedactingBuffer(self._stream.buffer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class RedactingBuffer:
    """The binary side of RedactingStream. Writers hand it whole lines (logfile.copy_text does), so a
    value is never split across two writes."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def write(self, data: bytes) -> int:
        self._raw.write(REDACTOR.redact_bytes(bytes(data)))
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)
