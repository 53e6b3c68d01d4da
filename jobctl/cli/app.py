"""The `jobctl` command group: global options, lazy command loading, and the one error boundary."""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib
import io
import os
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import click

from jobctl import __version__
from jobctl.cli.context import ANY_FORMAT, AppContext
from jobctl.cli.entry import interrupted
from jobctl.errors import EXIT_CODE_HELP, ClosedStdout, ExitCode, Interrupted, JobctlError, SpecError, write_failed

# name -> (module, one-line summary). Modules are imported only when their command runs, so
# `jobctl --help` costs no more than click itself.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("jobctl.cli.validate", "Check spec files and report every error at once."),
    "schema": ("jobctl.cli.schema", "Print the jobctl/v1 JSON Schema."),
    "init": ("jobctl.cli.init", "Write a commented starter spec (and source) that validates."),
    "convert": ("jobctl.cli.convert", "Translate an ADS job YAML file into a jobctl/v1 spec."),
    "plan": ("jobctl.cli.plan", "Show what apply would create, update, replace or delete."),
    "apply": ("jobctl.cli.apply", "Make the backend match the specs (exactly the plan shown)."),
    "run": ("jobctl.cli.run", "Start runs of a job, with --env/--arg overrides and --matrix fan-out."),
    "logs": ("jobctl.cli.logs", "Print or follow a run's output."),
    "workflow": ("jobctl.cli.workflow", "Run workflows: fan out, pick the best run, pass results on; resume."),
    "wait": ("jobctl.cli.wait", "Wait for runs to end; the exit code mirrors them."),
    "cancel": ("jobctl.cli.cancel", "Cancel runs."),
    "jobs": ("jobctl.cli.jobs", "List jobs."),
    "applications": ("jobctl.cli.applications", "List Data Flow applications."),
    "runs": ("jobctl.cli.runs", "List runs, newest first."),
    "get": ("jobctl.cli.get", "Show one job or run in detail."),
    "export": ("jobctl.cli.export", "Write specs (and source) for existing jobs, including console-made ones."),
    "adopt": ("jobctl.cli.adopt", "Take over existing jobs described by specs (apply --adopt)."),
    "delete": ("jobctl.cli.delete", "Delete jobs (refuses while runs are active unless --force)."),
    "gc": ("jobctl.cli.gc", "Reclaim the local backend's disk: old work directories, unused artifacts."),
    "completion": ("jobctl.cli.completion", "Print the shell completion script for bash, zsh or fish."),
}

def _option_names(command: click.Command | None, args: list[str]) -> tuple[set[str], set[str]]:
    """The options of a command (and of its subcommand, for a group such as `workflow`): (those that take a
    value, the flags)."""
    values: set[str] = set()
    flags: set[str] = set()
    while command is not None:
        for param in command.params:
            if isinstance(param, click.Option):
                (flags if param.is_flag or param.count else values).update(param.opts)
        if not isinstance(command, click.Group):
            break
        name = next((arg for arg in args if not arg.startswith("-")), None)
        command = command.commands.get(name) if name else None
    return values, flags


def _learn_secrets_given(args: list[str]) -> None:
    """The secret `--env NAME=VALUE` values of the command line, known before click checks its options: an error
    about another option's value (`--timeout VALUE`) is said before the command reads its --env (red team)."""
    pairs = [args[at + 1] for at, arg in enumerate(args[:-1]) if arg in ("-e", "--env")]
    pairs += [arg.split("=", 1)[1] for arg in args if arg.startswith("--env=")]
    pairs += [arg[2:] for arg in args if arg.startswith("-e") and len(arg) > 2 and arg[2] != "-"]
    if pairs:
        from jobctl.secrets import REDACTOR

        REDACTOR.remember_env({name: value for name, _, value in (pair.partition("=") for pair in pairs)})


def _unbundled(token: str, own: tuple[set[str], set[str]], values: set[str], flags: set[str]
               ) -> tuple[str, str, str] | None:
    """A cluster of short options after the command that holds global ones (`-qo json`, `-qn 2`, `-wq`): (the
    global ones, to move before the command; the command's own, kept; which of the two takes the next argument
    as its value: "front", "rest" or ""). None when it holds no global one."""
    if token[:2] == "--" or len(token) < 3 or token[0] != "-":
        return None
    moved = kept = taker = ""
    for at, letter in enumerate(token[1:]):
        option = f"-{letter}"
        if option in own[1] or option not in own[0] | values | flags:  # (an unknown one: click names it)
            kept += letter
        elif option in own[0]:  # the rest of the cluster is its value, or the next argument is
            kept += token[1 + at:]
            taker = "rest" if at == len(token) - 2 else ""
            break
        elif option in flags:
            moved += letter
        elif option in values:
            moved += token[1 + at:]
            taker = "front" if at == len(token) - 2 else ""
            break
    return (f"-{moved}", f"-{kept}" if kept else "", taker) if moved else None


