"""`jobctl logs` of a local run prints, with every flag combination, byte for byte what the line-by-line path prints.

The local backend prints a log a block of lines at a time from the file's bytes (backends/local/logview); a
backend without such a way pages through read_logs and prints each line. Each log here is printed both ways,
with blocks of a few bytes as well as the real size, so lines split across blocks, a --since that falls inside
a block and a --tail counted backwards across blocks are all compared.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from jobctl.backends.local import logview
from jobctl.backends.local.backend import LocalBackend
from jobctl.cli.app import cli
from tests.cli.test_logs_local import finished_run


def stored(*lines: str, end: bytes = b"\n") -> bytes:
    return b"".join(line.encode() + end for line in lines)


OURS = [  # as the local backend stores them: both streams, quotes, backslashes, tabs, zero fractions, equal stamps
    "2024-05-01T10:00:00.000000Z O starting",
    '2024-05-01T10:00:01.250000Z E warn: "quoted" and back\\slash\tand a tab',
    "2024-05-01T10:00:02.500999Z O step 1",
    "2024-05-01T10:00:02.500999Z O step 2, the same moment",
    "2024-05-01T10:00:03.000001Z E oops",
    "2024-05-01T10:00:03.000001Z O ",
    "2024-05-01T10:00:04.000000Z E after an empty line",
    "2024-05-01T10:00:04.999999Z O done",
]
LOGS = {
    "ours": stored(*OURS),
    "empty": b"",
    "only an unfinished line": b"2024-05-01T10:00:00.000000Z O still being writ",
    "last line without newline": stored(*OURS) + b"2024-05-01T10:00:05.000000Z O still being writ",
    "crlf": stored(*OURS, end=b"\r\n"),
    "a line jobctl did not write": stored(*OURS[:3], "a line jobctl did not write", *OURS[3:]),
    "invalid utf-8": stored(*OURS[:2]) + b"2024-05-01T10:00:02.000000Z E bad \xff\xfe bytes\n" + stored(*OURS[2:]),
    "non-ascii and controls": stored(*OURS[:4], "2024-05-01T10:00:02.600000Z O caf\u00e9 \u0085 \x1b[31mred\x7f",
                                     *OURS[4:]),
    "texts that look like heads": stored(*OURS[:2], '2024-05-01T10:00:01.500000Z O echo 2024-05-01T10:00:00.000000Z '
                                         'E inner .000000Z", "stream": "stderr" Z O ', *OURS[2:]),
    "stamps out of order": stored(*OURS[:3], "2024-05-01T09:59:59.000000Z E late", *OURS[3:5],
                                  "2024-05-01T10:00:09.000000Z O early", *OURS[5:]),
}
SINCE = "2024-05-01T10:00:02.500999Z"  # the stamp of two lines: they are printed
FLAGS = {  # each flag alone, the mixes the benchmark measures (benchmarks/logs_big.py), and following a tail
    "timestamps": ["--timestamps"],
    "stdout": ["--stream", "stdout"],
    "stderr": ["--stream", "stderr"],
    "since": ["--since", SINCE],
    "since before all": ["--since", "2024-01-01T00:00:00Z"],
    "since after all": ["--since", "2024-06-01T00:00:00Z"],
    "tail": ["--tail", "3"],
    "tail 0": ["--tail", "0"],
    "tail larger than the log": ["--tail", "1000000"],
    "jsonl": ["-o", "jsonl"],
    "timestamps stderr tail": ["--timestamps", "--stream", "stderr", "--tail", "2"],
    "timestamps tail": ["--timestamps", "--tail", "4"],
    "since stdout timestamps": ["--since", SINCE, "--stream", "stdout", "--timestamps"],
    "jsonl stderr tail": ["-o", "jsonl", "--stream", "stderr", "--tail", "2"],
    "jsonl since": ["-o", "jsonl", "--since", SINCE],
    "since tail stdout": ["--since", SINCE, "--tail", "2", "--stream", "stdout"],
    "follow tail": ["--follow", "--tail", "3"],
    "follow tail stderr timestamps": ["--follow", "--tail", "1", "--stream", "stderr", "--timestamps"],
    "follow tail since jsonl": ["--follow", "--tail", "2", "--since", SINCE, "-o", "jsonl"],
    "follow tail larger than the log": ["--follow", "--tail", "1000000"],
}
BLOCKS = [7, 64, logview.BLOCK]  # bytes read at a time: a line spans several blocks, or a block holds a few


def logs(run_id: str, flags: list[str]) -> tuple[int, bytes]:
    outcome = CliRunner().invoke(cli, ["logs", run_id, *flags], catch_exceptions=False)
    return outcome.exit_code, outcome.stdout_bytes


@pytest.mark.parametrize("log", LOGS)
def test_the_block_path_prints_what_the_line_by_line_path_prints(
    jobctl: object, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, log: str,
) -> None:
    run_id = finished_run(jobctl)
    (isolated_env / "runs" / run_id / "log").write_bytes(LOGS[log])
    # a finished run's log ends with a newline: following one that does not waits for the rest of its line
    unfinished = not LOGS[log].endswith(b"\n") and LOGS[log]
    flag_sets = {name: flags for name, flags in FLAGS.items() if not (unfinished and "--follow" in flags)}
    printed = {}
    for block in BLOCKS:
        monkeypatch.setattr(logview, "BLOCK", block)
        printed[block] = {name: logs(run_id, flags) for name, flags in flag_sets.items()}
    monkeypatch.setattr(LocalBackend, "print_log", lambda self, **_: None)  # as a backend without a block path
    for name, flags in flag_sets.items():
        expected = logs(run_id, flags)
        assert expected[0] == 0
        for block in BLOCKS:
            assert printed[block][name] == expected, f"jobctl logs {' '.join(flags)}, {block}-byte blocks"



@pytest.mark.parametrize("log", ["ours", "empty", "invalid utf-8", "non-ascii and controls"])
def test_a_plain_logs_prints_what_the_line_by_line_path_prints(
    jobctl: object, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, log: str,
) -> None:
    """Red team, issue 18: plain `logs` copied bytes that are not UTF-8 as they were, where every flag printed
    them as U+FFFD, so `logs | tail -n 1` and `logs --tail 1` differed."""
    from jobctl.backends import base

    run_id = finished_run(jobctl)
    (isolated_env / "runs" / run_id / "log").write_bytes(LOGS[log])
    fast, whole_tail = logs(run_id, []), logs(run_id, ["--tail", "1000000"])
    monkeypatch.setattr(LocalBackend, "copy_log_text",
                        lambda self, *, run_id, out: base.copy_log_text(self, run_id, out))
    assert fast == logs(run_id, []) == whole_tail
