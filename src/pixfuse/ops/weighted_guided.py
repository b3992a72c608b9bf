"""Weighted guided image filter (WGIF, Li, Zheng, Zhu, Yao & Wu 2015).

References
----------
Z. Li, J. Zheng, Z. Zhu, W. Yao and S. Wu, "Weighted Guided Image
Filtering", IEEE Trans. Image Processing 24(1):120-129, 2015.
"""
from __future__ import annotations

import numpy as np

from .filters import box_mean


def edge_aware_weight(guide: np.ndarray, dynamic_range: float = 1.0) -> np.ndarray:
    """``Gamma(p) = mean_p' (var3(p) + e) / (var3(p') + e)`` with 3x3 variances, ``e = (0.001 L)^2``."""
    g = np.asarray(guide, dtype=np.float64)
    m = box_mean(g.astype(np.float32), 1).astype(np.float64)
    v = np.maximum(box_mean((g * g).astype(np.float32), 1).astype(np.float64) - m * m, 0.0)
    e = (0.001 * dynamic_range) ** 2
    vv = v + e
    return vv * np.mean(1.0 / vv)


def weighted_guided_filter(guide: np.ndarray, src: np.ndarray, r: int, lam: float,
                           dynamic_range: float = 1.0) -> np.ndarray:
    """WGIF: the guided filter with the regulariser ``lam / Gamma(p)`` (eq. 7-10 of the paper).

    Parameters
    ----------
    guide : HxW guidance image.
    src : HxW image to filter.
    r : window radius.
    lam : regularisation lambda.

    Returns
    -------
    HxW float32.
    """
    I = np.asarray(guide, dtype=np.float32)
    p = np.asarray(src, dtype=np.float32)
    gam = edge_aware_weight(I, dynamic_range).astype(np.float32)
    mI = box_mean(I, r)
    mp = box_mean(p, r)
    cov = box_mean(I * p, r) - mI * mp
    var = box_mean(I * I, r) - mI * mI
    a = cov / (var + np.float32(lam) / gam)
    b = mp - a * mI
    return box_mean(a, r) * I + box_mean(b, r)
