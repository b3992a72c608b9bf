"""The batched OMP (``pixfuse.ops.sparse.omp``) against a literal, one-signal-at-a-time OMP.

The literal reference re-solves the least-squares problem on the chosen atoms at
every step in float64 (``numpy.linalg.lstsq``) and recomputes the residual from
scratch: no Gram-Schmidt, no batching, no chunks.  On random dictionaries the
batched float32 code must make exactly the same choices; on real 8x8 patches
of a medical image coded to 0.1 grey levels (what MST-SR does) the residual is
driven far below the signal's float32 rounding, so two correlations can tie to
that rounding and either choice is right: there the test bounds how often the
selections differ and checks that every first divergence is such a tie.
"""
from __future__ import annotations

import numpy as np
import pytest

import pixfuse.ops.sparse as sparse
from pixfuse.io import read_image
from pixfuse.ops.color import rgb_to_gray

from conftest import data_path

EPS32 = float(np.finfo(np.float32).eps)


def literal_omp(d: np.ndarray, x: np.ndarray, tol: float | None, kmax: int) -> tuple[list[int], np.ndarray]:
    """Textbook OMP of one signal in float64: (atom sequence, coefficients on it)."""
    d = np.asarray(d, np.float64)
    x = np.asarray(x, np.float64)
    thr = -1.0 if tol is None else tol**2
    sup: list[int] = []
    coef = np.zeros(0)
    r = x.copy()
    while len(sup) < kmax and r @ r > thr:
        sup.append(int(np.argmax(np.abs(d.T @ r))))
        coef = np.linalg.lstsq(d[:, sup], x, rcond=None)[0]
        r = x - d[:, sup] @ coef
    return sup, coef


def _sequences(d, x, tol, kmax):
    """The batched OMP's atom sequences per signal (chunk-level call, to see the order)."""
    xs = np.ascontiguousarray(x.T, dtype=np.float32)
    work = sparse._Work(xs.shape[0], kmax, xs.shape[1], d.shape[1])
    thr = -1.0 if tol is None else float(tol) ** 2
    approx, gam, sel = sparse._omp_chunk(work, d, np.ascontiguousarray(d.T), xs, thr, kmax)
    cnt = (gam != 0).sum(axis=1)
    return [list(sel[i, : cnt[i]]) for i in range(xs.shape[0])], gam, approx


def _compare_with_literal(d, x, tol, kmax) -> int:
    """Number of signals whose atom sequence differs from the literal OMP's.

    Where they agree, coefficients and approximation must agree too; where they
    differ, the first divergence must be a tie to float32 rounding: either two
    atoms whose float64 correlations with the common-prefix residual agree to
    2 ulps of the signal norm, or the same atoms with one side stopping on a
    residual norm equal to the target to 1e-3 relative.
    """
    approx, coefs = sparse.omp(d, x, tol=tol, max_atoms=kmax)
    seqs, _, _ = _sequences(d, x, tol, kmax)
    d64 = d.astype(np.float64)
    differ = 0
    for i in range(x.shape[1]):
        sup, coef = literal_omp(d, x[:, i], tol, kmax)
        got = seqs[i]
        if got == sup:
            np.testing.assert_allclose(coefs[sup, i], coef, rtol=0, atol=2e-4 * max(1.0, np.abs(coef).max()))
            assert np.count_nonzero(coefs[:, i]) == len(sup)
            np.testing.assert_allclose(approx[:, i], d64[:, sup] @ coef, rtol=0, atol=2e-5)
            continue
        differ += 1
        p = next((t for t in range(min(len(got), len(sup))) if got[t] != sup[t]), None)
        x64 = x[:, i].astype(np.float64)
        pre = sup[: min(len(got), len(sup))] if p is None else sup[:p]
        r = x64 - d64[:, pre] @ np.linalg.lstsq(d64[:, pre], x64, rcond=None)[0] if pre else x64
        if p is None:  # same atoms, one stopped earlier: the residual norm sits on the target
            assert abs(r @ r - tol**2) <= 1e-3 * tol**2, i
            continue
        c = np.abs(d64.T @ r)
        assert abs(c[got[p]] - c[sup[p]]) <= 2 * EPS32 * np.linalg.norm(x64), (i, p)
    if tol is not None:  # the error target is met (or the atom cap reached)
        res = np.linalg.norm(x - approx, axis=0)
        assert np.all((res <= tol * (1 + 1e-4)) | ((coefs != 0).sum(axis=0) == kmax))
    np.testing.assert_allclose(d @ coefs, approx, atol=2e-5 * max(1.0, float(np.abs(x).max())))
    return differ


