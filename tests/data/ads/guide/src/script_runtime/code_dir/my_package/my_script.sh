#!/bin/sh
# Entrypoint of script_runtime-1.yaml (entrypoint my_package/my_script.sh in code_dir).
# ADS passes the single argument '100 linux "hi there"'.
echo "NAME=$NAME"
echo "argument count: $#"
for arg in "$@"; do
  echo "arg: $arg"
done