BACKENDS = ("local", "oci", "memory")
ARGV = "jobctl.argv"
AUTH_TYPES = ("api_key", "instance_principal", "resource_principal", "security_token")


class JobctlGroup(click.Group):
    """A click group whose commands load lazily and whose errors all pass through one place."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        command: click.Command = importlib.import_module(entry[0]).command
        return command

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with _interrupts_end_here():  # parsing imports the command's module, for its options
            return super().make_context(info_name, args, parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV] = list(args)  # the command line as given (`runs` repeats it for the next page)
        _learn_secrets_given(args)
        return super().parse_args(ctx, self._hoisted(ctx, args))

    def _hoisted(self, ctx: click.Context, args: list[str]) -> list[str]:
        """The global options written after the command (`jobctl run demo -q`, `jobctl jobs --backend oci`) moved
        before it, as kubectl and gh take them; the command's own options and their values, and whatever
        follows `--`, stay where they are (a command that prints data has its own -o)."""
        values = {o for p in self.params if isinstance(p, click.Option) and not (p.is_flag or p.count)
                  for o in p.opts}
        flags = {o for p in self.params if isinstance(p, click.Option) and (p.is_flag or p.count) for o in p.opts}
        at = 0
        while at < len(args) and args[at].startswith("-"):  # the global options already before the command
            at += 2 if args[at] in values else 1
        if at >= len(args) or args[at] not in COMMANDS:
            return args
        own = _option_names(self.get_command(ctx, args[at]), args[at + 1:])
        front: list[str] = []
        rest: list[str] = []
        tokens = args[at + 1:]
        index = 0
        while index < len(tokens):
            token = tokens[index]
            name = token.split("=", 1)[0]
            if token == "--":
                rest += tokens[index:]
                break
            if name in values and name not in own[0] | own[1]:
                taken = 1 if "=" in token else 2
                if index + taken > len(tokens):  # (it took the command's name as its value)
                    raise click.UsageError(f"Option '{name}' requires an argument.", ctx=ctx)
                front += tokens[index:index + taken]
                index += taken
                continue
            if name not in own[0] | own[1] and (token in flags or re.fullmatch(r"-[qv]+", token)):
                front.append(token)
            elif name in flags and name not in own[1] and "=" in token:  # (it said "No such option")
                raise click.UsageError(f"Option '{name}' does not take a value.", ctx=ctx)
            elif f"-{name}" in values | flags and not {name, f"-{name}"} & (own[0] | own[1]):
                raise click.UsageError(f"No such option '{name}'. Did you mean '-{name}'?", ctx=ctx)
            elif (unbundled := _unbundled(token, own, values, flags)) is not None:
                moved, kept, taker = unbundled  # `jobs -qo json`: -q moved, -o json kept
                front.append(moved)
                rest += [kept] if kept else []
                if taker and index + 1 < len(tokens):
                    (front if taker == "front" else rest).append(tokens[index + 1])
                    index += 1
            else:
                rest.append(token)
                if name in own[0] and "=" not in token and index + 1 < len(tokens):
                    rest.append(tokens[index + 1])  # the option's value, whatever it looks like
                    index += 1
            index += 1
        return [*args[:at], *front, args[at], *rest]

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        # while completing (resilient parsing) an unknown word is not an error: there is just nothing to offer
        if name and not name.startswith("-") and name not in COMMANDS and not ctx.resilient_parsing:
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])

    def invoke(self, ctx: click.Context) -> Any:
        with _interrupts_end_here():  # also while the app closes
            try:
                return self._invoke(ctx)
            finally:
                app = ctx.find_object(AppContext)
                if app is not None:
                    with contextlib.suppress(Exception):  # the command's own outcome is what is said
                        app.close()

    def _invoke(self, ctx: click.Context) -> Any:
        """The error boundary: the one place a command's outcome (its exit code, or an error) ends the process."""
        try:
            code = super().invoke(ctx)
        except JobctlError as error:
            app = ctx.find_object(AppContext)
            if app is not None and app.traceback:
                import traceback

                traceback.print_exc()
            _fail(error)
        except KeyboardInterrupt:
            _end_interrupted()
        except Interrupted:  # said already
            sys.exit(ExitCode.INTERRUPTED)
        except BrokenPipeError:
            _reader_gone()
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as error:  # the boundary: a bug must still end with a message
            if interrupted(error):  # a Ctrl-C that another error carries
                _end_interrupted()
            app = ctx.find_object(AppContext)
            if app is not None and app.traceback:
                import traceback

                traceback.print_exc()
            if write_failed(error):  # stdout to a full disk (`> /dev/full`), ...
                _cannot_write(error, app.started if app is not None else [])
            _say(f"Error: internal error: {type(error).__name__}: {error}",
                 "Hint: rerun with --traceback and report it.")
            sys.exit(ExitCode.ERROR)
        if isinstance(code, int) and code:
            sys.exit(code)
        return code


