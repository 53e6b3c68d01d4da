"""`jobctl logs` of a local run: what each flag combination prints, line for line.

The run's log is written here in the local backend's format (`<ISO ts> <O|E> <text>`), so the times are
known. Local logs are printed a block at a time from the file's bytes; a block holding a line in any
other format goes line by line instead, and must print the same: each case runs on both.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

LOG = [  # as the local backend stores them
    "2024-05-01T10:00:00.000000Z O starting",
    '2024-05-01T10:00:01.250000Z E warn: "quoted" and back\\slash\tand a tab',
    "2024-05-01T10:00:02.500999Z O step 1",
    "2024-05-01T10:00:03.000001Z E oops",
    "2024-05-01T10:00:04.999999Z O done",
]
NOT_A_LOG_LINE = "a line jobctl did not write"

CASES: dict[str, tuple[list[str], list[str]]] = {
    "plain": ([], ["starting", 'warn: "quoted" and back\\slash\tand a tab', "step 1", "oops", "done"]),
    "timestamps": (["--timestamps"], [
        "2024-05-01T10:00:00.000Z starting", '2024-05-01T10:00:01.250Z warn: "quoted" and back\\slash\tand a tab',
        "2024-05-01T10:00:02.500Z step 1", "2024-05-01T10:00:03.000Z oops", "2024-05-01T10:00:04.999Z done"]),
    "stdout": (["--stream", "stdout"], ["starting", "step 1", "done"]),
    "stderr": (["--stream", "stderr"], ['warn: "quoted" and back\\slash\tand a tab', "oops"]),
    "tail": (["--tail", "2"], ["oops", "done"]),
    "tail-0": (["--tail", "0"], []),
    "tail-more-than-there-are": (["--tail", "1000000"], ["starting", 'warn: "quoted" and back\\slash\tand a tab',
                                                         "step 1", "oops", "done"]),
    "since": (["--since", "2024-05-01T10:00:02.500999Z"], ["step 1", "oops", "done"]),
    "since-a-microsecond-later": (["--since", "2024-05-01T10:00:02.501Z"], ["oops", "done"]),
    "since-later-than-all": (["--since", "2024-05-02T00:00:00Z"], []),
    "timestamps-stderr-tail": (["--timestamps", "--stream", "stderr", "--tail", "1"],
                               ["2024-05-01T10:00:03.000Z oops"]),
    "tail-stdout": (["--tail", "2", "--stream", "stdout"], ["step 1", "done"]),
    "since-stdout-timestamps": (["--since", "2024-05-01T10:00:01Z", "--stream", "stdout", "--timestamps"],
                                ["2024-05-01T10:00:02.500Z step 1", "2024-05-01T10:00:04.999Z done"]),
    "since-tail": (["--since", "2024-05-01T10:00:01Z", "--tail", "3"], ["step 1", "oops", "done"]),
}


def json_line(time: str, stream: str, text: str, run_id: str) -> str:
    return json.dumps({"type": "log", "runId": run_id, "time": time, "stream": stream, "text": text})


def finished_run(jobctl: object) -> str:
    """The id of a run of the hello example that has ended."""
    run = jobctl  # type: ignore[assignment]
    assert run("apply", str(REPO / "specs-examples/hello/job.yaml")).exit_code == 0
    started = run("-q", "run", "hello")
    assert started.exit_code == 0, started.stderr
    run_id: str = started.stdout.split()[0]
    assert run("wait", run_id).exit_code == 0
    return run_id


@pytest.fixture(params=["every-line-ours", "with-a-foreign-line"])
def logged_run(request: pytest.FixtureRequest, jobctl: object, isolated_env: Path) -> str:
    """A finished local run whose log holds LOG (and, in the second case, a line jobctl did not write)."""
    run_id = finished_run(jobctl)
    lines = [*LOG[:2], NOT_A_LOG_LINE, *LOG[2:]] if request.param == "with-a-foreign-line" else LOG
    (isolated_env / "runs" / run_id / "log").write_text("".join(f"{line}\n" for line in lines))
    return run_id


@pytest.mark.parametrize("case", CASES)
def test_each_flag_combination_prints_exactly_these_lines(
    jobctl: object, logged_run: str, case: str, request: pytest.FixtureRequest,
) -> None:
    flags, expected = CASES[case]
    if not flags and request.node.callspec.params["logged_run"] == "with-a-foreign-line":
        # plain output into a pipe copies the text after each line's prefix (27 + 3 bytes), whatever the line
        expected = [*expected[:2], NOT_A_LOG_LINE[30:], *expected[2:]]
    result = jobctl("logs", logged_run, *flags)  # type: ignore[operator]
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "".join(f"{line}\n" for line in expected)


def test_jsonl_prints_each_line_as_json(jobctl: object, logged_run: str) -> None:
    result = jobctl("logs", logged_run, "-o", "jsonl")  # type: ignore[operator]
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        json_line("2024-05-01T10:00:00Z", "stdout", "starting", logged_run),  # isoformat: no zero fraction
        json_line("2024-05-01T10:00:01.250000Z", "stderr", 'warn: "quoted" and back\\slash\tand a tab', logged_run),
        json_line("2024-05-01T10:00:02.500999Z", "stdout", "step 1", logged_run),
        json_line("2024-05-01T10:00:03.000001Z", "stderr", "oops", logged_run),
        json_line("2024-05-01T10:00:04.999999Z", "stdout", "done", logged_run),
    ]
    picked = jobctl("logs", logged_run, "-o", "jsonl", "--stream", "stderr", "--tail", "1")  # type: ignore[operator]
    assert picked.stdout.splitlines() == [json_line("2024-05-01T10:00:03.000001Z", "stderr", "oops", logged_run)]


ESCAPED = [  # terminal control sequences, C1 controls and non-ASCII text, as a workload may print them
    "2024-05-01T10:00:00.000000Z O \x1b[31mred\x1b[0m \x1b]0;title\x07done\rover",
    # and the bidirectional controls that show text in another order than it is (red team, session 14: U+202E)
    "2024-05-01T10:00:01.000000Z E caf\u00e9 \u0085next \u009bcsi \x7fdel\u202e \u2066iso\u2069",
]


@pytest.fixture
def escaped_run(jobctl: object, isolated_env: Path) -> str:
    run_id = finished_run(jobctl)
    (isolated_env / "runs" / run_id / "log").write_bytes("".join(f"{line}\n" for line in ESCAPED).encode())
    return run_id


def on_a_terminal(*args: str, timeout: float = 60, color: bool = False, env: dict[str, str] | None = None) -> str:
    """jobctl's stdout when it is a terminal (a pseudo-terminal that does not translate newlines); `color`: without
    --no-color."""
    import termios

    main, child = pty.openpty()
    attributes = termios.tcgetattr(child)
    attributes[1] &= ~termios.OPOST
    termios.tcsetattr(child, termios.TCSANOW, attributes)
    proc = subprocess.Popen([sys.executable, "-m", "jobctl", *([] if color else ["--no-color"]), *args],
                            stdout=child, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    os.close(child)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], deadline - time.monotonic())
            try:
                chunk = os.read(main, 65536) if ready else b""
            except OSError:  # the terminal is closed once jobctl has exited
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=max(0.1, deadline - time.monotonic())) == 0, proc.stderr.read()  # type: ignore[union-attr]
    finally:
        os.close(main)
        proc.kill()
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    return output.decode()


def test_no_color_set_and_not_empty_turns_colour_off_on_a_terminal(escaped_run: str) -> None:
    """Red team, session 14: an empty NO_COLOR turned colour off; no-color.org: only one set and not empty does."""
    assert "\x1b[" in on_a_terminal("runs", color=True, env={"NO_COLOR": ""})
    assert "\x1b[" not in on_a_terminal("runs", color=True, env={"NO_COLOR": "1"})


@pytest.mark.parametrize(("flags", "expected"), [
    ([], ["[31mred[0m ]0;titledoneover", "caf\u00e9 next csi del iso"]),
    (["--timestamps", "--stream", "stderr"], ["2024-05-01T10:00:01.000Z caf\u00e9 next csi del iso"]),
    (["--tail", "1", "--stream", "stdout"], ["[31mred[0m ]0;titledoneover"]),
    (["--since", "2024-05-01T10:00:00.5Z"], ["caf\u00e9 next csi del iso"]),
], ids=["plain", "timestamps-stderr", "tail-stdout", "since"])
def test_control_characters_are_stripped_on_a_terminal(escaped_run: str, flags: list[str],
                                                        expected: list[str]) -> None:
    assert on_a_terminal("logs", escaped_run, *flags) == "".join(f"{line}\n" for line in expected)


def test_piped_and_json_output_keep_control_characters(jobctl: object, escaped_run: str) -> None:
    piped = jobctl("logs", escaped_run, "--timestamps")  # type: ignore[operator]
    assert piped.stdout == ("2024-05-01T10:00:00.000Z \x1b[31mred\x1b[0m \x1b]0;title\x07done\rover\n"
                            "2024-05-01T10:00:01.000Z caf\u00e9 \u0085next \u009bcsi \x7fdel\u202e \u2066iso\u2069\n")
    as_json = jobctl("logs", escaped_run, "-o", "jsonl", "--stream", "stderr")  # type: ignore[operator]
    assert as_json.stdout == json_line("2024-05-01T10:00:01Z", "stderr",
                                       "caf\u00e9 \u0085next \u009bcsi \x7fdel\u202e \u2066iso\u2069",
                                       escaped_run) + "\n"
