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
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

import numpy as np

from ..errors import InputError
from .threads import blas_threads

#: Signals per chunk: the chunk's Gram-Schmidt basis (up to 64 x 64 floats a signal, about
#: the first ``k`` slots in use) then stays in the L2/L3 caches (tuned on 8x8 patches: 384-512
#: beat 1024 by ~30 % and 2048 by ~85 % CPU in a one-off, unscripted measurement -- no benchmark in
#: benchmarks/ varies it; results do not depend on it).
_CHUNK = 512
#: Threads coding chunks of signals at once (results do not depend on it).
OMP_THREADS = max(1, min(2, os.cpu_count() or 1))
#: A chunk's working set is compacted (finished signals dropped) once at most this fraction
#: of its rows is still running; until then finished rows ride along masked (results do not
#: depend on it).
_COMPACT = 0.8


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
    dimension), or when the chosen atom is (numerically) in the span of the
    chosen ones already.

    Each step picks the atom of largest ``|D^T r|`` (one float32 BLAS product
    per step for the chunk), orthogonalises it against the signal's previous
    atoms by classical Gram-Schmidt with one re-orthogonalisation pass
    (``R`` of a QR factorisation of the chosen atoms, kept explicitly), and
    updates the residual ``r`` and its norm directly, so the stopping test
    sees the residual itself.  The coefficients solve ``R gamma = Q^T x``
    once at the end.  Signals run batched in chunks of ``_CHUNK`` (on up to
    :data:`OMP_THREADS` threads, BLAS single-threaded inside): the basis of a
    chunk is stored signal-major ``(signal, slot, n)`` so that the
    projections are ``np.matmul`` on contiguous per-signal blocks, finished
    signals are dropped by compacting the working set only every few steps
    (:data:`_COMPACT`), and work buffers are reused across a thread's chunks.
    Every signal's arithmetic is the same whatever its chunk, position or
    thread, so results do not depend on them.

    Parameters
    ----------
    d : (n, K) dictionary with unit-norm columns
    x : (n, N) signals
    tol : residual norm target (None: run ``max_atoms`` iterations)
    max_atoms : cap on the number of atoms per signal

    Returns
    -------
    approx : (n, N) float32 sparse approximations ``D gamma`` (``x`` minus the residual)
    coefs : (K, N) float32 coefficients (zeros if ``return_coefs`` is False)

    References
    ----------
    Y. C. Pati, R. Rezaiifar and P. S. Krishnaprasad, "Orthogonal matching
    pursuit", Proc. 27th Asilomar Conf., 1993.  R. Rubinstein, M. Zibulevsky
    and M. Elad, "Efficient implementation of the K-SVD algorithm using batch
    orthogonal matching pursuit", Technion CS-2008-08 (the error-constrained
    ``omp2`` stopping rule).
    """
    d = np.asarray(d, np.float32)
    x = np.asarray(x, np.float32)
    n, k_atoms = d.shape
    if x.shape[0] != n:
        raise InputError(f"omp: signals have dimension {x.shape[0]}, dictionary atoms {n}")
    kmax = n if max_atoms is None else int(max(0, min(max_atoms, n)))
    thr = -1.0 if tol is None else float(tol) ** 2
    total = x.shape[1]
    approx = np.empty_like(x)
    coefs = np.zeros((k_atoms, total), np.float32)
    dt = np.ascontiguousarray(d.T)
    starts = list(range(0, total, _CHUNK))
    lock = threading.Lock()

    def worker() -> None:
        work = _Work(min(_CHUNK, total), kmax, n, k_atoms)
        while True:
            with lock:
                if not starts:
                    return
                s = starts.pop(0)
            xs = np.ascontiguousarray(x[:, s : s + _CHUNK].T)
            a, gam, sel = _omp_chunk(work, d, dt, xs, thr, kmax, return_coefs)
            approx[:, s : s + _CHUNK] = a.T
            if return_coefs:
                mm = a.shape[0]
                flat = (np.arange(mm)[:, None] * k_atoms + sel).ravel()
                sub = np.bincount(flat, weights=gam.ravel(), minlength=mm * k_atoms)
                coefs[:, s : s + mm] = sub.reshape(mm, k_atoms).T

    nthreads = min(OMP_THREADS, len(starts))
    with blas_threads(1):
        if nthreads > 1:
            with ThreadPoolExecutor(nthreads) as pool:
                for f in [pool.submit(worker) for _ in range(nthreads)]:
                    f.result()
        elif starts:
            worker()
    return approx, coefs


class _Work:
    """Per-thread OMP buffers for chunks of up to ``m`` signals (allocated once, reused)."""

    def __init__(self, m: int, kmax: int, n: int, k_atoms: int):
        self.r = np.empty((m, n), np.float32)  # residuals of the running rows (compacted)
        self.q = np.empty((m, kmax, n), np.float32)  # orthonormal basis, signal-major (compacted)
        self.rt = np.zeros((m, kmax, kmax), np.float32)  # rt[i, k, :k] = R[:k, k] by chunk row
        self.diag = np.ones((m, kmax), np.float32)  # R[k, k]
        self.cc = np.zeros((m, kmax), np.float32)  # Q^T x
        self.sel = np.zeros((m, kmax), np.intp)  # chosen atoms
        self.corr = np.empty((m, k_atoms), np.float32)
        self.ids = np.empty(m, np.intp)


def _omp_chunk(w: _Work, d: np.ndarray, dt: np.ndarray, x: np.ndarray, thr: float, kmax: int,
               want_coefs: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OMP of the rows of ``x`` (m, n); returns (approx (m, n), gamma (m, kmax), atoms (m, kmax))."""
    m, n = x.shape
    r, q, rt, diag, cc, sel = w.r[:m], w.q, w.rt, w.diag, w.cc, w.sel
    np.copyto(r, x)
    ids = w.ids[:m]
    ids[:] = np.arange(m)
    cnt = np.zeros(m, np.intp)
    approx = np.empty_like(x)
    alive = np.einsum("ij,ij->i", r, r) > thr
    nal = int(np.count_nonzero(alive))
    live = m  # rows r[:live], q[:live] are in use; ids maps them to chunk rows
    ident = True  # ids[:live] == arange(live): plain slices address the per-row arrays
    for k in range(kmax):
        if nal <= _COMPACT * live:
            fin = np.flatnonzero(~alive[:live])
            o = ids[fin]
            approx[o] = x[o] - r[fin]
            if nal == 0:
                live = 0
                break
            keep = np.flatnonzero(alive[:live])
            live = keep.size
            r[:live] = r[keep]
            q[:live, :k] = q[keep, :k]
            ids[:live] = ids[keep]
            alive[:live] = True
            ident = False
        rl = r[:live]
        al = alive[:live]
        tg = slice(0, live) if ident else ids[:live]
        corr = np.matmul(rl, d, out=w.corr[:live])
        j = np.argmax(np.abs(corr, out=corr), axis=1)
        atom = dt[j]
        if k:
            ql = q[:live, :k]
            proj = np.matmul(ql, atom[:, :, None])[:, :, 0]
            v = atom - np.matmul(proj[:, None, :], ql)[:, 0]
            # one re-orthogonalisation pass keeps Q orthonormal in float32
            p2 = np.matmul(ql, v[:, :, None])[:, :, 0]
            v -= np.matmul(p2[:, None, :], ql)[:, 0]
            proj += p2
            rt[tg, k, :k] = proj
        else:
            v = atom
        nv = np.sqrt(np.einsum("ln,ln->l", v, v))
        ok = (nv > 1e-6) & al  # atom (numerically) in the span already: stop that signal
        nv = np.where(ok, nv, 1.0)
        qk = v / nv[:, None]
        ck = np.einsum("ln,ln->l", qk, rl) * ok  # finished rows keep their residual
        diag[tg, k] = nv
        cc[tg, k] = ck
        sel[tg, k] = j
        cnt[tg] += ok
        q[:live, k] = qk
        rl -= ck[:, None] * qk
        res = np.einsum("ln,ln->l", rl, rl)
        al &= ok & (res > thr)
        nal = int(np.count_nonzero(al))
    if live:
        o = ids[:live]
        approx[o] = x[o] - r[:live]
    gam = np.zeros((m, kmax), np.float32)
    if want_coefs:
        # back substitution R gamma = c column by column (R[:s, s] = rt[:, s, :s]); unused slots -> 0
        c = cc[:m].copy()
        for s in range(int(cnt.max(initial=0)) - 1, -1, -1):
            g = np.where(cnt > s, c[:, s] / diag[:m, s], np.float32(0.0))
            gam[:, s] = g
            if s:
                c[:, :s] -= g[:, None] * rt[:m, s, :s]
    return approx, gam, sel[:m]


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
