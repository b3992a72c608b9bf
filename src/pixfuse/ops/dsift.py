"""Dense SIFT descriptors at every pixel (C. Liu's ``DenseSIFT.m`` formulation).

Used by the dense-SIFT fusion methods of Liu & Wang (multi-exposure, 2015)
and Liu, Liu & Wang (multi-focus, 2015): the descriptor's L1 norm is a local
contrast (activity) measure, its normalised form a matching feature.

References
----------
C. Liu, J. Yuen and A. Torralba, "SIFT Flow: Dense Correspondence across
Scenes and its Applications", IEEE TPAMI 33(5):978-994, 2011 (DenseSIFT code).
D. G. Lowe, "Distinctive Image Features from Scale-Invariant Keypoints",
IJCV 60(2):91-110, 2004.
"""
from __future__ import annotations

import cv2
import numpy as np


def _delta_gaussian(sigma: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    size = 4 * int(np.ceil(sigma)) + 1
    x = np.arange(size) - (size - 1) / 2
    g1 = np.exp(-(x * x) / (2 * sigma * sigma))
    G = np.outer(g1, g1)
    G /= G.sum()
    gy, gx = np.gradient(G)          # MATLAB [GX, GY] = gradient(G): GX along columns
    gx = gx * 2 / np.abs(gx).sum()
    gy = gy * 2 / np.abs(gy).sum()
    return gx, gy


def dense_sift(img: np.ndarray, patch_size: int = 16, n_bins: int = 2, n_angles: int = 8,
               alpha: int = 9, sigma: float = 1.0, normalise: bool = False,
               sample_shift: float | None = None) -> np.ndarray:
    """Dense SIFT descriptor of every pixel of a grey image.

    The image is scaled by its maximum, zero-padded by ``patch_size/2 - 1``
    (as the fusion codes' ``img_extend``) so that every pixel gets a
    descriptor, differentiated with Gaussian-derivative filters
    (sigma 1), projected on ``n_angles`` orientations with the
    ``cos^alpha`` attenuation, pooled with a separable triangular window of
    the patch size and sampled at the ``n_bins x n_bins`` cell centres.

    Parameters
    ----------
    img : HxW float grey image.
    patch_size : descriptor support in pixels (the fusion papers' "scale", 16).
    n_bins : spatial cells per side (2 in the fusion codes: 32-D descriptors).
    normalise : apply Lowe's normalisation (unit length, clip at 0.2,
        renormalise) to descriptors whose norm exceeds 1.
    sample_shift : the cell-sample positions relative to the pixel are
        ``linspace(1, patch_size + 1, n_bins + 1)[:n_bins] - sample_shift``
        (MATLAB's 1-based expression).  ``None`` = ``patch_size / 4 + 1``
        as in the multi-exposure code (Liu & Wang 2015, 2x2 cells);
        the multi-focus code (Liu, Liu & Wang 2015, 4x4 cells) and C. Liu's
        original use ``patch_size / 2``.

    Returns
    -------
    (H, W, n_bins * n_bins * n_angles) float32 descriptors.
    """
    im = np.asarray(img, dtype=np.float64)
    mx = im.max()
    if mx > 0:
        im = im / mx
    pad = patch_size // 2 - 1
    h, w = im.shape
    ext = np.zeros((h + 2 * pad, w + 2 * pad))
    ext[pad:pad + h, pad:pad + w] = im
    gx, gy = _delta_gaussian(sigma)
    # filter2(..., 'same') = correlation with zero padding
    ex = cv2.filter2D(ext, cv2.CV_64F, gx, borderType=cv2.BORDER_CONSTANT)
    ey = cv2.filter2D(ext, cv2.CV_64F, gy, borderType=cv2.BORDER_CONSTANT)
    mag = np.sqrt(ex * ex + ey * ey)
    theta = np.arctan2(ey, ex)
    c, s = np.cos(theta), np.sin(theta)
    half = patch_size / 2 - 0.5
    wx = np.abs(np.arange(1, patch_size + 1) - half) / (patch_size / n_bins)
    wx = ((1 - wx) * (wx <= 1)).astype(np.float64)
    # MATLAB conv2 'same' with an even symmetric kernel: window [i-7, i+8] for 16 taps
    anchor = patch_size // 2 - 1
    H, W = ext.shape
    shift = patch_size / 4 + 1 if sample_shift is None else sample_shift
    edges = np.linspace(1, patch_size + 1, n_bins + 1)[:n_bins] - shift
    offs = [(int(round(oy)), int(round(ox))) for ox in edges for oy in edges]
    ys = np.arange(h) + pad
    xs = np.arange(w) + pad
    orient = np.empty((H, W, n_angles), np.float32)
    for a in range(n_angles):
        ang = 2 * np.pi * a / n_angles
        t = np.maximum(c * np.cos(ang) + s * np.sin(ang), 0.0)
        if float(alpha).is_integer() and alpha > 0:     # t ** alpha by repeated squaring (to ~1 ulp)
            e, r, p = int(alpha), None, t
            while e:
                if e & 1:
                    r = p if r is None else r * p
                e >>= 1
                if e:
                    p = p * p
            t = r
        else:
            t = t ** alpha
        t *= mag
        orient[:, :, a] = cv2.sepFilter2D(t, cv2.CV_64F, wx, wx, anchor=(anchor, anchor),
                                          borderType=cv2.BORDER_CONSTANT)
    out = np.empty((h, w, n_bins * n_bins * n_angles), np.float32)
    for n, (oy, ox) in enumerate(offs):
        y0, x0 = pad + oy, pad + ox
        if 0 <= y0 and y0 + h <= H and 0 <= x0 and x0 + w <= W:
            out[:, :, n * n_angles:(n + 1) * n_angles] = orient[y0:y0 + h, x0:x0 + w]
        else:
            yy = np.clip(ys + oy, 0, H - 1)
            xx = np.clip(xs + ox, 0, W - 1)
            out[:, :, n * n_angles:(n + 1) * n_angles] = orient[yy[:, None], xx[None, :]]
    if normalise:
        out = normalise_sift(out)
    return out


def normalise_sift(desc: np.ndarray) -> np.ndarray:
    """Lowe's normalisation applied to descriptors whose L2 norm exceeds 1."""
    d = np.asarray(desc, dtype=np.float32).copy()
    nrm = np.sqrt((d * d).sum(axis=-1))
    sel = nrm > 1
    v = d[sel] / nrm[sel][:, None]
    v = np.minimum(v, 0.2)
    v /= np.sqrt((v * v).sum(axis=-1))[:, None]
    d[sel] = v
    return d
