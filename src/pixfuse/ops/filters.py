"""Edge-preserving and smoothing filters shared by methods.

References
----------
K. He, J. Sun and X. Tang, "Guided Image Filtering", IEEE TPAMI 35(6):1397-1409, 2013.
"""
from __future__ import annotations

import cv2
import numpy as np


def box_mean(img: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)x(2r+1) window; borders use the window part inside the image.

    Matches the normalisation of He et al.'s reference ``boxfilter(I, r) ./ N``.
    """
    img = np.asarray(img, dtype=np.float32)
    k = 2 * r + 1
    s = cv2.boxFilter(img, cv2.CV_32F, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)
    ones = np.ones(img.shape[:2], np.float32)
    n = cv2.boxFilter(ones, cv2.CV_32F, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)
    if s.ndim == 3:
        n = n[:, :, None]
    return s / n


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
