"""AppContext: everything a command needs from the outside world, built once per invocation."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from jobctl.backends.base import Backend
    from jobctl.backends.settings import Settings
    from jobctl.render.human import Printer

OUTPUT_FORMATS = ("table", "json", "yaml")
# the global -o: any command's format (`jobctl -o markdown plan` is `jobctl plan -o markdown`); a command that
# prints data refuses one it cannot print (cli/output.py renders)
ANY_FORMAT = (*OUTPUT_FORMATS, "jsonl", "markdown")
# What OCI sets inside a notebook session, job run or pipeline run, in ADS's order (ads/config.py): the
# defaults of --compartment-id and --project-id when neither they nor OCI_COMPARTMENT_ID/OCI_PROJECT_ID are set.
NOTEBOOK_SCOPE = {
    "compartment_id": ("NB_SESSION_COMPARTMENT_OCID", "PROJECT_COMPARTMENT_OCID", "JOB_RUN_COMPARTMENT_OCID",
                       "PIPELINE_RUN_COMPARTMENT_OCID"),
    "project_id": ("PROJECT_OCID", "PIPELINE_PROJECT_OCID"),
}


class AppContext:
    """A plain class, not a dataclass: every command builds one, and creating the dataclass at import cost
    ~1 ms of the start-up budget (issue 18)."""

    __slots__ = ("_backend", "backend_name", "color", "environ", "oci_options", "output", "owns_process", "quiet",
                 "show_secrets", "started", "stderr", "stdout", "traceback", "verbose")

    def __init__(self, *, backend_name: str = "local", oci_options: dict[str, Any] | None = None,
                 output: str = "table", color: bool = True, quiet: bool = False, verbose: int = 0,
                 traceback: bool = False, environ: Mapping[str, str] | None = None, stdout: TextIO | None = None,
                 stderr: TextIO | None = None, show_secrets: bool = False,
                 owns_process: bool = False) -> None:
        self.backend_name = backend_name
        self.oci_options: dict[str, Any] = {} if oci_options is None else oci_options  # --profile, --region, … as given
        self.output = output
        self.color = color
        self.quiet = quiet
        self.verbose = verbose
        self.traceback = traceback
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.stdout: TextIO = sys.stdout if stdout is None else stdout
        self.stderr: TextIO = sys.stderr if stderr is None else stderr
        self.show_secrets = show_secrets
        self.owns_process = owns_process  # jobctl's own command, not a call in another program (tests): may fork
        self._backend: Backend | None = None
        self.started: list[str] = []  # the runs this command started (or re-attached to): said if its output is lost

    def settings(self) -> Settings:
        """Every backend's typed settings, from the options and the environment: the one place that
        reads the JOBCTL_* variables backends obey (the README documents them)."""
        from jobctl.backends.local.store import default_home
        from jobctl.backends.settings import (
            BUSY_TIMEOUT_SECONDS,
            DEFAULT_KEEP_WORKDIRS,
            LocalSettings,
            OciSettings,
            Settings,
        )

        env = self.environ
        oci_defaults = OciSettings()
        local = LocalSettings(
            home=default_home(env),
            keep_workdirs=int(_number(env, "JOBCTL_KEEP_WORKDIRS", DEFAULT_KEEP_WORKDIRS, whole=True)),
            busy_timeout=_number(env, "JOBCTL_DB_BUSY_TIMEOUT", BUSY_TIMEOUT_SECONDS),
            java=_java(env),
            **_python(env), fork=self.owns_process,
        )
        options = dict(self.oci_options)
        for key, names in NOTEBOOK_SCOPE.items():  # inside OCI (a notebook session, a job run), as ADS reads them
            options[key] = options.get(key) or next((env[name] for name in names if env.get(name)), None)
        oci = OciSettings(
            **options, sdk_config_file=env.get("OCI_CONFIG_FILE") or None,
            fast_retries=_choice(env, "JOBCTL_OCI_RETRY", ("", "fast")) == "fast",
            poll_interval=_number(env, "JOBCTL_OCI_POLL_SECONDS", oci_defaults.poll_interval),
            log_settle=_number(env, "JOBCTL_OCI_LOG_SETTLE", oci_defaults.log_settle),
            log_wait=_number(env, "JOBCTL_OCI_LOG_WAIT", oci_defaults.log_wait),
            attention_timeout=_number(env, "JOBCTL_ATTENTION_TIMEOUT", oci_defaults.attention_timeout),
            retry_budget=_number(env, "JOBCTL_OCI_RETRY_BUDGET", oci_defaults.retry_budget),
        )
        if oci.endpoint:
            _check_endpoint(oci.endpoint)
        return Settings(local, oci)

    def backend(self) -> Backend:
        """The selected backend, created on first use."""
        if self._backend is None:
            from jobctl.backends.base import create_backend

            self._backend = create_backend(self.backend_name, self.settings())
        return self._backend

    def close(self) -> None:
        """End of the command: the backend lets go of what it holds (the local state database)."""
        close = getattr(self._backend, "close", None)
        if close is not None:
            close()
        self._backend = None

    def printer(self, err: bool = False) -> Printer:
        from jobctl.render.human import Printer

        stream = self.stderr if err else self.stdout
        return Printer(stream, rich=self.color and is_tty(stream))

    def info(self, message: str) -> None:
        """Progress for people, on stderr; silent with -q."""
        if not self.quiet:
            self.stderr.write(message + "\n")
            self.stderr.flush()

    def progress(self, message: str) -> None:
        """What a command is doing, for a person: on stderr when the output is a table (not with -o json,
        whose reader has the result for it) and not -q."""
        if self.for_people:
            self.info(message)

    @property
    def for_people(self) -> bool:
        """The output is read by a person (a table), not parsed."""
        return self.output == "table"

    def output_format(self, override: str | None) -> str:
        """A command's own -o wins over the global one."""
        return override or self.output

    @property
    def interactive(self) -> bool:
        """Rich rendering only for a person at a terminal."""
        return self.color and is_tty(self.stdout)


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    from jobctl.errors import ConfigError

    text = environ.get(name, "")
    if text not in choices:
        raise ConfigError(f"{name} must be one of: {', '.join(c for c in choices if c)} (or unset), not {text!r}")
    return text


