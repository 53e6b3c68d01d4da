"""jobctl: declarative jobs for OCI Data Science, with an embedded local backend."""

__version__ = "0.1.0"
