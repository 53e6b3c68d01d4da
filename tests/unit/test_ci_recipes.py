"""The CI recipes stay honest: the example pipelines are well-formed YAML for their CI system, their scripts
are valid shell, and every `jobctl …` command line in them and in docs/ci.md parses with jobctl's own
click commands (strictly: an unknown option, a bad choice or a missing argument fails the test).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from jobctl.cli.app import cli
from tests.conftest import REPO

DOCS = REPO / "docs"
GITHUB = DOCS / "ci" / "github-actions.yml"
GITLAB = DOCS / "ci" / "gitlab-ci.yml"
SHELL_KEYWORDS = {"then", "else", "do", "exec", "time", "!"}  # words that may precede a command


# --- pulling the shell out of the pipelines ----------------------------------------------------------

def github_scripts(path: Path = GITHUB) -> Iterator[str]:
    for job in yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                yield step["run"]


def gitlab_scripts(path: Path = GITLAB) -> Iterator[str]:
    """Each job's before_script/script/after_script as one script (GitLab flattens nested lists)."""

    def flat(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                yield from flat(item)

    pipeline = yaml.safe_load(path.read_text(encoding="utf-8"))
    for name, job in pipeline.items():
        if isinstance(job, dict) and (name == "default" or "script" in job):
            for part in ("before_script", "script", "after_script"):
                if part in job:
                    yield "\n".join(flat(job[part]))


def markdown_shell_blocks(path: Path) -> Iterator[str]:
    yield from re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S)


def lexer_tokens(line: str) -> list[str]:
    """Words and operators (`|`, `&&`, `;`, `>`, …) of one shell line, quotes removed."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def jobctl_command_lines(script: str) -> Iterator[list[str]]:
    """The argument lists of every simple command in `script` whose program is `jobctl`."""
    for line in script.replace("\\\n", " ").splitlines():
        segment: list[str] = []
        for token in [*lexer_tokens(line), ";"]:
            if not set(token) <= set("();<>|&"):
                segment.append(token)
                continue
            if token[0] in "<>" and segment and segment[-1].isdigit():  # 2>file: the 2 is no argument
                segment.pop()
            while segment and segment[0] in SHELL_KEYWORDS:
                segment.pop(0)
            if segment and segment[0] == "jobctl":
                yield segment[1:]
            segment = []


def parse(args: list[str]) -> list[str]:
    """Resolve `jobctl ARGS` through the click commands without running anything; the command path."""
    ctx = cli.make_context("jobctl", list(args))
    path = ["jobctl"]
    while isinstance(ctx.command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]  # what click's own completion resolves the same way
        name, command, rest = ctx.command.resolve_command(ctx, rest)
        assert name is not None
        assert command is not None
        ctx = command.make_context(name, rest, parent=ctx)
        path.append(name)
    return path


def commands_in(scripts: Iterator[str]) -> list[tuple[str, list[str]]]:
    """(`jobctl CMD`, args) for every jobctl command line, each one parsed."""
    found = []
    for script in scripts:
        for args in jobctl_command_lines(script):
            try:
                path = parse(args)
            except click.ClickException as error:
                pytest.fail(f"`jobctl {shlex.join(args)}` does not parse: {error.format_message()}")
            found.append((" ".join(path), args))
    return found


# --- the tests -------------------------------------------------------------------------------------

def test_the_extractor_finds_commands_the_way_a_shell_would() -> None:
    script = 'exec jobctl run a --wait\nif [ x ]; then jobctl cancel "b c" || true; fi\n' \
             'jobctl plan d -o markdown > plan.md 2>/dev/null\nx=$(jobctl runs e) && echo jobctl\n' \
             "jobctl apply f \\\n  --yes\n"

    assert list(jobctl_command_lines(script)) == [
        ["run", "a", "--wait"], ["cancel", "b c"], ["plan", "d", "-o", "markdown"], ["runs", "e"],
        ["apply", "f", "--yes"],
    ]


@pytest.mark.parametrize("args", [["run", "x", "--wiat"], ["plan", "x", "-o", "html"], ["apply"], ["nope"]])
def test_a_wrong_command_line_is_caught(args: list[str]) -> None:
    with pytest.raises(click.ClickException):
        parse(args)


@pytest.mark.parametrize(("name", "scripts"), [("github", github_scripts), ("gitlab", gitlab_scripts)])
def test_every_jobctl_line_in_the_pipelines_parses_and_the_recipe_is_complete(name: str, scripts: Any) -> None:
    commands = commands_in(scripts())
    used = {path for path, _ in commands}

    assert {"jobctl validate", "jobctl plan", "jobctl apply", "jobctl run", "jobctl cancel"} <= used, name
    assert any(path == "jobctl plan" and "markdown" in args for path, args in commands)
    assert any(path == "jobctl apply" and "--yes" in args for path, args in commands)
    assert any(
        path == "jobctl run" and {"--wait", "--idempotency-key", "--cancel-on-interrupt"} <= set(args)
        for path, args in commands
    )


@pytest.mark.parametrize("doc", ["ci.md", "editors.md"])
def test_every_jobctl_line_in_the_docs_parses(doc: str) -> None:
    assert commands_in(markdown_shell_blocks(DOCS / doc))


def test_the_github_workflow_is_well_formed() -> None:
    workflow = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true

    assert set(triggers) == {"pull_request", "push"}
    for job in workflow["jobs"].values():
        assert job["runs-on"]
        assert all(("uses" in step) != ("run" in step) for step in job["steps"])
        assert not any("${{" in step.get("run", "") for step in job["steps"])  # values come in through env


def test_the_gitlab_pipeline_is_well_formed() -> None:
    pipeline = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job}

    assert set(jobs) == {"validate", "offline", "plan", "apply", "train"}
    for job in jobs.values():
        assert job["stage"] in pipeline["stages"]
        assert all(need in jobs for need in job.get("needs", []))


@pytest.mark.parametrize("scripts", [github_scripts, gitlab_scripts])
def test_every_script_is_valid_bash(scripts: Any) -> None:
    assert shutil.which("bash"), "the CI recipes are bash scripts: checking them needs bash"
    for script in scripts():
        check = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, check=False)
        assert check.returncode == 0, f"{check.stderr}\n{script}"


@pytest.mark.parametrize("recipe", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_recipes_install_line_names_this_projects_distribution(recipe: str) -> None:
    """Issue 18 item 9: the recipes installed `jobctl==0.1.*`, and `jobctl` on PyPI is an unrelated placeholder."""
    import re

    import tomllib
    from packaging.requirements import Requirement

    from jobctl import __version__
    from tests.conftest import REPO

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    text = (REPO / "docs" / "ci" / recipe).read_text()
    [spec] = re.findall(r"^\s*JOBCTL_PIP_SPEC:\s*(\S+)", text, re.M)
    wanted = Requirement(spec)
    assert wanted.name == project["name"] == "oci-jobctl"
    assert wanted.specifier.contains(__version__)
    assert project["scripts"]["jobctl"] == "jobctl.cli.entry:main"  # the command keeps its name
