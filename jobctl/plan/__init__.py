"""Desired state, the diff against observed jobs, and the Plan value both `plan` and `apply` use."""
