"""Which YAML files found in a directory are specs: decided by what a file holds once parsed, not by how it is
written (a spec skipped here is one `apply DIR --prune` would delete the job of)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# What makes a YAML file found in a directory a spec is what it holds once parsed (_holds_spec): a document
# of apiVersion jobctl/..., an ADS job (`kind: job`), or one of jobctl's kinds with no apiVersion (a spec missing
# it: said, not skipped). Others (a conda environment.yml, an app's config.yaml, a Kubernetes Job of apiVersion
# batch/v1) are skipped. A text check spares parsing: block-style marks at the start of a line say "certainly a
# spec"; a text with no `kind`, `apiVersion` or `jobctl/` in any case, and no `\` (a double-quoted escape can
# spell them), cannot be one. Anything else (JSON, flow style, quoted keys, tags, indentation) is parsed, and one
# that does not parse is read, so that its problem is said: skipping a spec would let `apply --prune` delete its
# job. (patterns, compiled by `re` on first use: only a directory's files need them, not every plan and validate)
_SPEC_MARKS = r"""^apiVersion:[ \t]*["']?jobctl/|^kind:[ \t]*["']?job["']?[ \t]*(?:#.*)?$"""
_OUR_KIND = r"""^kind:[ \t]*["']?(?:Job|Workflow|DataFlowApplication)["']?[ \t]*(?:#.*)?$"""
_ANY_VERSION = r"^apiVersion:"
_MAY_MARK = r"(?i)kind|apiversion|jobctl/|\\"
_OUR_KINDS = ("Job", "Workflow", "DataFlowApplication")


def looks_like_spec(path: Path) -> bool:
    """Whether a YAML file found in a directory is one jobctl reads (see above); one it cannot read as
    text or parse, but may be a spec, is, so that the problem is said."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return True
    ours = re.search(_OUR_KIND, text, re.M) and not re.search(_ANY_VERSION, text, re.M)
    if re.search(_SPEC_MARKS, text, re.M) or ours:
        return True
    if not re.search(_MAY_MARK, text):
        return False
    import yaml

    try:
        return _holds_spec(text)
    except yaml.YAMLError:
        return True


def mentions_jobctl(path: Path) -> bool:
    """Whether a file jobctl skipped names jobctl/ (any case): a spec it holds in a way jobctl does not read."""
    try:
        return "jobctl/" in path.read_text(encoding="utf-8", errors="replace").lower()
    except OSError:
        return True


def _holds_spec(text: str) -> bool:
    """Whether any document of a YAML text is a spec by its content, however written (JSON, flow style, quoted
    keys, tags). Composed, not constructed: another tool's tags (`!Ref`) are no error here."""
    import yaml

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available, as yamlparse
    for root in yaml.compose_all(text, Loader=loader):
        fields = _top_fields(root)
        version, kind = fields.get("apiVersion"), fields.get("kind")
        if (isinstance(version, str) and version.strip().lower().startswith("jobctl/")) or kind == "job" or (
                kind in _OUR_KINDS and "apiVersion" not in fields):
            return True
    return False


def _top_fields(node: Any, seen: frozenset[int] = frozenset()) -> dict[str, Any]:
    """A document's top-level keys, each with its scalar value (None when not one), merge keys (`<<`) followed
    (once each: an anchor may merge itself, `&a {<<: *a}`)."""
    import yaml

    fields: dict[str, Any] = {}
    if not isinstance(node, yaml.MappingNode) or id(node) in seen:
        return fields
    for key, value in node.value:
        if key.tag == "tag:yaml.org,2002:merge":
            for merged in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                fields = {**_top_fields(merged, seen | {id(node)}), **fields}
        elif isinstance(key, yaml.ScalarNode):
            fields[key.value] = value.value if isinstance(value, yaml.ScalarNode) else None
    return fields
