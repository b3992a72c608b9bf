"""Colour transforms, written once for the whole package.

RGB <-> YCbCr follows ITU-R BT.601 in its full-range ("JPEG") form on float
data in [0, 1]: Y in [0, 1], Cb/Cr centred on 0.5.  The pair is an exact
inverse up to float rounding (the matrices are inverted numerically, not
taken from rounded published constants).
"""
from __future__ import annotations

import numpy as np

#: BT.601 luma weights (R, G, B).
BT601 = (0.299, 0.587, 0.114)
#: The rounded weights MATLAB's ``rgb2gray`` uses (the fusion benchmarks' convention).
MATLAB_RGB2GRAY = (0.2989, 0.5870, 0.1140)

_KR, _KG, _KB = BT601
_RGB2YCC = np.array(
    [
        [_KR, _KG, _KB],
        [-0.5 * _KR / (1 - _KB), -0.5 * _KG / (1 - _KB), 0.5],
        [0.5, -0.5 * _KG / (1 - _KR), -0.5 * _KB / (1 - _KR)],
    ],
    dtype=np.float64,
)
_YCC2RGB = np.linalg.inv(_RGB2YCC)


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 RGB -> YCbCr on float data in [0, 1] (HxWx3).

    Returns float32 HxWx3 with Y in [0, 1] and Cb, Cr in [0, 1] centred at 0.5.

    References
    ----------
    ITU-R Recommendation BT.601-7 (2011); JPEG File Interchange Format 1.02.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    ycc = rgb @ _RGB2YCC.T.astype(np.float32)
    ycc[:, :, 1:] += np.float32(0.5)
    return ycc


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr` (float32 HxWx3, not clipped)."""
    ycc = np.asarray(ycc, dtype=np.float32).copy()
    if ycc.ndim != 3 or ycc.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 YCbCr image, got shape {ycc.shape}")
    ycc[:, :, 1:] -= np.float32(0.5)
    return ycc @ _YCC2RGB.T.astype(np.float32)


def rgb_to_gray(rgb: np.ndarray, weights: tuple[float, float, float] = BT601) -> np.ndarray:
    """Luma of an RGB image with the given weights (BT.601 by default).

    A 2-D input is returned unchanged (as float32).
    """
    a = np.asarray(rgb)
    if a.ndim == 2:
        return a.astype(np.float32, copy=False)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected HxW or HxWx3, got shape {a.shape}")
    w = np.asarray(weights, dtype=np.float32)
    return (a.astype(np.float32, copy=False) @ w).astype(np.float32)


def fuse_chroma(chromas: list[np.ndarray]) -> np.ndarray:
    """Combine the Cb (or Cr) planes of several colour sources.

    Each pixel takes the average of the sources' chroma weighted by its
    distance from neutral (|C - 0.5|), so saturated colours survive and a
    neutral source does not wash them out.  Identical inputs return the input.
    This is the rule of the common MATLAB fusion codes for Cb/Cr of colour
    multi-focus / multi-exposure pairs.
    """
    if len(chromas) == 1:
        return chromas[0]
    c = np.stack(chromas, 0).astype(np.float32)
    w = np.abs(c - 0.5)
    s = w.sum(0)
    out = np.where(s > 0, (c * w).sum(0) / np.where(s > 0, s, 1), 0.5)
    return out.astype(np.float32)
