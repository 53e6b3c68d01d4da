"""Jobs through their lives on OCI: CREATING until the artifact comes, FAILED, replaced (its runs kept),
pruned (only within the set it was applied from). Issue 14, rules 2, 4 and 5."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobctl.testing.fake_oci import FakeOCI
from tests.oci.conftest import train_spec


def live(fake: FakeOCI) -> dict[str, dict[str, Any]]:
    return {j["id"]: j for j in fake.jobs() if j["lifecycleState"] not in ("DELETING", "DELETED")}


def applied_with_runs(jobctl: Any, fake: FakeOCI, spec: Path, *states: str) -> tuple[str, list[str]]:
    """Apply `spec` (one job), start one run per state given and put each in it: (job id, run ids)."""
    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    [job_id] = live(fake)
    fake.auto_progress = False
    runs = [jobctl("run", "tune-models").stdout.strip() for _ in states]
    for run_id, state in zip(runs, states, strict=True):
        fake.set_run(run_id, state=state)
    return job_id, runs


def test_a_failed_upload_deletes_the_job_it_made_and_the_next_apply_creates_afresh(jobctl, fake: FakeOCI,
                                                                                   tmp_path: Path) -> None:
    spec = train_spec(tmp_path / "specs")
    fake.faults.add(path=r"/artifact$", method="POST", status=400, code="InvalidParameter")
    failed = jobctl("apply", str(spec), "--yes")
    assert failed.exit_code == 1, failed.stderr
    assert "run apply again (the unfinished job was deleted)" in failed.stderr
    assert live(fake) == {}
    fake.faults.clear()

    plan = jobctl("plan", str(spec)).stdout
    assert "+ job tune-models" in plan
    assert jobctl("apply", str(spec), "--yes").exit_code == 0  # its create token is replayed: a new job all the same
    assert [j["lifecycleState"] for j in live(fake).values()] == ["ACTIVE"]
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0


def left_creating(jobctl: Any, fake: FakeOCI, spec: Path, *, age: float) -> dict[str, Any]:
    """An apply that stopped between creating the job and uploading its artifact, `age` seconds ago."""
    fake.faults.add(path=r"/artifact$", method="POST", status=400, code="InvalidParameter")
    fake.faults.add(path=r"/jobs/[^/]+$", method="DELETE", status=400, code="InvalidParameter")
    real_clock = fake.clock
    fake.clock = lambda: real_clock() - age
    try:
        failed = jobctl("apply", str(spec), "--yes")
    finally:
        fake.clock = real_clock
        fake.faults.clear()
    assert failed.exit_code == 1, failed.stderr
    assert "`jobctl delete tune-models` removes it" in failed.stderr
    [stuck] = live(fake).values()
    assert stuck["lifecycleState"] == "CREATING"
    return stuck


def test_a_job_left_creating_by_a_stopped_apply_is_seen_refused_and_replaced(jobctl, fake: FakeOCI,
                                                                            tmp_path: Path) -> None:
    """Rule 2: the job stayed CREATING, invisible to plan (which planned a second job beside it)."""
    spec = train_spec(tmp_path / "specs")
    stuck = left_creating(jobctl, fake, spec, age=3600)

    refused = jobctl("run", "tune-models")
    assert refused.exit_code == 5, refused.stderr
    assert "is CREATING: its artifact was never uploaded" in refused.stderr
    plan = jobctl("plan", str(spec))
    assert f"-/+ job tune-models ({stuck['id']})  # a previous apply did not finish uploading its artifact" \
        in plan.stdout, plan.stdout

    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    [(job_id, job)] = live(fake).items()
    assert job_id != stuck["id"]
    assert job["lifecycleState"] == "ACTIVE"
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0


def test_a_job_another_apply_is_still_creating_is_left_alone(jobctl, fake: FakeOCI, tmp_path: Path) -> None:
    """Red team: a second apply, of an edited spec, took the first one's job, still uploading its
    artifact, for a crash's remains and replaced it under it. (A rerun of the same spec replaces it at
    once: tests/reliability/test_oci_faults.py kills an apply after each request and reruns it.)"""
    spec = train_spec(tmp_path / "specs")
    stuck = left_creating(jobctl, fake, spec, age=30)
    train_spec(tmp_path / "specs", model="rf")

    for command in ("plan", "apply"):
        refused = jobctl(command, str(spec), "--yes" if command == "apply" else "--refresh")
        assert refused.exit_code == 5, refused.stderr
        assert f"job 'tune-models' ({stuck['id']}) has been waiting for its artifact for" in refused.stderr
        assert "another apply, of another version of its spec, may be uploading it right now" in refused.stderr
    assert list(live(fake)) == [stuck["id"]]  # untouched

    assert jobctl("delete", "tune-models", "--yes").exit_code == 0  # the way out the hint names
    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    assert [j["lifecycleState"] for j in live(fake).values()] == ["ACTIVE"]


def test_a_failed_job_is_reported_and_replaced(jobctl, fake: FakeOCI, tmp_path: Path) -> None:
    spec = train_spec(tmp_path / "specs")
    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    [broken] = live(fake)
    fake.set_job(broken, state="FAILED", details="the service could not process the artifact")

    refused = jobctl("run", "tune-models")
    assert refused.exit_code == 5
    assert "is FAILED: the service could not process the artifact" in refused.stderr
    plan = jobctl("plan", str(spec), "--detailed-exitcode")
    assert plan.exit_code == 2
    assert "# the job is FAILED: the service could not process the artifact" in plan.stdout

    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    [(job_id, job)] = live(fake).items()
    assert job_id != broken
    assert job["lifecycleState"] == "ACTIVE"
    assert fake.job(broken)["lifecycleState"] in ("DELETING", "DELETED")  # until its work request is done


def test_a_replace_keeps_run_history_and_the_name_spans_its_generations(jobctl, fake: FakeOCI,
                                                                       tmp_path: Path) -> None:
    """Rule 4: a replace deleted the old job with its runs; `cancel --job` then missed the old job's run."""
    spec = train_spec(tmp_path / "specs")
    old, (finished, busy) = applied_with_runs(jobctl, fake, spec, "SUCCEEDED", "IN_PROGRESS")

    train_spec(tmp_path / "specs", model="rf")
    assert jobctl("apply", str(spec), "--yes").exit_code == 0

    assert fake.job(old)["freeformTags"]["jobctl-superseded"] == "true"
    assert fake.run(finished)["lifecycleState"] == "SUCCEEDED"  # not deleted with its job
    listed = json.loads(jobctl("-o", "json", "runs", "tune-models").stdout)["items"]
    assert [r["id"] for r in listed] == [busy, finished]
    canceled = jobctl("-o", "json", "cancel", "--job", "tune-models")
    assert canceled.exit_code == 0, canceled.stderr
    assert [r["id"] for r in json.loads(canceled.stdout)["items"]] == [busy]
    fake.step(busy)
    assert fake.run(busy)["lifecycleState"] == "CANCELED"

    plan = jobctl("plan", str(spec), "--prune-history")
    assert f"- job tune-models ({old})  # a superseded generation (--prune-history); deletes its 2 run(s)" \
        in plan.stdout, plan.stdout
    assert jobctl("apply", str(spec), "--prune-history", "--yes").exit_code == 0
    assert fake.job(old)["lifecycleState"] in ("DELETING", "DELETED")
    assert {fake.run(r)["lifecycleState"] for r in (busy, finished)} == {"DELETED"}  # deleteRelatedJobRuns
    assert json.loads(jobctl("-o", "json", "runs", "tune-models").stdout)["items"] == []
    assert json.loads(jobctl("-o", "json", "runs").stdout)["items"] == []  # deleted runs are gone from lists
    deleted = json.loads(jobctl("-o", "json", "runs", "--state", "DELETED").stdout)["items"]
    assert sorted(r["id"] for r in deleted) == sorted([busy, finished])  # unless asked for


