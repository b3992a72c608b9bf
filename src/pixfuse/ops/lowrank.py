"""Low-rank building blocks: singular value thresholding and latent low-rank representation.

References
----------
G. Liu and S. Yan, "Latent Low-Rank Representation for Subspace Segmentation
and Feature Extraction", ICCV 2011, pp. 1615-1622.
J.-F. Cai, E. J. Candes and Z. Shen, "A Singular Value Thresholding Algorithm
for Matrix Completion", SIAM J. Optimization 20(4):1956-1982, 2010.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import linalg

from .threads import blas_threads

#: Python threads running the two independent SVT steps of an ALM iteration side by side
#: (each LAPACK / BLAS call itself stays single-threaded; results do not depend on it).
LRR_THREADS = max(1, min(2, os.cpu_count() or 1))


def svt(a: np.ndarray, tau: float) -> np.ndarray:
    """Singular value thresholding: ``U max(S - tau, 0) V^T`` (proximal map of ``tau ||.||_*``).

    Computed from the eigen-decomposition of the smaller Gram matrix
    ``A A^T = U S^2 U^T`` as ``U_k diag(1 - tau/s_k) U_k^T A`` over the kept
    singular values ``s_k > tau`` (about twice as fast as an SVD; equal to the
    SVD route to ~1e-13 on image data).  Returns the zero matrix without any
    decomposition when ``||a||_F <= tau`` (then every singular value is below
    the threshold), nor when Gershgorin's bound on the Gram matrix (largest
    absolute row sum) shows every ``s^2 <= tau^2``.
    """
    if float(np.sqrt(np.einsum("ij,ij->", a, a))) <= tau:
        return np.zeros_like(a)
    tall = a.shape[0] > a.shape[1]
    b = a.T if tall else a
    gram = b @ b.T
    if float(np.abs(gram).sum(axis=1).max()) <= tau * tau:
        return np.zeros_like(a)
    w, u = linalg.eigh(gram, check_finite=False, driver="evd", overwrite_a=True)
    s = np.sqrt(np.maximum(w, 0.0))
    keep = s > tau
    if not keep.any():
        return np.zeros_like(a)
    uk = u[:, keep]
    r = (uk * (1.0 - tau / s[keep])) @ (uk.T @ b)
    return r.T if tall else r


def latent_lrr(
    x: np.ndarray,
    lam: float,
    *,
    tol: float = 1e-6,
    rho: float = 1.1,
    mu: float = 1e-6,
    max_mu: float = 1e6,
    max_iter: int = 1000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latent low-rank representation by the inexact augmented Lagrange multiplier method.

    Solves ``min ||Z||_* + ||L||_* + lam ||E||_1  s.t.  X = X Z + L X + E``
    with the same splitting (J = Z, S = L), initial penalty ``mu``, growth
    ``rho``, cap ``max_mu`` and stopping rule (max-abs constraint violation
    below ``tol``) as Liu & Yan's reference solver.  Singular value
    thresholding skips the SVD while the Frobenius norm is below the
    threshold (early iterations), which changes nothing in the result; the
    Z-block is solved in the row space of X (exact: the reference iterates
    never leave it), so its SVDs are ``min(d, n) x n`` instead of ``n x n`` and
    ``(I + X^T X)^-1`` is diagonal there; the products of each iteration are
    grouped (5 instead of ~12 large ones).  Results equal the reference
    iteration to ~1e-13.  BLAS runs on one thread (see
    :mod:`pixfuse.ops.threads`); the two SVT steps of an iteration run on
    :data:`LRR_THREADS` Python threads.

    Parameters
    ----------
    x : d x n data matrix (columns are samples)
    lam : weight of the sparse error term

    Returns
    -------
    (Z, L, E): n x n, d x d, d x n (float64).
    """
    with blas_threads(1):
        if LRR_THREADS > 1:
            with ThreadPoolExecutor(1) as pool:
                return _latent_lrr(np.asarray(x, dtype=np.float64), lam, tol, rho, mu, max_mu, max_iter, pool)
        return _latent_lrr(np.asarray(x, dtype=np.float64), lam, tol, rho, mu, max_mu, max_iter, None)


def _latent_lrr(
    x: np.ndarray, lam: float, tol: float, rho: float, mu: float, max_mu: float, max_iter: int,
    pool: ThreadPoolExecutor | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Exact reduction: with X = U S V^T (thin SVD, r = min(d, n)), every iterate Z, J, Y2
    # of the reference ALM (started at zero) keeps its columns in range(V), so Z = V W with
    # W r x n, and the Z-subproblem only needs r x n matrices; the dictionary X becomes
    # B = X V = U S, whose Gram matrix B^T B = S^2 is diagonal, so the reference's
    # (I + X^T X)^-1 becomes the diagonal scaling 1 / (1 + s^2).  Nuclear norms are
    # invariant under V, so svt(V A) = V svt(A).
    #
    # Per iteration the reference needs ~12 products of d x n / n x n matrices; here the
    # terms are grouped (X^T X - X^T L X - X^T E + X^T Y1 / mu = X^T (X - LX - E + Y1 / mu),
    # and likewise for the L-step), L X is reused from the previous iteration's constraint
    # and the rotated constraint V (W - J) is only formed when the other two residuals are
    # already below ``tol`` (otherwise it cannot decide the stopping test): 5 products.
    d, n = x.shape
    u, sv, vt = linalg.svd(x, full_matrices=False, lapack_driver="gesdd", check_finite=False)
    v = vt.T  # n x r
    b = u * sv  # d x r, = X V
    bt = np.ascontiguousarray(b.T)
    scale_a = (1.0 / (1.0 + sv * sv))[:, None]  # (I + B^T B)^-1, diagonal
    xt = np.ascontiguousarray(x.T)
    inv_b = np.linalg.inv(x @ xt + np.eye(d))
    m = b.shape[1]
    w = np.zeros((m, n))
    lmat = np.zeros((d, d))
    lx = np.zeros((d, n))  # lmat @ x
    e = np.zeros((d, n))
    y1 = np.zeros((d, n))
    y2 = np.zeros((m, n))
    y3 = np.zeros((d, d))
    for _ in range(max_iter):
        if pool is None:
            j = svt(w + y2 / mu, 1.0 / mu)
            s = svt(lmat + y3 / mu, 1.0 / mu)
        else:  # independent: S-step on the worker thread, J-step here
            fut = pool.submit(svt, lmat + y3 / mu, 1.0 / mu)
            j = svt(w + y2 / mu, 1.0 / mu)
            s = fut.result()
        base = x - e + y1 / mu
        w = scale_a * (bt @ (base - lx) + j - y2 / mu)
        xz = b @ w
        lmat = ((base - xz) @ xt + s - y3 / mu) @ inv_b
        lx = lmat @ x
        xmaz = x - xz - lx
        t = xmaz + y1 / mu
        e = np.maximum(0.0, t - lam / mu) + np.minimum(0.0, t + lam / mu)
        leq1 = xmaz - e
        leq2 = w - j
        leq3 = lmat - s
        stop = max(np.abs(leq1).max(), np.abs(leq3).max())
        if stop < tol:
            stop = max(stop, np.abs(v @ leq2).max())
            if stop < tol:
                break
        y1 += mu * leq1
        y2 += mu * leq2
        y3 += mu * leq3
        mu = min(max_mu, mu * rho)
    return v @ w, lmat, e
