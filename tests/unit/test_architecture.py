"""The layering the developer guide promises, checked on the source: the core is a library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "jobctl"
# Process entry points read their own environment: the supervisor is started with it as its settings.
ENTRY_POINTS = {"backends/local/supervisor.py", "backends/local/watchdog.py"}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (PACKAGE / package).rglob("*.py"))


@pytest.mark.parametrize(("packages", "forbidden"), [
    (("model", "plan", "spec"), ("jobctl.backends", "jobctl.cli", "jobctl.engine", "click", "rich")),
    (("engine", "backends"), ("jobctl.cli", "click", "rich")),
], ids=["model-plan-spec", "engine-backends"])
def test_core_packages_do_not_import_the_layers_above_them(
    packages: tuple[str, ...], forbidden: tuple[str, ...],
) -> None:
    wrong = {str(p.relative_to(PACKAGE)): sorted(m for m in imports(p) if m.startswith(forbidden))
             for p in modules(*packages)}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_backends_and_the_engine_read_no_environment_variables() -> None:
    readers = [str(p.relative_to(PACKAGE)) for p in modules("engine", "backends", "plan", "model")
               if "os.environ" in p.read_text() or "getenv" in p.read_text()]
    assert set(readers) <= ENTRY_POINTS
