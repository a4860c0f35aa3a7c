"""Loops: ``scan`` and its shorthands ``map``, ``reduce``, ``foldl``, ``foldr`` (Theano's
``theano.scan_module``), and ``until`` to stop a loop early."""
from .scan import OrderedUpdates, scan, until
from .views import foldl, foldr, map, reduce  # noqa: A004  (Theano's names)

__all__ = ["scan", "map", "reduce", "foldl", "foldr", "until", "OrderedUpdates"]
