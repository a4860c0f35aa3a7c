"""Neural-network building blocks on the compiler: initializers, layers, losses,
regularizers, optimizers and metrics."""
from . import conv, init, layers, losses, metrics, optimizers, recurrent, regularizers  # noqa: F401
from .layers import (MLP, Dense, Dropout, Layer, LogisticRegression, Sequential,  # noqa: F401
                     from_config)
from .recurrent import GRU, LSTM, RecurrentClassifier, SimpleRNN  # noqa: F401
from .conv import AvgPool2D, BatchNorm, Conv2D, Flatten, GlobalAvgPool, MaxPool2D  # noqa: F401
from .optimizers import SGD, Adadelta, Adagrad, Adam, RMSprop, clip_norm  # noqa: F401

__all__ = ["init", "layers", "losses", "metrics", "optimizers", "regularizers", "Layer", "Dense",
           "Dropout", "Sequential", "LogisticRegression", "MLP", "from_config", "SGD", "Adagrad",
           "RMSprop", "Adadelta", "Adam", "clip_norm", "SimpleRNN", "LSTM", "GRU", "RecurrentClassifier", "Conv2D", "MaxPool2D", "AvgPool2D", "BatchNorm",
           "Flatten", "GlobalAvgPool"]