def _java(env: Mapping[str, str]) -> str | None:
    """The java a local Spark run starts: $JAVA_HOME/bin/java, else the one on PATH (what Spark's scripts use)."""
    home = env.get("JAVA_HOME")
    if home:  # Spark's scripts take it when it is set, whatever java PATH has
        java = os.path.join(home, "bin", "java")
        return java if os.path.isfile(java) else None
    from jobctl.paths import on_path

    return on_path(env, "java")


def _python(env: Mapping[str, str]) -> dict[str, str]:
    """The interpreter local python jobs run with: $JOBCTL_PYTHON, else the active virtualenv's or conda
    environment's python (unless that is jobctl's own environment), else jobctl's own interpreter."""
    import sys
    from pathlib import Path

    from jobctl.paths import on_path

    given = env.get("JOBCTL_PYTHON")
    if given:  # a command name is looked for on PATH (only), a relative path taken from here (a run starts elsewhere)
        found = given if os.sep in given else on_path(env, given)
        return {"python": os.path.abspath(found) if found else given, "python_source": "JOBCTL_PYTHON"}
    own = Path(sys.prefix).resolve()
    for variable, what in (("VIRTUAL_ENV", "the active virtualenv"), ("CONDA_PREFIX", "the active conda environment")):
        prefix = env.get(variable)
        if prefix and Path(prefix).resolve() != own:
            return {"python": str(Path(prefix, "bin", "python")), "python_source": f"{what}, ${variable}"}
    return {"python": sys.executable, "python_source": "jobctl's own interpreter"}


def _number(environ: Mapping[str, str], name: str, default: float, whole: bool = False) -> float:
    """A non-negative number from the environment, or a configuration error naming the variable."""
    from jobctl.errors import ConfigError

    text = environ.get(name, "")
    if not text:
        return default
    try:
        value = float(text) if not whole else int(text) if text.isdigit() and len(text) < 7 else -1.0
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        kind = "a whole number of runs" if whole else "a number of seconds"
        raise ConfigError(f"{name} must be {kind}, not {text!r}")
    return value


def _check_endpoint(url: str) -> None:
    """--endpoint is an http(s) URL of a host (a port if any, a path if any), without a user or password in it
    (which messages would show). ConfigError otherwise, not showing a URL that holds one."""
    from urllib.parse import urlsplit

    from jobctl.errors import ConfigError

    hint = "give a base URL such as https://host or http://127.0.0.1:8765"
    wanted = "--endpoint / JOBCTL_OCI_ENDPOINT must be an http(s) URL"
    try:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            raise ConfigError(f"{wanted} without a user or password", hint=hint)
        parts.port  # noqa: B018 - a port out of range or not a number raises here
    except ValueError as exc:
        raise ConfigError(f"{wanted}, not {url!r} ({exc})", hint=hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ConfigError(f"{wanted}, not {url!r}", hint=hint)


def is_tty(stream: object) -> bool:
    """Whether `stream` is a terminal (False for one that cannot say, or is closed): the one test of it."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False
