"""Tune one model class ($MODEL): fit on the training split, report the validation AUC."""

from __future__ import annotations

import os

from models import MODELS, auc, make_data
from report import write

model_name = os.environ.get("MODEL", "logreg")
if model_name not in MODELS:
    raise SystemExit(f"unknown MODEL {model_name!r}; choose from {sorted(MODELS)}")
data = make_data(400, seed=int(os.environ.get("SEED", "7")))
train, validation = data[:300], data[300:]
model = MODELS[model_name]().fit(train)
val_auc = round(auc([model.score(p) for p, _ in validation], [y for _, y in validation]), 4)
print(f"model={model_name} val_auc={val_auc}")
print(f"outputs: {write({'metrics': {'val_auc': val_auc}, 'model': model_name})}")
