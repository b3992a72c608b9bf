"""Regression values of the fusion metrics, pinned to the reference MATLAB code.

The expected numbers were produced by running the reference scripts (VIFB
``metrics*.m``, Tang's Evaluation-for-Image-Fusion functions, Z. Liu's
imageFusionMetrics as in MEFB, Kovesi/Liu ``myphasecong3``) in GNU Octave 7.3
(image package 2.14) on the inputs built below, outside this repository.
pixfuse reproduces them to ~1e-12; the tolerance here is 1e-6 relative,
except for the two documented rounding-noise cases (see the docstrings of
``qabf`` and ``qc``).
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import pixfuse
from pixfuse.metrics._common import rgb2gray

from conftest import data_path


@pytest.fixture(scope="module")
def pair():
    d = data_path("ivif", "msrs")
    ir = np.array(Image.open(d / "ir" / "00537D.png"))[100:340, 160:480]
    vi = np.array(Image.open(d / "vi" / "00537D.png"))[100:340, 160:480]
    vig = rgb2gray(vi.astype(float), uint8=True).astype(np.uint8)
    f_rgb = np.rint((ir[..., None].astype(float) + vi) / 2).astype(np.uint8)
    f_gray = np.rint((ir.astype(float) + vig) / 2).astype(np.uint8)
    return ir, vi, vig, f_rgb, f_gray


# VIFB metrics*.m, called as VIFB does: metric(VI, IR, F); RGB fused -> per-channel mean
VIFB_RGB = {
    "en": 6.37708552, "ce": 1.92689348594, "mi": 2.13794627563, "psnr": 56.0922728084,
    "rmse": 0.160018884287, "ag": 2.81224142636, "ei": 29.9850525022, "sf": 7.5538500807,
    "sd": 26.2499767109, "qabf": 0.339012798049, "ssim": 1.2508123758, "qcb": 0.478368689083,
    "qcv": 613.500659831,
}
# grey fused image with the RGB visible image (rgb2gray inside each metric)
VIFB_GRAY = {
    "en": 6.34782746702, "ce": 2.13601776959, "mi": 2.09965446472, "psnr": 56.010399096,
    "rmse": 0.162944779638, "ag": 2.79081089951, "ei": 29.7913273661, "sf": 7.49339987367,
    "sd": 25.4111356191, "ssim": 1.23412073558, "qcb": 0.472241906379, "qcv": 620.031488046,
}
# Tang's analysis_Reference on the grey images (0-255 doubles)
TANG = {
    "vif": 0.551980046238, "scd": 1.55215710472, "mse": 0.0313578851884, "psnr_tang": 63.1673359518,
    "sf_tang": 7.50669452679, "nabf": 3.24304435743e-07, "labf": 0.411158117332,
    "nabf_petrovic": 6.59133947809e-07, "nabf_published_call": 0.0370018787336,
    "ms_ssim_tang": 0.850569607165,
}
# Liu / MEFB (grey VI as rounded rgb2gray, as the Qw/Qy/Qc wrappers see it)
LIU = {
    "nmi": 0.459951814153, "q_te": 222.764844838, "q_ncie": 0.807323017046, "qy": 0.60362811996,
    "qw": 0.629592727483, "qe": 0.5238426405, "viff": 0.279894211961, "qp": 0.453690081159,
}


def _check(got: dict, want: dict, rtol: float = 1e-6) -> None:
    bad = {k: (got[k], v) for k, v in want.items() if not np.isclose(got[k], v, rtol=rtol, atol=1e-12)}
    assert not bad, bad


def test_vifb_rgb_fused(pair):
    ir, vi, _, f_rgb, _ = pair
    _check(pixfuse.evaluate(f_rgb, [ir, vi], list(VIFB_RGB)), VIFB_RGB)


def test_vifb_gray_fused(pair):
    ir, vi, _, _, f_gray = pair
    _check(pixfuse.evaluate(f_gray, [ir, vi], list(VIFB_GRAY)), VIFB_GRAY)
    # documented deviation: orientation of rounding-noise Sobel responses
    assert pixfuse.evaluate(f_gray, [ir, vi], ["qabf"])["qabf"] == pytest.approx(0.338368949619, rel=5e-3)


def test_tang(pair):
    ir, vi, _, _, f_gray = pair
    _check(pixfuse.evaluate(f_gray, [ir, vi], list(TANG)), TANG)


def test_liu_mefb(pair):
    ir, _, vig, _, f_gray = pair
    _check(pixfuse.evaluate(f_gray, [ir, vig], list(LIU)), LIU)
    # documented: Q_C's covariance ratio is 0/0 rounding noise in flat windows
    assert pixfuse.evaluate(f_gray, [ir, vig], ["qc"])["qc"] == pytest.approx(0.593086110328, rel=1e-3)


OCTAVE_FMI = {"dct": 0.338390157545, "edge": 0.902068746539, "wavelet": 0.358324439704}


@pytest.mark.parametrize("dtype, rel", [(np.float64, 1e-9), (None, 1e-6)], ids=["float64", "default"])
def test_fmi_window_logic_matches_reference(pair, dtype, rel, monkeypatch):
    # Haghighat's fmi.m loops run in Octave on the same feature maps; the float64 window
    # arithmetic reproduces them to 1e-9, the default (float32 pdfs for DCT / wavelet
    # features, documented in fmi_dct) to 1e-6
    from pixfuse.metrics import information as INF

    if dtype is not None:
        monkeypatch.setattr(INF, "_FMI_DTYPE", dtype)
    ir, _, vig, _, f_gray = pair
    a, b, f = (x.astype(float)[60:100, 100:150] for x in (ir, vig, f_gray))
    for feature, want in OCTAVE_FMI.items():
        assert INF.fmi_value(a, b, f, feature) == pytest.approx(want, rel=rel), feature


def test_fmi_metrics_pinned(pair):
    ir, vi, _, _, f_gray = pair
    sl = (slice(0, 96), slice(0, 128))
    got = pixfuse.evaluate(f_gray[sl], [ir[sl], vi[sl]], ["fmi_pixel", "fmi_dct", "fmi_w"])
    assert got["fmi_pixel"] == pytest.approx(PINNED_FMI["fmi_pixel"], rel=1e-12)  # float64 (binary windows)
    assert got == pytest.approx(PINNED_FMI, rel=1e-6)


# pixfuse values (edge = MATLAB edge replica, dwt2 dmey = PyWavelets), pinned for regression
PINNED_FMI = {"fmi_pixel": 0.8841079606340715, "fmi_dct": 0.35207600800817523, "fmi_w": 0.38998395176381473}
