"""A line longer than the log's limit is split into pieces, never inside a secret value.

Output is masked line by line (secrets.REDACTOR), so a secret cut in two by the supervisor would be printed in
two unmasked pieces by every path that reads the log. Leak criterion: no substring of 8 characters or more of a
secret appears in what is printed; and the pieces, joined, are the workload's line again.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from jobctl.backends.local import logfile
from jobctl.backends.local.supervisor import Supervisor
from jobctl.secrets import Redactor, secret_bytes
from tests.conftest import run_jobctl

LIMIT = logfile.MAX_LINE
API_TOKEN = "tok-Q7vZ-91kd-3fe0-secret"
RUN_TOKEN = "run-override-W4mp-77ax"
GROUP_TOKEN = "group-secret-Hd2q-508z"
LEAK_LENGTH = 8


def leaks(printed: str, *secrets: str) -> list[str]:
    """The pieces (of LEAK_LENGTH characters) of `secrets` found in `printed`."""
    if sum(map(len, secrets)) > 1_000:  # a long secret: compare sets rather than search for each piece
        shown = grams(printed)
        return sorted({gram for secret in secrets for gram in grams(secret) & shown})
    return [gram for secret in secrets for gram in sorted(grams(secret)) if gram in printed]


def grams(text: str) -> set[str]:
    return {text[i:i + LEAK_LENGTH] for i in range(len(text) - LEAK_LENGTH + 1)}


def logged(line: str, env: dict[str, str]) -> list[str]:
    """The texts of the log lines the supervisor writes for one output line, read in pipe-sized chunks."""
    data, pending, out = line.encode() + b"\n", bytearray(), b""
    for start in range(0, len(data), 65536):
        pending.extend(data[start:start + 65536])
        out += Supervisor._complete_lines("stdout", pending, b"", secret_bytes(env))
    assert not pending
    return [decoded.text for raw in out.split(b"\n")[:-1] if (decoded := logfile.decode(raw)) is not None]


def cut_inside(pieces: list[str], *secrets: str) -> list[int]:
    """The offsets where a piece ends inside an occurrence of a secret."""
    text, cuts, offset = "".join(pieces), [], 0
    for piece in pieces[:-1]:
        offset += len(piece)
        cuts.append(offset)
    inside = []
    for secret in secrets:
        start = text.find(secret)
        while start >= 0:
            inside += [cut for cut in cuts if start < cut < start + len(secret)]
            start = text.find(secret, start + 1)
    return inside


def assert_split_safely(line: str, env: dict[str, str]) -> list[str]:
    secrets = list(env.values())
    pieces = logged(line, env)
    assert "".join(pieces) == line
    assert not cut_inside(pieces, *secrets)
    # a line's last piece ends with the newline that was read with it: only the split ones are bounded
    assert len(pieces) > 1
    assert max(len(piece.encode()) for piece in pieces[:-1]) <= LIMIT + max(len(s.encode()) for s in secrets)
    redactor = Redactor()
    redactor.remember_env(env)
    assert not leaks("\n".join(redactor.redact(piece) for piece in pieces), *secrets)
    return pieces


def test_a_secret_across_the_limit_at_every_offset_stays_whole() -> None:
    for start in range(LIMIT - len(API_TOKEN), LIMIT + 1):  # from ending at the limit to starting there
        line = "A" * start + API_TOKEN + "B" * 70_000
        pieces = assert_split_safely(line, {"API_TOKEN": API_TOKEN})
        assert len(pieces[0]) == (LIMIT if start in (LIMIT - len(API_TOKEN), LIMIT) else start)


def test_two_secrets_across_the_limit_stay_whole() -> None:
    env = {"API_TOKEN": API_TOKEN, "DB_PASSWORD": RUN_TOKEN}
    for start in range(LIMIT - len(API_TOKEN) - len(RUN_TOKEN) - 2, LIMIT + 1):
        assert_split_safely("A" * start + RUN_TOKEN + "-" + API_TOKEN + "B" * 70_000, env)
        assert_split_safely("A" * start + API_TOKEN + RUN_TOKEN + "B" * 70_000, env)


def test_overlapping_secrets_move_the_cut_before_both() -> None:
    first, second = "zz-secret-two-overlapA", "overlapA-1234-secret"  # share "overlapA"
    text = "zz-secret-two-overlapA-1234-secret"
    for start in range(LIMIT - len(text), LIMIT + 1):
        pieces = logged("A" * start + text + "B" * 70_000, {"API_TOKEN": first, "DB_PASSWORD": second})
        assert not cut_inside(pieces, first, second)
        assert len(pieces[0]) in (start, LIMIT)


def secret_of(length: int) -> str:
    """A secret value of `length` characters without repeats a cut could fall between."""
    digest, text = b"", ""
    while len(text) < length:
        digest = hashlib.sha256(digest + b"seed").digest()
        text += digest.hex()
    return text[:length]


@pytest.mark.parametrize("length", [LIMIT, LIMIT + 4_000])
@pytest.mark.parametrize("start", [0, 10])
def test_a_secret_as_long_as_the_limit_or_longer_is_cut_only_after_it(length: int, start: int) -> None:
    secret = secret_of(length)
    pieces = assert_split_safely("A" * start + secret + "B" * 400_000, {"API_TOKEN": secret})
    assert secret in pieces


def test_a_line_without_secrets_is_split_at_the_limit() -> None:
    pieces = logged("A" * (LIMIT * 2 + 5), {"MODEL": "not-a-secret-value"})
    assert [len(piece) for piece in pieces] == [LIMIT, LIMIT, 5]


def test_a_line_of_exactly_the_limit_is_one_line_and_longer_ones_are_split_however_they_arrive() -> None:
    """Red team, session 13: a line of exactly 64 KiB became that line and an empty one; a line over the limit
    that arrived whole, newline and all, was not split, and the last piece of a 200,003-byte line was 68,931."""
    assert [len(t) for t in logged("z" * LIMIT, {})] == [LIMIT]
    assert [len(t) for t in logged("z" * (2 * LIMIT), {})] == [LIMIT, LIMIT]
    assert [len(t) for t in logged("z" * 200_003, {})] == [LIMIT, LIMIT, LIMIT, 200_003 - 3 * LIMIT]
    pending = bytearray(b"y" * 70_000 + b"\nnext\n")  # a long line and the next one, in one read
    out = Supervisor._complete_lines("stdout", pending)
    texts = [decoded.text for raw in out.split(b"\n")[:-1] if (decoded := logfile.decode(raw)) is not None]
    assert [len(t) for t in texts] == [LIMIT, 70_000 - LIMIT, 4]
    assert not pending


# --- through `jobctl logs` ----------------------------------------------------------------------------------

WORKLOAD = """\
import os, sys
for name in sys.argv[1:]:
    sys.stdout.write("A" * (65536 - 10) + os.environ[name] + " tail" + "B" * 70000 + "\\n")
