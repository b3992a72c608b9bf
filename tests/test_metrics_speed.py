"""The fast metric kernels equal their literal definitions.

* FMI: the vectorised staircase evaluation (``information._fmi_core``) against a
  literal per-window transcription of Haghighat's ``fmi.m`` loops (81-cell joint
  pdf from the Frechet bounds written as ``0.5 (F + A -+ |F - A|)``), on real
  feature maps and on adversarial windows (ties, flat and one-spike windows,
  negative correlation, windows equal to the fused one);
* phase congruency: the cached, real-FFT filter bank against a direct
  transcription of ``phasecong3`` with full complex FFTs;
* ``evaluate(metrics="all")``: the task family inferred from the inputs.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

import pixfuse
from pixfuse.metrics import information as INF
from pixfuse.metrics._common import rgb2gray

from conftest import data_path

# --------------------------------------------------------------------- FMI


def _literal_window_fmi(a_sub: np.ndarray, f_sub: np.ndarray) -> float:
    """One window of ``fmi.m`` (3x3 blocks, not yet normalised), written as loops."""

    def pdf(x: np.ndarray) -> list[float]:
        lo, hi = x.min(), x.max()
        x = np.ones((3, 3)) if hi == lo else (x - lo) / (hi - lo)
        col = [x[r, c] for c in range(3) for r in range(3)]  # x(:)
        tot = (col[0] + col[1] + col[2]) + (col[3] + col[4] + col[5]) + (col[6] + col[7] + col[8])
        return [v / tot for v in col]

    ap, fp = pdf(a_sub), pdf(f_sub)
    acdf, fcdf = [ap[0]], [fp[0]]
    for k in range(1, 9):
        acdf.append(acdf[-1] + ap[k])
        fcdf.append(fcdf[-1] + fp[k])

    def seq(xs: list[float]) -> float:
        s = xs[0]
        for v in xs[1:]:
            s += v
        return s

    ma, mf = seq(ap) / 9, seq(fp) / 9
    at = [v - ma for v in ap]
    ft = [v - mf for v in fp]
    s = seq([x * y for x, y in zip(at, ft)])
    c = 0.0 if s == 0 else s / math.sqrt(seq([x * x for x in at]) * seq([y * y for y in ft]))

    def sd(p: list[float]) -> float:
        e = seq([(k + 1) * p[k] for k in range(9)])
        e2 = seq([(k + 1) ** 2 * p[k] for k in range(9)])
        return math.sqrt(max(e2 - e * e, 0.0))

    asd, fsd = sd(ap), sd(fp)
    if c >= 0:
        def bound(x: float, y: float) -> float:
            return 0.5 * (x + y - abs(x - y))
    else:
        def bound(x: float, y: float) -> float:
            return 0.5 * (x + y - 1 + abs(x + y - 1))
    if asd == 0 or fsd == 0 or c == 0:
        w = 0.0
    else:
        cov = 0.0
        for i in range(9):
            for j in range(9):
                cov += bound(fcdf[i], acdf[j]) - fcdf[i] * acdf[j]
        w = c / (cov / (fsd * asd))
    joint = 0.0
    for i in range(9):
        for j in range(9):
            m = bound(fcdf[i], acdf[j])
            if i > 0:
                m -= bound(fcdf[i - 1], acdf[j])
            if j > 0:
                m -= bound(fcdf[i], acdf[j - 1])
            if i > 0 and j > 0:
                m += bound(fcdf[i - 1], acdf[j - 1])
            jp = w * m + (1 - w) * fp[i] * ap[j]
            if jp != 0:
                joint -= jp * math.log2(abs(jp))  # real part of MATLAB's complex log
    ae = -sum(p * math.log2(p) for p in ap if p > 0)
    fe = -sum(p * math.log2(p) for p in fp if p > 0)
    mi = ae + fe - joint
    return 0.0 if mi == 0 else 2 * mi / (ae + fe)


def _literal_fmi_map(fa: np.ndarray, fb: np.ndarray, ff: np.ndarray) -> np.ndarray:
    """``fmi_map`` of the reference (3x3 windows, (FMI(A,F) + FMI(B,F)) / 2)."""
    h, w = ff.shape
    out = np.empty((h - 2, w - 2))
    for r in range(h - 2):
        for c in range(w - 2):
            a_sub, b_sub, f_sub = (x[r:r + 3, c:c + 3].copy() for x in (fa, fb, ff))
            if np.array_equal(a_sub, f_sub):
                va = 1.0
            else:
                va = _literal_window_fmi(a_sub, f_sub)
                lo, hi = f_sub.min(), f_sub.max()  # fmi.m normalises fSub in place here
                f_sub = np.ones((3, 3)) if hi == lo else (f_sub - lo) / (hi - lo)
            vb = 1.0 if np.array_equal(b_sub, f_sub) else _literal_window_fmi(b_sub, f_sub)
            out[r, c] = (va + vb) / 2
    return out


@pytest.fixture(scope="module")
def crop():
    d = data_path("ivif", "msrs")
    ir = np.array(Image.open(d / "ir" / "00537D.png")).astype(float)[150:172, 300:324]
    vi = rgb2gray(np.array(Image.open(d / "vi" / "00537D.png")).astype(float), uint8=True)[150:172, 300:324]
    return ir, vi, np.rint((ir + vi) / 2)


#: the float32 window arithmetic (default for DCT / wavelet features): per-window absolute error,
#: and relative error of a mean over windows (measured: <= 4e-6 and <= 2e-7 on the maps below)
F32_WINDOW_ATOL, F32_MEAN_REL = 2e-5, 2e-6


@pytest.mark.parametrize("feature, dtype", [("dct", np.float64), ("dct", np.float32), ("edge", None)])
def test_fmi_matches_literal_windows_on_real_features(crop, feature, dtype, monkeypatch):
    if dtype is not None:
        monkeypatch.setattr(INF, "_FMI_DTYPE", dtype)
    ir, vi, f = crop
    fa, fb, ff = (INF._feature(x, feature) for x in (ir, vi, f))
    want = _literal_fmi_map(fa, fb, ff).mean()
    rel = F32_MEAN_REL if dtype is np.float32 else 1e-12  # edge windows: always float64
    assert INF.fmi_value(ir, vi, f, feature) == pytest.approx(want, rel=rel, abs=0)


def test_fmi_matches_literal_windows_on_wavelet_features(crop):
    # the dmey tile of a 22x24 crop is ~80x80: compare a block across the cA / cH / cV / cD borders
    fa, fb, ff = (INF._feature(x, "wavelet")[30:52, 30:52] for x in crop)
    want = _literal_fmi_map(fa, fb, ff).ravel()
    got = INF._fmi_map(INF._windows(fa), INF._windows(fb), INF._windows(ff), np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert got.mean() == pytest.approx(want.mean(), rel=1e-12)
    got = INF._fmi_map(INF._windows(fa), INF._windows(fb), INF._windows(ff), np.float32)
    np.testing.assert_allclose(got, want, rtol=0, atol=F32_WINDOW_ATOL)
    assert got.mean() == pytest.approx(want.mean(), rel=F32_MEAN_REL)


def _adversarial_maps(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h, w = 14, 15
    fa = rng.integers(0, 3, (h, w)).astype(float)  # many ties, flat and one-spike windows
    fb = rng.random((h, w)) ** 3
    ff = rng.integers(0, 4, (h, w)).astype(float)
    fb[:5, :5] = 7.0  # flat blocks
    fa[:4, 10:14] = 2.0
    ff[8:12, 2:6] = fa[8:12, 2:6]  # windows equal to the fused one (A branch)
    ff[2:6, 9:13] = fb[2:6, 9:13]  # B equal to the raw fused window
    fa[10:13, 10:14] = 1 - ff[10:13, 10:14] / 3  # anti-correlated (lower Frechet bound)
    return fa, fb, ff


@pytest.mark.parametrize("seed", [0, 1])
def test_fmi_window_map_matches_literal_on_adversarial_windows(seed):
    fa, fb, ff = _adversarial_maps(seed)
    want = _literal_fmi_map(fa, fb, ff).ravel()
    got = INF._fmi_map(INF._windows(fa), INF._windows(fb), INF._windows(ff), np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    got = INF._fmi_map(INF._windows(fa), INF._windows(fb), INF._windows(ff), np.float32)
    np.testing.assert_allclose(got, want, rtol=0, atol=F32_WINDOW_ATOL)
    assert got.mean() == pytest.approx(want.mean(), rel=F32_MEAN_REL)


def test_fmi_float32_keeps_the_float64_decision_of_flat_windows():
    # a constant window's centred pdf is float64 rounding residue (-2.8e-17): two constant
    # windows correlate with c = +1 in the reference, which picks the upper Frechet bound with
    # w = 1; float32 rounding alone would give c = 0.  Both precisions must agree.
    fa = np.full((5, 5), 3.0)
    fb = np.arange(25.0).reshape(5, 5) % 7
    ff = np.full((5, 5), 8.0)
    want = _literal_fmi_map(fa, fb, ff).ravel()
    for dt in (np.float64, np.float32):
        got = INF._fmi_map(INF._windows(fa), INF._windows(fb), INF._windows(ff), dt)
        np.testing.assert_allclose(got, want, rtol=0, atol=F32_WINDOW_ATOL if dt is np.float32 else 1e-12)
    assert INF._FLAT_T != 0.0


def _route_maps() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    maps = [_adversarial_maps(s) for s in (0, 1)]
    rng = np.random.default_rng(3)
    ff = rng.random((12, 13))
    fb = rng.random((12, 13))
    w = ff[4:7, 5:8]
    fb[4:7, 5:8] = (w - w.min()) / (w.max() - w.min())  # B equals the *normalised* fused window
    fb[0:3, 0:3] = 1.0
    ff[0:3, 0:3] = 5.0  # constant fused window: its normalised form is all ones, as B there
    maps.append((rng.random((12, 13)), fb, ff))
    fa, fb, ff = (rng.random((12, 13)) for _ in range(3))
    fa[6:10, 1:5] = fb[6:10, 1:5] = ff[6:10, 1:5]  # A and B equal the fused window: B meets the raw one
    ff[:5, 6:11] *= 1e-41  # window ranges subnormal in float32 and (below) beyond its largest value:
    fb[:5, :5] *= 1e39  # divided in float64
    maps.append((fa, fb, ff))
    big = rng.random((26, 42))
    maps.append((big[::2, ::3], big[1::2, 1::3], big[::2, 2::3]))  # non-contiguous views
    return maps


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the 1e39 map, in both routes
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fmi_image_route_equals_window_route(dtype, monkeypatch):
    # fmi_value normalises whole images with 3x3 erosion / dilation and decides the equal-window
    # rule without the float64 windows; it must equal the per-window route bit for bit
    monkeypatch.setattr(INF, "_FMI_DTYPE", dtype)
    monkeypatch.setattr(INF, "_feature", lambda x, kind: x)
    for fa, fb, ff in _route_maps():
        win = INF._fmi_map(INF._windows(fa), INF._windows(fb), INF._windows(ff), dtype)
        assert INF.fmi_value(fa, fb, ff, "dct") == win.mean()


def test_fmi_chunking_does_not_change_the_value(crop, monkeypatch):
    ir, vi, f = crop
    whole = INF.fmi_value(ir, vi, f, "dct")
    monkeypatch.setattr(INF, "_FMI_CHUNK", 7)  # one window row per batch
    assert INF.fmi_value(ir, vi, f, "dct") == whole


# ---------------------------------------------------------- phase congruency


def _pc_double(im: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``myphasecong3`` in double precision with one complex FFT per filter (the literal loop)."""
    from scipy import fft

    from pixfuse.metrics.perceptual import _pc_log_gabor

    filters, em_n, noise = _pc_log_gabor(im.shape)
    eps, nscale, norient, k, cut, g = 1e-4, 4, 6, 2.0, 0.5, 10.0
    imf = fft.fft2(im)
    total_e, total_an = np.zeros(im.shape), np.zeros(im.shape)
    covx2, covy2, covxy = np.zeros(im.shape), np.zeros(im.shape), np.zeros(im.shape)
    for o in range(norient):
        eo = [fft.ifft2(imf * filters[o][s]) for s in range(nscale)]
        an = [np.abs(e) for e in eo]
        sum_an, sum_e, sum_o = sum(an), sum(e.real for e in eo), sum(e.imag for e in eo)
        max_an = np.maximum.reduce(an)
        xe = np.sqrt(sum_e ** 2 + sum_o ** 2) + eps
        me, mo = sum_e / xe, sum_o / xe
        energy = sum(e.real * me + e.imag * mo - np.abs(e.real * mo - e.imag * me) for e in eo)
        noise_power = -np.median(an[0] ** 2) / np.log(0.5) / em_n[o]
        tau = np.sqrt((2 * noise_power * noise[o][0] + 4 * noise_power * noise[o][1]) / 2)
        T = (tau * np.sqrt(np.pi / 2) + k * np.sqrt((2 - np.pi / 2) * tau * tau)) / 1.7
        energy = np.maximum(energy - T, 0)
        weight = 1.0 / (1 + np.exp((cut - sum_an / (max_an + eps) / nscale) * g))
        total_an += sum_an
        total_e += weight * energy
        pc_o = weight * energy / sum_an
        ang = o * np.pi / norient
        covx2 += (pc_o * np.cos(ang)) ** 2
        covy2 += (pc_o * np.sin(ang)) ** 2
        covxy += pc_o * np.cos(ang) * pc_o * np.sin(ang)
    covx2, covy2, covxy = covx2 / (norient / 2), covy2 / (norient / 2), covxy / norient
    denom = np.sqrt(covxy ** 2 + (covx2 - covy2) ** 2) + eps
    return total_e / (total_an + eps), (covy2 + covx2 + denom) / 2, (covy2 + covx2 - denom) / 2