@contextlib.contextmanager
def _interrupts_end_here() -> Iterator[None]:
    """A Ctrl-C (or an error raised from one) that reaches here ends the command with "Interrupted." and 130,
    before click, which would say "Aborted!" and exit 1."""
    try:
        yield
    except (KeyboardInterrupt, Exception) as error:
        if not interrupted(error):
            raise
        _end_interrupted()


def _end_interrupted() -> NoReturn:
    _say("Interrupted.")
    sys.exit(ExitCode.INTERRUPTED)


def _reader_gone() -> NoReturn:
    """The reader of stdout went away (`jobctl runs | head`): it has what it wanted; stop quietly. (A command
    that follows runs says ReaderGoneError instead while they go on: cli/watch.py.)"""
    from jobctl.cli.output import discard_output

    discard_output()
    sys.exit(ExitCode.OK)


def _fail(error: JobctlError) -> NoReturn:
    diagnostics = [str(d) for d in error.diagnostics] if isinstance(error, SpecError) else []
    _say(*diagnostics, f"Error: {error.message}", *([f"Hint: {error.hint}"] if error.hint else []))
    sys.exit(error.exit_code)


def _cannot_write(error: OSError, started: Sequence[str] = ()) -> NoReturn:
    """A write a full or failing disk (or a closed stdout) refused: said as such (exit 1), not as an internal
    error, naming the runs the command `started` (`run -q > /dev/full` lost their ids, and a retry started them
    again); what stdout still holds is dropped, so the flush at exit does not fail again (Python would exit 120)."""
    from jobctl.cli.output import discard_output

    ids = " ".join(started)
    _say(f"Error: cannot write{f' {error.filename}' if error.filename else ''}: {error.strerror}",
         *([f"Hint: the run(s) it started go on: {ids} (`jobctl wait {ids}` waits for them)"] if ids else []))
    discard_output()
    sys.exit(ExitCode.ERROR)


def _say(*lines: str) -> None:
    """Lines on stderr, for the error boundary: a stderr that cannot be written (closed, full) changes neither
    the exit code nor what else the command does."""
    with contextlib.suppress(OSError, ValueError):
        for line in lines:
            click.echo(line, err=True)


def _short_options_unsuggested() -> None:
    """click matches every option as a long one first, and its miss builds spelling suggestions (importing
    difflib, ~2 ms) before `-q` or `-o json` is then matched as the short option it is: every command line with
    a short option paid for suggestions it never showed. A one-dash option that is no long one goes on to the
    short options without them; a long one (`--lmit`) still gets its "Did you mean --limit?". A long option given
    with one dash (`-wait`) is an error, not the cluster of short options its letters would spell."""
    namespace = vars(click.parser)  # not getattr: click >= 8.2 warns about its old public name
    parser = namespace.get("_OptionParser") or namespace.get("OptionParser")
    match_long = getattr(parser, "_match_long_opt", None)
    if parser is None or match_long is None:
        return

    def match_long_first(self: Any, opt: str, explicit_value: str | None, state: Any) -> None:
        if opt[:2] not in self._opt_prefixes and opt not in self._long_opt:  # tried next as a short option
            # `-wait` read as `-w -a it` would pass "it" as an arg unseen; so would `-wai` and `-waitt`: a word of
            # three letters or more that a long option begins, or that begins with one, is that option mistyped
            meant = f"-{opt}" if f"-{opt}" in self._long_opt else next(
                (name for name in sorted(self._long_opt) if len(opt) > 3 and len(name) > 3
                 and (name.startswith(f"-{opt}") or f"-{opt}".startswith(name))), None)
            if meant is not None:
                raise click.UsageError(f"No such option '{opt}'. Did you mean '{meant}'?", ctx=self.ctx)
            raise click.NoSuchOption(opt, ctx=self.ctx)
        match_long(self, opt, explicit_value, state)

    parser._match_long_opt = match_long_first