def test_prune_deletes_only_jobs_of_its_own_set(jobctl, fake: FakeOCI, tmp_path: Path) -> None:
    """Rule 5: `plan job.yaml --prune` in one directory listed a teammate's jobs to delete."""
    mine = train_spec(tmp_path / "mine" / "specs", name="mine-a")
    train_spec(tmp_path / "mine" / "specs", name="mine-b")
    theirs = train_spec(tmp_path / "theirs", name="theirs")
    (tmp_path / "mine" / ".git").mkdir()  # a repository: its set is named from its root
    assert jobctl("apply", str(mine.parent), "--yes").exit_code == 0
    assert jobctl("apply", str(theirs), "--yes").exit_code == 0
    sets = {j["displayName"]: j["freeformTags"]["jobctl-set"] for j in live(fake).values()}
    assert sets == {"mine-a": "mine/specs", "mine-b": "mine/specs", "theirs": str(tmp_path / "theirs")}

    mine.unlink()
    plan = jobctl("-o", "json", "plan", str(mine.parent), "--prune")
    shown = json.loads(plan.stdout)
    assert shown["set"] == "mine/specs"
    assert [(c["action"], c["name"]) for c in shown["changes"]] == [("delete", "mine-a")]
    assert shown["warnings"] == ["--prune leaves alone 1 managed job(s) applied from other sets than "
                                 "'mine/specs' (a job's set is its jobctl-set tag: `jobctl get JOB -o json`)"]
    assert jobctl("apply", str(mine.parent), "--prune", "--yes").exit_code == 0
    assert sorted(j["displayName"] for j in live(fake).values()) == ["mine-b", "theirs"]

    moved = jobctl("plan", str(mine.parent), "--set-name", "team")
    assert "~ job mine-b" in moved.stdout
    assert "moves to set 'team' (from 'mine/specs')" in moved.stdout


