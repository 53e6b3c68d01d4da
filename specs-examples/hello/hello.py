"""Print the run's settings: what a job sees of its spec and of the run's overrides.

SLEEP=N makes it run for N seconds, EXIT_CODE=N makes it fail with that code: handy for trying
`jobctl wait`, `jobctl cancel` and exit codes.
"""

import os
import sys
import time

print(f"{os.environ.get('GREETING', 'hello')} from {os.environ.get('JOBCTL_JOB_NAME', 'a job')}")
print(f"MODEL={os.environ.get('MODEL')}")
print(f"args={sys.argv[1:]}")
print(f"run={os.environ.get('JOBCTL_RUN_ID', '')}", flush=True)
if os.environ.get("SLEEP"):
    time.sleep(float(os.environ["SLEEP"]))
if os.environ.get("EXIT_CODE"):
    print(f"failing with exit code {os.environ['EXIT_CODE']}", file=sys.stderr)
    sys.exit(int(os.environ["EXIT_CODE"]))
