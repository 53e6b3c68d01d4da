"""Report a run's results so workflows can read them: `jobctl.outputs.write({"metrics": {...}})`.

Inside a run, call `write()` once with a JSON-serialisable mapping; numbers under "metrics" are what
a workflow step's `select` compares (in a multi-node run, node 0's). Locally (JOBCTL_OUTPUT_DIR is
set) it writes outputs.json into the run's output directory; on OCI
(JOBCTL_OUTPUT_URI=oci://bucket@namespace/prefix/ is set by `jobctl workflow run`) it uploads
outputs.json there with the job run's resource principal.

This module has no dependency on the rest of jobctl (the `oci` SDK is needed only on OCI, where the
service conda environments have it): copy it next to your code if jobctl is not installed in the job.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

_URI = re.compile(r"^oci://(?P<bucket>[^@/]+)@(?P<namespace>[^/]+)/(?P<prefix>.*)$")


def write(values: Mapping[str, Any]) -> str:
    """Save `values` as this run's outputs.json; returns where it went ("" when not written).

    In a multi-node run the run's outputs are its first node's (NODE_RANK 0): other nodes write none.
    """
    body = json.dumps(dict(values), indent=2, sort_keys=True)
    rank = os.environ.get("NODE_RANK", "0")
    if rank != "0":
        print(f"jobctl.outputs: node {rank} of a multi-node run; the run's outputs are node 0's, so these are "
              "not written", file=sys.stderr)
        return ""
    directory = os.environ.get("JOBCTL_OUTPUT_DIR")
    if directory:
        path = os.path.join(directory, "outputs.json")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(body)
        return path
    uri = os.environ.get("JOBCTL_OUTPUT_URI")
    if uri:
        return _upload(uri, body)
    print("jobctl.outputs: no JOBCTL_OUTPUT_DIR or JOBCTL_OUTPUT_URI (not started by jobctl?); "
          "writing ./outputs.json", file=sys.stderr)
    with open("outputs.json", "w", encoding="utf-8") as fh:
        fh.write(body)
    return os.path.abspath("outputs.json")


def _upload(uri: str, body: str) -> str:
    import oci

    match = _URI.match(os.path.expandvars(uri))  # ${PIPELINE_RUN_OCID}: a pipeline run's own place
    if match is None:
        raise ValueError(f"JOBCTL_OUTPUT_URI {uri!r} is not oci://bucket@namespace/prefix/")
    endpoint = os.environ.get("JOBCTL_OCI_ENDPOINT")
    if os.environ.get("OCI_RESOURCE_PRINCIPAL_VERSION"):
        signer = oci.auth.signers.get_resource_principals_signer()
        client = oci.object_storage.ObjectStorageClient({}, signer=signer, **({"service_endpoint": endpoint}
                                                                              if endpoint else {}))
    else:  # outside a job (tests, notebooks): the usual config file
        config = oci.config.from_file(os.environ.get("OCI_CLI_CONFIG_FILE", oci.config.DEFAULT_LOCATION))
        client = oci.object_storage.ObjectStorageClient(config, **({"service_endpoint": endpoint} if endpoint else {}))
    name = match["prefix"].rstrip("/") + "/outputs.json" if match["prefix"] else "outputs.json"
    client.put_object(match["namespace"], match["bucket"], name, body.encode("utf-8"),
                      content_type="application/json")
    return f"oci://{match['bucket']}@{match['namespace']}/{name}"