_short_options_unsuggested()


def _usage_errors_said_safely() -> None:
    """click says a usage error on stderr, then exits 2. A stderr whose reader has gone (`jobctl run X --wiat 2>&1
    | true`) raised BrokenPipeError out of that, which ended the command as a read command whose reader left:
    exit 0; now the message is lost, the exit code is still 2. And what it says is masked: it may quote a value
    (`--timeout VALUE`) that is a secret given on the same line (red team, session 14)."""
    for cls in (click.ClickException, click.UsageError):
        show = cls.show

        def show_or_lose(self: click.ClickException, file: Any = None, show: Any = show) -> None:
            import io

            from jobctl.secrets import REDACTOR

            said = io.StringIO()
            show(self, said)
            try:  # (masked: `--timeout VALUE` said the value, perhaps a secret given with --env on the same line)
                (sys.stderr if file is None else file).write(REDACTOR.redact(said.getvalue()))
            except (OSError, ValueError):  # (ValueError: a closed stream)
                from jobctl.cli.output import discard_output

                discard_output(stderr=True)

        cls.show = show_or_lose  # type: ignore[method-assign]


_usage_errors_said_safely()


@click.group(
    cls=JobctlGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=f"\b\nExamples:\n  jobctl validate specs-examples\n  jobctl apply job.yaml\n"
    f"  jobctl run train --env MODEL=xgb --follow\n\n\b\n{EXIT_CODE_HELP}",
)
@click.version_option(__version__, "-V", "--version", prog_name="jobctl", message="%(prog)s %(version)s")
@click.option("--backend", type=click.Choice(BACKENDS), envvar="JOBCTL_BACKEND", default="local",
              show_default=True, show_envvar=True, help="Where jobs live: embedded local runner or OCI.")
@click.option("--profile", envvar="OCI_CLI_PROFILE", help="OCI config profile (default: DEFAULT).")
@click.option("--config-file", envvar="OCI_CLI_CONFIG_FILE",
              help="OCI config file (default: ~/.oci/config).")
@click.option("--auth", type=click.Choice(AUTH_TYPES), envvar="OCI_CLI_AUTH",
              help="OCI authentication (default: api_key).")
@click.option("--region", envvar="OCI_CLI_REGION", help="OCI region, overriding the profile's.")
@click.option("--endpoint", envvar="JOBCTL_OCI_ENDPOINT",
              help="Base URL for every OCI service (e.g. a local fake).")
@click.option("--compartment-id", envvar="OCI_COMPARTMENT_ID",
              help="OCI compartment: for specs without spec.compartmentId, and for listings (in an OCI "
                   "notebook session: its compartment).")
@click.option("--project-id", envvar="OCI_PROJECT_ID",
              help="Data Science project: for specs without spec.projectId, and to limit listings (in an OCI "
                   "notebook session: its project).")
@click.option("-o", "--output", type=click.Choice(ANY_FORMAT), default="table",
              help="Output format for commands that print data.")
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal (also: NO_COLOR).")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr; repeat for debug.")
@click.option("--traceback", is_flag=True, envvar="JOBCTL_TRACEBACK",
              help="Show the Python traceback on errors.")
@click.pass_context
def cli(
    ctx: click.Context, *, backend: str, profile: str | None, config_file: str | None,
    auth: str | None, region: str | None, endpoint: str | None, compartment_id: str | None,
    project_id: str | None, output: str, no_color: bool,
    quiet: bool, verbose: int, traceback: bool,
) -> None:
    """Declarative jobs for OCI Data Science: validate, plan, apply, run, follow logs.

    Specs are YAML (apiVersion jobctl/v1). The default backend runs jobs on this machine;
    --backend oci targets OCI Data Science Jobs with the same commands.
    """
    _redact_output(ctx)
    if verbose:
        _configure_logging(verbose)
    ctx.obj = AppContext(
        backend_name=backend, output=output,
        oci_options={
            "profile": profile, "config_file": config_file, "auth": auth, "region": region, "endpoint": endpoint,
            "compartment_id": compartment_id, "project_id": project_id,
        },
        color=not no_color and not os.environ.get("NO_COLOR"),  # (no-color.org: set and not empty)
        quiet=quiet, verbose=verbose, traceback=traceback, owns_process=ctx.obj is WHOLE_PROCESS,
    )