def test_a_failed_job_with_runs_is_kept_and_its_name_still_reaches_them(jobctl, fake: FakeOCI,
                                                                         tmp_path: Path) -> None:
    """Red team: replacing a FAILED job deleted its runs (the plan counted none), and while the current
    job was FAILED, `runs`/`cancel --job` refused the name."""
    spec = train_spec(tmp_path / "specs")
    broken, [busy] = applied_with_runs(jobctl, fake, spec, "IN_PROGRESS")
    fake.set_job(broken, state="FAILED", details="boom")

    assert jobctl("run", "tune-models").exit_code == 5  # it cannot run
    listed = json.loads(jobctl("-o", "json", "runs", "tune-models").stdout)["items"]
    assert [r["id"] for r in listed] == [busy]  # but its name reaches its runs
    plan = jobctl("plan", str(spec)).stdout
    assert "the job is FAILED: boom; the old job stays with its runs while it has any" in plan
    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    assert fake.job(broken)["lifecycleState"] == "FAILED"  # kept: OCI cannot re-tag it
    assert fake.run(busy)["lifecycleState"] == "IN_PROGRESS"
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0  # and it converges
    listed = json.loads(jobctl("-o", "json", "jobs", "--history").stdout)["items"]
    assert {j["id"]: j["superseded"] for j in listed}[broken] is True  # an earlier generation
    assert broken not in [j["id"] for j in json.loads(jobctl("-o", "json", "jobs").stdout)["items"]]
    canceled = json.loads(jobctl("-o", "json", "cancel", "--job", "tune-models").stdout)["items"]
    assert [r["id"] for r in canceled] == [busy]


def test_prune_from_a_jobs_old_set_leaves_it_and_its_generations_alone(jobctl, fake: FakeOCI,
                                                                       tmp_path: Path) -> None:
    """Red team: a job moved to another set kept its earlier generations in the old one, and a prune
    there deleted them with their runs."""
    old, new = tmp_path / "old", tmp_path / "new"
    train_spec(old, name="keeper")  # the old place keeps a job of its own
    train_spec(old)
    assert jobctl("apply", str(old), "--yes").exit_code == 0
    [first] = [i for i, j in live(fake).items() if j["displayName"] == "tune-models"]
    fake.auto_progress = False
    ran = jobctl("run", "tune-models").stdout.strip()
    fake.set_run(ran, state="SUCCEEDED")
    train_spec(old, model="rf")
    assert jobctl("apply", str(old), "--yes").exit_code == 0  # generation 1 is kept, in set "old"
    assert jobctl("apply", str(train_spec(new, model="rf")), "--yes").exit_code == 0  # moves to set "new"
    (old / "tune-models.yaml").unlink()

    plan = json.loads(jobctl("-o", "json", "plan", str(old), "--prune").stdout)

    assert plan["changes"] == []
    assert fake.job(first)["lifecycleState"] == "ACTIVE"


def test_run_from_a_spec_runs_the_job_where_the_spec_puts_it(jobctl, fake: FakeOCI, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team: `run -f SPEC` looked the name up in $OCI_COMPARTMENT_ID and ran another compartment's job."""
    prod, dev = "ocid1.compartment.oc1..prod", "ocid1.compartment.oc1..dev"
    specs = {}
    for place, compartment in (("prod", prod), ("dev", dev)):
        spec = train_spec(tmp_path / place, model=place)
        spec.write_text(spec.read_text().replace("\nspec:\n", f"\nspec:\n  compartmentId: {compartment}\n", 1))
        assert compartment in spec.read_text()
        assert jobctl("apply", str(spec), "--yes").exit_code == 0
        specs[place] = spec
    monkeypatch.setenv("OCI_COMPARTMENT_ID", dev)

    started = jobctl("-o", "json", "run", "-p", str(specs["prod"]))

    assert started.exit_code == 0, started.stderr
    [run] = json.loads(started.stdout)["items"]
    assert run["env"]["MODEL"] == "prod"
    assert fake.run(run["id"])["compartmentId"] == prod
    monkeypatch.delenv("OCI_COMPARTMENT_ID")  # the spec says where: its generations are looked for there too
    logs = jobctl("logs", "--file", str(specs["prod"]))
    assert logs.exit_code == 0, logs.stderr
    assert "MODEL=prod" in logs.stdout


def test_runs_asked_for_by_two_states_are_listed_once(jobctl, fake: FakeOCI, tmp_path: Path) -> None:
    assert jobctl("apply", str(train_spec(tmp_path / "specs")), "--yes").exit_code == 0
    ran = jobctl("run", "tune-models").stdout.strip()
    listed = json.loads(jobctl("-o", "json", "runs", "-s", "accepted", "-s", "in_progress", "-s", "accepted").stdout)
    assert [r["id"] for r in listed["items"]] == [ran]  # the listing moves it on between the two queries
