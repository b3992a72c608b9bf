"""The optional numba FMI kernel (``pixfuse.metrics._fmi_kernel``, opt-in ``PIXFUSE_NUMBA=1``)
equals the numpy path.

Skipped when numba is not installed (the ``fast`` extra); the numpy path (the default) is
tested by test_metrics_speed.py / test_metrics_reference.py either way.
"""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("numba")

from pixfuse.metrics import _fmi_kernel as K  # noqa: E402
from pixfuse.metrics import information as INF  # noqa: E402
from pixfuse.metrics._common import rgb2gray  # noqa: E402

from conftest import data_path  # noqa: E402
from test_metrics_speed import _adversarial_maps, _literal_fmi_map  # noqa: E402


def _load(ds: str, name: str, sl: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = data_path("ivif", ds)
    ir = np.array(Image.open(d / "ir" / name)).astype(float)
    vi = np.array(Image.open(d / "vi" / name)).astype(float)
    ir = rgb2gray(ir, uint8=True) if ir.ndim == 3 else ir
    vi = rgb2gray(vi, uint8=True) if vi.ndim == 3 else vi
    ir, vi = ir[sl], vi[sl]
    return ir, vi, np.rint((ir + vi) / 2)


CROPS = {
    "msrs": ("msrs", "00537D.png", (slice(140, 220), slice(280, 380))),
    "tno": ("tno", "17.png", (slice(100, 180), slice(120, 220))),
}


def _numpy_map(fa: np.ndarray, fb: np.ndarray, ff: np.ndarray) -> np.ndarray:
    return INF._fmi_map(INF._windows(fa), INF._windows(fb), INF._windows(ff))


@pytest.mark.parametrize("crop", sorted(CROPS))
@pytest.mark.parametrize("feature", ["dct", "wavelet", "edge"])
def test_kernel_map_equals_numpy_map_on_real_features(crop, feature):
    ir, vi, f = _load(*CROPS[crop])
    fa, fb, ff = (INF._feature(x, feature) for x in (ir, vi, f))
    want = _numpy_map(fa, fb, ff)
    got = K.fmi_map_image(fa, fb, ff).ravel()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
    assert got.mean() == pytest.approx(want.mean(), rel=1e-12, abs=0)
    # the same windows through the (9, n) column entry point (used for the edge feature)
    cols = K.fmi_map_cols(INF._windows(fa), INF._windows(fb), INF._windows(ff))
    np.testing.assert_array_equal(cols, got)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_on_adversarial_windows(seed):
    # ties, flat and one-spike windows, windows equal to the fused one, anti-correlated windows
    fa, fb, ff = _adversarial_maps(seed)
    want = _literal_fmi_map(fa, fb, ff).ravel()
    got = K.fmi_map_image(fa, fb, ff).ravel()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, _numpy_map(fa, fb, ff), rtol=1e-12, atol=1e-13)


def test_kernel_special_windows_exact():
    # every window flat, or equal to the fused one: the reference's rules give exact values
    flat = np.full((6, 7), 3.0)
    assert np.all(K.fmi_map_image(flat, flat, flat) == 1.0)  # A == F and B == F
    rng = np.random.default_rng(5)
    b = rng.random((6, 7))
    got = K.fmi_map_image(flat, b, flat).ravel()  # A == F: (1 + FMI(B, flat F)) / 2
    np.testing.assert_allclose(got, _numpy_map(flat, b, flat), rtol=1e-12, atol=1e-13)
    anti = rng.random((8, 8))
    got = K.fmi_map_image(1 - anti, -2 * anti, anti).ravel()  # both sources anti-correlated with F
    np.testing.assert_allclose(got, _numpy_map(1 - anti, -2 * anti, anti), rtol=1e-12, atol=1e-13)
    assert K.fmi_map_image(np.zeros((2, 5)), np.zeros((2, 5)), np.zeros((2, 5))).shape == (0, 3)


def test_fmi_value_uses_kernel_on_opt_in_and_env_var_forces_numpy(monkeypatch):
    ir, vi, f = _load(*CROPS["msrs"])
    monkeypatch.delenv("PIXFUSE_NO_NUMBA", raising=False)
    monkeypatch.delenv("PIXFUSE_NUMBA", raising=False)
    assert INF._fmi_kernel() is None  # the numpy path is the default
    monkeypatch.setenv("PIXFUSE_NUMBA", "1")
    assert INF._fmi_kernel() is K
    fast = {ft: INF.fmi_value(ir, vi, f, ft) for ft in ("edge", "dct", "wavelet")}
    monkeypatch.setenv("PIXFUSE_NO_NUMBA", "1")
    assert INF._fmi_kernel() is None
    slow = {ft: INF.fmi_value(ir, vi, f, ft) for ft in ("edge", "dct", "wavelet")}
    assert fast == pytest.approx(slow, rel=1e-12, abs=0)


def test_kernel_failure_falls_back_to_numpy(monkeypatch):
    ir, vi, f = _load(*CROPS["tno"])
    monkeypatch.delenv("PIXFUSE_NO_NUMBA", raising=False)
    monkeypatch.setenv("PIXFUSE_NUMBA", "1")
    want = INF.fmi_value(ir, vi, f, "dct")

    class Broken:
        @staticmethod
        def fmi_map_image(*a):
            raise RuntimeError("no LLVM here")

    monkeypatch.setattr(INF, "_KERNEL", Broken)
    with pytest.warns(RuntimeWarning, match="numba FMI kernel failed"):
        got = INF.fmi_value(ir, vi, f, "dct")
    assert got == pytest.approx(want, rel=1e-12)
    assert INF._KERNEL is False  # not retried
