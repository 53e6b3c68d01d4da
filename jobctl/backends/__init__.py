"""Backends: where jobs and runs live. See base.py for the protocol."""
