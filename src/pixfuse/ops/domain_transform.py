"""Edge-aware recursive filter in the transformed domain (Gastal & Oliveira 2011).

References
----------
E. S. L. Gastal and M. M. Oliveira, "Domain Transform for Edge-Aware Image
and Video Processing", ACM Trans. Graphics 30(4):69, 2011 (the "RF" filter).
"""
from __future__ import annotations

import math

import numpy as np


def _rf_pass(F: np.ndarray, V: np.ndarray) -> None:
    """In-place causal + anti-causal first-order recursion along axis 0.

    ``F``: (N, ...) data, contiguous so that ``F[i]`` is a contiguous slab;
    ``V``: feedback coefficients ``a ** d`` of the same shape.
    """
    n = F.shape[0]
    tmp = np.empty_like(F[0])
    for i in range(1, n):
        np.subtract(F[i - 1], F[i], out=tmp)
        tmp *= V[i]
        F[i] += tmp
    for i in range(n - 2, -1, -1):
        np.subtract(F[i + 1], F[i], out=tmp)
        tmp *= V[i + 1]
        F[i] += tmp


def _rf_iterations(F: np.ndarray, dHdx: np.ndarray, dVdy: np.ndarray, sigma_s: float, n: int) -> np.ndarray:
    """Run the RF iterations on (B, H, W) data with (B or 1, H, W) transforms."""
    b, h, w = F.shape
    # horizontal recursion runs along W: layout (W, B, H); vertical along H: layout (H, B, W)
    dh = np.ascontiguousarray(np.broadcast_to(dHdx, F.shape).transpose(2, 0, 1))
    dv = np.ascontiguousarray(np.broadcast_to(dVdy, F.shape).transpose(1, 0, 2))
    for i in range(n):
        sig = sigma_s * math.sqrt(3.0) * 2.0 ** (n - (i + 1)) / math.sqrt(4.0 ** n - 1.0)
        a = math.exp(-math.sqrt(2.0) / sig)
        Fh = np.ascontiguousarray(F.transpose(2, 0, 1))
        _rf_pass(Fh, a ** dh)
        Fv = np.ascontiguousarray(Fh.transpose(2, 1, 0))   # (W,B,H) -> (H,B,W)
        _rf_pass(Fv, a ** dv)
        F = Fv.transpose(1, 0, 2)
    return np.ascontiguousarray(F)


def _gradsum(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum over channels of |horizontal| and |vertical| differences of (B, H, W, C) guides."""
    return np.abs(np.diff(g, axis=2)).sum(axis=3), np.abs(np.diff(g, axis=1)).sum(axis=3)


def recursive_filter_batch(data: np.ndarray, guides: np.ndarray, sigma_s: float, sigma_r: float,
                           iterations: int = 3) -> np.ndarray:
    """Filter B single-channel images, each with its own guide.

    Parameters
    ----------
    data : (B, H, W) images.
    guides : (B, H, W) or (B, H, W, C) guide images (range units of ``sigma_r``).

    Returns
    -------
    (B, H, W) float64.
    """
    F = np.array(data, dtype=np.float64)
    g = np.asarray(guides, dtype=np.float64)
    if g.ndim == 3:
        g = g[..., None]
    gx, gy = _gradsum(g)
    b, h, w = F.shape
    dHdx = np.ones((g.shape[0], h, w))
    dVdy = np.ones((g.shape[0], h, w))
    dHdx[:, :, 1:] += sigma_s / sigma_r * gx
    dVdy[:, 1:, :] += sigma_s / sigma_r * gy
    F = _rf_iterations(F, dHdx, dVdy, sigma_s, iterations)
    return F


def recursive_filter(img: np.ndarray, sigma_s: float, sigma_r: float, iterations: int = 3,
                     joint: np.ndarray | None = None) -> np.ndarray:
    """Domain-transform recursive filter ("RF") of Gastal & Oliveira (2011).

    Parameters
    ----------
    img : (H, W) or (H, W, C) image to filter.
    sigma_s, sigma_r : spatial and range standard deviations (range in the
        units of ``joint``).
    iterations : number of horizontal+vertical passes (the per-pass sigma
        follows the paper so the total spatial sigma equals ``sigma_s``).
    joint : guide (H, W) or (H, W, C); ``img`` itself when None.  The domain
        transform uses the sum over guide channels of absolute differences.

    Returns
    -------
    float64 array of ``img``'s shape.

    References
    ----------
    E. S. L. Gastal and M. M. Oliveira, "Domain Transform for Edge-Aware Image
    and Video Processing", ACM TOG 30(4):69, 2011.
    """
    I = np.asarray(img, dtype=np.float64)
    J = I if joint is None else np.asarray(joint, dtype=np.float64)
    data = I[None] if I.ndim == 2 else np.moveaxis(I, 2, 0)
    g = J if J.ndim == 3 else J[:, :, None]
    gx, gy = _gradsum(g[None])
    # every channel shares the guide: broadcast the transform over the batch
    F = np.array(data)
    b, h, w = F.shape
    dHdx = np.ones((1, h, w))
    dVdy = np.ones((1, h, w))
    dHdx[:, :, 1:] += sigma_s / sigma_r * gx
    dVdy[:, 1:, :] += sigma_s / sigma_r * gy
    F = _rf_iterations(F, dHdx, dVdy, sigma_s, iterations)
    return F[0] if I.ndim == 2 else np.moveaxis(F, 0, 2)
