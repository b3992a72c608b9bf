"""Closed-form matting (Levin, Lischinski & Weiss 2008): matting Laplacian and constrained alpha solve.

The matting Laplacian ``L`` of an image follows from the local colour-line
model: in every ``(2r+1) x (2r+1)`` window ``w_k`` alpha is an affine
function of the colour, which gives

    L_ij = sum_{k : i, j in w_k} ( delta_ij - 1/|w| (1 + (I_i - mu_k)^T
           (Sigma_k + eps/|w| I)^-1 (I_j - mu_k)) )

with ``mu_k`` and ``Sigma_k`` the window mean and (biased) covariance.
Alpha minimises ``a^T L a`` subject to the known values of the trimap.

Only windows that touch an unknown pixel contribute to the rows of the
unknowns, so ``L`` is assembled for those windows only (as in the authors'
code, which skips windows inside the constrained area); the known pixels are
hard constraints and the reduced system ``L_uu a_u = -L_uk a_k`` is solved by
a sparse direct factorisation (SuperLU), shared by any number of right-hand
sides.  Windows are the ones wholly inside the image (no border padding).

References
----------
A. Levin, D. Lischinski and Y. Weiss, "A Closed-Form Solution to Natural
Image Matting", IEEE TPAMI 30(2):228-242, 2008.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu


def matting_laplacian(img: np.ndarray, active: np.ndarray | None = None, r: int = 1,
                      eps: float = 1e-7) -> sparse.csr_matrix:
    """Matting Laplacian (N x N, N = H*W, row-major pixel order) from the windows centred in ``active``.

    Parameters
    ----------
    img : HxW or HxWxC float image (values in [0, 1])
    active : bool HxW mask of window centres to include (default: all);
        centres closer than ``r`` to the border are always skipped
    r : window radius (1 = the paper's 3x3 windows)
    eps : regularisation of the colour covariance (1e-7 in the paper's code)
    """
    a = np.asarray(img, np.float64)
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    win = (2 * r + 1) ** 2
    inner = np.zeros((h, w), bool)
    inner[r:h - r, r:w - r] = True
    if active is not None:
        inner &= np.asarray(active, bool)
    cy, cx = np.nonzero(inner)
    n = h * w
    if cy.size == 0:
        return sparse.csr_matrix((n, n))
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    nb = ((cy[:, None] + dy.ravel()[None]) * w + (cx[:, None] + dx.ravel()[None])).astype(np.int64)
    X = a.reshape(-1, c)[nb]                                   # K x win x C
    Xc = X - X.mean(axis=1, keepdims=True)
    cov = np.matmul(Xc.transpose(0, 2, 1), Xc) / win + (eps / win) * np.eye(c)
    inv = np.linalg.inv(cov)
    vals = np.matmul(np.matmul(Xc, inv), Xc.transpose(0, 2, 1))   # K x win x win
    vals += 1.0
    vals *= -1.0 / win
    vals += np.eye(win)[None]
    rows = np.repeat(nb, win, axis=1).ravel()
    cols = np.tile(nb, (1, win)).ravel()
    L = sparse.csr_matrix((vals.ravel(), (rows, cols)), shape=(n, n))
    L.sum_duplicates()
    return L


def solve_alpha(img: np.ndarray, known: np.ndarray, values: np.ndarray, r: int = 1, eps: float = 1e-7,
                ridge: float = 1e-6, prior: np.ndarray | None = None) -> np.ndarray:
    """Alphas minimising ``a^T L a`` with ``a = values`` on ``known`` pixels (hard constraints).

    Parameters
    ----------
    img : HxW or HxWxC guide image for the matting Laplacian
    known : bool HxW, pixels whose alpha is fixed
    values : (M, H, W) known alphas for M mattes solved with one factorisation
        (only read where ``known``)
    ridge : weight of a weak pull of the unknowns towards ``prior`` (default
        0.5) - it keeps the system non-singular for unknown regions that no
        window connects to a known pixel and is negligible elsewhere
    prior : (M, H, W) values the ridge pulls towards

    Returns
    -------
    (M, H, W) float64 alphas (not clipped).
    """
    known = np.asarray(known, bool)
    vals = np.asarray(values, np.float64)
    if vals.ndim == 2:
        vals = vals[None]
    m = vals.shape[0]
    h, w = known.shape
    out = vals.reshape(m, -1).copy()
    unknown = ~known
    if not unknown.any():
        return out.reshape(m, h, w)
    k = 2 * r + 1
    active = cv2.dilate(unknown.astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    L = matting_laplacian(img, active, r, eps)
    u = np.flatnonzero(unknown.ravel())
    kn = np.flatnonzero(known.ravel())
    Lu = L[u]
    Luu = Lu[:, u].tocsc()
    Luk = Lu[:, kn]
    A = (Luu + ridge * sparse.identity(u.size, format="csc")).tocsc()
    pri = np.full((m, h * w), 0.5) if prior is None else np.asarray(prior, np.float64).reshape(m, -1)
    B = np.stack([-(Luk @ out[j, kn]) + ridge * pri[j, u] for j in range(m)], axis=1)
    lu = splu(A, permc_spec="COLAMD")
    X = lu.solve(B)
    out[:, u] = X.T
    return out.reshape(m, h, w)
