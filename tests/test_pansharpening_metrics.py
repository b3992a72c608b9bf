"""Pansharpening quality indices (toolbox conventions): analytic cases, literal re-derivations, pinned values."""
from __future__ import annotations

import numpy as np
import pytest

import pixfuse
from pixfuse.errors import InputError, ParameterError
from pixfuse.metrics import spectral as sp
from pixfuse.ops.resample import interp23tap

from conftest import data_path


def _scene(name="imgWV2.mat"):
    from pixfuse.io.mat import load_pansharpening_mat

    return load_pansharpening_mat(data_path("pansharpening", "grip_unina_pnn", name))


# --------------------------------------------------------------- literal toolbox q2n (slow, small inputs)

def _lit_onion(o1, o2):
    n = len(o1)
    if n == 1:
        return o1 * o2
    h = n // 2
    a, b = o1[:h], np.r_[o1[h], -o1[h + 1:]]
    c, d = o2[:h], np.r_[o2[h], -o2[h + 1:]]
    if n == 2:
        return np.r_[a * c - d * b, a * d + c * b]
    r1 = _lit_onion(a, c)
    r2 = _lit_onion(d, np.r_[b[0], -b[1:]])
    r3 = _lit_onion(np.r_[a[0], -a[1:]], d)
    r4 = _lit_onion(c, b)
    return np.r_[r1 - r2, r3 + r4]


def _lit_onions_quality(d1, d2, size):
    d1 = d1.astype(float).copy()
    d2 = d2.astype(float).copy()
    d2[:, :, 1:] *= -1
    n3 = d1.shape[2]
    for i in range(n3):
        s = d1[:, :, i].mean()
        t = d1[:, :, i].std(ddof=1) or np.finfo(float).eps
        d1[:, :, i] = (d1[:, :, i] - s) / t + 1
        if s == 0:
            d2[:, :, i] = d2[:, :, i] - s + 1 if i == 0 else -(-d2[:, :, i] - s + 1)
        else:
            d2[:, :, i] = (d2[:, :, i] - s) / t + 1 if i == 0 else -((-d2[:, :, i] - s) / t + 1)
    m1 = d1.mean(axis=(0, 1))
    m2 = d2.mean(axis=(0, 1))
    npix = size * size
    k = npix / (npix - 1)
    q1m, q2m = np.sqrt((m1 ** 2).sum()), np.sqrt((m2 ** 2).sum())
    int1 = k * ((d1 ** 2).sum(axis=2)).mean()
    int2 = k * ((d2 ** 2).sum(axis=2)).mean()
    t3 = int1 + int2 - k * (q1m ** 2 + q2m ** 2)
    mb = 2 * q1m * q2m / (q1m ** 2 + q2m ** 2)
    if t3 == 0:
        q = np.zeros(n3)
        q[-1] = mb
        return q
    qu = np.array([[_lit_onion(d1[y, x], d2[y, x]) for x in range(size)] for y in range(size)])
    qv = k * qu.mean(axis=(0, 1))
    return (qv - k * _lit_onion(m1, m2)) * mb * 2 / t3


def _lit_q2n(gt, fu, bs):
    gt = np.floor(np.clip(gt, 0, 65535) + 0.5)
    fu = np.floor(np.clip(fu, 0, 65535) + 0.5)
    vals = []
    for y in range(0, gt.shape[0], bs):
        for x in range(0, gt.shape[1], bs):
            q = _lit_onions_quality(gt[y:y + bs, x:x + bs], fu[y:y + bs, x:x + bs], bs)
            vals.append(np.sqrt((q ** 2).sum()))
    return float(np.mean(vals))


def test_q2n_matches_literal_toolbox_algorithm():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 2048, (16, 16, 4)).astype(float)
    fu = gt + rng.normal(0, 150, gt.shape)
    fu[0, 0, 0] = -5.0  # negative -> 0 in the uint16 cast
    assert sp.q2n_index(gt, fu, 8) == pytest.approx(_lit_q2n(gt, fu, 8), rel=1e-10)
    # a constant reference block (std 0 -> eps) and a zero band
    gt[:8, :8, 1] = 700
    gt[:, :, 3] = 0
    assert sp.q2n_index(gt, fu, 8) == pytest.approx(_lit_q2n(gt, fu, 8), rel=1e-8)


