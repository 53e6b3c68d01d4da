"""The contract suite's workload: the same observable behaviour as the memory and fake-OCI programs.

Prints MODEL and the args, sleeps SLEEP seconds, exits EXIT_CODE, and reports env METRIC_<NAME>
values as outputs.json metrics (as jobctl.outputs.write would).
"""

import json
import os
import sys
import time

print(f"MODEL={os.environ.get('MODEL', '')}")
print(f"args={' '.join(sys.argv[1:])}", flush=True)
if os.environ.get("SLEEP"):
    time.sleep(float(os.environ["SLEEP"]))
metrics = {k[len("METRIC_"):].lower(): float(v) for k, v in os.environ.items() if k.startswith("METRIC_")}
if metrics and os.environ.get("JOBCTL_OUTPUT_DIR"):
    with open(os.path.join(os.environ["JOBCTL_OUTPUT_DIR"], "outputs.json"), "w", encoding="utf-8") as fh:
        json.dump({"metrics": metrics}, fh)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
