"""Theano's ``theano.sandbox`` names that programs import: ``rng_mrg.MRG_RandomStreams``."""
from . import rng_mrg  # noqa: F401
