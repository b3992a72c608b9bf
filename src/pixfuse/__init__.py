"""pixfuse: pixel-level image fusion — methods, metrics and benchmarks.

>>> import pixfuse
>>> fused = pixfuse.fuse([ir, vis], method="lp")            # doctest: +SKIP
>>> scores = pixfuse.evaluate(fused, [ir, vis], metrics=["en", "qabf"])  # doctest: +SKIP
"""
from __future__ import annotations

from .api import DEFAULT_METHODS, evaluate, evaluate_detailed, fuse
from .errors import PixfuseError
from .io import read_image, write_image
from .registry import TASKS, get_method, get_metric, list_methods, list_metrics

__version__ = "0.1.0"

__all__ = [
    "fuse",
    "evaluate",
    "evaluate_detailed",
    "list_methods",
    "list_metrics",
    "get_method",
    "get_metric",
    "read_image",
    "write_image",
    "PixfuseError",
    "TASKS",
    "DEFAULT_METHODS",
    "__version__",
]
