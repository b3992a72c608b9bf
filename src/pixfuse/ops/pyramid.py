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


# ------------------------------------------------------------------ ratio / contrast
#
# A. Toet, "Image fusion by a ratio of low-pass pyramid", Pattern Recognition
# Letters 9(4):245-253, 1989.  A. Toet, L. J. van Ruyven and J. M. Valeton,
# "Merging thermal and visual images by a contrast pyramid", Optical
# Engineering 28(7):789-792, 1989.

#: Luminance offset (one grey level of an 8-bit image) added before forming
#: ratios, so that black pixels do not divide by zero.  It is removed again on
#: reconstruction, so the transform stays exactly invertible.
RATIO_OFFSET = 1.0 / 255.0


def ratio_pyramid(img: np.ndarray, levels: int, a: float = 0.4, offset: float = RATIO_OFFSET) -> list[np.ndarray]:
    """Ratio-of-low-pass (ROLP) pyramid: ``R_k = G_k / EXPAND(G_{k+1})``, coarsest ``G`` last.

    ``G`` is the Gaussian pyramid of ``img + offset`` (strictly positive, so
    every ratio is finite); :func:`reconstruct_ratio` removes the offset.
    """
    g = gaussian_pyramid(np.asarray(img, np.float32) + np.float32(offset), levels, a)
    out = [g[i] / expand(g[i + 1], g[i].shape, a) for i in range(levels - 1)]
    out.append(g[-1])
    return out


def reconstruct_ratio(pyr: list[np.ndarray], a: float = 0.4, offset: float = RATIO_OFFSET) -> np.ndarray:
    """Invert :func:`ratio_pyramid`: ``G_k = R_k * EXPAND(G_{k+1})``."""
    img = pyr[-1]
    for band in reversed(pyr[:-1]):
        img = band * expand(img, band.shape, a)
    return img - np.float32(offset)


def contrast_pyramid(img: np.ndarray, levels: int, a: float = 0.4, offset: float = RATIO_OFFSET) -> list[np.ndarray]:
    """Luminance-contrast pyramid ``C_k = G_k / EXPAND(G_{k+1}) - 1`` (Toet et al. 1989), coarsest ``G`` last."""
    r = ratio_pyramid(img, levels, a, offset)
    return [c - np.float32(1.0) for c in r[:-1]] + [r[-1]]


def reconstruct_contrast(pyr: list[np.ndarray], a: float = 0.4, offset: float = RATIO_OFFSET) -> np.ndarray:
    """Invert :func:`contrast_pyramid`: ``G_k = (C_k + 1) * EXPAND(G_{k+1})``."""
    return reconstruct_ratio([c + np.float32(1.0) for c in pyr[:-1]] + [pyr[-1]], a, offset)


# ------------------------------------------------------------------ gradient pyramid
#
# P. J. Burt, "A gradient pyramid basis for pattern-selective image fusion",
# SID Digest 23:467-470, 1992; P. J. Burt and R. J. Kolczynski, "Enhanced image
# capture through fusion", ICCV 1993.

_SQ2 = np.float32(1.0 / math.sqrt(2.0))
#: Directional first-difference kernels d_1..d_4 (horizontal, anti-diagonal,
#: vertical, diagonal); the diagonal ones carry the 1/sqrt(2) of the paper.
GRADIENT_KERNELS = (
    np.array([[1.0, -1.0]], np.float32),
    np.array([[0.0, -1.0], [1.0, 0.0]], np.float32) * _SQ2,
    np.array([[1.0], [-1.0]], np.float32),
    np.array([[-1.0, 0.0], [0.0, 1.0]], np.float32) * _SQ2,
)
_W3 = np.array([1.0, 2.0, 1.0], np.float32) / 4.0  # w' = 3x3 binomial (its square is the 5-tap binomial)


def _diff(img: np.ndarray, k: np.ndarray, second: bool) -> np.ndarray:
    # First application anchored at the top-left tap, second one at the
    # bottom-right tap: the pair is a centred second difference.
    anchor = (k.shape[1] - 1, k.shape[0] - 1) if second else (0, 0)
    return cv2.filter2D(img, cv2.CV_32F, k, anchor=anchor, borderType=cv2.BORDER_REFLECT_101)


