"""Train the chosen model class ($MODEL, picked by the workflow) on the whole data set."""

from __future__ import annotations

import json
import os

from models import MODELS, auc, make_data
from report import write

model_name = os.environ["MODEL"]
data = make_data(400, seed=int(os.environ.get("SEED", "7")))
holdout = make_data(200, seed=int(os.environ.get("SEED", "7")) + 1)
model = MODELS[model_name]().fit(data)
holdout_auc = round(auc([model.score(p) for p, _ in holdout], [y for _, y in holdout]), 4)
print(f"final model={model_name} (tuned val_auc={os.environ.get('TUNED_AUC', '?')}) holdout_auc={holdout_auc}")
write({"metrics": {"holdout_auc": holdout_auc}, "model": model_name})
os.makedirs("model", exist_ok=True)  # outputDir: uploaded to outputUri when the run ends
with open(os.path.join("model", "model.json"), "w", encoding="utf-8") as fh:
    json.dump({"model": model_name, "holdout_auc": holdout_auc}, fh)
