"""Edge-preserving and smoothing filters shared by methods.

References
----------
K. He, J. Sun and X. Tang, "Guided Image Filtering", IEEE TPAMI 35(6):1397-1409, 2013.
J.-S. Lee, "Digital Image Enhancement and Noise Filtering by Use of Local Statistics", IEEE TPAMI
2(2):165-168, 1980 (the local-statistics form of :func:`edge_preserving_mean`).
H. Li, T. N. Chan, X. Qi and W. Xie, "Detail-Preserving Multi-Exposure Fusion with Edge-Preserving
Structural Patch Decomposition", IEEE TCSVT 31(11):4293-4304, 2021.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import ParameterError


def box_mean(img: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)x(2r+1) window; borders use the window part inside the image.

    Matches the normalisation of He et al.'s reference ``boxfilter(I, r) ./ N``.
    """
    img = np.asarray(img, dtype=np.float32)
    k = 2 * r + 1
    s = cv2.boxFilter(img, cv2.CV_32F, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)
    n = window_count(img.shape[:2], r)
    if s.ndim == 3:
        n = n[:, :, None]
    return np.divide(s, n, out=s)


def window_count(shape: tuple[int, ...], r: int) -> np.ndarray:
    """Number of pixels of the (2r+1)x(2r+1) window inside an HxW image, per pixel (float32, exact integers).

    The count is separable: rows in the window times columns in the window.
    """
    def axis(n: int) -> np.ndarray:
        i = np.arange(n)
        return (np.minimum(i + r, n - 1) - np.maximum(i - r, 0) + 1).astype(np.float32)

    return np.multiply.outer(axis(int(shape[0])), axis(int(shape[1])))


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Guided filter of He et al. (2013) with a grey guide (O(1) per pixel, box filters).

    Parameters
    ----------
    guide : HxW float32 guidance image
    src : HxW or HxWxC float32 image to filter (channels filtered independently)
    r : window radius
    eps : regularisation

    Returns
    -------
    Filtered image, same shape as ``src`` (float32).
    """
    I = np.asarray(guide, dtype=np.float32)
    p = np.asarray(src, dtype=np.float32)
    if I.ndim == 3:
        raise ValueError("guided_filter: use a single-channel guide (colour guides: guided_filter_color)")
    if p.ndim == 3:
        return np.dstack([guided_filter(I, p[:, :, c], r, eps) for c in range(p.shape[2])])
    mean_I = box_mean(I, r)
    mean_p = box_mean(p, r)
    cov_Ip = box_mean(I * p, r) - mean_I * mean_p
    var_I = box_mean(I * I, r) - mean_I * mean_I
    a = cov_Ip / (var_I + np.float32(eps))
    b = mean_p - a * mean_I
    return box_mean(a, r) * I + box_mean(b, r)


def guided_filter_color(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Guided filter with an RGB guide (He et al. 2013, eq. 19-21), grey ``src``."""
    I = np.asarray(guide, dtype=np.float32)
    p = np.asarray(src, dtype=np.float32)
    mean_I = box_mean(I, r)
    mean_p = box_mean(p, r)
    mean_Ip = box_mean(I * p[:, :, None], r)
    cov_Ip = mean_Ip - mean_I * mean_p[:, :, None]
    var = np.empty(I.shape[:2] + (3, 3), np.float32)
    for i in range(3):
        for j in range(i, 3):
            v = box_mean(I[:, :, i] * I[:, :, j], r) - mean_I[:, :, i] * mean_I[:, :, j]
            var[:, :, i, j] = v
            var[:, :, j, i] = v
    var += np.float32(eps) * np.eye(3, dtype=np.float32)
    a = np.linalg.solve(var, cov_Ip[..., None])[..., 0]
    b = mean_p - (a * mean_I).sum(axis=2)
    return (box_mean(a, r) * I).sum(axis=2) + box_mean(b, r)


def edge_preserving_mean(img: np.ndarray, r: int, lam: float, *, mean: np.ndarray | None = None,
                         var: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Single-pass edge-preserving local mean: ``q = (1 - a) mu + a I`` with ``a = var / (var + lam)``.

    ``mu`` and ``var`` are the mean and variance of the (2r+1)x(2r+1) window
    around each pixel (borders: the part of the window inside the image, as
    :func:`box_mean`).  In flat regions (``var << lam``) ``q`` is the box mean,
    on strong edges (``var >> lam``) it keeps the pixel value.  This is the
    self-guided filter of He et al. without the second averaging of its
    coefficients ``a, b`` - the local-statistics (Lee / local Wiener) form used
    as the "edge-preserving mean" of Li, Chan, Qi & Xie (MESPD, 2021).

    For an HxWxC image the statistics are pooled over the channels (``mu`` the
    channel average of the box means, ``var`` the channel average of the box
    means of ``I^2`` minus ``mu^2``) and ``q`` uses the channel average of
    ``I``, so one HxW map is returned.

    Parameters
    ----------
    img : HxW or HxWxC float image
    r : window radius (>= 0)
    lam : regularisation (> 0); larger smooths more
    mean, var : optional precomputed pooled window statistics (HxW) of ``img``

    Returns
    -------
    (q, a) : the filtered HxW map and the edge coefficient ``a`` (float64)
    """
    x = np.asarray(img, dtype=np.float32)
    if lam <= 0:
        raise ParameterError(f"edge_preserving_mean: lam must be > 0, got {lam}")
    if mean is None or var is None:
        bm = box_mean(x, r)
        bq = box_mean(x * x, r)
        if x.ndim == 3:
            bm, bq = bm.mean(axis=2), bq.mean(axis=2)
        mean = bm.astype(np.float64)
        var = bq.astype(np.float64) - mean * mean
    mean = np.asarray(mean, np.float64)
    var = np.asarray(var, np.float64)
    a = var / (var + lam)
    xc = x.mean(axis=2, dtype=np.float64) if x.ndim == 3 else x.astype(np.float64)
    return mean * (1 - a) + a * xc, a
