"""Print the run's settings: what a job sees of its spec and of the run's overrides."""

import os
import sys

print(f"{os.environ.get('GREETING', 'hello')} from {os.environ.get('JOBCTL_JOB_NAME', 'a job')}")
print(f"MODEL={os.environ.get('MODEL')}")
print(f"args={sys.argv[1:]}")
print(f"run={os.environ.get('JOBCTL_RUN_ID', '')}")
