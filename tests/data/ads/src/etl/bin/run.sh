#!/bin/sh
# Workload of the ADS script runtime example.
echo "TARGET_TABLE=${TARGET_TABLE:-}"
echo "args=$*"
