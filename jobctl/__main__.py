"""`python -m jobctl` is the same as the `jobctl` command."""

from jobctl.cli.app import main

main()
