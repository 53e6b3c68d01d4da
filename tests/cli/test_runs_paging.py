"""Issue 18 item 5: `runs` said nothing when it stopped at 50, and listed every run to find one by prefix."""

from __future__ import annotations

import json
import shlex
import sqlite3
from pathlib import Path

import pytest
import yaml

from jobctl.testing.fake_oci import FakeOCI
from tests.cli.test_lifecycle_local import applied, write_spec
from tests.conftest import EXAMPLES, use_fake_oci

Run = object


@pytest.fixture
def seven(jobctl, tmp_path: Path) -> list[dict]:
    """Seven ended runs of job `demo`, newest first."""
    applied(jobctl, write_spec(tmp_path / "specs"))
    assert jobctl("run", "demo", "--matrix", "MODEL=a,b,c,d,e,f,g", "--wait").exit_code == 0
    listed = json.loads(jobctl("runs", "demo", "-o", "json").stdout)
    assert len(listed["items"]) == 7
    return listed["items"]


def test_a_table_says_how_many_runs_it_left_out_and_how_to_see_the_next_page(jobctl, seven: list[dict]) -> None:
    shown: list[str] = []
    args = ["runs", "demo", "-n", "3", "--backend", "local"]  # the footer repeats global options too
    for expected_footer in ("showing 3 of 7 runs", "showing 3 of 7 runs", None):
        result = jobctl(*args)
        assert result.exit_code == 0, result.stderr
        header, *rows = result.stdout.splitlines()
        assert header.split() == ["NAME", "ID", "STATE", "EXIT", "CREATED", "DURATION"]
        shown += [row.split()[1] for row in rows]
        if expected_footer is None:
            assert result.stderr == ""  # the last page says nothing more
            break
        assert expected_footer in result.stderr
        args = shlex.split(result.stderr.split("next page: ")[1].split(" (or")[0])[1:]  # the command it gives
        assert args[:6] == ["runs", "demo", "-n", "3", "--backend", "local"]
    assert shown == [run["id"] for run in seven]


def test_json_and_yaml_carry_the_total_and_a_next_page_token(jobctl, seven: list[dict]) -> None:
    page = json.loads(jobctl("runs", "-n", "4", "-o", "json").stdout)
    assert (page["total"], len(page["items"])) == (7, 4)
    rest = json.loads(jobctl("runs", "-n", "4", "--page", page["nextPage"], "-o", "json").stdout)
    assert [r["id"] for r in page["items"] + rest["items"]] == [run["id"] for run in seven]
    assert rest["nextPage"] is None
    as_yaml = yaml.safe_load(jobctl("runs", "-n", "4", "-o", "yaml").stdout)
    assert as_yaml == page
    every = json.loads(jobctl("runs", "--all", "-o", "json").stdout)
    assert (len(every["items"]), every["nextPage"]) == (7, None)


def test_a_token_is_refused_for_another_listing_or_when_it_is_not_one(jobctl, seven: list[dict]) -> None:
    token = json.loads(jobctl("runs", "-n", "2", "-o", "json").stdout)["nextPage"]
    other = jobctl("runs", "--state", "FAILED", "--page", token)
    assert other.exit_code == 2
    assert "that token continues another listing" in other.stderr
    junk = jobctl("runs", "--page", "not-a-token")
    assert junk.exit_code == 2
    assert "'not-a-token' is not a page token jobctl printed" in junk.stderr
    for given, said in ((("--page", ""), "an empty token (an unset variable?)"),
                        (("--all", "-n", "5"), "give either --all or -n")):
        refused = jobctl("runs", *given)
        assert (refused.exit_code, refused.stdout) == (2, "")
        assert said in refused.stderr


def _many(home: Path, count: int) -> None:
    """`count` more runs in the local state, copies of the one there (as if started over the last days)."""
    db = sqlite3.connect(home / "state.db")
    db.row_factory = sqlite3.Row
    [row] = db.execute("SELECT * FROM runs").fetchall()
    columns = row.keys()
    copies = [{**dict(row), "id": f"run-{i:010d}", "name": f"copy-{i}", "created": row["created"] - 60 - i,
               "retry_token": None} for i in range(count)]
    db.executemany(f"INSERT INTO runs ({','.join(columns)}) VALUES ({','.join(':' + c for c in columns)})", copies)
    db.commit()
    db.close()


def test_ten_thousand_runs_are_listed_in_full_and_found_by_name_or_prefix(jobctl, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("JOBCTL_HOME", str(home))
    applied(jobctl, write_spec(tmp_path / "specs"))
    assert jobctl("run", "demo", "--wait").exit_code == 0
    _many(home, 10_000)

    table = jobctl("runs", "demo", "--all")
    lines = table.stdout.splitlines()
    assert table.exit_code == 0
    assert (len(lines), sum(line.startswith("NAME ") for line in lines)) == (10_002, 1)  # one header, every run
    listed = json.loads(jobctl("runs", "--all", "-o", "json").stdout)
    ids = [r["id"] for r in listed["items"]]
    assert (listed["total"], len(ids), len(set(ids)), listed["nextPage"]) == (10_001, 10_001, 10_001, None)
    assert ids[1:] == [f"run-{i:010d}" for i in range(10_000)]  # newest first

    got = jobctl("get", "run-0000009999", "-o", "json")
    assert got.exit_code == 0, got.stderr
    found = json.loads(got.stdout)
    assert found["name"] == "copy-9999"
    assert json.loads(jobctl("get", "copy-17", "-o", "json").stdout)["id"] == "run-0000000017"
    first = ids[0]  # the run that really ran: a prefix of its random id is unique
    assert json.loads(jobctl("get", first[:-3], "-o", "json").stdout)["id"] == first
    ten = jobctl("get", "run-000000999")
    assert (ten.exit_code, "'run-000000999' matches 10 runs: run-0000009990 (copy-9990)") == \
        (2, ten.stderr.splitlines()[0].removeprefix("Error: ")[:59])
    ambiguous = jobctl("get", "run-00000001")
    assert ambiguous.exit_code == 2
    assert "'run-00000001' matches more than 10 runs" in ambiguous.stderr


def test_oci_pages_resume_where_the_service_s_pages_had_reached(jobctl, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """On OCI a page of `runs` resumes from the service page its last run was on, not from the start."""
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "paging")
        assert jobctl("apply", str(EXAMPLES / "train" / "job.yaml"), "--yes").exit_code == 0
        values = ",".join(str(i) for i in range(150))
        assert jobctl("run", "tune-models", "--matrix", f"MODEL={values}", "--yes", "-q").exit_code == 0
        every = [r["id"] for r in sorted(fake.runs(), key=lambda r: (r["timeAccepted"], r["id"]), reverse=True)]

        shown, token, calls = [], None, []
        while True:
            fake.clear_requests()
            page = json.loads(jobctl("runs", "-n", "60", "-o", "json", *(["--page", token] if token else [])).stdout)
            calls.append(fake.count("GET", "/20190101/jobRuns"))
            shown += [r["id"] for r in page["items"]]
            token = page["nextPage"]
            if not token:
                break
        assert shown == every
        assert page["total"] is None  # OCI does not count
        assert calls == [1, 2, 1]  # the third page starts on the service's second page
