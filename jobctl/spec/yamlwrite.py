"""A spec document as YAML text, the very text `yaml.safe_dump(document, sort_keys=False, allow_unicode=True)`
writes, without importing PyYAML when the document is as plain as exported specs are.

Importing PyYAML costs ~20 ms, a third of `export`'s start-up (issue 18). Exported documents hold mappings,
lists, and scalars that PyYAML writes plainly (`name: hello`, `- --epochs`) or in single quotes (`- '3'`,
`'true'`); what is written here is only what PyYAML's emitter and resolver are known to write the same way.
Anything else (a long text with spaces, which PyYAML folds; unicode; other quoting; an object met twice) is
handed to PyYAML whole. tests/unit/test_yamlwrite.py holds the two to the same text.
"""

from __future__ import annotations

import re
from typing import Any

WIDTH = 80  # PyYAML's best_width: past it a plain scalar breaks at a space
# words of ASCII letters, digits and path/flag punctuation, one space apart, starting with a letter, `/`, `_`,
# `./` or `../`, or `--` and a letter: what PyYAML writes plain when no resolver reads it as another type
_PLAIN = re.compile(r"(?:[A-Za-z/_]|\.\.?/|--[A-Za-z])[A-Za-z0-9_./'=+@-]*(?::[A-Za-z0-9_./'=+@-]+)*"
                    r"(?: [A-Za-z0-9_./'=+@-]+(?::[A-Za-z0-9_./'=+@-]+)*)*")
# what PyYAML's resolver reads as a bool or null (YAML 1.1): written in single quotes
_WORDS = frozenset(word for base in ("yes", "no", "true", "false", "on", "off", "null")
                   for word in (base, base.capitalize(), base.upper()))
_QUOTED = re.compile(r"0|[1-9][0-9]*|0[0-7]+")  # an int to the resolver: single quotes


class _NotPlain(Exception):
    """The document holds something this writer leaves to PyYAML."""


def dump(document: dict[str, Any]) -> str:
    """`yaml.safe_dump(document, sort_keys=False, allow_unicode=True)`, by hand when the document allows."""
    lines: list[str] = []
    try:
        _mapping(document, "", lines, set())
    except _NotPlain:
        import yaml

        text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return text
    return "".join(line + "\n" for line in lines)


def _scalar(value: Any, column: int) -> str:
    """The scalar as PyYAML writes it starting at `column`, or _NotPlain."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if value in _WORDS or _QUOTED.fullmatch(value):
            return f"'{value}'"
        if _PLAIN.fullmatch(value) and (" " not in value or column + len(value) <= WIDTH):
            return value
    raise _NotPlain


def _key(key: Any, indent: str) -> str:
    if not isinstance(key, str) or len(key) >= 128:  # PyYAML writes a long key as a complex `? ` key
        raise _NotPlain
    return _scalar(key, len(indent))


def _enter(node: Any, seen: set[int]) -> None:
    """PyYAML writes an anchor and an alias for a collection met twice: never written here."""
    if id(node) in seen:
        raise _NotPlain
    seen.add(id(node))


def _mapping(node: dict[str, Any], indent: str, lines: list[str], seen: set[int], first: str = "") -> None:
    """A block mapping at `indent`; `first`: what precedes its first key on that line (a sequence's `- `)."""
    _enter(node, seen)
    if not node:
        raise _NotPlain  # `{}`, only where a value is (handled by _value)
    lead = first
    for key, value in node.items():
        head = f"{indent}{lead}{_key(key, indent + lead)}:"
        lead = " " * len(first)
        _value(value, head, indent + " " * len(first), lines, seen)


def _value(value: Any, head: str, indent: str, lines: list[str], seen: set[int]) -> None:
    """`head` (`key:`) and its value: inline for a scalar or an empty collection, else block lines below."""
    if isinstance(value, dict):
        if not value:
            lines.append(f"{head} {{}}")
            return
        lines.append(head)
        _mapping(value, indent + "  ", lines, seen)
    elif isinstance(value, list):
        if not value:
            lines.append(f"{head} []")
            return
        lines.append(head)
        _sequence(value, indent, lines, seen)  # PyYAML does not indent a mapping's sequence
    else:
        lines.append(f"{head} {_scalar(value, len(head) + 1)}")


def _sequence(node: list[Any], indent: str, lines: list[str], seen: set[int]) -> None:
    _enter(node, seen)
    for item in node:
        if isinstance(item, dict) and item:
            _mapping(item, indent, lines, seen, first="- ")
        elif isinstance(item, (dict, list)):
            raise _NotPlain  # an empty collection or a sequence in a sequence: left to PyYAML
        else:
            lines.append(f"{indent}- {_scalar(item, len(indent) + 2)}")
