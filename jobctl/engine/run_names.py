"""The names runs start with: the one given, the idempotency key's, or the time's; a matrix run's with its
values. Names are shown everywhere and found by (`get`, `logs`, a retried keyed command): the runs of one
request each have their own, the same request gives the same ones, and no name holds a secret."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from jobctl.model.request import digest, key_digest

_UNNAMEABLE = re.compile(r"[^A-Za-z0-9_.-]+")
NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"  # of a default run name's random tail
KEY_IN_NAME = 64  # at most this many of a key's characters name its runs


def default_run_name(job_name: str, when: datetime) -> str:
    """A run's name when none is given: the job's, the time, and 4 random characters, so that two runs started
    within a second have two names (`logs NAME` then means one run)."""
    number, tail = int.from_bytes(os.urandom(4), "big") % len(NAME_ALPHABET) ** 4, ""  # os.urandom: what secrets uses
    for _ in range(4):
        number, digit = divmod(number, len(NAME_ALPHABET))
        tail += NAME_ALPHABET[digit]
    return f"{job_name}-run-{when:%Y%m%d-%H%M%S}-{tail}"


def run_base_name(owner: str, name: str | None, idempotency_key: str | None, when: datetime) -> str:
    """The name a run takes before its matrix values: the one given, else the job's or application's and the
    idempotency key (a retried CI step must send the same request: the name cannot hold the time), else its
    default. A key a name cannot hold as given (other characters, too long) is followed by its digest, so that
    two keys never name one run."""
    if name:
        return name
    if idempotency_key:
        shown = _UNNAMEABLE.sub("_", idempotency_key)[:KEY_IN_NAME]
        if shown != idempotency_key:
            shown = f"{shown}-{key_digest(idempotency_key)[:8]}"
        return f"{owner}-{shown}"
    return default_run_name(owner, when)


def run_names(base: str, combinations: Sequence[Mapping[str, str]]) -> list[str]:
    """Each combination's run name: `base` and its values (train-k1-xgb-3). A secret-named variable's value, or
    a value that holds a secret value, is shown by its place among the variable's values (…-DB_TOKEN2): nothing
    derived from a secret is shown. A
    combination whose values a name cannot hold as given, or whose name another combination would have too
    (x-y with z, x with y-z), is followed by a digest of its values."""
    from jobctl.secrets import REDACTOR, is_secret

    places: dict[str, dict[str, int]] = {}
    for combination in combinations:
        for variable, value in combination.items():
            places.setdefault(variable, {}).setdefault(value, len(places[variable]) + 1)
    shown = [{variable: f"{variable}{places[variable][value]}"
              if is_secret(variable) or REDACTOR.contains_secret(value) else value
              for variable, value in combination.items()} for combination in combinations]
    joined = ["-".join(values.values()) for values in shown]
    tails = [_UNNAMEABLE.sub("_", text) for text in joined]
    taken = Counter(tails)
    names = []
    for values, text, tail in zip(shown, joined, tails, strict=True):
        if not values:
            names.append(base)
        elif tail == text and taken[tail] == 1:
            names.append(f"{base}-{tail}")
        else:
            names.append(f"{base}-{tail}-{digest(sorted(values.items()))[:8]}")
    return names
