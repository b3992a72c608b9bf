"""Pansharpening methods: analytic invariants, every method on real scenes, pinned values, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

import pixfuse
from pixfuse.errors import InputError, ParameterError
from pixfuse.metrics import spectral as sp
from pixfuse.methods.pansharpening import princomp
from pixfuse.ops.resample import interp23tap
from pixfuse.ops.wald import reduce_resolution

from conftest import data_path

METHODS = sorted(m["name"] for m in pixfuse.list_methods("pansharpening"))
SENSOR_METHODS = {m["name"] for m in pixfuse.list_methods("pansharpening") if "sensor" in m["params"]}


def _load(*parts):
    from pixfuse.io.mat import load_pansharpening_mat

    return load_pansharpening_mat(data_path("pansharpening", *parts))


@pytest.fixture(scope="module")
def ge1_reduced():
    sc = _load("grip_unina_pnn", "imgGE1.mat")
    pan, ms = sc.pan[512:1024, 256:768], sc.ms[128:256, 64:192]
    return reduce_resolution(pan, ms, "GeoEye1", 4)


@pytest.fixture(scope="module")
def ge1_scores(ge1_reduced):
    red = ge1_reduced
    out = {}
    for m in METHODS:
        kw = {"sensor": "GeoEye1"} if m in SENSOR_METHODS else {}
        f = pixfuse.fuse([red.pan, red.ms], m, **kw)
        assert f.shape == red.reference.shape and f.dtype == np.float64 and np.isfinite(f).all(), m
        out[m] = (sp.q2n_index(red.reference, f), sp.sam_index(red.reference, f), sp.ergas_index(red.reference, f))
    return out


def _smooth_ms(seed=0, shape=(24, 20, 4)):
    rng = np.random.default_rng(seed)
    base = rng.random(shape)
    from scipy import ndimage

    return 300 + 1500 * ndimage.uniform_filter(base, size=(5, 5, 1))


@pytest.mark.parametrize("method", ["bt", "gihs", "gs", "pca-ps", "brovey-gdal"])
def test_cs_pan_equal_to_intensity_returns_upsampled_ms(method):
    ms_lr = _smooth_ms()
    up = interp23tap(ms_lr, 4)
    if method == "pca-ps":
        _, score = princomp(up.reshape(-1, 4))
        pan = score[:, 0].reshape(up.shape[:2]) * 0.7 + 123.0  # PC1 up to an affine map
    else:
        pan = up.mean(axis=2)
    out = pixfuse.fuse([pan, ms_lr], method)
    np.testing.assert_allclose(out, up, rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("method", ["hpf", "atwt", "sfim"])
def test_mra_constant_pan_injects_nothing(method):
    ms_lr = _smooth_ms(1)
    out = pixfuse.fuse([np.full((96, 80), 500.0), ms_lr], method)
    np.testing.assert_allclose(out, interp23tap(ms_lr, 4), rtol=1e-9, atol=1e-7)


def test_adaptive_methods_beat_plain_interpolation_on_geoeye1(ge1_reduced, ge1_scores):
    red = ge1_reduced
    exp = interp23tap(red.ms, 4)
    q_exp, ergas_exp = sp.q2n_index(red.reference, exp), sp.ergas_index(red.reference, exp)
    # on this small smooth crop the adaptive methods must beat plain interpolation (on the whole scene all but
    # PCA, unequalised weighted Brovey and Indusion/MTF-GLP(-HPM)/AWLP-level methods do; see docs)
    for m in ("bt-h", "gsa", "c-gsa", "bdsd", "bdsd-pc", "pracs", "mtf-glp-fs", "mtf-glp-cbd"):
        q, sam, ergas = ge1_scores[m]
        assert q > q_exp, (m, q, q_exp)


# Q2n, SAM, ERGAS on the GeoEye-1 crop (PAN rows 512:1024, cols 256:768) at reduced resolution, no cut.
PINNED = {
    "atwt": (0.8493149, 2.739814, 1.957619),
    "awlp": (0.777464, 4.200374, 2.689478),
    "bdsd": (0.9003357, 2.843752, 1.775856),
    "bdsd-pc": (0.9042492, 2.586643, 1.655996),
    "brovey-gdal": (0.740414, 2.174296, 6.602736),
    "bt": (0.8931904, 2.174296, 1.590734),
    "bt-h": (0.9088326, 2.22925, 1.348261),
    "c-gsa": (0.9054151, 2.334769, 1.406585),
    "gihs": (0.8752764, 2.177034, 1.661668),
    "gs": (0.8473856, 3.582416, 2.090256),
    "gsa": (0.8931442, 2.324887, 1.519241),
    "hpf": (0.8446549, 2.666265, 1.929555),
    "indusion": (0.7790067, 2.880754, 2.418241),
    "mtf-glp": (0.7875728, 3.222667, 2.603449),
    "mtf-glp-cbd": (0.892016, 2.343116, 1.533278),
    "mtf-glp-fs": (0.8946259, 2.308862, 1.506666),
    "mtf-glp-hpm": (0.7839779, 3.043314, 2.721333),
    "mtf-glp-hpm-r": (0.8916560, 2.363219, 1.576843),
    "pca-ps": (0.465481, 11.35066, 6.663718),
    "pracs": (0.8854162, 2.155055, 1.483658),
    "sfim": (0.8462549, 2.539661, 1.973451),
}


def test_pinned_values_geoeye1(ge1_scores):
    assert set(PINNED) == set(METHODS)
    for m, vals in PINNED.items():
        np.testing.assert_allclose(ge1_scores[m], vals, rtol=1e-5, err_msg=m)


def test_every_method_on_worldview3_mini():
    sc = _load("zpnn_wv3", "WV3_example.mat")
    assert sc.pan.shape == (128, 128) and sc.ms.shape == (32, 32, 8)
    for m in METHODS:
        kw = {"sensor": "WV3"} if m in SENSOR_METHODS else {}
        f = pixfuse.fuse([sc.pan, sc.ms], m, **kw)
        assert f.shape == (128, 128, 8) and np.isfinite(f).all(), m
        # spectral consistency: the fused image degraded back is close to the MS (mean relative error)
        if m != "brovey-gdal":  # GDAL's Brovey does not equalise the PAN: it takes the PAN's level
            assert abs(f.mean() - sc.ms.mean()) / sc.ms.mean() < 0.05, m


def test_deterministic_and_native_units():
    sc = _load("zpnn_wv3", "WV3_example.mat")
    a = pixfuse.fuse([sc.pan, sc.ms], "c-gsa")
    b = pixfuse.fuse([sc.pan, sc.ms], "c-gsa")
    assert a.tobytes() == b.tobytes()
    # uint16 input, float output in DN (not rescaled to [0, 1])
    f = pixfuse.fuse([sc.pan, sc.ms], "gsa")
    assert f.max() > 100


def test_brovey_gdal_formula():
    rng = np.random.default_rng(4)
    ms = rng.integers(1, 2000, (8, 8, 3)).astype(np.uint16)
    pan = rng.integers(1, 2000, (32, 32)).astype(np.uint16)
    w = [0.2, 0.3, 0.5]
    out = pixfuse.fuse([pan, ms], "brovey-gdal", weights="0.2,0.3,0.5", upsampling="nearest")
    up = np.repeat(np.repeat(ms.astype(float), 4, 0), 4, 1)
    expect = up * (pan / (up * w).sum(axis=2))[:, :, None]
    np.testing.assert_allclose(out, expect, rtol=1e-12)


def test_bad_inputs():
    pan = np.ones((64, 64))
    ms = np.ones((16, 16, 4))
    with pytest.raises(InputError, match="integer multiple"):
        pixfuse.fuse([pan, np.ones((15, 15, 4))], "gsa")
    with pytest.raises(InputError, match="single-band"):
        pixfuse.fuse([np.ones((64, 64, 3)), ms], "bt")
    with pytest.raises(InputError, match="NaN"):
        bad = ms.copy()
        bad[0, 0, 0] = np.nan
        pixfuse.fuse([pan, bad], "mtf-glp")
    with pytest.raises(InputError, match="low-resolution"):
        pixfuse.fuse([pan, np.ones((64, 64, 4))], "bt")
    with pytest.raises(ParameterError, match="ratio=2"):
        pixfuse.fuse([pan, ms], "bt", ratio=2)
    with pytest.raises(ParameterError, match="8 MS bands"):
        pixfuse.fuse([pan, ms], "mtf-glp", sensor="WV2")
    with pytest.raises(ParameterError, match="unknown sensor"):
        pixfuse.fuse([pan, ms], "mtf-glp-hpm", sensor="Sentinel")
    with pytest.raises(ParameterError, match="one value per MS band"):
        pixfuse.fuse([pan, ms], "brovey-gdal", weights="1,2")
    with pytest.raises(ParameterError, match="block"):
        pixfuse.fuse([pan, ms], "bdsd", block=24)
    with pytest.raises(InputError, match="exactly 2"):
        pixfuse.fuse([pan], "bt")


def test_cli_pansharpen_eval(cli):
    p = data_path("pansharpening", "zpnn_wv3", "WV3_example.mat")
    r = cli("pansharpen-eval", str(p), "-m", "bt,mtf-glp-fs", "--sensor", "WV3", "--cut", "0", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["method"] for x in rows] == ["EXP", "bt", "mtf-glp-fs"]
    assert rows[0]["d_lambda"] == pytest.approx(0.0, abs=1e-12)
    assert rows[2]["q2n"] > rows[0]["q2n"]
    r = cli("pansharpen-eval", str(p), "-m", "nope")
    assert r.returncode == 2 and "unknown method" in r.stderr
