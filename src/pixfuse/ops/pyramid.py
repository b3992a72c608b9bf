"""Gaussian and Laplacian pyramids (Burt & Adelson 1983) for any image size.

Every method that needs a pyramid uses these functions.

References
----------
P. J. Burt and E. H. Adelson, "The Laplacian Pyramid as a Compact Image Code",
IEEE Trans. Communications 31(4):532-540, 1983.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def generating_kernel(a: float = 0.4) -> np.ndarray:
    """Burt & Adelson's 5-tap generating kernel ``[1/4 - a/2, 1/4, a, 1/4, 1/4 - a/2]``.

    ``a = 0.4`` is the paper's Gaussian-like choice; ``a = 0.375`` is the
    binomial ``[1 4 6 4 1]/16`` that OpenCV and MATLAB toolboxes use.
    """
    return np.array([0.25 - a / 2, 0.25, a, 0.25, 0.25 - a / 2], dtype=np.float32)


def auto_levels(shape: tuple[int, ...], min_size: int = 8, max_levels: int = 10) -> int:
    """Number of pyramid levels so the coarsest level is at least ``min_size`` a side."""
    m = min(shape[0], shape[1])
    if m < 2 * min_size:
        return 1
    return int(min(max_levels, math.floor(math.log2(m / min_size)) + 1))


def _blur(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    return cv2.sepFilter2D(img, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT_101)


def reduce(img: np.ndarray, a: float = 0.4) -> np.ndarray:
    """REDUCE: low-pass filter then keep every other row and column."""
    return np.ascontiguousarray(_blur(img, generating_kernel(a))[::2, ::2])


def expand(img: np.ndarray, shape: tuple[int, ...], a: float = 0.4) -> np.ndarray:
    """EXPAND: zero-insertion upsampling to ``shape[:2]`` then interpolation (gain 4)."""
    h, w = shape[0], shape[1]
    up = np.zeros((h, w) + img.shape[2:], dtype=np.float32)
    up[::2, ::2] = img[: (h + 1) // 2, : (w + 1) // 2]
    return _blur(up, 2.0 * generating_kernel(a))


def gaussian_pyramid(img: np.ndarray, levels: int, a: float = 0.4) -> list[np.ndarray]:
    """``levels`` images, finest first; level 0 is ``img`` itself (float32)."""
    g = [np.asarray(img, dtype=np.float32)]
    for _ in range(levels - 1):
        g.append(reduce(g[-1], a))
    return g


def laplacian_pyramid(img: np.ndarray, levels: int, a: float = 0.4) -> list[np.ndarray]:
    """Band-pass levels (finest first) plus the coarsest Gaussian level last."""
    g = gaussian_pyramid(img, levels, a)
    lp = [g[i] - expand(g[i + 1], g[i].shape, a) for i in range(levels - 1)]
    lp.append(g[-1])
    return lp


def reconstruct_laplacian(lp: list[np.ndarray], a: float = 0.4) -> np.ndarray:
    """Invert :func:`laplacian_pyramid` exactly (up to float rounding)."""
    img = lp[-1]
    for band in reversed(lp[:-1]):
        img = band + expand(img, band.shape, a)
    return img


# ----------------------------------------------------------------------------
# OpenCV-kernel pyramids (binomial 1-4-6-4-1 / 16, BORDER_REFLECT_101): the fast
# path used by exposure fusion; identical to cv2.buildPyramid / cv2.pyrUp.


def cv_levels(shape: tuple[int, ...]) -> int:
    """Highest pyramid index OpenCV's MergeMertens uses: ``int(log(min(h, w)) / log(2))`` in float32."""
    m = np.float32(min(shape[0], shape[1]))
    return int(np.log(m) / np.log(np.float32(2.0)))


def cv_gaussian_pyramid(img: np.ndarray, maxlevel: int) -> list[np.ndarray]:
    """``maxlevel + 1`` Gaussian levels with ``cv2.pyrDown`` (level 0 = ``img``)."""
    g = [img]
    for _ in range(maxlevel):
        g.append(cv2.pyrDown(g[-1]))
    return g


def cv_pyr_up(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``cv2.pyrUp`` to an explicit (h, w)."""
    return cv2.pyrUp(img, dstsize=(shape[1], shape[0]))


def cv_collapse(pyr: list[np.ndarray]) -> np.ndarray:
    """Collapse a Laplacian pyramid built with :func:`cv_gaussian_pyramid` / :func:`cv_pyr_up`."""
    out = pyr[-1]
    for band in reversed(pyr[:-1]):
        out = band + cv_pyr_up(out, band.shape)
    return out
