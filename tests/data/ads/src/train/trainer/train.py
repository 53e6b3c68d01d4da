"""Workload of the ADS python runtime examples: shows what it was given."""

import os
import sys

print(f"MODEL={os.environ.get('MODEL', '')}")
print(f"args={sys.argv[1:]}")