"""


def job(tmp_path: Path, groups: list[dict[str, object]] | None = None) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text(WORKLOAD)
    spec: dict[str, object] = {
        "infrastructure": {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 4},
        "runtime": {"type": "python", "source": "./src", "entrypoint": "main.py", "env": {"API_TOKEN": API_TOKEN}},
    }
    if groups:
        spec["nodes"] = {"groups": groups}
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "jobctl/v1", "kind": "Job", "metadata": {"name": "longline"},
                                    "spec": spec}))
    return path


def jobctl_ok(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_jobctl(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result


OUTPUTS = {
    "plain": [],
    "timestamps": ["--timestamps"],
    "tail": ["--tail", "4"],
    "jsonl": ["-o", "jsonl"],
    "follow": ["--follow"],
}


def printed_logs(tmp_path: Path, *secrets: str) -> dict[str, str]:
    """`jobctl logs` of the job's run in every output form; none shows a piece of `secrets`."""
    printed = {label: jobctl_ok(tmp_path, "logs", "--job", "longline", *flags).stdout
               for label, flags in OUTPUTS.items()}
    found = {label: leaks(text, *secrets) for label, text in printed.items() if leaks(text, *secrets)}
    assert not found, f"secret pieces printed: {found}"
    return printed


def test_a_secret_across_the_limit_is_masked_in_every_form_of_jobctl_logs(tmp_path: Path) -> None:
    jobctl_ok(tmp_path, "apply", str(job(tmp_path)))
    jobctl_ok(tmp_path, "run", "longline", "--env", f"RUN_TOKEN={RUN_TOKEN}", "--wait",
              "--arg", "API_TOKEN", "--arg", "RUN_TOKEN")
    printed = printed_logs(tmp_path, API_TOKEN, RUN_TOKEN)
    assert printed["plain"].count("(sensitive) tail") == 2
    records = [json.loads(line) for line in printed["jsonl"].splitlines()]
    assert sum("(sensitive) tail" in record["text"] for record in records) == 2
    revealed = jobctl_ok(tmp_path, "logs", "--job", "longline", "--show-secrets").stdout.splitlines()
    expected = ["A" * (65536 - 10) + secret + " tail" + "B" * 70000 for secret in (API_TOKEN, RUN_TOKEN)]
    assert len(revealed) > len(expected)
    assert "".join(revealed) == "".join(expected)  # split, and the pieces round-trip


