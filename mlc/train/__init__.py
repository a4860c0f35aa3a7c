"""Training on top of mlc.nn: datasets, the Trainer, HDF5 checkpoints, saved-model
inference and the ``mlc-train`` / ``mlc-predict`` / ``mlc-eval`` command lines."""
from .checkpoint import CheckpointError, read_checkpoint, save_checkpoint  # noqa: F401
from .data import DataError, Dataset, Scaler, load_dataset, train_valid_split  # noqa: F401
from .inference import InferenceModel, load_model  # noqa: F401
from .trainer import Trainer, TrainingError  # noqa: F401

__all__ = ["Trainer", "TrainingError", "Dataset", "Scaler", "load_dataset", "train_valid_split", "DataError",
           "save_checkpoint", "read_checkpoint", "CheckpointError", "load_model", "InferenceModel"]
