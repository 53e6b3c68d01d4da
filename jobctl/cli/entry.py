"""The `jobctl` command's entry point: imports the CLI, so that a Ctrl-C while it loads is an
"Interrupted." and exit 130, like one while it runs, not a traceback from the import.

It imports nothing before its handler is in place (not even `from __future__`: the interpreter has not
loaded it yet), and it says what counts as an interrupt for every later layer too, as it needs nothing
imported to say it.
"""


def interrupted(error: BaseException) -> bool:
    """Whether a Ctrl-C is what raised `error`: a KeyboardInterrupt, or an error raised from or while handling
    one (Python 3.11 wraps one that lands while a class is created, as in an import, in a RuntimeError). An
    error raised `from None` replaced the interrupt on purpose (what `Interrupted` does once it is said)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ if cause.__suppress_context__ else cause.__context__
    return False


def main() -> None:
    try:
        from jobctl.cli import standins

        standins.install()  # before click imports `inspect` and `platform`: ~40% of its import time (decision 21)
        from jobctl.cli.app import main as run

        run()  # its own handler says an interrupt once it is in place; here, one before it or after it
    except (KeyboardInterrupt, Exception) as error:  # an exit already chosen passes on
        if not interrupted(error):
            raise
        import os  # loaded at the interpreter's start: nothing a second Ctrl-C could cut short

        try:  # noqa: SIM105 - contextlib is not loaded yet, and importing it here could be cut short
            os.write(2, b"Interrupted.\n")  # (what would say it is what was being imported)
        except OSError:  # stderr closed or full: the exit code still says it
            pass
        os._exit(130)  # (ExitCode.INTERRUPTED; what it says is on stderr, unbuffered)
