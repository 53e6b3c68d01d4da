"""`python -m jobctl` is the same as the `jobctl` command."""

from jobctl.cli.entry import main

main()