def test_analytic_identities():
    sc = _scene()
    ms = sc.ms.astype(float)
    assert sp.q2n_index(ms, ms) == pytest.approx(1.0, abs=1e-12)
    assert sp.q_avg(ms, ms) == pytest.approx(1.0, abs=1e-12)
    assert sp.sam_index(ms, ms) == 0.0
    assert sp.ergas_index(ms, ms) == 0.0
    assert sp.scc_index(ms, ms) == pytest.approx(1.0)
    r = pixfuse.evaluate(ms, [], metrics=["q2n", "q", "sam", "ergas", "scc", "rmse_ref", "cc_ref", "ssim_ref",
                                          "psnr_ref"], reference=ms)
    assert r["q2n"] == pytest.approx(1) and r["q"] == pytest.approx(1) and r["sam"] == 0 and r["ergas"] == 0
    assert r["rmse_ref"] == 0 and r["cc_ref"] == pytest.approx(1) and r["ssim_ref"] == pytest.approx(1)
    assert r["psnr_ref"] == np.inf


def test_sam_known_angle_and_ergas_formula():
    a = np.zeros((50, 50, 2))
    a[..., 0] = 1.0
    b = np.zeros((50, 50, 2))
    b[..., 0] = 1.0
    b[..., 1] = 1.0
    assert sp.sam_index(a, b) == pytest.approx(45.0)
    gt = np.full((50, 50, 2), 100.0)
    fu = gt + 10.0
    # 100/4 * sqrt(mean(100/100^2)) = 25 * 0.1
    assert sp.ergas_index(gt, fu, 4) == pytest.approx(2.5)


def test_degradation_lowers_quality():
    sc = _scene("imgGE1.mat")
    ms = sc.ms.astype(float)
    rng = np.random.default_rng(0)
    worse = [ms + rng.normal(0, s, ms.shape) for s in (2, 8)]
    q = [sp.q2n_index(ms, w) for w in worse]
    e = [sp.ergas_index(ms, w) for w in worse]
    assert 1 > q[0] > q[1] and 0 < e[0] < e[1]


def test_reduced_resolution_values_pinned():
    sc = _scene()
    ms = sc.ms.astype(float)
    rng = np.random.default_rng(0)
    noisy = ms + rng.normal(0, 20, ms.shape)
    r = pixfuse.evaluate(noisy, [], metrics=["q2n", "q", "sam", "ergas", "scc"], reference=ms,
                         options={"ratio": 4})
    pinned = {"q2n": 0.976633, "q": 0.985377, "sam": 2.832033, "ergas": 1.336834, "scc": 0.997326}
    for k, v in pinned.items():
        assert r[k] == pytest.approx(v, rel=2e-4), k


def test_full_resolution_indices():
    sc = _scene("imgGE1.mat")
    pan = sc.pan[:256, :256]
    ms = sc.ms[:64, :64]
    up = interp23tap(ms, 4)
    vals = sp.qnr_values(up, [pan, ms], sensor="GeoEye1")
    assert vals["d_lambda"] == pytest.approx(0.0, abs=1e-12)  # the interpolated MS has the MS's inter-band Q
    assert 0 < vals["d_s"] < 1 and 0 < vals["d_lambda_k"] < 1
    assert vals["qnr"] == pytest.approx((1 - vals["d_lambda"]) * (1 - vals["d_s"]))
    assert vals["hqnr"] == pytest.approx((1 - vals["d_lambda_k"]) * (1 - vals["d_s"]))
    r = pixfuse.evaluate(up, [pan, ms], metrics=["d_lambda", "d_s", "qnr", "d_lambda_k", "hqnr"],
                         options={"sensor": "GeoEye1"})
    for k in r:
        assert r[k] == pytest.approx(vals[k], rel=1e-12)


def test_bad_inputs():
    ms = np.ones((64, 64, 4))
    with pytest.raises(InputError, match="same shape"):
        pixfuse.evaluate(ms, [], metrics=["sam"], reference=ms[:32])
    with pytest.raises(InputError, match="multiples of the block"):
        pixfuse.evaluate(np.ones((100, 100, 4)), [np.ones((100, 100)), np.ones((25, 25, 4))], metrics=["qnr"])
    with pytest.raises(InputError, match="pan, ms"):
        pixfuse.evaluate(ms, [np.ones((64, 64))], metrics=["d_s"])
    with pytest.raises(ParameterError, match="not accepted"):
        pixfuse.evaluate(ms, [], metrics=["sam"], reference=ms, options={"bogus": 1})
    with pytest.raises(InputError, match="too small"):
        pixfuse.evaluate(ms[:30, :30], [], metrics=["q2n"], reference=ms[:30, :30])