def test_a_node_group_secret_across_the_limit_is_masked(tmp_path: Path) -> None:
    groups: list[dict[str, object]] = [{"name": "main", "env": {"GROUP_TOKEN": GROUP_TOKEN}}]
    jobctl_ok(tmp_path, "apply", str(job(tmp_path, groups)))
    jobctl_ok(tmp_path, "run", "longline", "--wait", "--arg", "GROUP_TOKEN")
    printed = printed_logs(tmp_path, GROUP_TOKEN)
    assert "(sensitive) tail" in printed["plain"]


PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7secretline2\n" \
          "-----END PRIVATE KEY-----"
NOT_UTF8_KEY = "tok-\udcff\udcfe-Lm3q-91kd-secret"  # two bytes that are no UTF-8, as argv holds them (surrogates)


def test_a_multi_line_secret_is_masked_line_by_line_in_every_form_of_jobctl_logs(tmp_path: Path) -> None:
    """Red team, session 13: each form but plain `logs` masks line by line, and printed every line of a key in
    PEM (plain folded its four lines into one `(sensitive)`, so even the line counts differed)."""
    value, lines = PEM_KEY, 4
    (tmp_path / "print.sh").write_text("printf 'before\\n%s\\nafter\\n' \"$PRIVATE_KEY\"\n")
    spec = {"apiVersion": "jobctl/v1", "kind": "Job", "metadata": {"name": "pem"},
            "spec": {"infrastructure": {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 4},
                     "runtime": {"type": "shell", "source": "./print.sh"}}}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(spec))
    jobctl_ok(tmp_path, "apply", "job.yaml")
    followed = jobctl_ok(tmp_path, "run", "pem", "--env", f"PRIVATE_KEY={value}", "--follow").stdout

    printed = {label: jobctl_ok(tmp_path, "logs", "--job", "pem", *flags).stdout for label, flags in OUTPUTS.items()}
    printed["run --follow"] = followed
    assert {label: leaks(text, value) for label, text in printed.items() if leaks(text, value)} == {}
    texts = [json.loads(line)["text"] for line in printed["jsonl"].splitlines()]
    assert texts == ["before", *["(sensitive)"] * lines, "after"]
    for label in ("plain", "follow", "run --follow"):
        assert printed[label].splitlines() == texts, label


@pytest.mark.parametrize(("value", "raw", "read"), [
    (NOT_UTF8_KEY, b"tok-\xff\xfe-Lm3q-91kd-secret", "tok-\ufffd\ufffd-Lm3q-91kd-secret"),  # bytes argv held
    ("ab\ud800cd-9f3k", b"ab\xed\xa0\x80cd-9f3k", "ab\ufffd\ufffd\ufffdcd-9f3k"),  # a lone surrogate
], ids=["surrogate-escapes", "lone-surrogate"])
def test_a_value_that_is_no_utf8_is_masked_as_a_log_reads_it(value: str, raw: bytes, read: str) -> None:
    """Red team, session 13: a secret with bytes that are no UTF-8 was printed by every form of `logs`, which reads
    each such byte as U+FFFD. `run --env` now refuses such a value (test_cli_basics), but a run recorded before,
    or a value no UTF-8 holds, is still masked as read, rather than failing with UnicodeEncodeError."""
    redactor = Redactor()
    redactor.add(value)
    assert redactor.redact(f"x {read} y") == "x (sensitive) y"
    assert redactor.redact_bytes(b"x " + raw + b" y") == b"x (sensitive) y"
    assert raw in secret_bytes({"API_TOKEN": value})
