"""A module on the job's pythonPath (other_packages) in python_runtime-1.yaml."""


def greet(name: str) -> str:
    return f"greeting from other_packages: {name}"
