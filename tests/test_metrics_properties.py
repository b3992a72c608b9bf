"""Analytic cases and properties of the fusion metrics (issue 3)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import pixfuse
from pixfuse.errors import InputError, ShapeMismatchError
from pixfuse.metrics.information import mutual_information

from conftest import data_path

SOURCE_METRICS = [
    "ce", "mi", "mi_bits", "mi_tang", "nmi", "q_te", "q_ncie", "psnr", "psnr_tang", "psnr_standard", "mse",
    "rmse", "cc", "scd", "ssim", "ssim_mean", "ssim_tang", "ms_ssim_tang", "qabf", "qabf_tang", "nabf",
    "nabf_published_call", "nabf_petrovic", "labf", "q0", "qw", "qe", "qy", "qc", "vif", "viff", "qcb", "qcv",
    "qp", "fmi_pixel", "fmi_dct", "fmi_w",
]
FUSED_METRICS = ["en", "sd", "sf", "sf_tang", "ag", "ei"]


@pytest.fixture(scope="module")
def real():
    from pixfuse.io import read_image

    d = data_path("ivif", "tno")
    ir, _ = read_image(d / "ir" / "36.png")
    vi, _ = read_image(d / "vi" / "36.png")
    vi = vi if vi.ndim == 2 else vi[..., 1]
    sl = (slice(40, 168), slice(60, 220))
    ir, vi = ir[sl], vi[sl]
    return ir, vi, ((ir + vi) / 2).astype(np.float32)


def test_registry_entries():
    names = {m["name"] for m in pixfuse.list_metrics()}
    for n in ["en", "sd", "sf", "ag", "ei", "ce", "mi", "nmi", "fmi_pixel", "fmi_dct", "fmi_w", "q_ncie", "q_te",
              "psnr", "mse", "rmse", "cc", "scd", "ssim", "ms_ssim", "qabf", "nabf", "labf", "vif", "viff", "qcb",
              "qcv", "qp", "qy", "qc", "qw", "qe", "q0"]:
        assert n in names
    spec = pixfuse.get_metric("Q_ABF")
    assert spec.name == "qabf" and spec.display == "Q^{AB/F}" and spec.convention == "VIFB"
    assert not pixfuse.get_metric("qcv").higher_is_better and not pixfuse.get_metric("nabf").higher_is_better
    assert pixfuse.get_metric("mi").convention == "VIFB"
    assert pixfuse.get_metric("vif").convention == "Tang-Evaluation"
    ivif = {m["name"] for m in pixfuse.list_metrics("ivif")}
    assert {"qabf", "en", "vif"} <= ivif


def test_entropy_two_level_is_one_bit():
    img = np.zeros((32, 32), np.uint8)
    img[:, 16:] = 200
    assert pixfuse.evaluate(img, None, ["en"])["en"] == pytest.approx(1.0, abs=1e-12)


def test_mi_of_identical_images_is_entropy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    x[0, 0], x[0, 1] = 0, 255  # full range: VIFB's min-max normalisation is the identity
    en = pixfuse.evaluate(x, None, ["en"])["en"]
    assert mutual_information(x.astype(float), x.astype(float)) == pytest.approx(en, rel=1e-12)
    # mi_bits sums over sources (bits); VIFB's mi sums in nats
    assert pixfuse.evaluate(x, [x, x], ["mi_bits"])["mi_bits"] == pytest.approx(2 * en, rel=1e-12)
    assert pixfuse.evaluate(x, [x, x], ["mi"])["mi"] == pytest.approx(2 * en * math.log(2), rel=1e-12)


def test_identity_values(real):
    ir, vi, _ = real
    r = pixfuse.evaluate(ir, [ir, ir], ["ssim", "ssim_mean", "ssim_tang", "q0", "qabf", "cc", "psnr", "mse", "rmse",
                                        "nabf", "ms_ssim_tang"])
    assert r["ssim"] == pytest.approx(2.0, abs=1e-12)
    assert r["ssim_mean"] == pytest.approx(1.0, abs=1e-12)
    assert r["ssim_tang"] == pytest.approx(1.0, abs=1e-12)
    assert r["q0"] == pytest.approx(1.0, abs=1e-12)
    assert r["cc"] == pytest.approx(1.0, abs=1e-12)
    assert r["psnr"] == math.inf and r["mse"] == 0 and r["rmse"] == 0
    assert r["nabf"] == 0
    assert r["qabf"] == pytest.approx(0.9994 * 0.9879 / (1 + math.exp(-22 * 0.2)), rel=1e-3)
    assert r["ms_ssim_tang"] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", SOURCE_METRICS + FUSED_METRICS)
def test_constant_images_give_a_number(name):
    c = np.full((48, 64), 0.5, np.float32)
    x = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (48, 1))
    if name == "ms_ssim":
        pytest.skip("needs >= 176 px")
    v = pixfuse.evaluate(c, [x, c] if name in SOURCE_METRICS else None, [name])[name]
    assert isinstance(v, float)
    if name not in ("cc", "scd", "vif", "qcb", "qy", "qc", "qp"):  # documented nan: 0/0 in the definition
        assert not math.isnan(v), name


SYMMETRIC = ["mi", "mi_bits", "nmi", "q_te", "ce", "psnr", "rmse", "mse", "cc", "scd", "ssim", "qabf", "nabf",
             "labf", "q0", "qw", "qe", "vif", "viff", "qcb", "qcv", "fmi_dct", "ms_ssim_tang", "q_ncie"]


def test_symmetry_in_the_sources(real):
    ir, vi, f = real
    a = pixfuse.evaluate(f, [ir, vi], SYMMETRIC)
    b = pixfuse.evaluate(f, [vi, ir], SYMMETRIC)
    for k in SYMMETRIC:
        assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12), k


def test_n_source_metrics_are_order_invariant(real):
    ir, vi, f = real
    third = np.clip(ir * 0.5 + 0.25, 0, 1).astype(np.float32)
    names = ["mi", "mi_bits", "ce", "psnr", "rmse", "mse", "cc", "ssim", "qabf", "q0", "vif", "ms_ssim_tang"]
    a = pixfuse.evaluate(f, [ir, vi, third], names)
    b = pixfuse.evaluate(f, [third, ir, vi], names)
    for k in names:
        assert a[k] == pytest.approx(b[k], rel=1e-9), k


@pytest.mark.parametrize("name", ["qabf", "vif", "ssim", "ssim_tang", "q0", "qy", "viff", "psnr"])
def test_noise_lowers_quality(real, name):
    ir, vi, f = real
    rng = np.random.default_rng(1)
    vals = []
    for s in (0.0, 0.03, 0.1):
        noisy = np.clip(f + rng.normal(0, s, f.shape), 0, 1).astype(np.float32)
        vals.append(pixfuse.evaluate(noisy, [ir, vi], [name])[name])
    assert vals[0] > vals[1] > vals[2], vals


def test_colour_conventions(real):
    ir, vi, f = real
    rgb = np.dstack([vi, vi, vi])
    frgb = np.dstack([f, f, f])
    # a grey fused image against an RGB visible image with identical channels == grey case
    g = pixfuse.evaluate(f, [ir, vi], ["en", "qabf", "ssim", "mi"])
    c = pixfuse.evaluate(f, [ir, rgb], ["en", "qabf", "ssim", "mi"])
    assert c == pytest.approx(g, rel=1e-6)
    # RGB fused image: VIFB's per-channel mean
    assert pixfuse.evaluate(frgb, [ir, rgb], ["qabf"])["qabf"] == pytest.approx(g["qabf"], rel=1e-9)


def test_determinism_and_uint8_equivalence(real):
    ir, vi, f = real
    u = [np.rint(x.astype(np.float64) * 255).astype(np.uint8) for x in (ir, vi, f)]
    a = pixfuse.evaluate(f, [ir, vi], ["qabf", "mi", "vif"])
    b = pixfuse.evaluate(u[2], [u[0], u[1]], ["qabf", "mi", "vif"])
    assert a == b


def test_errors():
    a = np.zeros((32, 32), np.float32)
    with pytest.raises(InputError, match="exactly 2"):
        pixfuse.evaluate(a, [a], ["scd"])
    with pytest.raises(ShapeMismatchError, match="32x32"):
        pixfuse.evaluate(a, [a, np.zeros((32, 40), np.float32)], ["qabf"])
    with pytest.raises(InputError, match="needs the source"):
        pixfuse.evaluate(a, None, ["qabf"])
    with pytest.raises(InputError, match="176"):
        pixfuse.evaluate(a, [a, a], ["ms_ssim"])


def test_evaluate_detailed_carries_convention(real):
    ir, vi, f = real
    d = pixfuse.evaluate_detailed(f, [ir, vi], ["mi", "mi_tang", "nabf_published_call"])
    assert d["mi"]["convention"] == "VIFB" and d["mi_tang"]["convention"] == "Tang-Evaluation"
    assert "published call" in d["nabf_published_call"]["convention"]
    assert d["mi"]["value"] == pixfuse.evaluate(f, [ir, vi], ["mi"])["mi"]


def test_wang_msssim_identity_and_order():
    from pixfuse.metrics.structural import msssim_wang

    rng = np.random.default_rng(3)
    x = np.clip(rng.normal(128, 40, (192, 192)), 0, 255).round()
    assert msssim_wang(x, x) == pytest.approx(1.0, abs=1e-12)
    y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255).round()
    assert 0 < msssim_wang(x, y) < 1


# ------------------------------------------------------------ Q_Y flat regions


def _qy_inputs(flat: bool):
    rng = np.random.default_rng(11)
    a = rng.integers(0, 200, (72, 80)).astype(np.uint8)
    b = rng.integers(0, 200, (72, 80)).astype(np.uint8)
    f = ((a.astype(int) + b) // 2).astype(np.uint8)
    if flat:  # a saturated region, flat in all three images
        for x in (a, b, f):
            x[10:50, 20:70] = 255
    return f, [a, b]


def test_qy_stable_equals_reference_without_flat_windows():
    f, srcs = _qy_inputs(False)
    ref = pixfuse.evaluate(f, srcs, ["qy"])["qy"]
    assert pixfuse.evaluate(f, srcs, ["qy"], options={"stable": True})["qy"] == ref


def test_qy_stable_leaves_out_windows_flat_in_both_sources():
    from pixfuse.metrics import structural as ST

    f, srcs = _qy_inputs(True)
    a, b, F = (x.astype(float) for x in (*srcs, f))
    with np.errstate(all="ignore"):
        m1, s1, s2, _ = ST._ssim_yang(a, b)
        m2 = ST._ssim_yang(a, F)[0]
        m3 = ST._ssim_yang(b, F)[0]
        lam = s1 / (s1 + s2)
        q = np.where(m1 >= 0.75, lam * m2 + (1 - lam) * m3, np.maximum(m2, m3))
    flat = np.zeros(a.shape, bool)
    flat[10:50, 20:70] = True
    inside = np.lib.stride_tricks.sliding_window_view(flat, (7, 7)).all(axis=(2, 3))  # 'valid' windows
    assert inside.sum() > 1000
    want = q[~inside].mean()  # the textured and border windows, as the reference computes them
    got = pixfuse.evaluate(f, srcs, ["qy"], options={"stable": True})["qy"]
    assert got == pytest.approx(want, rel=1e-12)
