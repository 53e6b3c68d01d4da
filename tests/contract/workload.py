"""The contract suite's workload: the same observable behaviour as the memory and fake-OCI programs."""

import os
import sys
import time

print(f"MODEL={os.environ.get('MODEL', '')}")
print(f"args={' '.join(sys.argv[1:])}", flush=True)
if os.environ.get("SLEEP"):
    time.sleep(float(os.environ["SLEEP"]))
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
