"""Small helpers shared by method modules."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stack(images: Sequence[np.ndarray]) -> np.ndarray:
    """Stack same-shape float images along a new first axis (float32)."""
    return np.stack([np.asarray(im, dtype=np.float32) for im in images], axis=0)


def parse_floats(value: object, n: int, name: str) -> np.ndarray:
    """Parse a weights-like parameter (sequence or comma-separated string) of length ``n``."""
    from ..errors import ParameterError

    if isinstance(value, str):
        try:
            vals = [float(v) for v in value.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise ParameterError(f"parameter {name!r}: cannot parse {value!r} as numbers") from None
    else:
        vals = [float(v) for v in value]  # type: ignore[union-attr]
    if len(vals) != n:
        raise ParameterError(f"parameter {name!r} needs {n} values (one per source), got {len(vals)}")
    arr = np.asarray(vals, dtype=np.float64)
    if not np.isfinite(arr).all() or (arr < 0).any() or arr.sum() <= 0:
        raise ParameterError(f"parameter {name!r} must be non-negative with a positive sum, got {vals}")
    return arr