@pytest.fixture(scope="module")
def pc_crop():
    d = data_path("ivif", "msrs")
    ir = np.array(Image.open(d / "ir" / "00537D.png"))[100:260, 200:400]
    vi = rgb2gray(np.array(Image.open(d / "vi" / "00537D.png")).astype(float), uint8=True)[100:260, 200:400]
    vi = vi.astype(np.uint8)
    return ir, vi, np.rint((ir.astype(float) + vi) / 2).astype(np.uint8)


def test_phase_congruency_single_precision_matches_double(pc_crop):
    from pixfuse.metrics.perceptual import phase_congruency

    im = pc_crop[0].astype(float)
    for fast, ref in zip(phase_congruency(im), _pc_double(im)):
        assert fast.dtype == np.float64
        np.testing.assert_allclose(fast, ref, rtol=0, atol=2e-6 * np.abs(ref).max())


def test_qp_single_precision_matches_double(pc_crop, monkeypatch):
    from pixfuse.metrics import perceptual

    ir, vi, f = pc_crop
    fast = pixfuse.evaluate(f, [ir, vi], ["qp"])["qp"]
    monkeypatch.setattr(perceptual, "phase_congruency", _pc_double)
    assert fast == pytest.approx(pixfuse.evaluate(f, [ir, vi], ["qp"])["qp"], rel=1e-6)


