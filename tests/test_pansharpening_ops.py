"""Resampling, MTF filters, Wald protocol and .mat loading used by pansharpening."""
from __future__ import annotations

import numpy as np
import pytest

from pixfuse.errors import InputError, ParameterError
from pixfuse.ops import mtf, resample
from pixfuse.ops.ndwt import starck_murtagh_lowpass
from pixfuse.ops.wald import reduce_resolution

from conftest import data_path


def test_interp23tap_polyphase_equals_literal_zero_insertion():
    rng = np.random.default_rng(0)
    a = rng.random((12, 10, 3)) * 2047
    for r in (2, 4, 8):
        np.testing.assert_allclose(resample.interp23tap(a, r), resample.interp23tap_reference(a, r),
                                   rtol=0, atol=1e-9)
    up = resample.interp23tap(a, 4)
    # the original samples sit at 0-based rows/cols 1 + 2*(...) after stage 1 then x2: 2 + 4k
    np.testing.assert_allclose(up[2::4, 2::4], a, atol=1e-9)
    np.testing.assert_allclose(resample.interp23tap(np.full((6, 6), 7.0), 4), 7.0, atol=1e-9)
    with pytest.raises(ParameterError, match="power of two"):
        resample.interp23tap(a, 3)


def test_imresize_matlab_semantics():
    x = np.arange(256, dtype=float).reshape(16, 16)
    # bicubic (Keys, a=-0.5) reproduces a linear ramp away from the borders
    up = resample.imresize(x, 2)
    assert up.shape == (32, 32)
    np.testing.assert_allclose(np.diff(up[10, 8:20]), 0.5, atol=1e-12)
    # constant stays constant (weights are normalised)
    np.testing.assert_allclose(resample.imresize(np.full((20, 12), 3.0), 0.25), 3.0)
    # nearest 1/4 keeps 1-based 3, 7, 11, ... (0-based 2::4)
    y = np.arange(64, dtype=float).reshape(8, 8)
    np.testing.assert_array_equal(resample.imresize(y, 0.25, method="nearest"), y[2::4, 2::4])
    np.testing.assert_array_equal(resample.decimate_nearest(y, 4), y[2::4, 2::4])
    np.testing.assert_array_equal(resample.decimate_nearest(y, 2), y[1::2, 1::2])
    # antialiased bicubic 1/2 of a ramp 1..32: output k (1-based) centred on input 2k - 0.5 away from borders
    r = resample.imresize(np.tile(np.arange(1.0, 33.0), (8, 1)), 0.5)
    np.testing.assert_allclose(r[0, 4:12], 2 * np.arange(5, 13) - 0.5, atol=1e-12)


def test_mtf_kernel_gain_at_nyquist():
    for g in (0.23, 0.35):
        k = mtf.gaussian_mtf_kernel(g, 4)
        assert k.shape == (41, 41)
        np.testing.assert_allclose(k, k.T, atol=1e-15)
        f = np.fft.fft2(k, (512, 512))
        dc = abs(f[0, 0])
        nyq = abs(f[0, 512 // 8])  # 1/(2*ratio) cycles/pixel
        assert dc == pytest.approx(1.0, abs=0.02)
        assert nyq / dc == pytest.approx(g, abs=0.02)
    assert list(mtf.mtf_gains("WorldView-2", 8)) == [0.35] * 7 + [0.27]
    assert mtf.pan_gain("GE1") == 0.16
    assert list(mtf.mtf_gains("Pleiades", 4)) == [0.3] * 4
    with pytest.raises(ParameterError, match="unknown sensor"):
        mtf.mtf_gains("Landsat-9", 4)
    with pytest.raises(ParameterError, match="8 MS bands"):
        mtf.mtf_gains("WV2", 4)


def test_imfilter_replicate_matches_direct_correlation():
    from scipy import ndimage

    rng = np.random.default_rng(1)
    a = rng.random((30, 25))
    k = mtf.gaussian_mtf_kernel(0.3, 4)
    np.testing.assert_allclose(mtf.imfilter_replicate(a, k), ndimage.correlate(a, k, mode="nearest"), atol=1e-12)
    cube = rng.random((30, 25, 2))
    ks = np.stack([k, mtf.gaussian_mtf_kernel(0.2, 4)], axis=2)
    out = mtf.imfilter_replicate_bands(cube, ks)
    np.testing.assert_allclose(out[:, :, 1], ndimage.correlate(cube[:, :, 1], ks[:, :, 1], mode="nearest"),
                               atol=1e-12)


def test_starck_murtagh_lowpass_dc_and_smoothing():
    x = np.full((20, 17), 5.0)
    np.testing.assert_allclose(starck_murtagh_lowpass(x, 2), 5.0, atol=1e-12)
    rng = np.random.default_rng(2)
    n = rng.random((40, 40))
    assert starck_murtagh_lowpass(n, 2).std() < 0.5 * n.std()


def test_wald_protocol_and_mat_loader():
    from pixfuse.io.mat import load_pansharpening_mat

    sc = load_pansharpening_mat(data_path("pansharpening", "grip_unina_pnn", "imgGE1.mat"))
    assert (sc.sensor, sc.ratio, sc.bit_depth) == ("GeoEye1", 4, 8)
    assert sc.pan.shape == (1280, 1280) and sc.ms.shape == (320, 320, 4)
    red = reduce_resolution(sc.pan, sc.ms, sc.sensor, 4)
    assert red.pan.shape == (320, 320) and red.ms.shape == (80, 80, 4)
    np.testing.assert_array_equal(red.reference, sc.ms.astype(float))
    # MTF filtering preserves the mean; decimation keeps the [2::4] samples of the filtered MS
    assert red.ms.mean() == pytest.approx(sc.ms.astype(float).mean(), rel=2e-2)
    pinned = float(red.ms[10, 20, 2]), float(red.pan[100, 100])
    assert pinned == pytest.approx((46.994079, 48.937064), rel=1e-6)
    wv3 = load_pansharpening_mat(data_path("pansharpening", "zpnn_wv3", "WV3_example.mat"))
    assert wv3.ms.shape == (32, 32, 8) and wv3.ratio == 4 and wv3.sensor is None
    with pytest.raises(InputError, match="integer multiple"):
        reduce_resolution(np.zeros((100, 100)), np.zeros((30, 30, 4)))
