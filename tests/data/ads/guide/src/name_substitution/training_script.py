"""Stand-in training script for name_substitution-1.yaml: reads DATASET_NAME and writes a file
to output/ (outputDir), which ADS uploads to outputUri .../${JOB_RUN_OCID} after the run."""

import os

dataset = os.environ.get("DATASET_NAME", "unknown")
run = os.environ.get("JOB_RUN_OCID", "local")
print(f"Training on {dataset} (run {run})")

os.makedirs("output", exist_ok=True)
with open(os.path.join("output", "metrics.txt"), "w", encoding="utf-8") as f:
    f.write(f"dataset={dataset}\nrun={run}\naccuracy=0.5\n")