def gradient_pyramid(img: np.ndarray, levels: int) -> list:
    """Gradient pyramid: per level a list of 4 oriented gradient bands, coarsest Gaussian level last.

    ``D_kl = d_l * [G_k + w' * G_k]`` with the 3x3 binomial ``w'`` and the
    four directional differences :data:`GRADIENT_KERNELS`; the Gaussian
    pyramid uses the 5-tap binomial kernel (``a = 0.375``), for which
    ``-1/8 sum_l d_l * D_kl`` is exactly the filter-subtract-decimate
    Laplacian ``(1 - w) * G_k`` (Burt 1992).
    """
    g = gaussian_pyramid(img, levels, 0.375)
    out: list = []
    for gk in g[:-1]:
        z = gk + cv2.sepFilter2D(gk, cv2.CV_32F, _W3, _W3, borderType=cv2.BORDER_REFLECT_101)
        out.append([_diff(z, k, False) for k in GRADIENT_KERNELS])
    out.append(g[-1])
    return out


def gradient_to_laplacian(bands: list[np.ndarray]) -> np.ndarray:
    """FSD Laplacian level ``L_k = -1/8 sum_l d_l * D_kl`` from the 4 oriented bands."""
    acc = np.zeros_like(bands[0])
    for b, k in zip(bands, GRADIENT_KERNELS):
        acc += _diff(b, k, True)
    return acc * np.float32(-1.0 / 8.0)


def reconstruct_gradient(pyr: list) -> np.ndarray:
    """Collapse a gradient pyramid: ``G_k = L_k + EXPAND(G_{k+1})`` with ``L_k`` from the oriented bands.

    The FSD Laplacian is first converted to the reduce-expand form by
    ``[1 + w] L_k`` (Burt 1992).  As for every FSD pyramid the inverse is
    approximate: ``EXPAND(REDUCE(G))`` only approximates ``w * w * G``.
    """
    w5 = generating_kernel(0.375)
    img = pyr[-1]
    for bands in reversed(pyr[:-1]):
        lap = gradient_to_laplacian(bands)
        lap = lap + _blur(lap, w5)
        img = lap + expand(img, lap.shape, 0.375)
    return img


# ------------------------------------------------------------------ morphological pyramid
#
# A. Toet, "A morphological pyramidal image decomposition", Pattern Recognition
# Letters 9(4):255-261, 1989.


def _morph(img: np.ndarray, op: int, size: int) -> np.ndarray:
    k = np.ones((size, size), np.uint8)
    return cv2.morphologyEx(img, op, k, borderType=cv2.BORDER_REFLECT)


def morph_expand(img: np.ndarray, shape: tuple[int, ...], size: int = 7) -> np.ndarray:
    """Morphological EXPAND: samples on the even grid of ``shape``, then a ``size`` x ``size`` dilation."""
    h, w = shape[0], shape[1]
    up = np.full((h, w), -np.inf, np.float32)
    up[::2, ::2] = img[: (h + 1) // 2, : (w + 1) // 2]
    out = cv2.dilate(up, np.ones((size, size), np.uint8), borderType=cv2.BORDER_REFLECT)
    return out


def morphological_pyramid(img: np.ndarray, levels: int, size: int = 5) -> list[np.ndarray]:
    """Morphological difference pyramid, coarsest level last.

    Each level is smoothed by a grey opening followed by a closing with a
    ``size`` x ``size`` square (the morphological low-pass of Toet 1989),
    subsampled by two, and the detail is ``G_k - MEXPAND(G_{k+1})`` with
    :func:`morph_expand`; the decomposition is exactly invertible.
    """
    g = [np.asarray(img, np.float32)]
    out = []
    for _ in range(levels - 1):
        cur = g[-1]
        oc = _morph(_morph(cur, cv2.MORPH_OPEN, size), cv2.MORPH_CLOSE, size)
        nxt = np.ascontiguousarray(oc[::2, ::2])
        out.append(cur - morph_expand(nxt, cur.shape, size + 2))
        g.append(nxt)
    out.append(g[-1])
    return out


def reconstruct_morphological(pyr: list[np.ndarray], size: int = 5) -> np.ndarray:
    """Invert :func:`morphological_pyramid` exactly: ``G_k = D_k + MEXPAND(G_{k+1})``."""
    img = pyr[-1]
    for band in reversed(pyr[:-1]):
        img = band + morph_expand(img, band.shape, size + 2)
    return img
