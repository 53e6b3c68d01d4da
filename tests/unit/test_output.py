"""The one renderer (jobctl/cli/output.py): a streamed listing is the document its data() is, byte for byte."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from jobctl.cli.context import AppContext
from jobctl.cli.output import Listing
from jobctl.render.machine import dumps

CLI = Path(__file__).resolve().parents[2] / "jobctl" / "cli"


def _listing(items: list[object], tail: dict[str, object]) -> Listing:
    return Listing("ThingList", items, lambda item: item, ["A"], lambda item: [str(item)], head={"total": len(items)},
                   tail=lambda: tail, empty="No things.")


@pytest.mark.parametrize("items", [[], [1], [{"a": [1, {"b": None}], "é": "x\ny"}, [], {}, "s"]])
@pytest.mark.parametrize("tail", [{}, {"nextPage": None}, {"nextPage": "t0k", "more": {"x": [1]}}])
def test_a_streamed_listing_writes_what_dumping_its_data_whole_writes(items: list[object], tail: dict) -> None:
    for fmt in ("json", "yaml"):
        out = io.StringIO()
        getattr(_listing(items, tail), fmt)(AppContext(stdout=out))
        whole = _listing(items, tail).data()
        assert out.getvalue() == (json.dumps(whole, indent=2, ensure_ascii=False) + "\n" if fmt == "json"
                                  else dumps(whole, "yaml"))


def test_a_long_table_has_one_header() -> None:
    out = io.StringIO()
    Listing("ThingList", range(2500), lambda item: item, ["NUMBER"], lambda item: [str(item)],
            empty="No things.").table(AppContext(stdout=out, color=False))
    lines = out.getvalue().splitlines()
    assert (lines[0], len(lines), lines[-1]) == ("NUMBER", 2501, "2499")


def test_commands_leave_output_formats_and_process_exits_to_the_renderer_and_the_boundary() -> None:
    """Issue 18: 22 `fmt ==` branches in 10 modules, and SystemExit in 9 places; one renderer, one boundary."""
    for module in CLI.glob("*.py"):
        text = module.read_text()
        assert not re.search(r"\bfmt [!=]=", text), module.name
        if module.name != "app.py":  # the error boundary
            assert "SystemExit" not in text, module.name
            assert "sys.exit" not in text, module.name
