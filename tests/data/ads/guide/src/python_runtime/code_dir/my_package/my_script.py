"""Entrypoint of python_runtime-1.yaml (workingDir code_dir, entrypoint my_package/my_script.py).

Called as `my_script.py arg1 --key arg2`. Imports `greeting` from other_packages/, which is only
importable when pythonPath (other_packages, relative to the working directory) is on sys.path, and
writes output/result.txt relative to the working directory, which outputDir (output) uploads.
"""

import argparse
import os

from greeting import greet  # found through pythonPath: other_packages

parser = argparse.ArgumentParser()
parser.add_argument("positional")
parser.add_argument("--key")
args = parser.parse_args()

message = greet(os.environ.get("NAME", ""))
print(message)
print(f"positional={args.positional} key={args.key} cwd={os.getcwd()}")

os.makedirs("output", exist_ok=True)
with open(os.path.join("output", "result.txt"), "w", encoding="utf-8") as f:
    f.write(f"{message}\npositional={args.positional}\nkey={args.key}\n")
