"""Starter projects for `jobctl init`: a commented spec plus the source it points at."""

from __future__ import annotations

import re

from jobctl.errors import UsageError

NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")

_HEADER = """\
# A jobctl job template. Check it:        jobctl validate {spec}
# Create or update the job:               jobctl apply {spec}
# Start a run and follow its output:      jobctl run {name} -p {spec} --follow
# Field reference: `jobctl schema` prints the JSON Schema with a description of every field.
apiVersion: jobctl/v1
kind: Job
metadata:
  name: {name}
  description: {description}
  labels: {{team: ml}}                 # applied as OCI freeform tags
spec:
  # Needed only with --backend oci; the local backend ignores them.
  # compartmentId: ${{OCI_COMPARTMENT_ID}}
  # projectId: ${{OCI_PROJECT_ID}}
  infrastructure:
    shape: VM.Standard.E4.Flex        # Flex shapes need ocpus and memoryInGBs
    ocpus: 1
    memoryInGBs: 16
    blockStorageSizeInGBs: 50
    # subnetId: ocid1.subnet.oc1..example   # omit for managed networking
  # logging: {{logGroupId: ocid1.loggroup.oc1..example, autoCreateLog: true}}
  runtime:
"""

def _notebook(*cells: tuple[str, list[str]]) -> str:
    """A notebook (nbformat 4) of code cells, each with its tags."""
    import json

    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {"tags": tags},
                   "outputs": [], "source": source} for i, (source, tags) in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


_RUNTIMES = {
    "python": (
        """\
    type: python
    source: ./src                     # zipped into the job artifact, relative to this file
    entrypoint: main.py               # inside source
    # conda: {slug: generalml_p311_cpu_x86_64_v1}   # OCI service conda env (OCI only)
    env:
      MODEL: baseline                 # override per run: --env MODEL=xgb
    args: ["--epochs", "3"]           # replace per run: --arg --epochs --arg 5
    maxRuntimeInMinutes: 60
""",
        {
            "src/main.py": '''\
"""Entry point of the job: reads its settings from the environment and the command line."""
import os
import sys

print(f"MODEL={os.environ.get('MODEL')}")
print(f"args={sys.argv[1:]}")
''',
        },
    ),
    "shell": (
        """\
    type: shell
    source: ./src
    entrypoint: run.sh
    env:
      MODEL: baseline                 # override per run: --env MODEL=xgb
    maxRuntimeInMinutes: 60
""",
        {
            "src/run.sh": """\
#!/usr/bin/env bash
set -euo pipefail
echo "MODEL=${MODEL:-unset}"
echo "args=$*"
""",
        },
    ),
    "notebook": (
        """\
    type: notebook
    source: ./src                     # the notebook's directory: what its cells open is found beside it
    entrypoint: analysis.ipynb        # run cell by cell with a python kernel; saved with its outputs
    excludeTags: [skip]               # cells tagged `skip` are not run
    # outputUri: oci://results@mytenancy/notebooks/$JOB_RUN_OCID   # upload the executed notebook
    env:
      MODEL: baseline                 # override per run: --env MODEL=xgb
    maxRuntimeInMinutes: 60
""",
        {"src/analysis.ipynb": _notebook(
            ("import os\nprint(f\"MODEL={os.environ.get('MODEL')}\")", []),
            ("print('only when run by hand: tagged skip')", ["skip"]),
        )},
    ),
    "container": (
        """\
    type: container
    image: iad.ocir.io/mytenancy/trainer:1.0   # on OCI the image must be in OCIR
    # imageDigest: sha256:...                  # pin the exact image
    entrypoint: ["python", "-m", "trainer"]
    cmd: ["--epochs", "3"]
    env:
      MODEL: baseline                 # override per run: --env MODEL=xgb
    maxRuntimeInMinutes: 60
""",
        {},
    ),
}

RUNTIME_TYPES = tuple(_RUNTIMES)


def default_name(directory_name: str) -> str:
    """A valid job name derived from a directory name ('My Project' -> 'my-project')."""
    from jobctl.model.job import name_from_display

    return name_from_display(directory_name) or "my-job"


def starter_files(name: str, runtime: str, spec_name: str = "job.yaml") -> dict[str, str]:
    """Relative path -> content for a new project."""
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"invalid job name {name!r}",
            hint="use lower-case letters, digits and '-', starting with a letter (at most 63)",
        )
    body, sources = _RUNTIMES[runtime]
    spec = _HEADER.format(spec=spec_name, name=name, description=f"Starter {runtime} job") + body
    return {spec_name: spec, **sources}
