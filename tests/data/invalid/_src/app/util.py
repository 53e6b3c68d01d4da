"""Helper module; not an entrypoint."""
