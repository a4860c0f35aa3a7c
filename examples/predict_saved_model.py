"""Saved-model inference: load a checkpoint written by mlc-train and predict on raw features.

    mlc-train configs/mlp_digits.toml --out runs/digits
    python examples/predict_saved_model.py runs/digits/best.h5
"""
import os
import sys

import numpy as np

import mlc
from mlc.train import load_dataset

path = sys.argv[1] if len(sys.argv) > 1 else "runs/digits/best.h5"
if not os.path.isfile(path):
    sys.exit(f"{path} does not exist yet: make it first with `mlc-train configs/mlp_digits.toml --out runs/digits`")
model = mlc.load_model(path)                     # rebuilds the model, its weights and its scaling
test = load_dataset("digits")["test"]
labels = model.predict(test.X)                   # raw pixel values in, labels out
print("first predictions:", labels[:10].tolist())
print("accuracy:", np.mean(labels == test.y))
