"""The stand-ins for `inspect` and `platform` that keep click's import from loading them (decision 21)."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from jobctl.cli import standins
from jobctl.cli.reference import render
from tests.conftest import REPO

# text as docstrings and help are written: indentation, tabs, blank and whitespace-only lines, other spaces
DOC_TEXT = st.text(st.sampled_from(["\n", " ", "\t", "a", "é", "\u3000", "\x0b", "-", "\f"]), max_size=60)


@given(DOC_TEXT)
def test_cleandoc_is_inspects(text: str) -> None:
    assert standins.cleandoc(text) == inspect.cleandoc(text)


def test_isfunction_is_inspects() -> None:
    def function() -> None:
        pass

    for value in (function, lambda: None, len, print, str.upper, object(), None, 3, type, render):
        assert standins.isfunction(value) == inspect.isfunction(value), value


def _program(body: str) -> dict[str, object]:
    """`body` run in a fresh interpreter after jobctl's entry point installs the stand-in; what it printed."""
    program = f"from jobctl.cli import standins\nstandins.install()\n{body}"
    proc = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False, env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.splitlines()[-1])
    return result


def test_every_commands_help_through_the_stand_in_is_the_reference_and_loads_no_inspect() -> None:
    """All the help jobctl prints (docs/cli.md is generated with the real module) comes out the same."""
    found = _program("import json, sys\nfrom jobctl.cli.reference import render\ntext = render()\n"
                     "print(json.dumps({'text': text, 'loaded': [m for m in ('ast', 'dis', 'tokenize') "
                     "if m in sys.modules], 'stand_in': type(sys.modules['inspect']).__name__, "
                     "'platform': type(sys.modules['platform']).__name__}))")

    assert found["loaded"] == []
    assert found["stand_in"] == "StandIn"
    assert found["platform"] == "StandIn"
    assert found["text"] == render()


def test_anything_else_asked_of_the_stand_in_loads_the_real_module_for_everyone() -> None:
    found = _program("import json, sys, click.core\nheld = click.core.inspect\nfrom inspect import signature\n"
                     "print(json.dumps({'real': sys.modules['inspect'].__file__, "
                     "'signature': str(held.signature(lambda a, b=2: None)), 'same': held.getdoc is "
                     "sys.modules['inspect'].getdoc, 'imported': signature is held.signature, "
                     "'cleandoc': held.cleandoc is sys.modules['inspect'].cleandoc}))")

    assert str(found["real"]).endswith("inspect.py")
    assert found["signature"] == "(a, b=2)"
    assert found["same"] is True
    assert found["imported"] is True
    assert found["cleandoc"] is True


def test_system_is_platforms() -> None:
    import platform

    assert standins.system() == platform.system()


def test_asking_the_platform_stand_in_for_more_loads_the_real_module() -> None:
    found = _program("import json, sys, uuid\nheld = sys.modules['platform']\nmachine = held.machine()\n"
                     "print(json.dumps({'real': sys.modules['platform'].__file__, 'machine': machine, "
                     "'system': held.system is sys.modules['platform'].system}))")

    import platform

    assert str(found["real"]).endswith("platform.py")
    assert found["machine"] == platform.machine()
    assert found["system"] is True


def test_a_program_that_has_the_modules_keeps_its_own() -> None:
    import platform

    standins.install()

    assert sys.modules["inspect"] is inspect
    assert sys.modules["platform"] is platform
