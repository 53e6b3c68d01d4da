"""One node of a multi-node job: find its rank, the cluster's size and the main node's address."""

import json
import os
import time

rank = int(os.environ["NODE_RANK"])
size = int(os.environ["INITIAL_CLUSTER_SIZE"])
metadata = os.environ["CLUSTER_NODES_METADATA_FILE"]
# On OCI the file fills in as nodes come up: wait until every node is listed.
deadline = time.monotonic() + 300
while True:
    try:
        with open(metadata) as f:
            nodes = json.load(f)
    except (OSError, ValueError):
        nodes = []
    if len(nodes) >= size or time.monotonic() > deadline:
        break
    time.sleep(1)
main = next(node["IPAddress"] for node in nodes if int(node["Rank"]) == 0)
print(f"node {rank} of {size} ({os.environ['ROLE']} in group {os.environ['JOBCTL_NODE_GROUP']}); main node at {main}")
for epoch in range(int(os.environ["EPOCHS"])):
    print(f"node {rank}: epoch {epoch + 1} done")
