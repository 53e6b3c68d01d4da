"""A single-file job run by an ADS script runtime."""

import sys

print(f"report for {' '.join(sys.argv[1:])}")
