"""MESPD (Li, Chan, Qi & Xie, TCSVT 2021): reference transliteration, invariants, pinned values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import kede_sequence

import pixfuse
from pixfuse.errors import ParameterError
from pixfuse.methods.exposure import _gamma_exposedness, mespd
from pixfuse.metrics.exposure import mef_ms_ssim
from pixfuse.ops.filters import box_mean, edge_preserving_mean, window_count


# ----------------------------------------------------------------- literal float64 transliteration

def _boxsum(a: np.ndarray, r: int) -> np.ndarray:
    """Window sum with zero outside the image, by explicit shifts (slow, obvious)."""
    h, w = a.shape
    p = np.zeros((h + 2 * r, w + 2 * r))
    p[r:r + h, r:r + w] = a
    out = np.zeros((h, w))
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out += p[dy:dy + h, dx:dx + w]
    return out


def _ref_scale(I: list[np.ndarray], r: int, lam: float, p: float = 6.0, base: bool = False):
    h, w = I[0].shape[:2]
    N = _boxsum(np.ones((h, w)), r)
    R = 2 * r + 1
    Cs, a_s, ms = [], [], []
    for img in I:
        if img.ndim == 3:
            mu = sum(_boxsum(img[:, :, c], r) / N for c in range(3)) / 3
            var = (sum(_boxsum(img[:, :, c] ** 2, r) / N for c in range(3)) - 3 * mu * mu) / 3
            a = var / (var + lam)
            m = sum(mu * (1 - a) + a * img[:, :, c] for c in range(3)) / 3
            C = np.sqrt(np.maximum(var, 0)) * math.sqrt(3 * R * R) + 1e-12
        else:
            mu = _boxsum(img, r) / N
            var = _boxsum(img * img, r) / N - mu * mu
            a = var / (var + lam)
            m = mu * (1 - a) + a * img
            C = np.sqrt(np.maximum(var, 0)) * R + 1e-12
        Cs.append(C)
        a_s.append(a)
        ms.append(m)
    Cmax = np.max(Cs, axis=0)
    norm = sum(C ** p + 1e-12 for C in Cs)
    out = 0.0
    for k, img in enumerate(I):
        W = Cmax * Cs[k] ** (p - 1) * (1 - a_s[-1]) / norm
        w2 = _boxsum(W, r) / N
        w1 = _boxsum(ms[k] * W, r) / N
        out = out + (w2[:, :, None] * img - w1[:, :, None] if img.ndim == 3 else w2 * img - w1)
    if base:
        def g(x):
            x = np.asarray(x, float)
            y = np.zeros_like(x)
            k = 0.25 ** (1 - 5)
            y += np.where(x <= 0.25, x ** 5 * k, 0)
            y += np.where((x > 0.25) & (x < 0.5), 0.5 - (0.5 - x) ** 5 * k, 0)
            y += np.where((x >= 0.5) & (x < 0.75), 0.5 - (x - 0.5) ** 5 * k, 0)
            y += np.where((x >= 0.75) & (x <= 1), (1 - x) ** 5 * k, 0)
            return y
        WB = [2 * (g(m) + g(m.mean())) + 1e-12 for m in ms]
        tot = sum(WB)
        out = out + sum(_boxsum(ms[k] * WB[k] / tot, r) / N for k in range(len(I)))
    return out, [m[::2, ::2] for m in ms]


def _ref_up(x: np.ndarray, shape: tuple[int, int], r: int) -> np.ndarray:
    z = np.zeros(shape)
    z[::2, ::2] = x
    t = np.zeros(shape)
    t[::2, ::2] = 1
    return _boxsum(z, r) / _boxsum(t, r)


def _ref_mespd(I: list[np.ndarray], r1=4, r2=4, r3=3, lam=0.25, T=0.5) -> np.ndarray:
    h, w = I[0].shape[:2]
    D1, cur = _ref_scale(I, r1, lam)
    nlev = math.floor(math.log(min(h, w)) / math.log(2)) - 5
    Ds = []
    for _ in range(nlev):
        lam *= T
        shp = cur[0].shape
        d, cur = _ref_scale(cur, r2, lam)
        Ds.append((d, shp))
    lam *= T
    f, _ = _ref_scale(cur, r3, lam, base=True)
    for d, shp in reversed(Ds):
        f = _ref_up(f, shp, r2) + d
    up = _ref_up(f, (h, w), r1)
    return (up[:, :, None] if D1.ndim == 3 else up) + D1


def test_matches_literal_reference_code(venice_half: list[np.ndarray]) -> None:
    seq = [im[30:110, 40:140].astype(np.float64) for im in venice_half]     # 80x100: one intermediate scale
    ref = _ref_mespd(seq)
    got = mespd([s.astype(np.float32) for s in seq])
    assert np.abs(got - ref).max() < 2e-5
    grey = [s.mean(axis=2) for s in seq]                                      # the code's grey branch
    assert np.abs(mespd([g.astype(np.float32) for g in grey]) - _ref_mespd(grey)).max() < 2e-5


def test_gamma_curve_values() -> None:
    x = np.array([0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0, 1.2])
    k = 256.0
    want = [0, 0.1 ** 5 * k, 0.25, 0.5 - 0.1 ** 5 * k, 0.5, 0.5 - 0.1 ** 5 * k, 0.25, 0.1 ** 5 * k, 0, 0]
    assert np.allclose(_gamma_exposedness(x), want, atol=1e-15)


def test_box_mean_and_window_count_match_the_literal_window() -> None:
    rng = np.random.default_rng(2)
    for h, w, r in [(40, 50, 2), (7, 3, 10), (1, 9, 3), (12, 12, 0)]:
        ones = np.ones((h, w))
        np.testing.assert_array_equal(window_count((h, w), r), _boxsum(ones, r))   # exact integers
        x = rng.random((h, w, 3)).astype(np.float32)
        got = box_mean(x, r)
        for c in range(3):
            np.testing.assert_allclose(got[:, :, c], _boxsum(x[:, :, c].astype(np.float64), r) / _boxsum(ones, r),
                                       atol=1e-6)
        np.testing.assert_array_equal(box_mean(x[:, :, 1], r), got[:, :, 1])       # grey = one channel


def test_edge_preserving_mean_limits() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((40, 50)).astype(np.float32)
    q, a = edge_preserving_mean(x, 2, 1e-12)          # lam -> 0: the pixel itself
    assert np.abs(q - x).max() < 1e-6 and a.min() > 0.999
    q, a = edge_preserving_mean(x, 2, 1e9)            # lam -> inf: the box mean
    bm = _boxsum(x.astype(np.float64), 2) / _boxsum(np.ones(x.shape), 2)
    assert np.abs(q - bm).max() < 1e-6
    c = np.full((20, 20, 3), 0.3, np.float32)         # constant: unchanged
    q, a = edge_preserving_mean(c, 3, 0.1)
    assert np.abs(q - 0.3).max() < 1e-6 and np.abs(a).max() < 1e-5
    with pytest.raises(ParameterError, match="lam"):
        edge_preserving_mean(x, 2, 0.0)


def test_constant_frames_return_the_frame() -> None:
    # a grey-valued constant (the code pools the variance over the channels, so a coloured constant
    # has non-zero "variance" and is desaturated by the (1 - a) factor of the detail weights)
    f = np.full((70, 90, 3), 0.35, np.float32)
    out = pixfuse.fuse([f, f, f], "mespd")
    assert np.abs(out - f).max() < 1e-6
    g = np.full((70, 90), 0.8, np.float32)
    assert np.abs(pixfuse.fuse([g, g], "mespd") - g).max() < 1e-6


def test_identical_frames_close_to_the_frame(venice_half: list[np.ndarray]) -> None:
    # not exact: the detail weights of N identical frames are (1 - a) / N (see the docstring), so a
    # fraction ~a(1-a) of the local contrast is lost at every scale (measured: mean |error| 0.0508,
    # max 0.163 on this crop); without the damping factor the pipeline is nearly an identity
    im = venice_half[1][:128, :160]
    out = pixfuse.fuse([im, im], "mespd")
    err = np.abs(out - im)
    assert 0.04 < err.mean() < 0.06 and err.max() < 0.2
    assert abs(float((out - im).mean())) < 5e-3                      # no brightness shift, only contrast
    und = np.abs(pixfuse.fuse([im, im], "mespd", damping="none") - im)
    assert und.mean() < 5e-3
    assert np.abs(out - pixfuse.fuse([im, im, im], "mespd")).max() < 1e-5   # N-independent


def test_determinism_range_and_grey(venice_half: list[np.ndarray]) -> None:
    seq = [im[:96, :128] for im in venice_half]
    a = pixfuse.fuse(seq, "mespd")
    b = pixfuse.fuse(seq, "mespd")
    assert np.array_equal(a, b) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    raw = mespd(seq)
    assert raw.min() > -0.2 and raw.max() < 1.2                   # unclipped overshoot (measured -0.108)
    g = pixfuse.fuse([s.mean(axis=2) for s in seq], "mespd")
    assert g.shape == seq[0].shape[:2] and 0.2 < g.mean() < 0.8


def test_damping_options(venice_half: list[np.ndarray]) -> None:
    seq = [im[:96, :128] for im in venice_half]
    last = pixfuse.fuse(seq, "mespd")
    assert np.array_equal(last, pixfuse.fuse(seq, "mespd", damping="last"))
    # the code's factor uses the last frame: the order matters for "last", not for "own"
    rev = pixfuse.fuse(seq[::-1], "mespd")
    assert np.abs(rev - last).max() > 1e-3
    own = pixfuse.fuse(seq, "mespd", damping="own")
    assert np.abs(pixfuse.fuse(seq[::-1], "mespd", damping="own") - own).max() < 1e-5
    assert np.abs(pixfuse.fuse(seq, "mespd", damping="none") - last).max() > 1e-3


def test_bit_depths(venice_half: list[np.ndarray]) -> None:
    seq = [im[:96, :128] for im in venice_half]
    c = pixfuse.fuse(seq, "mespd")
    a = pixfuse.fuse([np.round(s * 255).astype(np.uint8) for s in seq], "mespd")
    b = pixfuse.fuse([np.round(s * 65535).astype(np.uint16) for s in seq], "mespd")
    assert np.abs(a - c).mean() < 2e-3 and np.abs(b - c).max() < 1e-3


# measured on Venice (3 frames) downscaled by 0.5 (256x171), sorted file order, defaults
PINNED_VENICE_HALF = {"mef_ms_ssim": 0.98092, "mean": 0.49721, "std": 0.26158, "p01": 0.0, "p99": 0.91796}


def test_pinned_venice_half(venice_half: list[np.ndarray]) -> None:
    out = pixfuse.fuse(venice_half, "mespd")
    got = {"mef_ms_ssim": mef_ms_ssim(out, venice_half), "mean": float(out.mean()), "std": float(out.std()),
           "p01": float(np.percentile(out, 1)), "p99": float(np.percentile(out, 99))}
    for k, v in PINNED_VENICE_HALF.items():
        assert got[k] == pytest.approx(v, abs=2e-4 if k != "mef_ms_ssim" else 1e-3), k


@pytest.mark.parametrize("params", [{"lam": 0.0}, {"lam_decay": -1.0}, {"r": 0}, {"r_coarse": 0},
                                    {"damping": "first"}, {"p": -1.0}, {"bogus": 1}])
def test_bad_parameters(venice_half: list[np.ndarray], params: dict) -> None:
    seq = [im[:64, :64] for im in venice_half]
    with pytest.raises(ParameterError):
        pixfuse.fuse(seq, "mespd", **params)
