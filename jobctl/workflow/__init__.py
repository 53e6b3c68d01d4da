"""Workflows: steps that run jobs in parallel and in order, passing results along."""
