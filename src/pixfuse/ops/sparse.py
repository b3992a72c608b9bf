"""Sparse coding building blocks: batched OMP, K-SVD dictionary learning, patch extraction.

Everything works on many signals at once (columns of a matrix) so that the
Python loop runs over atoms, never over patches.

References
----------
Y. C. Pati, R. Rezaiifar and P. S. Krishnaprasad, "Orthogonal matching
pursuit: recursive function approximation with applications to wavelet
decomposition", Proc. 27th Asilomar Conf., 1993.

M. Aharon, M. Elad and A. Bruckstein, "K-SVD: an algorithm for designing
overcomplete dictionaries for sparse representation", IEEE Trans. Signal
Processing 54(11):4311-4322, 2006.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

import numpy as np

from ..errors import InputError

_CHUNK = 4096
#: Threads coding chunks of signals at once (results do not depend on it).
OMP_THREADS = max(1, min(2, os.cpu_count() or 1))


def normalize_columns(d: np.ndarray) -> np.ndarray:
    """Dictionary with unit-L2 columns (float32)."""
    d = np.asarray(d, np.float32)
    n = np.linalg.norm(d, axis=0)
    return d / np.where(n > 0, n, 1.0)


def omp(d: np.ndarray, x: np.ndarray, *, tol: float | None = None, max_atoms: int | None = None,
        return_coefs: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Orthogonal matching pursuit of every column of ``x`` on the unit-norm dictionary ``d``.

    Stops per signal when the residual L2 norm is ``<= tol`` (error-constrained,
    as ompbox's ``omp2``) or after ``max_atoms`` atoms (default: the signal
    dimension).  Implemented with a progressive Gram-Schmidt factorisation of
    the selected atoms, batched over signals (chunks of ``_CHUNK`` signals run
    on up to :data:`OMP_THREADS` threads; every signal's arithmetic is the
    same whatever its chunk, position or thread, so results do not depend on
    them).

    Parameters
    ----------
    d : (n, K) dictionary with unit-norm columns
    x : (n, N) signals
    tol : residual norm target (None: run ``max_atoms`` iterations)
    max_atoms : cap on the number of atoms per signal

    Returns
    -------
    approx : (n, N) float32 sparse approximations ``D gamma``
    coefs : (K, N) float32 coefficients (zeros if ``return_coefs`` is False)
    """
    d = np.asarray(d, np.float32)
    x = np.asarray(x, np.float32)
    n, k_atoms = d.shape
    if x.shape[0] != n:
        raise InputError(f"omp: signals have dimension {x.shape[0]}, dictionary atoms {n}")
    kmax = n if max_atoms is None else int(min(max_atoms, n))
    approx = np.empty_like(x)
    coefs = np.zeros((k_atoms, x.shape[1]), np.float32)

    def run(s: int) -> None:
        a, c, idx = _omp_chunk(d, x[:, s : s + _CHUNK].T, tol, kmax)
        approx[:, s : s + _CHUNK] = a.T
        if return_coefs:
            flat = (np.arange(a.shape[0])[:, None] * k_atoms + idx).ravel()
            sub = np.bincount(flat, weights=c.ravel(), minlength=a.shape[0] * k_atoms)
            coefs[:, s : s + _CHUNK] = sub.reshape(a.shape[0], k_atoms).T

    starts = range(0, x.shape[1], _CHUNK)
    if OMP_THREADS > 1 and len(starts) > 1:
        with ThreadPoolExecutor(OMP_THREADS) as pool:
            list(pool.map(run, starts))
    else:
        for s in starts:
            run(s)
    return approx, coefs


def _omp_chunk(d: np.ndarray, x: np.ndarray, tol: float | None, kmax: int):
    m, n = x.shape
    r = x.copy()
    q = np.zeros((m, kmax, n), np.float32)
    rr = np.zeros((m, kmax, kmax), np.float32)
    cc = np.zeros((m, kmax), np.float32)
    sel = np.zeros((m, kmax), np.intp)
    count = np.zeros(m, np.intp)
    thr = -1.0 if tol is None else float(tol) ** 2
    live = np.flatnonzero(np.einsum("ij,ij->i", r, r) > thr)
    for k in range(kmax):
        if live.size == 0:
            break
        rl = r[live]
        corr = rl @ d
        j = np.argmax(np.abs(corr), axis=1)
        atom = d[:, j].T  # (L, n)
        if k:
            ql = q[live, :k]
            proj = np.einsum("lkn,ln->lk", ql, atom)
            v = atom - np.einsum("lk,lkn->ln", proj, ql)
            # one re-orthogonalisation pass keeps Q orthonormal in float32
            p2 = np.einsum("lkn,ln->lk", ql, v)
            v -= np.einsum("lk,lkn->ln", p2, ql)
            proj += p2
            rr[live, :k, k] = proj
        else:
            v = atom
        nv = np.linalg.norm(v, axis=1)
        ok = nv > 1e-6  # atom (numerically) in the span already: stop that signal
        nv = np.where(ok, nv, 1.0)
        qk = v / nv[:, None]
        ck = np.einsum("ln,ln->l", qk, rl) * ok
        rr[live, k, k] = nv
        cc[live, k] = ck
        r[live] = rl - ck[:, None] * qk
        q[live, k] = qk
        sel[live, k] = j
        count[live] += ok
        res = np.einsum("ln,ln->l", r[live], r[live])
        live = live[ok & (res > thr)]
    # back substitution R gamma = c, vectorised over signals (unused slots -> 0)
    gam = np.zeros((m, kmax), np.float32)
    ks = np.arange(kmax)
    used = ks[None, :] < count[:, None]
    diag = np.where(used, rr[:, ks, ks], 1.0)
    for t in range(kmax - 1, -1, -1):
        acc = cc[:, t] - np.einsum("lk,lk->l", rr[:, t, t + 1 :], gam[:, t + 1 :])
        gam[:, t] = np.where(used[:, t], acc / diag[:, t], 0.0)
    return x - r, gam, sel


