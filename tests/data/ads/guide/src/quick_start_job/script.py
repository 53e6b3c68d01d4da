"""Stand-in for ADS's quick-start script (quick_start_job-1.yaml): prints the --greeting
argument and the NAME environment variable, like ADS's greeting-env-cmd.py sample, and what the File
Storage mount holds (at /fss/shared on OCI; $JOBCTL_MOUNT_SHARED says where, on OCI and locally)."""

import argparse
import os

parser = argparse.ArgumentParser()
parser.add_argument("--greeting", default="Hello")
args = parser.parse_args()

print(f"{args.greeting}, your environment variable has value of ({os.environ.get('NAME')})")
print("shared:", sorted(os.listdir(os.environ.get("JOBCTL_MOUNT_SHARED", "/fss/shared"))))
print("Job Done.")
