"""Spec files: YAML with positions, interpolation, JSON Schema validation, and the JobSpec model."""
