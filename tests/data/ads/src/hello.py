"""A single-file job."""

import os

print(f"hello from {os.environ.get('JOB_RUN_OCID', 'nowhere')}")