# ------------------------------------------------------ evaluate(metrics="all")

SPECTRAL_ONLY = {"q2n", "q", "sam", "ergas", "scc", "psnr_ref", "rmse_ref", "cc_ref", "ssim_ref",
                 "d_lambda", "d_s", "qnr", "d_lambda_k", "hqnr"}


def test_all_without_task_on_a_fusion_pair_skips_spectral_indices():
    rng = np.random.default_rng(3)
    ir = rng.integers(0, 256, (180, 180), dtype=np.uint8)
    vi = rng.integers(0, 256, (180, 180, 3), dtype=np.uint8)
    f = ((ir.astype(np.uint16) + vi[..., 1]) // 2).astype(np.uint8)
    from pixfuse.api import infer_metric_family

    assert infer_metric_family(f, [ir, vi]) == "fusion"
    got = pixfuse.evaluate(f, [ir, vi])
    fusion = {s.name for s in pixfuse.registry.metric_specs() if s.needs in ("fused", "sources")} - SPECTRAL_ONLY
    assert set(got) == fusion
    assert {"qabf", "fmi_dct", "qp", "mef_ssim"} <= set(got)
    assert got["en"] == pytest.approx(pixfuse.evaluate(f, [ir, vi], ["en"])["en"])


def test_all_without_task_on_pansharpening_inputs_gives_spectral_indices():
    from pixfuse.api import infer_metric_family

    rng = np.random.default_rng(4)
    pan = rng.random((128, 128)).astype(np.float32)
    ms = rng.random((32, 32, 4)).astype(np.float32)
    fused = np.clip(np.repeat(np.repeat(ms, 4, 0), 4, 1) + 0.05 * (pan[..., None] - 0.5), 0, 1).astype(np.float32)
    assert infer_metric_family(fused, [pan, ms]) == "spectral"
    assert infer_metric_family(ms[..., :3], [pan, ms[..., :3]]) == "spectral"  # sizes differ: PAN and MS
    full_res = pixfuse.evaluate(fused, [pan, ms])
    assert set(full_res) == {"d_lambda", "d_s", "qnr", "d_lambda_k", "hqnr"}
    reduced = pixfuse.evaluate(fused, reference=fused)
    assert set(reduced) == {"q2n", "q", "sam", "ergas", "scc", "psnr_ref", "rmse_ref", "cc_ref", "ssim_ref"}
    assert reduced["sam"] == pytest.approx(0.0, abs=1e-6) and reduced["ergas"] == pytest.approx(0.0, abs=1e-6)


def test_explicit_lists_and_tasks_are_unchanged():
    rng = np.random.default_rng(5)
    a, b = (rng.integers(0, 256, (64, 64), dtype=np.uint8) for _ in range(2))
    assert set(pixfuse.evaluate(a, [a, b], ["en", "sd"])) == {"en", "sd"}
    # a task selects exactly its registered metrics, whatever the inputs look like
    c = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    want = {s.name for s in pixfuse.registry.metric_specs("pansharpening") if s.needs == "reference"}
    assert set(pixfuse.evaluate(c, reference=c, task="pansharpening")) == want


@pytest.mark.parametrize("n", [1, 2, 9, 10, 4097, 307200])
def test_radix_median_pair_equals_numpy_median(n):
    from pixfuse.metrics.perceptual import _median_pair

    rng = np.random.default_rng(n)
    cases = [rng.rayleigh(3.0, n), np.zeros(n), rng.integers(0, 4, n).astype(float),
             np.concatenate([np.full(n // 2, 1e-30), rng.random(n - n // 2) * 1e6])]
    for a in cases:
        a = a.astype(np.float32)
        lo, hi = _median_pair(a)
        s = np.sort(a)
        assert (lo, hi) == (float(s[(n - 1) // 2]), float(s[n // 2]))
        assert (lo + hi) / 2 == pytest.approx(float(np.median(a.astype(np.float64))), rel=1e-7)


def test_allocator_settings_keep_values(tmp_path):
    # process-wide allocator settings: in a child process, the values of a first, unprimed evaluate call
    # == after prime_allocator() == after retain_freed_memory(), bit for bit
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import numpy as np, pixfuse\n"
        "from pixfuse.metrics import _common as C\n"
        "r = np.random.default_rng(0)\n"
        "a, b = (r.integers(0, 256, (96, 112), dtype=np.uint8) for _ in range(2))\n"
        "f = ((a.astype(int) + b) // 2).astype(np.uint8)\n"
        "ns = ['en', 'qabf', 'ssim', 'fmi_dct', 'qp', 'nmi', 'vif']\n"
        "C._PRIMED = True  # keep evaluate from priming: the first call runs with glibc's initial thresholds\n"
        "v0 = pixfuse.evaluate(f, [a, b], ns)\n"
        "C._PRIMED = False\n"
        "C.prime_allocator()\n"
        "v1 = pixfuse.evaluate(f, [a, b], ns)\n"
        "ok = C.retain_freed_memory()\n"
        "v2 = pixfuse.evaluate(f, [a, b], ns)\n"
        "print(type(ok).__name__, v0 == v1 == v2)\n"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["bool", "True"]
