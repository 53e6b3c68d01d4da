"""`jobctl plan -o markdown`: the plan as a pull request comment, snapshot-tested like the human plan.

Run with UPDATE_SNAPSHOTS=1 to rewrite the files in tests/cli/snapshots/ after an intended change.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from jobctl.plan.model import Action, Change, FieldChange, Plan
from jobctl.render import markdown
from jobctl.render.markdown import MARKER, plan_markdown
from tests.cli.test_plan_snapshot import SNAPSHOTS, applied_then_replaced, applied_then_updated, job_doc, write
from tests.conftest import Result

Run = Callable[..., Result]


def assert_snapshot(name: str, text: str) -> None:
    """Compare `text` with snapshots/NAME.md; with UPDATE_SNAPSHOTS=1, rewrite the file instead."""
    text = re.sub(r"\bjob-[0-9a-z]+", "job-<ID>", text)
    path = SNAPSHOTS / f"{name}.md"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}; run the tests with UPDATE_SNAPSHOTS=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"markdown plan differs from {path.name}"


def markdown_plan(jobctl: Run, *args: str) -> str:
    result = jobctl("plan", *args, "-o", "markdown")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(MARKER + "\n")
    assert "\x1b[" not in result.stdout
    return result.stdout


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    return tmp_path / "specs"


# --- through the CLI, snapshotted -------------------------------------------------------------------

def test_create(jobctl: Run, specs: Path) -> None:
    text = markdown_plan(jobctl, str(write(specs, job_doc())))

    assert "tok-123" not in text
    assert "`API_TOKEN=(sensitive)`" in text
    assert_snapshot("plan_markdown_create", text)


def test_update(jobctl: Run, specs: Path) -> None:
    spec = applied_then_updated(jobctl, specs)

    assert_snapshot("plan_markdown_update", markdown_plan(jobctl, str(spec)))


def test_replace_names_the_fields_that_force_it_and_masks_secrets(jobctl: Run, specs: Path) -> None:
    spec = applied_then_replaced(jobctl, specs)

    text = markdown_plan(jobctl, str(spec))

    assert "tok-" not in text
    assert "| `~` | `runtime.env.API_TOKEN` | `(sensitive)` | `(sensitive)` | forces replacement |" in text
    assert_snapshot("plan_markdown_replace", text)


def test_show_secrets_reveals_them(jobctl: Run, specs: Path) -> None:
    spec = write(specs, job_doc())
    assert jobctl("apply", str(spec)).exit_code == 0
    write(specs, job_doc(runtime={"env": {"MODEL": "xgb", "API_TOKEN": "tok-456"}}))

    text = markdown_plan(jobctl, str(spec), "--show-secrets")

    assert '`"tok-123"`' in text
    assert '`"tok-456"`' in text


def test_prune_lists_the_delete_and_the_unchanged(jobctl: Run, specs: Path) -> None:
    spec = write(specs, job_doc("train"), job_doc("evaluate"))
    assert jobctl("apply", str(spec), "--set-name", "team/specs").exit_code == 0
    write(specs, job_doc("train"))

    assert_snapshot("plan_markdown_prune", markdown_plan(jobctl, str(spec), "--prune", "--set-name", "team/specs"))


def test_no_changes(jobctl: Run, specs: Path) -> None:
    spec = write(specs, job_doc())
    assert jobctl("apply", str(spec)).exit_code == 0

    assert_snapshot("plan_markdown_no_changes", markdown_plan(jobctl, str(spec)))


def test_a_long_plan_folds_its_details_under_an_overview(jobctl: Run, specs: Path) -> None:
    spec = write(specs, *(job_doc(f"train-{i:02d}") for i in range(12)))

    text = markdown_plan(jobctl, str(spec))

    overview, details = text.split("<details>", 1)
    assert "| `+` | `train-11` | create |" in overview
    assert "<summary>Details of the 12 changes</summary>" in details
    assert details.rstrip().endswith("</details>")
    assert_snapshot("plan_markdown_long", text)


def test_markdown_is_a_plan_output_only_wherever_o_is_given(jobctl: Run, specs: Path) -> None:
    """`jobctl -o markdown plan` was refused while `plan -o markdown` was taken (red team, session 14: -o means the
    same before and after the command); a command that prints no markdown refuses it in either place."""
    spec = write(specs, job_doc())

    before = jobctl("-o", "markdown", "plan", str(spec))
    assert (before.exit_code, before.stdout) == (0, jobctl("plan", str(spec), "-o", "markdown").stdout)
    assert before.stdout.startswith("<!-- jobctl-plan -->")
    assert jobctl("jobs", "-o", "markdown").exit_code == 2
    assert jobctl("-o", "markdown", "jobs").exit_code == 2


def test_global_json_output_still_applies_to_plan(jobctl: Run, specs: Path) -> None:
    result = jobctl("-o", "json", "plan", str(write(specs, job_doc())))

    assert result.exit_code == 0
    assert result.stdout.lstrip().startswith("{")


# --- the renderer on hand-made plans ----------------------------------------------------------------

def test_pipes_and_backticks_in_values_cannot_break_the_table() -> None:
    plan = Plan((Change(Action.UPDATE, "train", (FieldChange("description", "a | b", "uses `x` and ``y``", False),)),))

    text = plan_markdown(plan)

    assert '| `~` | `description` | `"a \\| b"` | ```"uses `x` and ``y``"``` |' in text


def test_control_characters_and_markdown_in_reasons_are_neutralised() -> None:
    plan = Plan((Change(Action.DELETE, "old", reason="<b>gone</b>\x1b[31m *now*"),))

    text = plan_markdown(plan)

    assert "\x1b" not in text
    assert "\\<b\\>gone\\</b\\>" in text
    assert "\\*now\\*" in text


def test_a_huge_plan_stays_within_the_comment_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markdown, "MAX_CHARS", 3_000)
    fields = tuple(FieldChange(f"labels.k{i}", "a" * 20, "b" * 20, False) for i in range(10))
    plan = Plan(tuple(Change(Action.UPDATE, f"job-{i}", fields) for i in range(40)))

    text = plan_markdown(plan)

    assert len(text) < 3_000
    assert "more change(s), not shown" in text
    assert "**Plan: 0 to create, 40 to update, 0 to replace, 0 to delete.**" in text
    assert text.rstrip().endswith("</details>")


def test_many_unchanged_jobs_fold_away() -> None:
    text = plan_markdown(Plan((Change(Action.DELETE, "gone"),), unchanged=tuple(f"j{i}" for i in range(20))))

    assert "<summary>20 unchanged</summary>" in text


def test_warnings_come_first() -> None:
    text = plan_markdown(Plan((), unchanged=("a",), warnings=("job 'x' is not managed by jobctl",)))

    assert text.splitlines()[3] == "> **Warning:** job 'x' is not managed by jobctl"
    assert text.rstrip().endswith("**No changes.** 1 job(s) up to date.")