def ksvd(x: np.ndarray, n_atoms: int, sparsity: int, iterations: int, seed: int = 0,
         init: np.ndarray | None = None, verbose: bool = False) -> np.ndarray:
    """K-SVD dictionary learning (Aharon, Elad & Bruckstein 2006) with sparsity-constrained OMP.

    Parameters
    ----------
    x : (n, N) training signals (e.g. mean-removed patches)
    n_atoms : dictionary size K
    sparsity : atoms per signal in the coding step
    iterations : K-SVD iterations
    seed : random seed (replacement of unused atoms)
    init : (n, K) initial dictionary (default: overcomplete DCT)

    Returns
    -------
    (n, K) float32 dictionary with unit-norm columns.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float32)
    n = x.shape[0]
    d = normalize_columns(overcomplete_dct(n, n_atoms) if init is None else init)
    for it in range(iterations):
        _, g = omp(d, x, max_atoms=sparsity)
        # signals worst represented, used to replace atoms nobody uses
        err = np.linalg.norm(x - d @ g, axis=0)
        spare = list(np.argsort(err)[::-1][: n_atoms])
        for k in rng.permutation(n_atoms):
            users = np.flatnonzero(g[k])
            if users.size == 0:
                j = spare.pop(0)
                d[:, k] = x[:, j] / max(float(np.linalg.norm(x[:, j])), 1e-12)
                continue
            g[k, users] = 0.0
            e = x[:, users] - d @ g[:, users]
            u, sv, vt = np.linalg.svd(e, full_matrices=False)
            d[:, k] = u[:, 0]
            g[k, users] = sv[0] * vt[0]
        if verbose:
            print(f"K-SVD iteration {it + 1}/{iterations}: RMSE {float(np.sqrt(np.mean(err ** 2))):.5f}", flush=True)
    return normalize_columns(d)


def overcomplete_dct(n: int, n_atoms: int) -> np.ndarray:
    """Separable overcomplete DCT dictionary of ``sqrt(n) x sqrt(n)`` patches with ``n_atoms`` atoms."""
    p = int(round(np.sqrt(n)))
    k = int(np.ceil(np.sqrt(n_atoms)))
    d1 = np.cos(np.outer(np.arange(p), np.arange(k)) * np.pi / k)
    d1[:, 1:] -= d1[:, 1:].mean(axis=0)
    d1 /= np.linalg.norm(d1, axis=0)
    return np.kron(d1, d1)[:, :n_atoms].astype(np.float32)


def extract_patches(img: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns of all ``size`` x ``size`` patches on a grid of step ``stride`` (column-major pixel order).

    Returns ``(patches (size*size, N), ys, xs)`` with the top-left corners.
    """
    h, w = img.shape
    ys = np.arange(0, h - size + 1, stride)
    xs = np.arange(0, w - size + 1, stride)
    win = np.lib.stride_tricks.sliding_window_view(np.asarray(img, np.float32), (size, size))
    sub = win[ys][:, xs]  # (ny, nx, size, size)
    cols = sub.transpose(0, 1, 3, 2).reshape(len(ys) * len(xs), size * size).T
    return np.ascontiguousarray(cols), ys, xs


def aggregate_patches(cols: np.ndarray, ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int],
                      size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum patches back into an image; returns ``(sum, count)``."""
    acc = np.zeros(shape, np.float64)
    cnt = np.zeros(shape, np.float64)
    p = cols.T.reshape(len(ys), len(xs), size, size).transpose(0, 1, 3, 2)
    for dy in range(size):
        for dx in range(size):
            acc[np.ix_(ys + dy, xs + dx)] += p[:, :, dy, dx]
            cnt[np.ix_(ys + dy, xs + dx)] += 1.0
    return acc, cnt


# ----------------------------------------------------------------- shipped dictionary

#: sha256 of the shipped ``pixfuse/data/sr_dictionary.npz`` (regenerate with
#: ``scripts/learn_sr_dictionary.py`` and update this value).
SR_DICTIONARY_SHA256 = "e36e3752bdbeb822f947c02162e2ff34d688f19698c4f80d44a1b3419a909ea9"


def load_sr_dictionary() -> np.ndarray:
    """The 64 x 256 patch dictionary learned by ``scripts/learn_sr_dictionary.py``; checks its sha256."""
    ref = resources.files("pixfuse").joinpath("data", "sr_dictionary.npz")
    raw = ref.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SR_DICTIONARY_SHA256:
        raise RuntimeError(
            f"pixfuse/data/sr_dictionary.npz is corrupt or modified (sha256 {digest}, expected {SR_DICTIONARY_SHA256}); "
            "regenerate it with scripts/learn_sr_dictionary.py"
        )
    import io

    with np.load(io.BytesIO(raw)) as z:
        return normalize_columns(z["D"])
