"""A helper module next to the entrypoint (part of the job artifact)."""

COLUMNS = ("amount", "region", "day")
