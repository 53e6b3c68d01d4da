"""`jobctl completion bash|zsh|fish`: the shell script that makes <Tab> complete jobctl's words."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_JOBCTL_COMPLETE"  # the variable click's scripts set to ask `jobctl` for completions


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def command(ctx: click.Context, *, shell: str) -> None:
    """Print the completion script for SHELL (bash ≥ 4.4, zsh or fish).

    Once installed, <Tab> completes commands and options, and the JOB and RUN arguments of run,
    logs, get, wait, cancel, delete and runs with the job and run names of the backend in use
    (--backend / JOBCTL_BACKEND and the OCI options or their environment variables). The script
    calls `jobctl` with _JOBCTL_COMPLETE set, so jobctl must be on the PATH.

    \b
    Examples:
      # bash: in ~/.bashrc, or once into the directory bash-completion reads
      eval "$(jobctl completion bash)"
      jobctl completion bash > ~/.local/share/bash-completion/completions/jobctl
      # zsh: in ~/.zshrc, after `autoload -U compinit && compinit`
      eval "$(jobctl completion zsh)"
      # fish: once
      jobctl completion fish > ~/.config/fish/completions/jobctl.fish
    """
    from click.shell_completion import get_completion_class

    completion_class = get_completion_class(shell)
    assert completion_class is not None  # every name in SHELLS is one click knows
    root = ctx.find_root().command
    click.echo(completion_class(root, {}, "jobctl", COMPLETE_VAR).source(), nl=False)