@pytest.mark.parametrize("tol,kmax", [(None, 6), (0.35, 16), (1e-3, 16)])
def test_random_signals_match_literal_omp(tol, kmax):
    rng = np.random.default_rng(11)
    d = sparse.normalize_columns(rng.standard_normal((16, 48)))
    x = rng.standard_normal((16, 200)).astype(np.float32)
    # ties are rare on random data (one in 200 signals at the deepest setting)
    assert _compare_with_literal(d, x, tol, kmax) <= 2


def test_exactly_sparse_signals_are_recovered():
    rng = np.random.default_rng(5)
    d = sparse.normalize_columns(rng.standard_normal((32, 80)))
    g = np.zeros((80, 50), np.float32)
    for i in range(50):
        g[rng.choice(80, 3, replace=False), i] = rng.uniform(1, 2, 3) * rng.choice([-1, 1], 3)
    x = d @ g
    approx, coefs = sparse.omp(d, x, tol=1e-5)
    np.testing.assert_array_equal(coefs != 0, g != 0)
    np.testing.assert_allclose(coefs, g, atol=1e-4)
    np.testing.assert_allclose(approx, x, atol=1e-5)


def _real_patches(count: int = 400) -> np.ndarray:
    mri, _ = read_image(data_path("medical", "harvard", "PET-MRI", "MRI", "25020.png"))
    mri = rgb_to_gray(mri) if mri.ndim == 3 else mri
    crop = np.ascontiguousarray(mri[80:160, 80:160])
    cols, _, _ = sparse.extract_patches(crop, 8, 2)
    cols = cols - cols.mean(axis=0)
    keep = np.linalg.norm(cols, axis=0) > 0.1 / 255
    return np.ascontiguousarray(cols[:, keep][:, :count])


def test_real_patches_match_literal_omp_up_to_float32_ties():
    d = sparse.load_sr_dictionary()
    x = _real_patches()
    # MST-SR's epsilon = 0.1 on the 8-bit scale: deep pursuits (> 10 atoms on average)
    assert _compare_with_literal(d, x, 0.1 / 255, 64) <= 0.03 * x.shape[1]
    _, coefs = sparse.omp(d, x, tol=0.1 / 255)
    assert np.mean((coefs != 0).sum(axis=0)) > 10


@pytest.mark.parametrize("compact", [0.0, 0.5, 1.0])
def test_compaction_schedule_does_not_change_a_bit(monkeypatch, compact):
    d = sparse.load_sr_dictionary()
    x = _real_patches(300)
    a1, g1 = sparse.omp(d, x, tol=0.1 / 255)
    monkeypatch.setattr(sparse, "_COMPACT", compact)
    monkeypatch.setattr(sparse, "_CHUNK", 97)
    a2, g2 = sparse.omp(d, x, tol=0.1 / 255)
    assert np.array_equal(a1, a2) and np.array_equal(g1, g2)
    _, g3 = sparse.omp(d, x, tol=0.1 / 255, max_atoms=7)
    assert (g3 != 0).sum(axis=0).max() == 7


def test_edge_cases():
    d = sparse.load_sr_dictionary()
    x = _real_patches(20)
    a, g = sparse.omp(d, x, max_atoms=0)
    assert not a.any() and not g.any()
    a, g = sparse.omp(d, np.zeros((64, 0), np.float32), tol=0.1)
    assert a.shape == (64, 0) and g.shape == (256, 0)
    # zero signals need no atom; return_coefs=False keeps the approximation
    x[:, 3] = 0.0
    a1, g1 = sparse.omp(d, x, tol=1e-3)
    a2, g2 = sparse.omp(d, x, tol=1e-3, return_coefs=False)
    assert not g1[:, 3].any() and not a1[:, 3].any()
    assert np.array_equal(a1, a2) and not g2.any()
