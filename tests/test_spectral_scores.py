"""One implementation of the reference-based spectral indices for pansharpening and the HSI protocol."""
from __future__ import annotations

import numpy as np
import pytest

from pixfuse.errors import InputError, ParameterError
from pixfuse.metrics import spectral as sp
from pixfuse.protocol.hsi import score


def _pair(seed=0, shape=(64, 56, 6)):
    rng = np.random.default_rng(seed)
    ref = rng.random(shape) * 0.8 + 0.1
    fused = np.clip(ref + rng.normal(0, 0.03, shape), 0, 1)
    return ref, fused


# --- literal transcription of the previous protocol scorers (the ones replaced), for PSNR/SAM/ERGAS/UIQI
def _old_psnr(ref, f):
    mse = ((ref - f) ** 2).mean(axis=(0, 1))
    return float(np.mean(10 * np.log10(ref.max(axis=(0, 1)) ** 2 / np.maximum(mse, 1e-30))))


def _old_sam(ref, f):
    num = (ref * f).sum(axis=2)
    den = np.sqrt((ref ** 2).sum(axis=2) * (f ** 2).sum(axis=2))
    ok = den > 0
    return float(np.degrees(np.arccos(np.clip(num[ok] / den[ok], -1, 1)).mean()))


def _old_ergas(ref, f, ratio):
    mse = ((ref - f) ** 2).mean(axis=(0, 1))
    return float(100.0 / ratio * np.sqrt(np.mean(mse / ref.mean(axis=(0, 1)) ** 2)))


def _old_uiqi_band(x, y, block=32):
    def box(a):
        c = np.cumsum(np.cumsum(np.pad(a, ((1, 0), (1, 0))), 0), 1)
        return c[block:, block:] - c[:-block, block:] - c[block:, :-block] + c[:-block, :-block]

    n = block * block
    sx, sy = box(x), box(y)
    sxx, syy, sxy = box(x * x), box(y * y), box(x * y)
    num = 4 * (n * sxy - sx * sy) * sx * sy
    den = (n * (sxx + syy) - sx ** 2 - sy ** 2) * (sx ** 2 + sy ** 2)
    q = np.ones_like(den)
    nz = den != 0
    q[nz] = num[nz] / den[nz]
    return float(q.mean())


def test_protocol_score_equals_previous_scorers():
    ref, f = _pair()
    s = score(ref, f, 4)
    assert s["PSNR"] == pytest.approx(_old_psnr(ref, f), rel=1e-12)
    assert s["SAM"] == pytest.approx(_old_sam(ref, f), rel=1e-12)
    assert s["ERGAS"] == pytest.approx(_old_ergas(ref, f, 4), rel=1e-12)
    old_q = np.mean([_old_uiqi_band(ref[:, :, b], f[:, :, b]) for b in range(ref.shape[2])])
    assert s["UIQI"] == pytest.approx(old_q, rel=1e-10)


def test_protocol_score_is_the_registered_metrics_without_cut():
    ref, f = _pair(1)
    s = score(ref, f, 8)
    ev = {
        "PSNR": sp.psnr_ref(f, [], ref, cut=0),
        "SAM": sp.sam(f, [], ref, cut=0),
        "ERGAS": sp.ergas(f, [], ref, ratio=8, cut=0),
        "SSIM": sp.ssim_ref(f, [], ref, data_range=1.0, cut=0),
        "UIQI": sp.q(f, [], ref, cut=0),
    }
    for k, v in ev.items():
        assert s[k] == pytest.approx(v, rel=1e-13), k


def test_ssim_analytic_values():
    ref, _ = _pair(2, (40, 40, 3))
    assert sp.ssim_index(ref, ref, 1.0) == pytest.approx(1.0, abs=1e-12)
    # a constant offset d on data of range 1: the (co)variances are unchanged, so the structure term is 1
    # and SSIM is the mean of the luminance term (2 mx my + C1) / (mx^2 + my^2 + C1), my = mx + d
    from pixfuse.metrics._common import gauss_valid

    c1 = 0.01 ** 2
    lum = []
    for b in range(ref.shape[2]):
        mx = gauss_valid(ref[:, :, b], 11, 1.5)
        lum.append(((2 * mx * (mx + 0.1) + c1) / (mx * mx + (mx + 0.1) ** 2 + c1)).mean())
    assert sp.ssim_index(ref, ref + 0.1, 1.0) == pytest.approx(np.mean(lum), rel=1e-10)
    # 11x11 'valid' window: a 12x12 image gives a 2x2 map; exact value on a gain change of a flat image
    flat = np.full((12, 12, 1), 0.5)
    exp = (2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1)
    assert sp.ssim_index(flat, flat * 0.5, 1.0) == pytest.approx(exp, rel=1e-12)


def test_cut_parameter_matches_toolbox_crop():
    ref, f = _pair(3, (96, 88, 4))
    ref, f = ref * 1000, f * 1000
    sl = (slice(20, -21), slice(20, -21))
    assert sp.sam_index(ref, f, cut=21) == sp.sam_index(ref[sl], f[sl])
    assert sp.ergas_index(ref, f, 4, cut=21) == sp.ergas_index(ref[sl], f[sl], 4)
    assert sp.q2n_index(ref, f, cut=21) == sp.q2n_index(ref[sl], f[sl])
    # the registered metric (cut 21 by default) is the same function
    assert sp.sam(f, [], ref) == sp.sam_index(ref, f, cut=21)
    r = sp.reference_scores(ref, f, ratio=4, cut=21, indices=("Q2n", "SAM", "ERGAS", "Q", "SCC"))
    assert r["ERGAS"] == sp.ergas(f, [], ref, ratio=4) and r["Q2n"] == sp.q2n(f, [], ref)
    assert r["Q"] == sp.q_avg(ref[sl], f[sl]) and r["SCC"] == sp.scc_index(ref[sl], f[sl])


def test_bad_arguments():
    ref, f = _pair(4, (30, 30, 3))
    with pytest.raises(ParameterError, match="unknown index"):
        sp.reference_scores(ref, f, indices=("NOPE",))
    with pytest.raises(InputError, match="too small for a border cut"):
        sp.sam_index(ref, f, cut=21)
    with pytest.raises(InputError, match="same shape"):
        sp.ergas_index(ref, f[:, :-1])
    with pytest.raises(ParameterError, match="cut must be"):
        sp.sam_index(ref, f, cut=-1)
