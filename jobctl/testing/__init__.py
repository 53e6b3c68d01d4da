"""Test doubles that ship with jobctl so users can test their own pipelines offline.

`jobctl.testing.fake_oci` is a stateful fake of the OCI Data Science Jobs and Logging Search REST APIs.
"""
