"""Total-variation solvers.

References
----------
T. Goldstein and S. Osher, "The Split Bregman Method for L1-Regularized
Problems", SIAM J. Imaging Sciences 2(2):323-343, 2009.
S. Boyd et al., "Distributed Optimization and Statistical Learning via the
Alternating Direction Method of Multipliers", Found. Trends Mach. Learn. 3(1), 2011.
"""
from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from .gradient_domain import laplacian_eigenvalues


def grad(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward differences (x along columns, y along rows) with a zero last difference (Neumann)."""
    gx = np.zeros_like(u)
    gy = np.zeros_like(u)
    gx[:, :-1] = u[:, 1:] - u[:, :-1]
    gy[:-1, :] = u[1:, :] - u[:-1, :]
    return gx, gy


def div(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Discrete divergence, the negative adjoint of :func:`grad`."""
    d = np.zeros_like(px)
    d[:, 0] = px[:, 0]
    d[:, 1:-1] = px[:, 1:-1] - px[:, :-2]
    d[:, -1] = -px[:, -2]
    d[0, :] += py[0, :]
    d[1:-1, :] += py[1:-1, :] - py[:-2, :]
    d[-1, :] += -py[-2, :]
    return d


def total_variation(u: np.ndarray) -> float:
    """Isotropic total variation ``sum sqrt(ux^2 + uy^2)`` with :func:`grad`."""
    gx, gy = grad(np.asarray(u, dtype=np.float64))
    return float(np.sqrt(gx * gx + gy * gy).sum())


def tv_l1(f: np.ndarray, lam: float, n_iter: int = 100, rho: float = 32.0, tol: float = 1e-4) -> np.ndarray:
    """Solve ``min_u ||u - f||_1 + lam * TV(u)`` (isotropic TV, Neumann boundary) by ADMM / split Bregman.

    Splitting ``v = u - f`` and ``d = grad u``; the ``u`` step solves
    ``(I - Laplacian) u = rhs`` exactly with a DCT-II (the Neumann Laplacian is
    diagonal in that basis), the ``v`` and ``d`` steps are soft-thresholds.
    Stops when the largest change of ``u`` in an iteration is below ``tol``
    (times the data range) or after ``n_iter`` iterations.

    Parameters
    ----------
    f : HxW data
    lam : TV weight (larger = smoother); structures whose area/perimeter ratio
        is below about ``lam / 2`` pixels are removed.
    rho : ADMM penalty (32 converged fastest on [0, 1] infrared-visible differences with lam = 4:
        100 iterations reach the 600-iteration objective within 0.2 %, mean |error| 1e-3)

    Returns
    -------
    HxW float32 minimiser (approximate; computed in float32).
    """
    f = np.asarray(f, dtype=np.float32)
    if lam <= 0:
        return f.copy()
    den = (1.0 + laplacian_eigenvalues(f.shape)).astype(np.float32)
    inv_rho = np.float32(1.0 / rho)
    thr = np.float32(lam / rho)
    u = f.copy()
    v = np.zeros_like(f)
    b1 = np.zeros_like(f)
    dx = np.zeros_like(f)
    dy = np.zeros_like(f)
    bx = np.zeros_like(f)
    by = np.zeros_like(f)
    scale = max(float(np.ptp(f)), 1e-12)
    for _ in range(n_iter):
        rhs = f + v - b1 - div(dx - bx, dy - by)
        u_new = sfft.idctn(sfft.dctn(rhs, norm="ortho") / den, norm="ortho")
        t = u_new - f + b1
        v = np.sign(t) * np.maximum(np.abs(t) - inv_rho, np.float32(0.0))
        gx, gy = grad(u_new)
        sx = gx + bx
        sy = gy + by
        nr = np.sqrt(sx * sx + sy * sy)
        shrink = np.maximum(nr - thr, np.float32(0.0)) / np.maximum(nr, np.float32(1e-12))
        dx = sx * shrink
        dy = sy * shrink
        b1 += u_new - f - v
        bx += gx - dx
        by += gy - dy
        change = float(np.abs(u_new - u).max())
        u = u_new
        if change < tol * scale:
            break
    return u