def _redact_output(ctx: click.Context) -> None:
    """From here on, every secret value jobctl learns is masked in all it prints (jobctl/secrets.py)."""
    from jobctl.cli.output import discard_output
    from jobctl.secrets import REDACTOR, RedactingStream

    REDACTOR.enabled = True
    originals = sys.stdout, sys.stderr
    # stderr's loss (`run --wait 2>&1 | head -1`) changes nothing the command does, nor its exit code
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr,
                                                                          lost=lambda: discard_output(stderr=True))

    def restore() -> None:
        sys.stdout, sys.stderr = originals

    ctx.call_on_close(restore)


def _configure_logging(verbose: int) -> None:
    """-v: what jobctl does (each backend call); -vv: debug detail. Never the SDK's HTTP internals,
    which would include Authorization headers."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("jobctl: %(message)s"))
    logger = logging.getLogger("jobctl")  # only ours: the root logger (and so the SDK's) stays unconfigured
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
    logger.propagate = False


WHOLE_PROCESS = object()  # what main gives `cli` as its object: the command is its process, not a call in another


def _end_at_once(code: int) -> None:
    """End the process now that the command has ended, without the interpreter's teardown, which frees every
    object and module one by one for nothing (~25 ms of CPU of a `run --wait`): what it writes is flushed and
    the functions registered to run at exit are run, as at a normal exit. Returns, for the normal exit, while
    another thread still runs (it would be joined) or when the output cannot be flushed (that says why)."""
    import atexit
    import threading

    if threading.active_count() > 1 or not _flushed():
        return
    atexit._run_exitfuncs()
    _flushed()
    os._exit(code)


def _flushed() -> bool:
    """Flush stdout and stderr; whether stdout's text got out (stderr's cannot be reported anywhere, so a
    full or broken stderr changes no exit code)."""
    out = True
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            out = out and stream is not sys.stdout
    return out


class _ClosedStdout(io.RawIOBase):
    """The stdout of a command started without one: its first write fails (ClosedStdout), which the command says;
    what it writes after that is dropped, as on a stdout discarded once it failed (so the flush at exit does not
    fail again). Its fd is 1, held by a read-only /dev/null, so that no file the command opens becomes fd 1."""

    said = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if not self.said:
            self.said = True
            raise ClosedStdout(errno.EBADF, "stdout is closed")
        return len(data)

    def fileno(self) -> int:
        return 1


def _streams_open() -> None:
    """A command started with stdout or stderr closed (`>&-`; Python leaves such a stream None). Either fd is
    taken at once, so no file the command opens (the state database) becomes its stdout or stderr. stdout's
    writes fail ("Error: cannot write: stdout is closed", exit 1, as `ls >&-` fails), so that no output is lost
    in silence; stderr's go to /dev/null, and the exit code still says what happened."""
    if sys.stdout is None:
        fd = os.open(os.devnull, os.O_RDONLY)
        if fd != 1:  # (stdin closed too: the lowest free fd was 0)
            os.dup2(fd, 1)
            os.close(fd)
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(_ClosedStdout()), encoding="utf-8")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the process's stream until it ends


# The cyclic garbage collector's first threshold while a command runs as its own process (Python's is 700). A
# command's start allocates ~27,000-37,000 objects after main begins (its modules, click's help, the backend) and
# frees hardly any: at 700 the collector went over them ~35 times for nothing, ~7% of the CPU of a `plan` or `get`
# (issue 18, decision 20). Above what a start allocates, a read command never collects; a long one (--follow,
# --wait) still does, every this many objects.
START_GC_THRESHOLD = 50_000


def main() -> None:
    """Console entry point."""
    gc.set_threshold(START_GC_THRESHOLD, *gc.get_threshold()[1:])
    _streams_open()
    try:
        with _interrupts_end_here():  # raised outside a command, e.g. while click starts
            cli.main(prog_name="jobctl", obj=WHOLE_PROCESS)
    except SystemExit as exc:
        if exc.code == ExitCode.INTERRUPTED:
            # interrupted and handled: another Ctrl-C must not break the interpreter's exit, which
            # joins the worker threads of runs being started
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif exc.code is None or isinstance(exc.code, int):
            _end_at_once(exc.code or 0)
        raise
    except BrokenPipeError:
        _reader_gone()
    except OSError as error:  # raised outside a command: its --help, or --version, to a full disk
        if not write_failed(error):
            raise
        _cannot_write(error)
