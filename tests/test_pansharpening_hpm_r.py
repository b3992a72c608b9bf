"""MTF-GLP-HPM-R (Vivone et al., IEEE TGRS 2018): analytic cases, invariants, pinned values on GeoEye-1."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import pixfuse
from pixfuse.errors import InputError, ParameterError
from pixfuse.metrics import spectral as sp
from pixfuse.ops.mtf import mtf_filter
from pixfuse.ops.resample import decimate_nearest, interp23tap
from pixfuse.ops.wald import reduce_resolution

from conftest import data_path


def _pan(seed=3, shape=(96, 80)):
    rng = np.random.default_rng(seed)
    return 400 + 300 * ndimage.uniform_filter(rng.random(shape), 3)


def _ms_from_pan(pan, a, c, sensor="GeoEye1"):
    """MS whose bands are exact affine maps of the GLP low-resolution PAN of each band."""
    nb = len(a)
    low = decimate_nearest(mtf_filter(np.repeat(pan[:, :, None], nb, axis=2), sensor, 4), 4)
    return low * np.asarray(a) + np.asarray(c)


def test_affine_ms_of_pan_gives_affine_pan():
    # MS_b = a_b * LP_b + c_b exactly -> regression g_b = a_b and F_b = a_b * PAN + c_b, up to the
    # small difference between mean(PAN_LP) and mean(PAN) (MTF kernel sum 0.9985, decimation), which
    # enters through c_b: relative error ~2e-4 here
    pan = _pan()
    a, c = np.array([0.8, 1.3, 2.0, 0.5]), np.array([50.0, -20.0, 10.0, 200.0])
    out = pixfuse.fuse([pan, _ms_from_pan(pan, a, c)], "mtf-glp-hpm-r", sensor="GeoEye1")
    expected = pan[:, :, None] * a + c
    assert np.abs(out - expected).max() / expected.max() < 1e-3
    # plain HPM (no offset) is far off on the same input
    hpm = pixfuse.fuse([pan, _ms_from_pan(pan, a, c)], "mtf-glp-hpm", sensor="GeoEye1")
    assert np.abs(hpm - expected).max() / expected.max() > 1e-2


def test_pan_gain_invariance_and_determinism():
    pan = _pan(5)
    ms = _ms_from_pan(_pan(6), [1.0, 0.7, 1.2, 0.9], [10.0, 30.0, 0.0, 80.0])
    f1 = pixfuse.fuse([pan, ms], "mtf-glp-hpm-r", sensor="GeoEye1")
    f2 = pixfuse.fuse([3.5 * pan, ms], "mtf-glp-hpm-r", sensor="GeoEye1")
    np.testing.assert_allclose(f1, f2, rtol=1e-10)
    np.testing.assert_array_equal(f1, pixfuse.fuse([pan, ms], "mtf-glp-hpm-r", sensor="GeoEye1"))


def test_constant_pan_returns_interpolated_ms():
    ms = _ms_from_pan(_pan(7), [1.0, 1.0, 1.0, 1.0], [0.0, 5.0, 10.0, 15.0])
    out = pixfuse.fuse([np.full((96, 80), 321.0), ms], "mtf-glp-hpm-r")
    np.testing.assert_allclose(out, interp23tap(ms, 4), rtol=1e-12)


def test_bad_input():
    ms = np.ones((24, 20, 4))
    with pytest.raises(InputError, match="integer multiple"):
        pixfuse.fuse([np.ones((97, 80)), ms], "mtf-glp-hpm-r")
    with pytest.raises(ParameterError, match="power-of-two"):
        pixfuse.fuse([np.ones((72, 60)), ms], "mtf-glp-hpm-r")
    with pytest.raises(ParameterError, match="MTF table"):
        pixfuse.fuse([np.ones((96, 80)), np.ones((24, 20, 3))], "mtf-glp-hpm-r", sensor="WV2")


def test_pinned_geoeye1_and_beats_hpm():
    from pixfuse.io.mat import load_pansharpening_mat

    sc = load_pansharpening_mat(data_path("pansharpening", "grip_unina_pnn", "imgGE1.mat"))
    red = reduce_resolution(sc.pan[512:1024, 256:768], sc.ms[128:256, 64:192], "GeoEye1", 4)
    f = pixfuse.fuse([red.pan, red.ms], "mtf-glp-hpm-r", sensor="GeoEye1")
    vals = (sp.q2n_index(red.reference, f), sp.sam_index(red.reference, f), sp.ergas_index(red.reference, f))
    np.testing.assert_allclose(vals, (0.8916560, 2.363219, 1.576843), rtol=1e-5)
    # the regression fixes plain HPM's over-injection in the NIR band (pinned HPM: Q2n 0.784, ERGAS 2.72)
    assert vals[0] > 0.88 and vals[2] < 1.6
