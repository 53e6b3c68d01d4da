"""A set: the jobs applied from one place, which `--prune` may delete (and nothing else).

Every job an apply creates or updates carries its set in the `jobctl-set` tag. The set is named by
`--set-name NAME` (or $JOBCTL_SET), else derived from where the specs are: their common directory, relative
to the root of the git repository holding it and prefixed by that root's name (`churn-models/specs`),
so a laptop and CI applying one repository's `specs/` agree. Outside a git repository it is the
directory's absolute path. A set name longer than 200 characters keeps its end and a digest of the whole.
See docs/decisions/0011-prune-sets.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from jobctl.digest import sha256
from jobctl.errors import UsageError, not_utf8

MAX_SET_LENGTH = 200  # well inside OCI's freeform tag value limit (256)
_VALID = re.compile(r"^[^\x00-\x1f\x7f]+$")


def check_set(name: str, source: str = "--set-name") -> str:
    wrong = not_utf8(name)  # (red team: stored as the jobs' tag, it broke every later YAML listing of them)
    if wrong is not None:
        raise UsageError(f"{source}: a set name is UTF-8 text: {wrong}",
                         hint="name the set with --set-name NAME (or $JOBCTL_SET)")
    if not name or len(name) > MAX_SET_LENGTH or not _VALID.match(name) or name != name.strip():
        raise UsageError(f"{source}: a set name is 1-{MAX_SET_LENGTH} printable characters without "
                         f"leading or trailing spaces, not {name!r}",
                         hint="name the set with --set-name NAME (or $JOBCTL_SET)")
    return name


def derive_set(paths: Sequence[str]) -> str:
    """The set of the specs at `paths` (files or directories), as the module docstring says."""
    folders = [Path(p).resolve() for p in paths or ["."]]
    folders = [f if f.is_dir() else f.parent for f in folders]
    common = Path(os.path.commonpath([str(f) for f in folders]))
    derived = common.as_posix()
    for root in (common, *common.parents):
        if (root / ".git").exists():
            relative = common.relative_to(root).as_posix()
            derived = root.name or "/"
            derived += "" if relative == "." else f"/{relative}"
            break
    if len(derived) > MAX_SET_LENGTH:  # the end, and a digest of the whole: two long paths never share a set
        digest = sha256(derived.encode()).hexdigest()[:12]
        derived = f"{derived[-(MAX_SET_LENGTH - 14):]}#{digest}"
    return check_set(derived, "the directory of the specs, as a set name,")


def plan_set(paths: Sequence[str], given: str | None, environ: Mapping[str, str]) -> str:
    """--set-name, else $JOBCTL_SET, else derived from the paths."""
    if given is not None:
        return check_set(given)
    if environ.get("JOBCTL_SET"):
        return check_set(environ["JOBCTL_SET"], "JOBCTL_SET")
    return derive_set(paths)
